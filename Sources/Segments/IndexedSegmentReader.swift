import CCompression
import CRedlineABI
import Glibc
import RedlineBase

/// Reads chosen blocks of a sealed segment through its footer's block index, without reading
/// the blocks in between: the header, the trailer and footer from the end of the file, then one
/// positioned read per wanted block.
///
/// ```swift
/// let reader = try IndexedSegmentReader(path: path)
/// try reader.forEachBlock(of: [.clockAnchor]) { info in
///     reader.withRecords(as: rl_clock_anchor.self) { anchors in … }
/// }
/// ```
///
/// Everything it returns is verified as a front-to-back read verifies it: the header and the
/// footer by their CRC32C and limits (the trailer first), each block read by its CRC32C, its
/// sequence number (its place in the index), its limits and its decompression, and against its
/// index entry (type, record count, kernel-time range). What it cannot see is damage in a block
/// it skipped; a caller that needs the verdict on the whole file reads it with `SegmentReader`
/// (the pipeline's pass 2 does, and runs pass 1 again front to back if that read ends early).
/// A file without a valid trailer and footer (still open, torn, damaged at the end) is refused
/// with the error that names the damage; read it with `SegmentReader`. Not thread-safe.
public final class IndexedSegmentReader {
    public let path: String
    public let header: SegmentHeader
    public let footer: SegmentFooter
    private let decoder: SegmentDecoder
    private let fd: Int32
    /// Where each indexed block ends: the next block's offset, the footer's for the last.
    private let ends: [UInt64]
    /// Version-1 calls in the blocks before each block (`SegmentDecoder.reposition`).
    private let v1CallsBefore: [UInt32]
    private let options: ReaderOptions

    /// Opens `path`, verifies its header, trailer and footer, and checks the index's offsets
    /// (ascending, 8-aligned, between the header and the footer).
    public init(path: String, options: ReaderOptions = ReaderOptions()) throws(SegmentError) {
        self.path = path
        self.options = options
        let decoder = SegmentDecoder(source: path, options: options)
        self.decoder = decoder
        fd = try openRegularForReading(path)
        do throws(SegmentError) {
            let size = try io(POSIXFile.size(fd, path: path))
            // The header: as many bytes as the decoder asks for, from the start.
            var header: SegmentHeader?
            var offset: UInt64 = 0
            while header == nil {
                if case .header(let h)? = try decoder.next() { header = h; break }
                let want = max(decoder.bytesWanted, 4096)
                let n = try Self.pread(decoder, fd: fd, path: path, count: want, at: offset)
                offset += UInt64(n)
                if n == 0 { _ = try decoder.finish() }
            }
            let headerEnd = decoder.consumedOffset
            // The trailer says where the footer is; the decoder checks the trailer again (magic,
            // offset, length) and the footer's CRC32C before it trusts any of it.
            let tl = UInt64(SegmentFormat.trailerLength)
            guard size >= headerEnd + tl else {
                throw SegmentError.truncated(path: path, offset: headerEnd, region: .footer,
                                             needed: UInt64(SegmentFormat.footerFixedLength) + tl, available: size - headerEnd)
            }
            let trailer = UnsafeMutableRawBufferPointer.allocate(byteCount: SegmentFormat.trailerLength, alignment: 8)
            defer { trailer.deallocate() }
            let got = try io(POSIXFile.readFully(fd, into: trailer, path: path, at: size - tl))
            guard got == trailer.count else {
                throw SegmentError.truncated(path: path, offset: size - tl, region: .trailer, needed: tl, available: UInt64(got))
            }
            let t = UnsafeRawPointer(trailer.baseAddress!)
            let (magic, footerOffset, footerLength) = (t.le(16, UInt64.self), t.le(0, UInt64.self), UInt64(t.le(8, UInt32.self)))
            guard magic == SegmentFormat.trailerMagic else {
                throw SegmentError.badMagic(path: path, offset: size - tl + 16, region: .trailer, found: magic)
            }
            // Where a footer of that length ends at the trailer (after the header, if it fits).
            let implied = footerLength <= size - tl - headerEnd ? size - tl - footerLength : headerEnd
            guard footerOffset == implied, footerOffset % 8 == 0 else {
                throw SegmentError.trailerMismatch(path: path, offset: size - tl, field: "footer_offset",
                                                   found: footerOffset, expected: implied)
            }
            decoder.reposition(to: footerOffset, sequence: 0, v1CallsBefore: 0)
            _ = try Self.pread(decoder, fd: fd, path: path, count: Int(footerLength + tl), at: footerOffset)
            guard case .footer(let footer)? = try decoder.next() else {
                throw SegmentError.truncated(path: path, offset: footerOffset, region: .footer,
                                             needed: footerLength + tl, available: UInt64(decoder.bufferedCount))
            }
            _ = try decoder.finish()
            // The index: blocks in file order, each at least a block header long.
            var ends: [UInt64] = []
            var v1: [UInt32] = []
            ends.reserveCapacity(footer.blocks.count)
            v1.reserveCapacity(footer.blocks.count)
            let callsV1 = header!.recordTypes.contains { $0.recordType == .l7Call && $0.version == 1 }
            var calls: UInt32 = 0
            for (i, e) in footer.blocks.enumerated() {
                // The first block right after the header, each one ending where the next begins
                // (checked as each is read), the last where the footer begins.
                let next = i + 1 < footer.blocks.count ? footer.blocks[i + 1].offset : footerOffset
                let entryAt = footerOffset + UInt64(SegmentFormat.footerFixedLength
                    + SegmentFormat.footerTypeEntryLength * footer.typeCounts.count + SegmentFormat.footerIndexEntryLength * i)
                guard i > 0 || e.offset == headerEnd, e.offset % 8 == 0,
                      next >= e.offset, next - e.offset >= UInt64(SegmentFormat.blockHeaderLength) else {
                    throw SegmentError.footerMismatch(path: path, offset: entryAt, field: "block_index[\(i)].offset",
                                                      footer: e.offset, observed: i == 0 ? headerEnd : next)
                }
                ends.append(next)
                v1.append(calls)
                if callsV1 && e.recordType == .l7Call { calls &+= e.recordCount }
            }
            if footer.blocks.isEmpty && footerOffset != headerEnd {
                throw SegmentError.footerMismatch(path: path, offset: footerOffset + 4, field: "block_count",
                                                  footer: 0, observed: 1)
            }
            self.header = header!
            self.footer = footer
            self.ends = ends
            self.v1CallsBefore = v1
        } catch {
            _ = close(fd)
            throw error
        }
    }

