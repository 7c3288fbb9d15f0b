import Glibc

/// The part of a segment file a byte offset falls in; used by errors to say where damage is.
public enum SegmentRegion: String, Sendable, Equatable {
    case header
    case blockHeader = "block header"
    case blockPayload = "block payload"
    case footer
    case trailer
}

/// Every way reading or writing a segment can fail. Each case carries the file (or stream) name
/// and the byte offset, from the start of the file, where the problem was found.
public enum SegmentError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call failed (`call` names it, e.g. "open", "fsync").
    case io(path: String, offset: UInt64, call: String, errno: Int32)
    /// The input ended inside `region`, which starts at `offset` and needs `needed` bytes.
    case truncated(path: String, offset: UInt64, region: SegmentRegion, needed: UInt64, available: UInt64)
    /// A magic number is wrong: the file is not a segment, or a block/footer boundary is lost.
    case badMagic(path: String, offset: UInt64, region: SegmentRegion, found: UInt64)
    /// The file's format version is not one this reader knows.
    case unsupportedVersion(path: String, offset: UInt64, found: UInt16, supported: [UInt16])
    /// The header lists a record type whose layout version this build does not know.
    case unsupportedRecordVersion(path: String, offset: UInt64, recordType: UInt16, found: UInt16, supported: UInt16)
    /// The header's stored CRC32C does not match its bytes.
    case headerChecksumMismatch(path: String, offset: UInt64, stored: UInt32, computed: UInt32)
    /// A block's stored CRC32C does not match its header fields and payload.
    case blockChecksumMismatch(path: String, offset: UInt64, block: Int, stored: UInt32, computed: UInt32)
    /// The footer's CRC32C (stored in the trailer) does not match the footer's bytes.
    case footerChecksumMismatch(path: String, offset: UInt64, stored: UInt32, computed: UInt32)
    /// A length or count field is outside what the format or the reader's limits allow.
    case lengthOutOfBounds(path: String, offset: UInt64, field: String, value: UInt64, limit: UInt64)
    /// A header field is malformed in a way no length check catches (duplicate type, bad UTF-8…).
    case invalidHeader(path: String, offset: UInt64, reason: String)
    /// LZ4 rejected a block's payload, or it did not expand to the block's raw length.
    case decompressionFailed(path: String, offset: UInt64, block: Int)
    /// A block carries a record type the segment header does not declare.
    case unknownRecordType(path: String, offset: UInt64, recordType: UInt16)
    /// A block's record version differs from the version the header declares for its type.
    case recordVersionMismatch(path: String, offset: UInt64, recordType: UInt16, block: UInt16, header: UInt16)
    /// A block's raw length is not its record count times the record size.
    case recordSizeMismatch(path: String, offset: UInt64, recordType: UInt16, rawLength: UInt64, count: UInt64, recordSize: UInt64)
    /// A block's sequence number is not the next one (a block was lost, repeated or moved).
    case blockOutOfOrder(path: String, offset: UInt64, expected: UInt32, found: UInt32)
    /// The footer disagrees with the blocks read (`field` says which value).
    case footerMismatch(path: String, offset: UInt64, field: String, footer: UInt64, observed: UInt64)
    /// The trailer does not point at the footer just read, or its magic is wrong.
    case trailerMismatch(path: String, offset: UInt64, field: String, found: UInt64, expected: UInt64)
    /// Bytes follow the trailer.
    case trailingBytes(path: String, offset: UInt64, count: UInt64)
    /// A writer was used wrongly (record of the wrong size, host id unusable in a path, …).
    case invalidArgument(path: String, offset: UInt64, reason: String)

    /// The file or stream the error is about.
    public var path: String {
        switch self {
        case .io(let p, _, _, _), .truncated(let p, _, _, _, _), .badMagic(let p, _, _, _),
            .unsupportedVersion(let p, _, _, _), .unsupportedRecordVersion(let p, _, _, _, _),
            .headerChecksumMismatch(let p, _, _, _), .blockChecksumMismatch(let p, _, _, _, _),
            .footerChecksumMismatch(let p, _, _, _), .lengthOutOfBounds(let p, _, _, _, _),
            .invalidHeader(let p, _, _), .decompressionFailed(let p, _, _), .unknownRecordType(let p, _, _),
            .recordVersionMismatch(let p, _, _, _, _), .recordSizeMismatch(let p, _, _, _, _, _),
            .blockOutOfOrder(let p, _, _, _), .footerMismatch(let p, _, _, _, _),
            .trailerMismatch(let p, _, _, _, _), .trailingBytes(let p, _, _), .invalidArgument(let p, _, _):
            return p
        }
    }

    /// Byte offset from the start of the file where the problem was found.
    public var offset: UInt64 {
        switch self {
        case .io(_, let o, _, _), .truncated(_, let o, _, _, _), .badMagic(_, let o, _, _),
            .unsupportedVersion(_, let o, _, _), .unsupportedRecordVersion(_, let o, _, _, _),
            .headerChecksumMismatch(_, let o, _, _), .blockChecksumMismatch(_, let o, _, _, _),
            .footerChecksumMismatch(_, let o, _, _), .lengthOutOfBounds(_, let o, _, _, _),
            .invalidHeader(_, let o, _), .decompressionFailed(_, let o, _), .unknownRecordType(_, let o, _),
            .recordVersionMismatch(_, let o, _, _, _), .recordSizeMismatch(_, let o, _, _, _, _),
            .blockOutOfOrder(_, let o, _, _), .footerMismatch(_, let o, _, _, _),
            .trailerMismatch(_, let o, _, _, _), .trailingBytes(_, let o, _), .invalidArgument(_, let o, _):
            return o
        }
    }

    public var description: String {
        func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }
        switch self {
        case .io(let p, let o, let call, let e):
            // Only reads and writes happen at a byte; for open, mkdir, rename, … a position means nothing.
            let at = ["read", "write", "ftruncate"].contains(call) ? " at byte \(o)" : ""
            return "\(p): \(call) failed\(at): \(String(cString: strerror(e))) (errno \(e))"
        case .truncated(let p, let o, let region, let needed, let available):
            return "\(p): truncated \(region.rawValue) at byte \(o): needs \(needed) bytes, \(available) present"
        case .badMagic(let p, let o, let region, let found):
            return "\(p): bad \(region.rawValue) magic at byte \(o) (found 0x\(String(found, radix: 16)))"
        case .unsupportedVersion(let p, let o, let found, let supported):
            let list = supported.map(String.init).joined(separator: ", ")
            return "\(p): unsupported segment format version \(found) at byte \(o); this reader supports version \(list)"
        case .unsupportedRecordVersion(let p, let o, let type, let found, let supported):
            return "\(p): record type \(RecordType.name(of: type)) has layout version \(found) at byte \(o); this reader supports version \(supported)"
        case .headerChecksumMismatch(let p, let o, let s, let c):
            return "\(p): header CRC32C mismatch at byte \(o) (stored \(hex(s)), computed \(hex(c)))"
        case .blockChecksumMismatch(let p, let o, let b, let s, let c):
            return "\(p): block \(b) CRC32C mismatch at byte \(o) (stored \(hex(s)), computed \(hex(c)))"
        case .footerChecksumMismatch(let p, let o, let s, let c):
            return "\(p): footer CRC32C mismatch at byte \(o) (stored \(hex(s)), computed \(hex(c)))"
        case .lengthOutOfBounds(let p, let o, let field, let value, let limit):
            return "\(p): \(field) = \(value) at byte \(o) exceeds the limit \(limit)"
        case .invalidHeader(let p, let o, let reason):
            return "\(p): invalid header at byte \(o): \(reason)"
        case .decompressionFailed(let p, let o, let b):
            return "\(p): block \(b) at byte \(o) failed LZ4 decompression"
        case .unknownRecordType(let p, let o, let type):
            return "\(p): block at byte \(o) has record type \(type), which the header does not declare"
        case .recordVersionMismatch(let p, let o, let type, let block, let header):
            return "\(p): block at byte \(o) says \(RecordType.name(of: type)) version \(block), header declares \(header)"
        case .recordSizeMismatch(let p, let o, let type, let raw, let count, let size):
            return "\(p): block at byte \(o): \(count) \(RecordType.name(of: type)) records of \(size) bytes do not make \(raw) bytes"
        case .blockOutOfOrder(let p, let o, let expected, let found):
            return "\(p): block at byte \(o) has sequence \(found), expected \(expected)"
        case .footerMismatch(let p, let o, let field, let footer, let observed):
            return "\(p): footer at byte \(o) says \(field) = \(footer), blocks show \(observed)"
        case .trailerMismatch(let p, let o, let field, let found, let expected):
            return "\(p): trailer at byte \(o): \(field) is \(found), expected \(expected)"
        case .trailingBytes(let p, let o, let count):
            return "\(p): \(count) unexpected bytes after the trailer at byte \(o)"
        case .invalidArgument(let p, let o, let reason):
            return "\(p): \(reason) (at byte \(o))"
        }
    }
}
