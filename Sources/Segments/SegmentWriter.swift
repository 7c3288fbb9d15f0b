import RedlineBase
import CCompression
import CRedlineABI
import Glibc

/// Settings of a `SegmentWriter`.
public struct WriterOptions: Sendable {
    /// Target raw (uncompressed) bytes of a block; a type's pending block is cut when the next
    /// record would not fit. Rounded down to whole records (at least one).
    public var blockRawBytes: Int = 256 << 10
    /// A pending block is also cut when a record arrives whose kernel time is more than this many
    /// ns after the block's first record, so one busy type cannot hold another's data back.
    public var maxBlockAgeNs: UInt64 = 1_000_000_000
    /// Whether `seal()` fsyncs the file and its directory (off only for benchmarks and tests
    /// that measure the format, not the disk).
    public var durable: Bool = true
    /// Mode of the segment file, set explicitly (not from the umask): owner read-write, group read.
    public var fileMode: mode_t = 0o640
    /// Mode of partition folders the writer creates (existing folders keep theirs).
    public var directoryMode: mode_t = 0o750

    public init() {}
}

/// Writes one segment file: the header at creation, then one block per record type each time
/// that type's pending block fills up (or ages out), then — at `seal()` — the remaining blocks,
/// the footer and the trailer, an fsync, the rename from `.rls.open` to `.rls`, and an fsync of
/// the directory. A crash at any point leaves a `.rls.open` file whose complete blocks readers
/// recover.
///
/// A failed write (a full disk) leaves the file as it was before it: the partial tail is cut
/// off again (`ftruncate`), the block stays pending and the call can be retried; `seal()` can
/// be retried after a failure too. So the `.rls.open` file is always header + whole blocks, and
/// a sealed file is never torn.
///
/// Memory: one pending block (`blockRawBytes`) per record type in use, one compression buffer,
/// and 32 bytes of block index per block written. Not thread-safe; one writer per file.
public final class SegmentWriter {
    /// Where the file will be once sealed (ends in `.rls`).
    public let finalPath: String
    /// Where the file is while being written (ends in `.rls.open`).
    public let openPath: String
    public let header: SegmentHeader
    public let options: WriterOptions
    /// Bytes written to the file so far.
    public private(set) var bytesWritten: UInt64 = 0
    /// Blocks written so far, in file order.
    public private(set) var blocks: [BlockInfo] = []
    // `isSealed` and `fd` are read on every append: unchecked, since a writer is used from one
    // thread (its contract), and the dynamic exclusivity check of a class's `var` cost more
    // than the rest of the per-record path.
    @exclusivity(unchecked) public private(set) var isSealed = false

    @exclusivity(unchecked) private var fd: Int32
    /// Raw record type values are below this (the ABI's `RL_REC_TYPE_MAX`).
    private static let slots = Int(RL_REC_TYPE_MAX.rawValue)
    /// Layout version per raw record type as the header declares it; 0 = not declared.
    private let versions: [UInt16]
    /// Record size per raw record type at the declared version; 0 = not declared.
    private let sizes: [Int]
    /// The `seq` of the last call detail written (`append(call:detail:)`); details count from 1
    /// in every segment.
    public private(set) var lastDetailSeq: UInt32 = 0
    /// The block being filled, per raw record type, updated in place through the pointer (no
    /// copy out of and back into an array, no exclusivity check) on every append.
    private let pending: UnsafeMutablePointer<PendingBlock>
    private var out: UnsafeMutableRawPointer
    private var outCapacity: Int

    /// A record type's block being filled; `buffer` is nil until the type's first record.
    private struct PendingBlock {
        var buffer: UnsafeMutableRawPointer?
        var capacity = 0
        var used = 0
        var count = 0
        var minNs = UInt64.max
        var maxNs: UInt64 = 0
        var firstNs: UInt64 = 0
    }

