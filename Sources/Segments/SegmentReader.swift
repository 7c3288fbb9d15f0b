import CCompression
import CRedlineABI
import RedlineBase
import Glibc

/// Reads one segment file front to back, block by block, verifying as it goes.
///
/// ```swift
/// let reader = try SegmentReader(path: path)
/// while let block = try reader.nextBlock() {
///     reader.withRecords(as: rl_flow_delta.self) { flows in … }   // no copy, no allocation
/// }
/// ```
/// Memory: one read chunk (`chunkSize`, or one block if larger) plus one decompressed block,
/// both reused. Not thread-safe.
public final class SegmentReader {
    public let path: String
    /// The verified header.
    public let header: SegmentHeader
    /// Whether a file without a footer that ends cleanly after a block is acceptable (a segment
    /// still being written). Defaults to true for `.rls.open` paths, false for sealed ones.
    public let allowUnsealed: Bool
    private let decoder: SegmentDecoder
    private let fd: Int32
    private let chunkSize: Int
    private var fileSize: UInt64
    private var eof = false
    /// How the file ended; set once `nextBlock()` returned nil.
    public private(set) var ending: SegmentEnding?
    /// CRC32C and count of the bytes read so far: the reader reads the file once, in order from
    /// offset 0, so these cover exactly its first `bytesRead` bytes (`wholeFileChecksum()`).
    private var bytesCRC32C: UInt32 = 0
    private var bytesRead: UInt64 = 0

    /// Opens `path` and reads its header. Throws `SegmentError` if the file cannot be opened or
    /// its header is missing, damaged or of an unknown version.
    public init(path: String, options: ReaderOptions = ReaderOptions(), allowUnsealed: Bool? = nil,
                chunkSize: Int = 1 << 20) throws(SegmentError) {
        self.path = path
        self.allowUnsealed = allowUnsealed ?? path.hasSuffix(SegmentFormat.openSuffix)
        self.chunkSize = chunkSize
        decoder = SegmentDecoder(source: path, options: options)
        fd = try openRegularForReading(path)
        var found: SegmentHeader?
        var size: UInt64 = 0
        var crc: UInt32 = 0, read: UInt64 = 0
        do {
            size = try io(POSIXFile.size(fd, path: path))
            while found == nil {
                if case .header(let h)? = try decoder.next() { found = h; break }
                if try Self.read(into: decoder, fd: fd, path: path, chunkSize: chunkSize, fileSize: &size,
                                 crc: &crc, bytesRead: &read) == 0 {
                    _ = try decoder.finish()
                }
            }
        } catch {
            _ = close(fd)
            throw error
        }
        header = found!
        fileSize = size
        bytesCRC32C = crc
        bytesRead = read
    }

    deinit { _ = close(fd) }

    /// Reads more input into the decoder; false at end of file.
    private func readMore() throws(SegmentError) -> Bool {
        if eof { return false }
        let n = try Self.read(into: decoder, fd: fd, path: path, chunkSize: chunkSize, fileSize: &fileSize,
                              crc: &bytesCRC32C, bytesRead: &bytesRead)
        if n == 0 { eof = true }
        return n > 0
    }

    /// One `read(2)` of at least what the decoder wants, straight into its buffer. The request is
    /// capped by what the file holds (re-read when reached, since a `.rls.open` file may grow),
    /// so a corrupt length cannot make the reader reserve memory for bytes that are not there.
    /// The bytes read are added to `crc` and `bytesRead`.
    private static func read(into decoder: SegmentDecoder, fd: Int32, path: String, chunkSize: Int,
                             fileSize: inout UInt64, crc: inout UInt32, bytesRead: inout UInt64) throws(SegmentError) -> Int {
        let offset = decoder.consumedOffset + UInt64(decoder.bufferedCount)
        if offset >= fileSize { fileSize = try io(POSIXFile.size(fd, path: path)) }
        let remaining = fileSize > offset ? fileSize - offset : 0
        let want = Int(min(UInt64(max(decoder.bytesWanted, chunkSize)), remaining + 1))
        return try decoder.fill(capacity: want) { (buf) throws(SegmentError) -> Int in
            let n = try io(POSIXFile.read(fd, into: buf, path: path, offset: offset))
            crc = ccompression_crc32c(crc, buf.baseAddress, n)
            bytesRead += UInt64(n)
            return n
        }
    }

