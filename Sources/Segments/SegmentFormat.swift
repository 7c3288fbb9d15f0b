import RedlineBase
import CCompression

/// Constants of segment format v1 (schemas/segment-v1.md). All integers are little-endian.
public enum SegmentFormat {
    /// The format version this build writes.
    public static let version: UInt16 = 1
    /// The format versions this build reads.
    public static let supportedVersions: [UInt16] = [1]

    /// File magic, bytes 89 52 4C 53 0D 0A 1A 0A ("\x89RLS\r\n\x1a\n"), read as a little-endian u64.
    public static let fileMagic: UInt64 = 0x0A1A_0A0D_534C_5289
    /// Block magic "RLBK" as a little-endian u32.
    public static let blockMagic: UInt32 = 0x4B42_4C52
    /// Footer magic "RLFT" as a little-endian u32.
    public static let footerMagic: UInt32 = 0x5446_4C52
    /// Trailing magic "RLSEGEND" as a little-endian u64.
    public static let trailerMagic: UInt64 = 0x444E_4547_4553_4C52

    /// Bytes of the header before the record type table.
    public static let headerFixedLength = 64
    /// Bytes of one record type table entry (u16 type, u16 version).
    public static let typeEntryLength = 4
    /// Bytes of a block header.
    public static let blockHeaderLength = 48
    /// Bytes of the footer before the per-type counts.
    public static let footerFixedLength = 40
    /// Bytes of one per-type count entry in the footer.
    public static let footerTypeEntryLength = 16
    /// Bytes of one block index entry in the footer.
    public static let footerIndexEntryLength = 32
    /// Bytes of the trailer.
    public static let trailerLength = 24

    /// Suffix of a sealed segment.
    public static let sealedSuffix = ".rls"
    /// Suffix of a segment being written.
    public static let openSuffix = ".rls.open"

    @inlinable static func align8(_ n: Int) -> Int { (n + 7) & ~7 }
}

/// CRC32C (Castagnoli) of `bytes`, continuing from `crc` (0 to start).
@inlinable
func crc32c(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
    ccompression_crc32c(crc, bytes.baseAddress, bytes.count)
}

extension UnsafeRawPointer {
    @inlinable func le<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}

extension UnsafeMutableRawPointer {
    @inlinable func putLE<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        storeBytes(of: value.littleEndian, toByteOffset: offset, as: T.self)
    }
}

/// One entry of the header's record type table.
public struct RecordTypeVersion: Hashable, Sendable {
    public var recordType: RecordType
    public var version: UInt16
    public init(_ recordType: RecordType, version: UInt16) {
        self.recordType = recordType
        self.version = version
    }
    /// Every record type at the version this build writes.
    public static var current: [RecordTypeVersion] {
        RecordType.allCases.map { RecordTypeVersion($0, version: $0.currentVersion) }
    }
}

/// The segment header: who wrote the file, for which time window, with which record layouts.
public struct SegmentHeader: Hashable, Sendable {
    /// Format version of the file (1).
    public var formatVersion: UInt16
    /// Header flags; none are defined in v1 (written 0, ignored on read).
    public var flags: UInt16
    /// Host id: the collector's host name, 1…255 bytes of UTF-8 (also the `host=` path part).
    public var hostID: String
    /// Boot id of the host while the file was written.
    public var bootID: BootID
    /// UTC ns (CLOCK_REALTIME) of the start of the window the file covers.
    public var windowStartNs: Int64
    /// UTC ns of the intended end of the window (the writer may seal earlier, e.g. at shutdown).
    public var windowEndNs: Int64
    /// CLOCK_MONOTONIC ns when the file was opened; same clock as the records' kernel times.
    public var openedMonotonicNs: UInt64
    /// Record types the file may hold, with their layout versions, ascending by type.
    public var recordTypes: [RecordTypeVersion]

