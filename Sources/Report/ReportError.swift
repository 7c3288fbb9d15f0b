/// Why a report could not be made. Each case names what was wrong (a folder, a partition, a
/// file and the reader's reason) and maps to the exit code every `redline` command uses.
public enum ReportError: Error, Equatable, CustomStringConvertible {
    /// The table root is missing or not a folder.
    case noTableRoot(String)
    /// The selection has no committed table of any kind (no manifest, no files).
    case noPartition(String)
    /// A daily report's `traffic_matrix_daily` file is missing.
    case noDailyTable(String)
    /// A table file exists but cannot be read or lacks a column the report needs.
    case badTable(path: String, reason: String)
    /// The selection itself is unusable (an empty or reversed range).
    case badSelection(String)
    /// Writing the HTML failed.
    case io(String)

    public var description: String {
        switch self {
        case .noTableRoot(let p): "tables folder \(p) does not exist or is not a folder"
        case .noPartition(let s): s
        case .noDailyTable(let s): s
        case let .badTable(path, reason): "\(path): \(reason)"
        case .badSelection(let s): s
        case .io(let s): s
        }
    }

    /// 3 bad or missing input, 5 I/O: the codes of `redline run` (schemas/pipeline-v1.md).
    public var exitCode: Int32 {
        switch self {
        case .noTableRoot, .noPartition, .noDailyTable, .badTable, .badSelection: 3
        case .io: 5
        }
    }
}