    /// Creates `<finalPath>.open` (which must not exist; parents are created) and writes the header.
    /// `finalPath` must end in `.rls`.
    public init(finalPath: String, header: SegmentHeader, options: WriterOptions = WriterOptions()) throws(SegmentError) {
        guard finalPath.hasSuffix(SegmentFormat.sealedSuffix) else {
            throw .invalidArgument(path: finalPath, offset: 0, reason: "a segment path ends in \(SegmentFormat.sealedSuffix)")
        }
        guard options.blockRawBytes >= 1 && options.blockRawBytes <= ReaderOptions().maxBlockRawBytes else {
            throw .invalidArgument(path: finalPath, offset: 0,
                                   reason: "blockRawBytes \(options.blockRawBytes) outside 1…\(ReaderOptions().maxBlockRawBytes) (what default readers accept)")
        }
        let hostBytes = header.hostID.utf8.count
        guard hostBytes >= 1 && hostBytes <= 255 else {
            throw .invalidArgument(path: finalPath, offset: 0, reason: "host id must be 1…255 bytes, got \(hostBytes)")
        }
        // The writer stores this build's ABI structs, so it declares this build's layouts; and
        // l7_call version 1 (`struct rl_l7_call_v1`), so tests and benchmarks can write the same
        // calls in both layouts. A v1 call carries its strings, so such a segment has no details.
        let raw = header.recordTypes.map(\.recordType.rawValue)
        let v1Calls = header.recordTypes.contains(RecordTypeVersion(.l7Call, version: 1))
        guard raw == raw.sorted(), Set(raw).count == raw.count,
              header.recordTypes.allSatisfy({ $0.version == $0.recordType.currentVersion
                  || ($0.recordType == .l7Call && $0.version == 1) }),
              !(v1Calls && raw.contains(RecordType.callDetail.rawValue)) else {
            throw .invalidArgument(path: finalPath, offset: 0,
                                   reason: "the record type table must list types once, ascending, at this build's layout versions (or l7_call version 1 without call_detail)")
        }
        self.finalPath = finalPath
        openPath = finalPath + ".open"
        self.header = header
        var versions = [UInt16](repeating: 0, count: Self.slots)
        var sizes = [Int](repeating: 0, count: Self.slots)
        for entry in header.recordTypes {
            versions[Int(entry.recordType.rawValue)] = entry.version
            sizes[Int(entry.recordType.rawValue)] = entry.recordType.recordSize(version: entry.version)!
        }
        self.versions = versions
        self.sizes = sizes
        self.options = options
        outCapacity = SegmentFormat.blockHeaderLength + Int(ccompression_lz4_bound(Int32(options.blockRawBytes))) + 8
        try io(POSIXFile.makeDirectories(POSIXFile.directory(of: finalPath), mode: options.directoryMode))
        fd = try io(POSIXFile.open(openPath, flags: O_WRONLY | O_CREAT | O_EXCL, mode: options.fileMode))
        out = .allocate(byteCount: outCapacity, alignment: 16)
        pending = .allocate(capacity: Self.slots)
        pending.initialize(repeating: PendingBlock(), count: Self.slots)
        let bytes = header.encoded()
        do {
            try write(bytes)
        } catch {
            // Without its header the file holds nothing a reader could use: remove it, so a
            // full disk does not leave a trail of empty segments behind retries.
            _ = close(fd)
            fd = -1
            _ = unlink(openPath)
            throw error
        }
    }

    /// Creates the segment for `header` under `root` at its partitioned path (see `SegmentPath`).
    public convenience init(root: String, header: SegmentHeader, sequence: UInt32,
                            options: WriterOptions = WriterOptions()) throws(SegmentError) {
        let path = try SegmentPath(root: root, host: header.hostID, windowStartNs: header.windowStartNs, sequence: sequence)
        try self.init(finalPath: path.sealed, header: header, options: options)
    }

    deinit {
        // An unsealed writer leaves its .rls.open file as a crash would: readable up to the last block.
        if fd >= 0 { _ = close(fd) }
        for slot in 0..<Self.slots { pending[slot].buffer?.deallocate() }
        pending.deinitialize(count: Self.slots)
        pending.deallocate()
        out.deallocate()
    }

    private func write(_ bytes: UnsafeRawBufferPointer) throws(SegmentError) {
        do {
            try io(POSIXFile.writeAll(fd, bytes, path: openPath, offset: bytesWritten))
        } catch {
            // Cut off what part of it reached the file (shrinking needs no space); if even that
            // fails, `seal` truncates to the exact length before the footer is trusted.
            try? POSIXFile.truncate(fd, to: bytesWritten, path: openPath)
            throw error
        }
        bytesWritten += UInt64(bytes.count)
    }

    private func write(_ bytes: [UInt8]) throws(SegmentError) {
        let result = bytes.withUnsafeBytes { b in
            Result { () throws(SegmentError) in try write(b) }
        }
        try result.get()
    }

    /// Appends one record.
    @inlinable
    public func append<T: ABIRecord>(_ record: T) throws(SegmentError) {
        var copy = record
        try withUnsafeBytes(of: &copy) { (b) throws(SegmentError) in
            try appendRaw(type: T.recordType, records: UnsafeRawBufferPointer(b))
        }
    }

