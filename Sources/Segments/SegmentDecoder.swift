import RedlineBase
import CCompression
import CRedlineABI

/// Defensive limits a reader applies before trusting any length in a file. The defaults accept
/// everything a conforming writer produces and bound the memory one block can make us allocate.
public struct ReaderOptions: Sendable {
    /// Largest raw (decompressed) block accepted, bytes. The writer's default block is 256 KiB.
    /// Values above LZ4's input limit (0x7E000000) act as that limit.
    public var maxBlockRawBytes: Int = 16 << 20
    /// Most records accepted in one block.
    public var maxRecordsPerBlock: Int = 1 << 20
    /// Longest host id accepted, bytes.
    public var maxHostIDBytes: Int = 255
    /// Most record types a header may declare.
    public var maxRecordTypes: Int = 64
    /// Most blocks a footer may index.
    public var maxBlocks: Int = 1 << 22
    /// Whether to decompress payloads. Off, blocks are still checksummed but records are unavailable.
    public var decompress: Bool = true
    /// When set (and `decompress` is on), only blocks of these record types are decompressed; the
    /// others go through every check but the LZ4 decode (header fields, lengths, CRC32C of the
    /// compressed payload) and have no records. The checks are the same, in the same order, up
    /// to the decode, so such a reader stops at the same damaged block as a full one unless the
    /// damage is a payload that passes its CRC yet does not decompress (a writer defect, not
    /// media damage), which only a full reader finds. Callers that need identical damage
    /// detection across readers must compare valid block counts (`HostProcessor` does).
    /// Version-1 call blocks hold both kinds of record: they are decoded when either `.l7Call`
    /// or `.callDetail` is in the set, and their details synthesised only when `.callDetail` is.
    public var decompressTypes: Set<RecordType>? = nil

    public init() {}
}

/// What the decoder produced.
public enum SegmentEvent: Equatable, Sendable {
    /// The header was read and verified; always the first event.
    case header(SegmentHeader)
    /// A block was read, verified and (if enabled) decompressed; its records are available from
    /// the decoder until the next call to `next()`.
    case block(BlockInfo)
    /// The footer and trailer were read and verified against the blocks; always the last event.
    case footer(SegmentFooter)
}

/// How a segment's bytes ended, as judged by `SegmentDecoder.finish()`.
public enum SegmentEnding: Equatable, Sendable {
    /// Footer and trailer verified: a sealed segment.
    case sealed
    /// The bytes end cleanly after the last complete block, with no footer: a segment still being
    /// written (or one whose writer died between blocks).
    case unsealed
}

/// An incremental (push) decoder of segment format v1. Feed it bytes in any split — whole, one
/// byte at a time, random chunks — and pull events; the events are the same for every split.
///
/// It verifies everything it reports: a header, block or footer is only returned once its
/// CRC32C matched, its lengths passed the `ReaderOptions` limits and, for a block, its payload
/// decompressed to exactly its raw length. The first problem ends decoding with a
/// `SegmentError` naming the byte offset; every block returned before it is sound.
///
/// Memory: the input buffer holds at most one block (plus whatever the caller feeds beyond it);
/// one aligned output buffer, reused between blocks, holds the decompressed records.
/// Not thread-safe; one decoder per stream.
public final class SegmentDecoder {
    /// Name used in errors (the file path, or a label for in-memory streams).
    public let source: String
    public let options: ReaderOptions

    private enum State {
        case header
        case blocks
        case done
        case failed(SegmentError)
    }

    private var state = State.header
    // Input buffer: bytes [start, end) are fed but not consumed; `start` is at file offset `base`.
    private var input: UnsafeMutableRawPointer
    private var inputCapacity: Int
    private var start = 0
    private var end = 0
    private var base: UInt64 = 0
    // Output buffer for the current block's records; 16-byte aligned, so every ABI struct is aligned.
    private var output: UnsafeMutableRawPointer
    private var outputCapacity: Int
    private var outputCount = 0