    /// CRC32C and size of the whole file as it is now: the bytes the reader has read (in order,
    /// once) and the rest read here, so a caller that reads the file for its records and needs
    /// its checksum too (the pipeline's manifest) reads it once. Call it when done with the
    /// records: it reads on to the end of the file.
    public func wholeFileChecksum() throws(SegmentError) -> (crc: UInt32, bytes: UInt64) {
        var crc = bytesCRC32C, total = bytesRead
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buf.deallocate() }
        while true {
            let n = try io(POSIXFile.read(fd, into: buf, path: path, offset: total))
            if n == 0 { break }
            crc = ccompression_crc32c(crc, buf.baseAddress, n)
            total += UInt64(n)
        }
        (bytesCRC32C, bytesRead) = (crc, total)
        eof = true
        return (crc, total)
    }

    /// The next verified block, or nil at a clean end (footer verified, or — if `allowUnsealed`
    /// — end of file right after a block). Throws at the first damage; blocks returned before
    /// are sound.
    public func nextBlock() throws(SegmentError) -> BlockInfo? {
        while true {
            switch try decoder.next() {
            case .block(let info)?: return info
            case .footer?:
                // Nothing may follow the trailer; one more read shows whether anything does.
                _ = try readMore()
                ending = try decoder.finish()
                return nil
            case .header?: continue
            case nil:
                if try readMore() { continue }
                let end = try decoder.finish()
                if end == .unsealed && !allowUnsealed {
                    throw .truncated(path: path, offset: decoder.consumedOffset, region: .footer,
                                     needed: UInt64(SegmentFormat.footerFixedLength + SegmentFormat.trailerLength),
                                     available: 0)
                }
                ending = end
                return nil
            }
        }
    }

    /// The footer, once `nextBlock()` has returned nil for a sealed file.
    public var footer: SegmentFooter? { decoder.footer }
    /// Blocks read so far.
    public var blocksRead: [BlockInfo] { decoder.blocks }
    /// File offset just past the last complete item read (header, block or footer+trailer).
    public var consumedOffset: UInt64 { decoder.consumedOffset }

    /// The block `nextBlock()` returned last; nil before the first and after the footer.
    public var currentBlock: BlockInfo? { decoder.currentBlock }

    /// The current block's records as raw bytes; valid until the next `nextBlock()`.
    public var currentRawRecords: UnsafeRawBufferPointer { decoder.currentRawRecords }

    /// Calls `body` with the current block's records typed as `T`, without copying; nil (and
    /// `body` not called) when the current block holds another type.
    @inlinable
    public func withRecords<T: ABIRecord, R>(as type: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R) rethrows -> R? {
        try decoderForInlining.withRecords(as: type, body)
    }

    /// Calls `body` with the call details the current block carries (a call_detail block, or a
    /// version-1 call block's synthesised details: `SegmentDecoder.withCallDetails`).
    public func withCallDetails<R>(_ body: (UnsafeBufferPointer<rl_call_detail>) throws -> R) rethrows -> R? {
        try decoder.withCallDetails(body)
    }

    @usableFromInline var decoderForInlining: SegmentDecoder { decoder }
}

/// Everything one pass over a segment file learned, damaged or not: the verdict `inspect`
/// prints and what recovery keeps.
public struct SegmentReport: Sendable {
    public enum Verdict: String, Sendable {
        /// Sealed, every block and the footer verified.
        case intact
        /// `.rls.open` ending cleanly after its last block: being written, nothing lost.
        case open
        /// Something is wrong; `problem` says what and where, `blocks` are what is recoverable.
        case damaged
    }

    public var path: String
    public var fileSize: UInt64
    public var header: SegmentHeader?
    /// Every block that verified, in file order (the recoverable part when damaged).
    public var blocks: [BlockInfo]
    public var footer: SegmentFooter?
    /// The first problem found; nil when intact or open.
    public var problem: SegmentError?
    /// Offset just past the header and the last verified block: where recovery cuts.
    public var validEnd: UInt64
    public var verdict: Verdict

    /// Records in the verified blocks.
    public var recordCount: UInt64 { blocks.reduce(0) { $0 + UInt64($1.recordCount) } }

    /// Blocks and records per record type over the verified blocks, ascending by type.
    public var typeCounts: [TypeCount] { SegmentFooter(offset: 0, blocks: blocks).typeCounts }

    /// Min and max kernel time (monotonic ns) over the verified blocks; nil without blocks.
    public var kernelTimeRange: (min: UInt64, max: UInt64)? {
        guard let lo = blocks.map(\.minKernelNs).min(), let hi = blocks.map(\.maxKernelNs).max() else { return nil }
        return (lo, hi)
    }

    /// Reads `path` whole and reports; never throws. `onBlock` sees each verified block while
    /// its records are available from the reader.
    public static func scan(path: String, options: ReaderOptions = ReaderOptions(),
                            onBlock: ((BlockInfo, SegmentReader) -> Void)? = nil) -> SegmentReport {
        var size: UInt64 = 0
        if let fd = try? openRegularForReading(path) {
            size = (try? POSIXFile.size(fd, path: path)) ?? 0
            _ = close(fd)
        }
        var report = SegmentReport(path: path, fileSize: size, header: nil, blocks: [], footer: nil,
                                   problem: nil, validEnd: 0, verdict: .damaged)
        let reader: SegmentReader
        do {
            reader = try SegmentReader(path: path, options: options)
        } catch {
            report.problem = error
            return report
        }
        report.header = reader.header
        do {
            while let block = try reader.nextBlock() {
                onBlock?(block, reader)
            }
            report.footer = reader.footer
            report.verdict = reader.ending == .sealed ? .intact : .open
        } catch {
            report.problem = error
        }
        report.blocks = reader.blocksRead
        report.validEnd = reader.blocksRead.last.map { $0.offset + $0.encodedLength } ?? UInt64(reader.header.encodedLength)
        return report
    }
}