    deinit { _ = close(fd) }

    /// Reads, verifies and decodes every indexed block whose type is in `types`, in file order,
    /// calling `body` with each (its records through `withRecords` / `withCallDetails` while
    /// `body` runs). Throws at the first block that fails a check; blocks passed before are sound.
    public func forEachBlock(of types: Set<RecordType>, _ body: (BlockInfo) throws -> Void) throws {
        let hl = UInt64(SegmentFormat.blockHeaderLength)
        let maxRaw = min(options.maxBlockRawBytes, 0x7E00_0000)
        let maxLength = hl + UInt64(SegmentFormat.align8(Int(ccompression_lz4_bound(Int32(maxRaw)))))
        for (i, e) in footer.blocks.enumerated() where types.contains(e.recordType) {
            let length = ends[i] - e.offset
            guard length <= maxLength else {
                throw SegmentError.lengthOutOfBounds(path: path, offset: e.offset, field: "block length (from the index)",
                                                     value: length, limit: maxLength)
            }
            decoder.reposition(to: e.offset, sequence: UInt32(i), v1CallsBefore: v1CallsBefore[i])
            let n = try Self.pread(decoder, fd: fd, path: path, count: Int(length), at: e.offset)
            guard case .block(let info)? = try decoder.next() else {
                throw SegmentError.truncated(path: path, offset: e.offset, region: .blockPayload, needed: length, available: UInt64(n))
            }
            // The block must fill its place exactly and be the block its entry describes.
            func check(_ field: String, _ indexed: UInt64, _ observed: UInt64) throws(SegmentError) {
                guard indexed == observed else {
                    throw .footerMismatch(path: path, offset: e.offset, field: "block_index[\(i)].\(field)", footer: indexed, observed: observed)
                }
            }
            try check("offset (next)", ends[i], decoder.consumedOffset)
            try check("record_type", UInt64(e.recordType.rawValue), UInt64(info.recordType.rawValue))
            try check("record_count", UInt64(e.recordCount), UInt64(info.recordCount))
            try check("min_kernel_ns", e.minKernelNs, info.minKernelNs)
            try check("max_kernel_ns", e.maxKernelNs, info.maxKernelNs)
            try body(info)
        }
    }

    /// The current block's records as raw bytes; valid until the next block is read.
    public var currentRawRecords: UnsafeRawBufferPointer { decoder.currentRawRecords }

    /// The current block's records typed as `T` (`SegmentReader.withRecords`).
    public func withRecords<T: ABIRecord, R>(as type: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R) rethrows -> R? {
        try decoder.withRecords(as: type, body)
    }

    /// The current block's call details (`SegmentReader.withCallDetails`).
    public func withCallDetails<R>(_ body: (UnsafeBufferPointer<rl_call_detail>) throws -> R) rethrows -> R? {
        try decoder.withCallDetails(body)
    }

    /// Reads `count` bytes at `offset` straight into the decoder's input; fewer at end of file.
    private static func pread(_ decoder: SegmentDecoder, fd: Int32, path: String, count: Int, at offset: UInt64) throws(SegmentError) -> Int {
        try decoder.fill(capacity: count) { (buf) throws(SegmentError) -> Int in
            try io(POSIXFile.readFully(fd, into: buf, path: path, at: offset))
        }
    }
}