    /// The header, once read.
    public private(set) var header: SegmentHeader?
    /// Every block read so far, in file order.
    public private(set) var blocks: [BlockInfo] = []
    /// The current block (the last `.block` event), nil before the first and after the footer.
    public private(set) var currentBlock: BlockInfo?
    /// The footer, once read and verified.
    public private(set) var footer: SegmentFooter?
    private var recordTypeVersions: [UInt16] = Array(repeating: 0, count: Int(RL_REC_TYPE_MAX.rawValue))
    // Details synthesised from the current version-1 call block (`withCallDetails`), 16-byte aligned.
    private var details: UnsafeMutableRawPointer
    private var detailsCapacity = 0
    private var detailsCount = 0
    /// Version-1 calls of this segment in earlier blocks: a version-1 call's detail `seq` is its
    /// ordinal in the segment (from 1), whether or not earlier blocks were decoded.
    private var v1CallsBefore: UInt32 = 0
    /// The sequence number the next block must carry: its position in the file.
    private var nextSequence: UInt32 = 0
    /// Whether a footer is compared with the blocks decoded before it: off after `reposition`,
    /// where only some blocks were decoded (the footer is then checked by its CRC alone, and each
    /// block read through its index against its entry, `IndexedSegmentReader`).
    private var compareFooterWithBlocks = true

    public init(source: String, options: ReaderOptions = ReaderOptions()) {
        self.source = source
        self.options = options
        inputCapacity = 64 << 10
        input = .allocate(byteCount: inputCapacity, alignment: 16)
        outputCapacity = 0
        output = .allocate(byteCount: 16, alignment: 16)
        details = .allocate(byteCount: 16, alignment: 16)
    }

    deinit {
        input.deallocate()
        output.deallocate()
        details.deallocate()
    }

    /// File offset of the first byte not yet consumed: after the last complete item returned.
    public var consumedOffset: UInt64 { base }
    /// Bytes fed but not yet consumed.
    public var bufferedCount: Int { end - start }

    /// How many more bytes the decoder needs before `next()` can make progress (at least 1 while
    /// decoding is not finished). A file reader reads at least this much.
    public private(set) var bytesWanted = SegmentFormat.headerFixedLength

    /// Copies `bytes` into the input buffer.
    public func feed(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        reserve(bytes.count)
        (input + end).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        end += bytes.count
    }

    /// Lets `body` write up to `capacity` bytes straight into the input buffer (e.g. `read(2)`);
    /// `body` returns how many it wrote. Returns that count.
    public func fill<E: Error>(capacity: Int, _ body: (UnsafeMutableRawBufferPointer) throws(E) -> Int) throws(E) -> Int {
        reserve(capacity)
        let n = try body(UnsafeMutableRawBufferPointer(start: input + end, count: capacity))
        precondition(n >= 0 && n <= capacity, "fill body reported more bytes than it was given")
        end += n
        return n
    }

