import Glibc
/// Every way reading or writing a Parquet file can fail. A reader never traps on
/// malformed input: each bounds check or inconsistency maps to one of these cases,
/// naming what was wrong and, where it helps, the byte offset.
public enum ParquetError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file is shorter than the fixed framing (magic + footer length + magic).
    case fileTooSmall(size: Int)
    /// The leading or trailing `PAR1` magic is missing.
    case badMagic
    /// A length or offset points outside the file or its enclosing structure.
    case outOfBounds(what: String, offset: Int, length: Int, limit: Int)
    /// Thrift compact data ended early or used an encoding this decoder rejects.
    case malformedThrift(String)
    /// A required Thrift field was absent.
    case missingField(structName: String, field: String)
    /// A value is outside what the format allows (negative count, unknown enum, …).
    case invalidValue(String)
    /// The file uses a Parquet feature outside Redline's subset (schemas/parquet.md).
    case unsupported(String)
    /// A compressed page did not decompress to its declared size.
    case decompressionFailed(column: String, offset: Int)
    /// A page's encoded values or levels do not match its header.
    case corruptPage(column: String, reason: String)
    /// A defensive limit (ReaderLimits) was exceeded.
    case limitExceeded(String)
    /// Data given to the writer does not fit the schema (wrong type, counts that disagree).
    case schemaMismatch(String)
    /// The writer was used after `close()` or after an earlier failure.
    case writerClosed
    /// A system call failed; `call` names the C function.
    case io(call: String, path: String, errno: Int32)
    /// zstd compression failed (should not happen with a bounded destination).
    case compressionFailed

    public var description: String {
        switch self {
        case .fileTooSmall(let size): return "file too small to be Parquet (\(size) bytes)"
        case .badMagic: return "missing PAR1 magic"
        case let .outOfBounds(what, offset, length, limit):
            return "\(what) out of bounds: offset \(offset) length \(length) limit \(limit)"
        case .malformedThrift(let s): return "malformed Thrift metadata: \(s)"
        case let .missingField(s, f): return "Thrift struct \(s) lacks required field \(f)"
        case .invalidValue(let s): return "invalid value: \(s)"
        case .unsupported(let s): return "unsupported Parquet feature: \(s)"
        case let .decompressionFailed(c, o): return "column \(c): page at \(o) did not decompress"
        case let .corruptPage(c, r): return "column \(c): corrupt page: \(r)"
        case .limitExceeded(let s): return "reader limit exceeded: \(s)"
        case .schemaMismatch(let s): return "data does not match schema: \(s)"
        case .writerClosed: return "writer already closed or failed"
        case let .io(call, path, e): return "\(call)(\(path)) failed: \(String(cString: strerror(e))) (errno \(e))"
        case .compressionFailed: return "zstd compression failed"
        }
    }
}