    public init(hostID: String, bootID: BootID, windowStartNs: Int64, windowEndNs: Int64,
                openedMonotonicNs: UInt64, recordTypes: [RecordTypeVersion] = RecordTypeVersion.current,
                formatVersion: UInt16 = SegmentFormat.version, flags: UInt16 = 0) {
        self.formatVersion = formatVersion
        self.flags = flags
        self.hostID = hostID
        self.bootID = bootID
        self.windowStartNs = windowStartNs
        self.windowEndNs = windowEndNs
        self.openedMonotonicNs = openedMonotonicNs
        self.recordTypes = recordTypes
    }

    /// Encoded length in bytes (a multiple of 8).
    public var encodedLength: Int {
        SegmentFormat.align8(SegmentFormat.headerFixedLength + SegmentFormat.typeEntryLength * recordTypes.count
            + hostID.utf8.count + 4)
    }

    /// The header's bytes, CRC included.
    public func encoded() -> [UInt8] {
        let length = encodedLength
        var out = [UInt8](repeating: 0, count: length)
        out.withUnsafeMutableBytes { buf in
            let p = buf.baseAddress!
            p.putLE(SegmentFormat.fileMagic, at: 0)
            p.putLE(formatVersion, at: 8)
            p.putLE(flags, at: 10)
            p.putLE(UInt32(length), at: 12)
            for (i, b) in bootID.bytes.enumerated() { p.storeBytes(of: b, toByteOffset: 16 + i, as: UInt8.self) }
            p.putLE(windowStartNs, at: 32)
            p.putLE(windowEndNs, at: 40)
            p.putLE(openedMonotonicNs, at: 48)
            p.putLE(UInt16(hostID.utf8.count), at: 56)
            p.putLE(UInt16(recordTypes.count), at: 58)
            var at = SegmentFormat.headerFixedLength
            for entry in recordTypes {
                p.putLE(entry.recordType.rawValue, at: at)
                p.putLE(entry.version, at: at + 2)
                at += SegmentFormat.typeEntryLength
            }
            for b in hostID.utf8 {
                p.storeBytes(of: b, toByteOffset: at, as: UInt8.self)
                at += 1
            }
            let crc = crc32c(0, UnsafeRawBufferPointer(start: p, count: length - 4))
            p.putLE(crc, at: length - 4)
        }
        return out
    }

    /// The version declared for `type`, nil if the file may not hold it.
    public func version(of type: RecordType) -> UInt16? {
        recordTypes.first { $0.recordType == type }?.version
    }
}

/// What the reader learned about one block, from its header (before or after decompression).
public struct BlockInfo: Hashable, Sendable {
    /// 0-based position of the block in the file.
    public var sequence: UInt32
    /// Byte offset of the block header from the start of the file.
    public var offset: UInt64
    public var recordType: RecordType
    public var recordVersion: UInt16
    public var recordCount: UInt32
    /// Bytes of the records once decompressed (`recordCount × recordSize`).
    public var rawLength: UInt32
    /// Bytes of the LZ4 payload as stored.
    public var compressedLength: UInt32
    /// Smallest and largest kernel time (monotonic ns) of the block's records (see `RecordType.kernelTimeSpan`).
    public var minKernelNs: UInt64
    public var maxKernelNs: UInt64

    /// Bytes the block occupies in the file: header, payload, padding.
    public var encodedLength: UInt64 {
        UInt64(SegmentFormat.blockHeaderLength + SegmentFormat.align8(Int(compressedLength)))
    }
}

/// Block and record counts of one record type in a segment.
public struct TypeCount: Hashable, Sendable {
    public var recordType: RecordType
    public var blocks: UInt32
    public var records: UInt64
}

