import ArgumentParser
import CCompression
import Foundation
import Segments

/// The raw record bytes of a segment's blocks, block by block, in one buffer, and the in-memory
/// liblz4 peer of the segment benchmark over them: each block compressed on its own into a
/// slot of `LZ4_compressBound` bytes, and decompressed into one reused block buffer, as the
/// segment writer and reader do, with no file and no checksum (what `lz4 -b` measures).
struct RawBlocks {
    private var raw: UnsafeMutableRawPointer?
    private var packed: UnsafeMutableRawPointer?
    private var scratch: UnsafeMutableRawPointer?
    /// Per block: offset and length in `raw`, slot offset in `packed`, compressed length.
    private var rawOffsets: [Int] = [], rawLengths: [Int] = [], slotOffsets: [Int] = [], packedLengths: [Int] = []
    private var largestBlock = 0

    init() {}

    /// The raw records of every block of the sealed segment at `path`, as its reader returns them.
    init(segment path: String) throws {
        var total = 0
        let reader = try SegmentReader(path: path)
        while try reader.nextBlock() != nil {
            rawOffsets.append(total)
            rawLengths.append(reader.currentRawRecords.count)
            total += reader.currentRawRecords.count
        }
        largestBlock = rawLengths.max() ?? 0
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(total, 1), alignment: 64)
        self.raw = raw
        let again = try SegmentReader(path: path)
        var block = 0
        while try again.nextBlock() != nil {
            let records = again.currentRawRecords
            if let base = records.baseAddress { (raw + rawOffsets[block]).copyMemory(from: base, byteCount: records.count) }
            block += 1
        }
        var slots = 0
        for length in rawLengths {
            slotOffsets.append(slots)
            slots += Int(ccompression_lz4_bound(Int32(length)))
        }
        packed = .allocate(byteCount: max(slots, 1), alignment: 64)
        packedLengths = Array(repeating: 0, count: rawLengths.count)
        scratch = .allocate(byteCount: max(largestBlock, 1), alignment: 64)
    }

    mutating func deallocate() {
        raw?.deallocate()
        packed?.deallocate()
        scratch?.deallocate()
        raw = nil
        packed = nil
        scratch = nil
    }

    var count: Int { rawLengths.count }
    var totalRawBytes: Int { rawLengths.reduce(0, +) }
    var totalCompressedBytes: Int { packedLengths.reduce(0, +) }

    /// The raw bytes, blocks concatenated: the lz4 CLI's input.
    func write(to path: String) throws {
        try Data(bytesNoCopy: raw!, count: totalRawBytes, deallocator: .none).write(to: URL(fileURLWithPath: path))
    }

    /// Compresses every block (`LZ4_compress_default`); seconds.
    mutating func compressAll() throws -> Double {
        let (raw, packed) = (raw!, packed!)
        let t = monotonicSeconds()
        for b in 0..<rawLengths.count {
            let bound = Int(ccompression_lz4_bound(Int32(rawLengths[b])))
            let n = Int(ccompression_lz4_compress(raw + rawOffsets[b], Int32(rawLengths[b]), packed + slotOffsets[b], Int32(bound)))
            guard n > 0 else { throw ValidationError("LZ4 compression of block \(b) failed") }
            packedLengths[b] = n
        }
        return monotonicSeconds() - t
    }

    /// Decompresses every block into one reused buffer (`LZ4_decompress_safe`); seconds. With
    /// `verify`, also compares each result with the raw block (after the clock stops).
    func decompressAll(verify: Bool) throws -> Double {
        let (raw, packed, scratch) = (raw!, packed!, scratch!)
        var elapsed = 0.0
        var t = monotonicSeconds()
        for b in 0..<rawLengths.count {
            let n = Int(ccompression_lz4_decompress(packed + slotOffsets[b], Int32(packedLengths[b]), scratch, Int32(largestBlock)))
            guard n == rawLengths[b] else { throw ValidationError("LZ4 decompression of block \(b) gave \(n) bytes, not \(rawLengths[b])") }
            if verify {
                elapsed += monotonicSeconds() - t
                guard memcmp(scratch, raw + rawOffsets[b], n) == 0 else { throw ValidationError("block \(b) does not round-trip") }
                t = monotonicSeconds()
            }
        }
        return elapsed + monotonicSeconds() - t
    }

    /// CRC32C of every compressed block, as the segment format checks each stored block; seconds.
    func checksumCompressed() -> Double {
        let packed = packed!
        var crc: UInt32 = 0
        let t = monotonicSeconds()
        for b in 0..<packedLengths.count { crc ^= ccompression_crc32c(0, packed + slotOffsets[b], packedLengths[b]) }
        let elapsed = monotonicSeconds() - t
        // Keeps the loop's result alive, so the compiler cannot drop it.
        if crc == 0x5EED_C0DE { print("", terminator: "") }
        return elapsed
    }

    /// Writes every compressed block to a new file at `path` with `write(2)`, no fsync; seconds.
    func writeCompressed(to path: String) throws -> Double {
        let packed = packed!
        unlink(path)
        let t = monotonicSeconds()
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw ValidationError("open \(path): \(String(cString: strerror(errno)))") }
        for b in 0..<packedLengths.count {
            var at = 0
            while at < packedLengths[b] {
                let n = Glibc.write(fd, packed + slotOffsets[b] + at, packedLengths[b] - at)
                guard n > 0 else { close(fd); throw ValidationError("write \(path): \(String(cString: strerror(errno)))") }
                at += n
            }
        }
        close(fd)
        let elapsed = monotonicSeconds() - t
        unlink(path)
        return elapsed
    }
}

/// CLOCK_MONOTONIC in seconds.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