    /// Appends records of one type.
    @inlinable
    public func append<T: ABIRecord>(contentsOf records: UnsafeBufferPointer<T>) throws(SegmentError) {
        try appendRaw(type: T.recordType, records: UnsafeRawBufferPointer(records))
    }

    /// Appends one call and, when it has one, its detail (schemas/records-v2.md): the detail gets
    /// the segment's next `seq` and the call's kernel time span, the call that `seq` as its
    /// `detail_seq` (0 without a detail; `call.detail_seq` and `detail.seq` as given are
    /// ignored). In a segment that declares l7_call version 1 the two are written as one
    /// `rl_l7_call_v1` instead. Returns the `seq` given, 0 for none (and for version 1).
    @discardableResult
    public func append(call: rl_l7_call, detail: rl_call_detail?) throws(SegmentError) -> UInt32 {
        var c = call
        c.pad = 0
        if versions[Int(RecordType.l7Call.rawValue)] == 1 {
            var old = rl_l7_call_v1()
            withUnsafeMutableBytes(of: &old) { v1 in
                withUnsafeBytes(of: &c) { v1.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[..<CallLayout.prefixSize])) }
                if var d = detail {
                    withUnsafeBytes(of: &d) { d in
                        UnsafeMutableRawBufferPointer(rebasing: v1[CallLayout.prefixSize...])
                            .copyMemory(from: UnsafeRawBufferPointer(rebasing: d[CallLayout.detailStringsOffset...]))
                    }
                }
            }
            try append(old)
            return 0
        }
        guard var d = detail else {
            c.detail_seq = 0
            try append(c)
            return 0
        }
        guard versions[Int(RecordType.callDetail.rawValue)] != 0 else {
            throw .invalidArgument(path: openPath, offset: bytesWritten, reason: "the header does not declare call_detail")
        }
        // The detail first: if a write fails (a full disk) nothing of the call is written, or
        // only its detail, which no call names; its seq is never given out again either way.
        let seq = lastDetailSeq + 1
        c.detail_seq = seq
        d.seq = seq
        d.pad = 0
        let span = withUnsafeBytes(of: &c) { RecordType.l7Call.kernelTimeSpan(of: $0.baseAddress!) }
        try withUnsafeBytes(of: &d) { (b) throws(SegmentError) in try appendRaw(type: .callDetail, records: b, span: span) }
        lastDetailSeq = seq
        try append(c)
        return seq
    }

    /// Appends whole records of `type` given as raw bytes (e.g. straight from the ring buffer);
    /// `records.count` must be a multiple of the type's record size at the declared version.
    /// `span`, when given, is every record's kernel time span instead of its own
    /// (`RecordType.kernelTimeSpan`): call details take their call's.
    public func appendRaw(type: RecordType, records: UnsafeRawBufferPointer,
                          span given: (low: UInt64, high: UInt64)? = nil) throws(SegmentError) {
        let size = sizes[Int(type.rawValue)]
        guard !isSealed, fd >= 0 else {
            throw .invalidArgument(path: openPath, offset: bytesWritten, reason: "append after seal")
        }
        guard size != 0 else {
            throw .invalidArgument(path: openPath, offset: bytesWritten, reason: "the header does not declare \(type)")
        }
        // One whole record (the common call) needs no division.
        guard records.count == size || records.count % size == 0 else {
            throw .invalidArgument(path: openPath, offset: bytesWritten,
                                   reason: "\(records.count) bytes are not whole \(type) records of \(size) bytes")
        }
        guard let src = records.baseAddress else { return }
        let slot = Int(type.rawValue)
        let block = pending + slot
        if block.pointee.buffer == nil {
            let capacity = max(size, options.blockRawBytes / size * size)
            block.pointee.buffer = .allocate(byteCount: capacity, alignment: 16)
            block.pointee.capacity = capacity
        }
        var at = 0
        while at < records.count {
            let record = src + at
            let span = given ?? type.kernelTimeSpan(of: record)
            if block.pointee.count > 0 && (block.pointee.used + size > block.pointee.capacity
                || (span.low > block.pointee.firstNs && span.low - block.pointee.firstNs > options.maxBlockAgeNs)) {
                try cut(slot)
            }
            if block.pointee.count == 0 { block.pointee.firstNs = span.low }
            (block.pointee.buffer.unsafelyUnwrapped + block.pointee.used).copyMemory(from: record, byteCount: size)
            block.pointee.used += size
            block.pointee.count += 1
            if span.low < block.pointee.minNs { block.pointee.minNs = span.low }
            if span.high > block.pointee.maxNs { block.pointee.maxNs = span.high }
            at += size
        }
    }

    /// Bytes of buffer memory the writer holds: pending blocks plus the compression buffer. It
    /// depends on the block size and the record types in use, never on how much was written.
    public var bufferBytes: Int {
        outCapacity + (0..<Self.slots).reduce(0) { $0 + pending[$1].capacity }
    }

    /// Writes the pending block of the type in `slot`.
    private func cut(_ slot: Int) throws(SegmentError) {
        let block = pending[slot]
        guard block.count > 0, let buffer = block.buffer, let type = RecordType(rawValue: UInt16(slot)) else { return }
        let hl = SegmentFormat.blockHeaderLength
        let compressed = Int(ccompression_lz4_compress(buffer, Int32(block.used), out + hl, Int32(outCapacity - hl - 8)))
        guard compressed > 0 else {
            throw .invalidArgument(path: openPath, offset: bytesWritten, reason: "LZ4 compression of a \(block.used)-byte block failed")
        }
        let padded = SegmentFormat.align8(compressed)
        (out + hl + compressed).initializeMemory(as: UInt8.self, repeating: 0, count: padded - compressed)
        let sequence = UInt32(blocks.count)
        out.putLE(SegmentFormat.blockMagic, at: 0)
        out.putLE(type.rawValue, at: 4)
        out.putLE(versions[slot], at: 6)
        out.putLE(sequence, at: 8)
        out.putLE(UInt32(block.count), at: 12)
        out.putLE(UInt32(block.used), at: 16)
        out.putLE(UInt32(compressed), at: 20)
        out.putLE(block.minNs, at: 24)
        out.putLE(block.maxNs, at: 32)
        out.putLE(UInt32(0), at: 40)
        var crc = crc32c(0, UnsafeRawBufferPointer(start: out, count: 44))
        crc = crc32c(crc, UnsafeRawBufferPointer(start: out + hl, count: padded))
        out.putLE(crc, at: 44)
        let info = BlockInfo(sequence: sequence, offset: bytesWritten, recordType: type,
                             recordVersion: versions[slot], recordCount: UInt32(block.count),
                             rawLength: UInt32(block.used), compressedLength: UInt32(compressed),
                             minKernelNs: block.minNs, maxKernelNs: block.maxNs)
        try write(UnsafeRawBufferPointer(start: out, count: hl + padded))
        blocks.append(info)
        pending[slot].used = 0
        pending[slot].count = 0
        pending[slot].minNs = .max
        pending[slot].maxNs = 0
    }

    /// Writes every pending block, in record type order. Readers of the `.rls.open` file then
    /// see every record appended so far (the data is in the page cache; not fsynced).
    public func flush() throws(SegmentError) {
        for slot in 0..<Self.slots { try cut(slot) }
    }

    /// Writes the pending blocks of types whose first pending record is older than `kernelNs`
    /// minus `maxBlockAgeNs`; the collector calls this periodically so quiet types still reach disk.
    public func flush(olderThan kernelNs: UInt64) throws(SegmentError) {
        for slot in 0..<Self.slots {
            let b = pending[slot]
            if b.count > 0, kernelNs > b.firstNs, kernelNs - b.firstNs > options.maxBlockAgeNs {
                try cut(slot)
            }
        }
    }

    /// Flushes, writes footer and trailer, fsyncs, renames to `finalPath` and fsyncs the directory.
    /// Returns the footer written. After a failure (e.g. a full disk) the file is still a valid
    /// `.rls.open` and `seal()` can be called again.
    @discardableResult
    public func seal() throws(SegmentError) -> SegmentFooter {
        guard !isSealed else { throw .invalidArgument(path: finalPath, offset: bytesWritten, reason: "sealed twice") }
        try flush()
        let footer = SegmentFooter(offset: bytesWritten, blocks: blocks)
        let bytes = footer.encodedWithTrailer()
        let end = bytesWritten
        do {
            try write(bytes)
            // The file must end exactly at the trailer, whatever an earlier failed write left.
            try io(POSIXFile.truncate(fd, to: bytesWritten, path: openPath))
            if options.durable { try io(POSIXFile.fsync(fd, path: openPath)) }
            try io(POSIXFile.rename(openPath, finalPath))
        } catch {
            try? POSIXFile.truncate(fd, to: end, path: openPath)
            bytesWritten = end
            throw error
        }
        isSealed = true
        _ = close(fd)
        fd = -1
        if options.durable { try io(POSIXFile.fsyncDirectory(POSIXFile.directory(of: finalPath))) }
        return footer
    }
}