/// The footer of a sealed segment: counts and the block index.
public struct SegmentFooter: Hashable, Sendable {
    /// Byte offset of the footer from the start of the file.
    public var offset: UInt64
    public var recordCount: UInt64
    /// Min/max kernel time over all blocks; both 0 when the segment has no blocks.
    public var minKernelNs: UInt64
    public var maxKernelNs: UInt64
    /// Per record type present, ascending by type.
    public var typeCounts: [TypeCount]
    /// One entry per block, in file order.
    public var blocks: [BlockIndexEntry]

    /// Encoded length in bytes.
    public var encodedLength: Int {
        SegmentFormat.footerFixedLength + SegmentFormat.footerTypeEntryLength * typeCounts.count
            + SegmentFormat.footerIndexEntryLength * blocks.count
    }

    /// Builds the footer describing `blocks` (in file order), to be written at `offset`.
    public init(offset: UInt64, blocks: [BlockInfo]) {
        self.offset = offset
        self.blocks = blocks.map {
            BlockIndexEntry(offset: $0.offset, recordCount: $0.recordCount, recordType: $0.recordType,
                            minKernelNs: $0.minKernelNs, maxKernelNs: $0.maxKernelNs)
        }
        recordCount = blocks.reduce(0) { $0 + UInt64($1.recordCount) }
        minKernelNs = blocks.map(\.minKernelNs).min() ?? 0
        maxKernelNs = blocks.map(\.maxKernelNs).max() ?? 0
        typeCounts = RecordType.allCases.compactMap { type in
            let mine = blocks.filter { $0.recordType == type }
            if mine.isEmpty { return nil }
            return TypeCount(recordType: type, blocks: UInt32(mine.count),
                             records: mine.reduce(0) { $0 + UInt64($1.recordCount) })
        }
    }

    init(offset: UInt64, recordCount: UInt64, minKernelNs: UInt64, maxKernelNs: UInt64,
         typeCounts: [TypeCount], blocks: [BlockIndexEntry]) {
        self.offset = offset
        self.recordCount = recordCount
        self.minKernelNs = minKernelNs
        self.maxKernelNs = maxKernelNs
        self.typeCounts = typeCounts
        self.blocks = blocks
    }

    /// The footer's bytes followed by the trailer.
    public func encodedWithTrailer() -> [UInt8] {
        let length = encodedLength
        var out = [UInt8](repeating: 0, count: length + SegmentFormat.trailerLength)
        out.withUnsafeMutableBytes { buf in
            let p = buf.baseAddress!
            p.putLE(SegmentFormat.footerMagic, at: 0)
            p.putLE(UInt32(blocks.count), at: 4)
            p.putLE(recordCount, at: 8)
            p.putLE(minKernelNs, at: 16)
            p.putLE(maxKernelNs, at: 24)
            p.putLE(UInt16(typeCounts.count), at: 32)
            var at = SegmentFormat.footerFixedLength
            for t in typeCounts {
                p.putLE(t.recordType.rawValue, at: at)
                p.putLE(t.blocks, at: at + 4)
                p.putLE(t.records, at: at + 8)
                at += SegmentFormat.footerTypeEntryLength
            }
            for b in blocks {
                p.putLE(b.offset, at: at)
                p.putLE(b.recordCount, at: at + 8)
                p.putLE(b.recordType.rawValue, at: at + 12)
                p.putLE(b.minKernelNs, at: at + 16)
                p.putLE(b.maxKernelNs, at: at + 24)
                at += SegmentFormat.footerIndexEntryLength
            }
            let crc = crc32c(0, UnsafeRawBufferPointer(start: p, count: length))
            p.putLE(offset, at: length)
            p.putLE(UInt32(length), at: length + 8)
            p.putLE(crc, at: length + 12)
            p.putLE(SegmentFormat.trailerMagic, at: length + 16)
        }
        return out
    }
}

/// One block index entry of the footer.
public struct BlockIndexEntry: Hashable, Sendable {
    public var offset: UInt64
    public var recordCount: UInt32
    public var recordType: RecordType
    public var minKernelNs: UInt64
    public var maxKernelNs: UInt64
}