    private func reserve(_ count: Int) {
        if inputCapacity - end >= count { return }
        let live = end - start
        if start > 0 && inputCapacity - live >= count {
            // Input alignment does not matter (only CRC32C and LZ4 read it, at any address), so
            // live bytes may move to the front.
            input.copyMemory(from: input + start, byteCount: live)
        } else {
            var newCapacity = inputCapacity * 2
            while newCapacity - live < count { newCapacity *= 2 }
            let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 16)
            grown.copyMemory(from: input + start, byteCount: live)
            input.deallocate()
            input = grown
            inputCapacity = newCapacity
        }
        start = 0
        end = live
    }

    private func fail(_ error: SegmentError) -> SegmentError {
        state = .failed(error)
        return error
    }

    private func consume(_ n: Int) {
        start += n
        base += UInt64(n)
        if start == end {
            start = 0
            end = 0
        }
    }

    /// The next event, or nil if more input is needed (or decoding finished after the footer).
    /// After an error, every further call throws the same error.
    public func next() throws(SegmentError) -> SegmentEvent? {
        switch state {
        case .failed(let error): throw error
        case .done: return nil
        case .header:
            guard let h = try decodeHeader() else { return nil }
            header = h
            state = .blocks
            return .header(h)
        case .blocks:
            currentBlock = nil
            outputCount = 0
            detailsCount = 0
            let available = end - start
            guard available >= 4 else {
                bytesWanted = 4 - available
                return nil
            }
            let magic = UnsafeRawPointer(input + start).le(0, UInt32.self)
            if magic == SegmentFormat.blockMagic {
                guard let info = try decodeBlock() else { return nil }
                blocks.append(info)
                currentBlock = info
                return .block(info)
            }
            if magic == SegmentFormat.footerMagic {
                guard let f = try decodeFooter() else { return nil }
                footer = f
                state = .done
                bytesWanted = 0
                return .footer(f)
            }
            throw fail(.badMagic(path: source, offset: base, region: .blockHeader, found: UInt64(magic)))
        }
    }

    /// Declares the end of input and says how the segment ended; throws if it ended inside the
    /// header, a block or the footer, or if bytes follow the trailer.
    public func finish() throws(SegmentError) -> SegmentEnding {
        switch state {
        case .failed(let error): throw error
        case .done:
            if end > start { throw fail(.trailingBytes(path: source, offset: base, count: UInt64(end - start))) }
            return .sealed
        case .header:
            throw fail(.truncated(path: source, offset: 0, region: .header,
                                  needed: UInt64(end - start + bytesWanted), available: UInt64(end - start)))
        case .blocks:
            if end == start { return .unsealed }
            let available = UInt64(end - start)
            let region: SegmentRegion
            if available >= 4, UnsafeRawPointer(input + start).le(0, UInt32.self) == SegmentFormat.footerMagic {
                region = .footer
            } else {
                region = available >= UInt64(SegmentFormat.blockHeaderLength) ? .blockPayload : .blockHeader
            }
            throw fail(.truncated(path: source, offset: base, region: region,
                                  needed: available + UInt64(bytesWanted), available: available))
        }
    }

    // MARK: header

    private func decodeHeader() throws(SegmentError) -> SegmentHeader? {
        let available = end - start
        guard available >= 16 else {
            bytesWanted = 16 - available
            return nil
        }
        let p = UnsafeRawPointer(input + start)
        let magic = p.le(0, UInt64.self)
        guard magic == SegmentFormat.fileMagic else {
            throw fail(.badMagic(path: source, offset: 0, region: .header, found: magic))
        }
        let version = p.le(8, UInt16.self)
        guard SegmentFormat.supportedVersions.contains(version) else {
            throw fail(.unsupportedVersion(path: source, offset: 8, found: version,
                                           supported: SegmentFormat.supportedVersions))
        }
        let length = Int(p.le(12, UInt32.self))
        let maxLength = SegmentFormat.align8(SegmentFormat.headerFixedLength
            + SegmentFormat.typeEntryLength * options.maxRecordTypes + options.maxHostIDBytes + 4)
        guard length <= maxLength else {
            throw fail(.lengthOutOfBounds(path: source, offset: 12, field: "header_length",
                                          value: UInt64(length), limit: UInt64(maxLength)))
        }
        guard length >= SegmentFormat.headerFixedLength + 8, length % 8 == 0 else {
            throw fail(.invalidHeader(path: source, offset: 12, reason: "header_length \(length) is not a multiple of 8 of at least 72"))
        }
        guard available >= length else {
            bytesWanted = length - available
            return nil
        }
        let stored = p.le(length - 4, UInt32.self)
        let computed = crc32c(0, UnsafeRawBufferPointer(start: p, count: length - 4))
        guard stored == computed else {
            throw fail(.headerChecksumMismatch(path: source, offset: UInt64(length - 4), stored: stored, computed: computed))
        }
        let hostLength = Int(p.le(56, UInt16.self))
        let typeCount = Int(p.le(58, UInt16.self))
        guard hostLength <= options.maxHostIDBytes else {
            throw fail(.lengthOutOfBounds(path: source, offset: 56, field: "host_id_length",
                                          value: UInt64(hostLength), limit: UInt64(options.maxHostIDBytes)))
        }
        guard typeCount <= options.maxRecordTypes else {
            throw fail(.lengthOutOfBounds(path: source, offset: 58, field: "record_type_count",
                                          value: UInt64(typeCount), limit: UInt64(options.maxRecordTypes)))
        }
        let hostAt = SegmentFormat.headerFixedLength + SegmentFormat.typeEntryLength * typeCount
        guard SegmentFormat.align8(hostAt + hostLength + 4) == length else {
            throw fail(.invalidHeader(path: source, offset: 12,
                                      reason: "header_length \(length) does not fit \(typeCount) record types and a \(hostLength)-byte host id"))
        }
        guard hostLength > 0 else {
            throw fail(.invalidHeader(path: source, offset: 56, reason: "empty host id"))
        }
        var types: [RecordTypeVersion] = []
        var versions = [UInt16](repeating: 0, count: Int(RL_REC_TYPE_MAX.rawValue))
        for i in 0..<typeCount {
            let at = SegmentFormat.headerFixedLength + SegmentFormat.typeEntryLength * i
            let raw = p.le(at, UInt16.self)
            let version = p.le(at + 2, UInt16.self)
            guard let type = RecordType(rawValue: raw) else {
                throw fail(.unknownRecordType(path: source, offset: UInt64(at), recordType: raw))
            }
            guard type.recordSize(version: version) != nil else {
                throw fail(.unsupportedRecordVersion(path: source, offset: UInt64(at + 2), recordType: raw,
                                                     found: version, supported: type.currentVersion))
            }
            guard versions[Int(raw)] == 0 else {
                throw fail(.invalidHeader(path: source, offset: UInt64(at), reason: "record type \(type) listed twice"))
            }
            versions[Int(raw)] = version
            types.append(RecordTypeVersion(type, version: version))
        }
        // A version-1 call carries its strings; details next to it would collide with the ones
        // the decoder synthesises (records-v2.md, "Reading version-1 segments").
        if versions[Int(RecordType.l7Call.rawValue)] == 1 && versions[Int(RecordType.callDetail.rawValue)] != 0 {
            throw fail(.invalidHeader(path: source, offset: UInt64(SegmentFormat.headerFixedLength),
                                      reason: "l7_call version 1 declared together with call_detail"))
        }
        let hostBytes = UnsafeRawBufferPointer(start: p + hostAt, count: hostLength)
        guard let host = String(validating: hostBytes, as: UTF8.self) else {
            throw fail(.invalidHeader(path: source, offset: UInt64(hostAt), reason: "host id is not UTF-8"))
        }
        let boot = BootID(bytes: Array(UnsafeRawBufferPointer(start: p + 16, count: 16)))
        let h = SegmentHeader(hostID: host, bootID: boot, windowStartNs: p.le(32, Int64.self),
                              windowEndNs: p.le(40, Int64.self), openedMonotonicNs: p.le(48, UInt64.self),
                              recordTypes: types, formatVersion: version, flags: p.le(10, UInt16.self))
        recordTypeVersions = versions
        consume(length)
        bytesWanted = 4
        return h
    }

    // MARK: blocks

    private func decodeBlock() throws(SegmentError) -> BlockInfo? {
        let available = end - start
        let hl = SegmentFormat.blockHeaderLength
        guard available >= hl else {
            bytesWanted = hl - available
            return nil
        }
        let p = UnsafeRawPointer(input + start)
        let at = base
        let compressed = Int(p.le(20, UInt32.self))
        let maxRaw = min(options.maxBlockRawBytes, 0x7E00_0000)
        let maxCompressed = Int(ccompression_lz4_bound(Int32(maxRaw)))
        guard compressed <= maxCompressed else {
            throw fail(.lengthOutOfBounds(path: source, offset: at + 20, field: "compressed_length",
                                          value: UInt64(compressed), limit: UInt64(maxCompressed)))
        }
        let padded = SegmentFormat.align8(compressed)
        guard available >= hl + padded else {
            bytesWanted = hl + padded - available
            return nil
        }
        let stored = p.le(44, UInt32.self)
        var computed = crc32c(0, UnsafeRawBufferPointer(start: p, count: 44))
        computed = crc32c(computed, UnsafeRawBufferPointer(start: p + hl, count: padded))
        let sequence = nextSequence
        guard stored == computed else {
            throw fail(.blockChecksumMismatch(path: source, offset: at, block: Int(sequence), stored: stored, computed: computed))
        }
        let rawType = p.le(4, UInt16.self)
        guard let type = RecordType(rawValue: rawType), recordTypeVersions[Int(rawType)] != 0 else {
            throw fail(.unknownRecordType(path: source, offset: at + 4, recordType: rawType))
        }
        let version = p.le(6, UInt16.self)
        guard version == recordTypeVersions[Int(rawType)] else {
            throw fail(.recordVersionMismatch(path: source, offset: at + 6, recordType: rawType,
                                              block: version, header: recordTypeVersions[Int(rawType)]))
        }
        let foundSequence = p.le(8, UInt32.self)
        guard foundSequence == sequence else {
            throw fail(.blockOutOfOrder(path: source, offset: at + 8, expected: sequence, found: foundSequence))
        }
        let count = Int(p.le(12, UInt32.self))
        guard count >= 1, count <= options.maxRecordsPerBlock else {
            throw fail(.lengthOutOfBounds(path: source, offset: at + 12, field: "record_count",
                                          value: UInt64(count), limit: UInt64(options.maxRecordsPerBlock)))
        }
        let raw = Int(p.le(16, UInt32.self))
        guard raw <= maxRaw else {
            throw fail(.lengthOutOfBounds(path: source, offset: at + 16, field: "raw_length",
                                          value: UInt64(raw), limit: UInt64(maxRaw)))
        }
        let storedSize = type.recordSize(version: version) ?? type.recordSize
        guard raw == count * storedSize else {
            throw fail(.recordSizeMismatch(path: source, offset: at + 16, recordType: rawType, rawLength: UInt64(raw),
                                           count: UInt64(count), recordSize: UInt64(storedSize)))
        }
        outputCount = 0
        let v1Calls = type == .l7Call && storedSize != type.recordSize
        let wanted = options.decompressTypes.map { $0.contains(type) || (v1Calls && $0.contains(.callDetail)) } ?? true
        if options.decompress && wanted {
            let normalised = count * type.recordSize
            if outputCapacity < max(raw, normalised) {
                output.deallocate()
                outputCapacity = max(raw, normalised, 64 << 10)
                output = .allocate(byteCount: outputCapacity, alignment: 16)
            }
            let n = ccompression_lz4_decompress(p + hl, Int32(compressed), output, Int32(raw))
            guard n == Int32(raw) else {
                throw fail(.decompressionFailed(path: source, offset: at + UInt64(hl), block: Int(sequence)))
            }
            if v1Calls {
                splitCallsV1(count: count, keepDetails: options.decompressTypes?.contains(.callDetail) != false)
            } else if storedSize != type.recordSize {
                widenFlowDeltasV1(count: count)
            }
            outputCount = normalised
        }
        if v1Calls { v1CallsBefore &+= UInt32(count) }
        nextSequence &+= 1
        let info = BlockInfo(sequence: sequence, offset: at, recordType: type, recordVersion: version,
                             recordCount: UInt32(count), rawLength: UInt32(raw), compressedLength: UInt32(compressed),
                             minKernelNs: p.le(24, UInt64.self), maxKernelNs: p.le(32, UInt64.self))
        consume(hl + padded)
        bytesWanted = 4
        return info
    }

    /// Widens `count` version-1 flow deltas, packed at the start of `output`, to the current
    /// layout in place, last record first: v2 only appends the payload fields, which stay zero,
    /// and `RL_FLOW_LAYOUT_V1` marks each record so readers know its bytes count a GSO packet's
    /// headers once and its payload is unknown (schemas/records-v1.md).
    private func widenFlowDeltasV1(count: Int) {
        let old = Int(RL_FLOW_DELTA_V1_SIZE), new = RecordType.flowDelta.recordSize
        let flagsOffset = MemoryLayout<rl_flow_delta>.offset(of: \.flags)!
        for i in stride(from: count - 1, through: 0, by: -1) {
            let dst = output + i * new
            dst.copyMemory(from: output + i * old, byteCount: old) // regions may overlap: a memmove
            (dst + old).initializeMemory(as: UInt8.self, repeating: 0, count: new - old)
            let flags = dst.loadUnaligned(fromByteOffset: flagsOffset, as: UInt32.self) | UInt32(RL_FLOW_LAYOUT_V1.rawValue)
            dst.storeBytes(of: flags, toByteOffset: flagsOffset, as: UInt32.self)
        }
    }

    /// Splits `count` version-1 calls, packed at the start of `output`, in place into version-2
    /// calls and (with `keepDetails`) their details in `details`, first record first (each
    /// slim call lands at or before its old place, after its strings were copied out). A call
    /// whose strings are all zero gets no detail (`detail_seq` 0); the others the `seq` of
    /// their ordinal in the segment (records-v2.md, "Reading version-1 segments").
    private func splitCallsV1(count: Int, keepDetails: Bool) {
        let old = MemoryLayout<rl_l7_call_v1>.size, new = RecordType.l7Call.recordSize
        let detailSize = RecordType.callDetail.recordSize
        let prefix = CallLayout.prefixSize, strings = CallLayout.stringsSize
        if keepDetails && detailsCapacity < count * detailSize {
            details.deallocate()
            detailsCapacity = max(count * detailSize, 64 << 10)
            details = .allocate(byteCount: detailsCapacity, alignment: 16)
        }
        var kept = 0
        for i in 0..<count {
            let src = output + i * old
            var seq: UInt32 = 0
            if !CallLayout.isEmpty(strings: src + prefix) {
                seq = v1CallsBefore &+ UInt32(i + 1)
                if keepDetails {
                    let d = details + kept * detailSize
                    d.storeBytes(of: seq, toByteOffset: 0, as: UInt32.self)
                    d.storeBytes(of: 0, toByteOffset: 4, as: UInt32.self)
                    (d + CallLayout.detailStringsOffset).copyMemory(from: src + prefix, byteCount: strings)
                    kept += 1
                }
            }
            let dst = output + i * new
            dst.copyMemory(from: src, byteCount: prefix) // dst == src for the first record: a memmove
            dst.storeBytes(of: seq, toByteOffset: prefix, as: UInt32.self)
            dst.storeBytes(of: 0, toByteOffset: prefix + 4, as: UInt32.self)
        }
        detailsCount = kept * detailSize
    }

    /// Calls `body` with the call details the current block carries, without copying: a
    /// call_detail block's records, or those synthesised from a version-1 call block (when
    /// `.callDetail` is decoded). Nil (and `body` is not called) for any other block. The buffer is
    /// only valid inside `body`.
    public func withCallDetails<R>(_ body: (UnsafeBufferPointer<rl_call_detail>) throws -> R) rethrows -> R? {
        guard let info = currentBlock else { return nil }
        if info.recordType == .callDetail { return try withRecords(as: rl_call_detail.self, body) }
        guard info.recordType == .l7Call && info.recordVersion == 1 else { return nil }
        let typed = UnsafeRawPointer(details).assumingMemoryBound(to: rl_call_detail.self)
        return try body(UnsafeBufferPointer(start: typed, count: detailsCount / MemoryLayout<rl_call_detail>.stride))
    }

    /// The current block's records as raw bytes (`recordCount × recordSize`), 16-byte aligned.
    /// Valid until the next call to `next()`, `feed` or `fill`; empty when decompression is off.
    public var currentRawRecords: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: output, count: outputCount)
    }

    /// Calls `body` with the current block's records typed as `T`, without copying; returns nil
    /// (and does not call `body`) when the current block holds another record type. The buffer is
    /// only valid inside `body`.
    @inlinable
    public func withRecords<T: ABIRecord, R>(as type: T.Type, _ body: (UnsafeBufferPointer<T>) throws -> R) rethrows -> R? {
        guard let info = currentBlock, info.recordType == T.recordType else { return nil }
        let raw = currentRawRecords
        guard let start = raw.baseAddress else { return try body(UnsafeBufferPointer(start: nil, count: 0)) }
        let typed = start.assumingMemoryBound(to: T.self)
        return try body(UnsafeBufferPointer(start: typed, count: raw.count / MemoryLayout<T>.stride))
    }

    // MARK: random access

    /// Drops any buffered input and goes on decoding at file offset `offset` (after the header):
    /// the next bytes fed are the file's from there, a block that must carry sequence number
    /// `sequence` (its position in the file), or the footer. `v1CallsBefore` is the number of
    /// version-1 calls in the blocks before it (their details' numbering, `withCallDetails`).
    /// From then on a footer is checked by its CRC32C and fields alone, not against the blocks
    /// decoded (they are not all of them). Used by `IndexedSegmentReader`.
    func reposition(to offset: UInt64, sequence: UInt32, v1CallsBefore: UInt32) {
        precondition(header != nil, "reposition before the header was decoded")
        start = 0
        end = 0
        base = offset
        nextSequence = sequence
        self.v1CallsBefore = v1CallsBefore
        compareFooterWithBlocks = false
        currentBlock = nil
        outputCount = 0
        detailsCount = 0
        bytesWanted = 4
        state = .blocks
    }

    // MARK: footer

    private func decodeFooter() throws(SegmentError) -> SegmentFooter? {
        let available = end - start
        let fixed = SegmentFormat.footerFixedLength
        guard available >= fixed else {
            bytesWanted = fixed - available
            return nil
        }
        let p = UnsafeRawPointer(input + start)
        let at = base
        let blockCount = Int(p.le(4, UInt32.self))
        guard blockCount <= options.maxBlocks else {
            throw fail(.lengthOutOfBounds(path: source, offset: at + 4, field: "footer block_count",
                                          value: UInt64(blockCount), limit: UInt64(options.maxBlocks)))
        }
        let typeCount = Int(p.le(32, UInt16.self))
        guard typeCount <= options.maxRecordTypes else {
            throw fail(.lengthOutOfBounds(path: source, offset: at + 32, field: "footer type_count",
                                          value: UInt64(typeCount), limit: UInt64(options.maxRecordTypes)))
        }
        let length = fixed + SegmentFormat.footerTypeEntryLength * typeCount + SegmentFormat.footerIndexEntryLength * blockCount
        let total = length + SegmentFormat.trailerLength
        guard available >= total else {
            bytesWanted = total - available
            return nil
        }
        // The trailer first: it holds the footer's checksum, so nothing in the footer is trusted
        // before the trailer confirms where the footer is and how long it is.
        let t = p + length
        let trailerAt = at + UInt64(length)
        let magic = t.le(16, UInt64.self)
        guard magic == SegmentFormat.trailerMagic else {
            throw fail(.badMagic(path: source, offset: trailerAt + 16, region: .trailer, found: magic))
        }
        let footerOffset = t.le(0, UInt64.self)
        guard footerOffset == at else {
            throw fail(.trailerMismatch(path: source, offset: trailerAt, field: "footer_offset", found: footerOffset, expected: at))
        }
        let footerLength = UInt64(t.le(8, UInt32.self))
        guard footerLength == UInt64(length) else {
            throw fail(.trailerMismatch(path: source, offset: trailerAt + 8, field: "footer_length",
                                        found: footerLength, expected: UInt64(length)))
        }
        let stored = t.le(12, UInt32.self)
        let computed = crc32c(0, UnsafeRawBufferPointer(start: p, count: length))
        guard stored == computed else {
            throw fail(.footerChecksumMismatch(path: source, offset: at, stored: stored, computed: computed))
        }
        var typeCounts: [TypeCount] = []
        var entryAt = fixed
        for _ in 0..<typeCount {
            let raw = p.le(entryAt, UInt16.self)
            guard let type = RecordType(rawValue: raw) else {
                throw fail(.unknownRecordType(path: source, offset: at + UInt64(entryAt), recordType: raw))
            }
            typeCounts.append(TypeCount(recordType: type, blocks: p.le(entryAt + 4, UInt32.self),
                                        records: p.le(entryAt + 8, UInt64.self)))
            entryAt += SegmentFormat.footerTypeEntryLength
        }
        var index: [BlockIndexEntry] = []
        index.reserveCapacity(blockCount)
        for _ in 0..<blockCount {
            let raw = p.le(entryAt + 12, UInt16.self)
            guard let type = RecordType(rawValue: raw) else {
                throw fail(.unknownRecordType(path: source, offset: at + UInt64(entryAt + 12), recordType: raw))
            }
            index.append(BlockIndexEntry(offset: p.le(entryAt, UInt64.self), recordCount: p.le(entryAt + 8, UInt32.self),
                                         recordType: type, minKernelNs: p.le(entryAt + 16, UInt64.self),
                                         maxKernelNs: p.le(entryAt + 24, UInt64.self)))
            entryAt += SegmentFormat.footerIndexEntryLength
        }
        let footer = SegmentFooter(offset: at, recordCount: p.le(8, UInt64.self), minKernelNs: p.le(16, UInt64.self),
                                   maxKernelNs: p.le(24, UInt64.self), typeCounts: typeCounts, blocks: index)
        guard compareFooterWithBlocks else {
            consume(total)
            return footer
        }
        // The footer must describe exactly the blocks just read; compare field by field so the
        // error names the first disagreement.
        let expected = SegmentFooter(offset: at, blocks: blocks)
        func check(_ field: String, _ offset: Int, _ footerValue: UInt64, _ observed: UInt64) throws(SegmentError) {
            if footerValue != observed {
                throw fail(.footerMismatch(path: source, offset: at + UInt64(offset), field: field,
                                           footer: footerValue, observed: observed))
            }
        }
        try check("block_count", 4, UInt64(blockCount), UInt64(blocks.count))
        try check("record_count", 8, footer.recordCount, expected.recordCount)
        try check("min_kernel_ns", 16, footer.minKernelNs, expected.minKernelNs)
        try check("max_kernel_ns", 24, footer.maxKernelNs, expected.maxKernelNs)
        try check("type_count", 32, UInt64(typeCount), UInt64(expected.typeCounts.count))
        for (i, (f, e)) in zip(footer.typeCounts, expected.typeCounts).enumerated() {
            let o = fixed + SegmentFormat.footerTypeEntryLength * i
            try check("type_counts[\(i)].record_type", o, UInt64(f.recordType.rawValue), UInt64(e.recordType.rawValue))
            try check("type_counts[\(i)].block_count", o + 4, UInt64(f.blocks), UInt64(e.blocks))
            try check("type_counts[\(i)].record_count", o + 8, f.records, e.records)
        }
        let indexAt = fixed + SegmentFormat.footerTypeEntryLength * typeCount
        for (i, (f, e)) in zip(footer.blocks, expected.blocks).enumerated() {
            let o = indexAt + SegmentFormat.footerIndexEntryLength * i
            try check("block_index[\(i)].offset", o, f.offset, e.offset)
            try check("block_index[\(i)].record_count", o + 8, UInt64(f.recordCount), UInt64(e.recordCount))
            try check("block_index[\(i)].record_type", o + 12, UInt64(f.recordType.rawValue), UInt64(e.recordType.rawValue))
            try check("block_index[\(i)].min_kernel_ns", o + 16, f.minKernelNs, e.minKernelNs)
            try check("block_index[\(i)].max_kernel_ns", o + 24, f.maxKernelNs, e.maxKernelNs)
        }
        consume(total)
        return footer
    }
}
