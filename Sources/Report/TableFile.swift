import Aggregates
import Foundation
import Parquet

/// One Parquet file of a Redline table, read whole with the project's reader and addressed by
/// column name, so a column added by a later schema version is ignored rather than misread.
/// Every accessor checks the column exists with the expected type; a mismatch is a
/// `ReportError.badTable` naming the file and the column. Shared by the report and the anomaly
/// detectors (Sources/Anomaly), which read the same tables.
public struct TableFile {
    public let path: String
    public let rows: Int
    private let columns: [String: ColumnData]

    public init(path: String) throws(ReportError) {
        self.path = path
        do {
            let reader = try ParquetFileReader(path: path)
            var byName: [String: ColumnData] = [:]
            for (i, f) in reader.schema.fields.enumerated() { byName[f.name] = try reader.readColumn(i) }
            columns = byName
            rows = Int(reader.numRows)
        } catch {
            throw .badTable(path: path, reason: error.description)
        }
    }

    public func has(_ name: String) -> Bool { columns[name] != nil }

    private func column(_ name: String) throws(ReportError) -> ColumnData {
        guard let c = columns[name] else { throw .badTable(path: path, reason: "no column \(name)") }
        return c
    }

    public func strings(_ name: String) throws(ReportError) -> [String] {
        let c = try column(name)
        guard case .byteArray(let b) = c.values, c.validity == nil else {
            throw .badTable(path: path, reason: "column \(name) is not a required string")
        }
        return b.strings
    }

    public func int64s(_ name: String) throws(ReportError) -> [Int64] {
        let c = try column(name)
        guard case .int64(let v) = c.values, c.validity == nil, c.listOffsets == nil else {
            throw .badTable(path: path, reason: "column \(name) is not a required 64-bit integer")
        }
        return v
    }

    public func int32s(_ name: String) throws(ReportError) -> [Int32] {
        let c = try column(name)
        guard case .int32(let v) = c.values, c.validity == nil, c.listOffsets == nil else {
            throw .badTable(path: path, reason: "column \(name) is not a required 32-bit integer")
        }
        return v
    }

    public func doubles(_ name: String) throws(ReportError) -> [Double] {
        let c = try column(name)
        guard case .double(let v) = c.values, c.validity == nil else {
            throw .badTable(path: path, reason: "column \(name) is not a required double")
        }
        return v
    }

    /// An optional 64-bit integer column, one entry per row (nil where null).
    public func optionalInt64s(_ name: String) throws(ReportError) -> [Int64?] {
        let c = try column(name)
        guard case .int64(let v) = c.values, c.listOffsets == nil else {
            throw .badTable(path: path, reason: "column \(name) is not a 64-bit integer")
        }
        guard let valid = c.validity else { return v.map { $0 } }
        var out: [Int64?] = []
        out.reserveCapacity(valid.count)
        var k = 0
        for ok in valid {
            if ok { out.append(v[k]); k += 1 } else { out.append(nil) }
        }
        return out
    }

    /// A `list<int64>` column: the flat values and rows + 1 offsets.
    public func int64Lists(_ name: String) throws(ReportError) -> (values: [Int64], offsets: [Int]) {
        let c = try column(name)
        guard case .int64(let v) = c.values, let o = c.listOffsets, c.validity == nil, c.elementValidity == nil else {
            throw .badTable(path: path, reason: "column \(name) is not a list of 64-bit integers")
        }
        return (v, o)
    }
}

/// The RED metric columns of a red_service / red_edge file, row by row (also read by the
/// anomaly detectors, Sources/Anomaly).
public struct REDColumns {
    public let requests, errors, zero, sum: [Int64]
    public let scale, offset: [Int32]
    public let counts: (values: [Int64], offsets: [Int])
    public let minNs, maxNs: [Int64?]
    public let completeness: [Double]
    public let path: String

    public init(_ f: TableFile) throws(ReportError) {
        requests = try f.int64s("requests"); errors = try f.int64s("errors")
        zero = try f.int64s("latency_zero_count"); sum = try f.int64s("latency_sum_ns")
        scale = try f.int32s("latency_scale"); offset = try f.int32s("latency_offset")
        counts = try f.int64Lists("latency_counts")
        minNs = try f.optionalInt64s("latency_min_ns"); maxNs = try f.optionalInt64s("latency_max_ns")
        completeness = try f.doubles("completeness")
        path = f.path
    }

    /// Row `r`'s latency histogram, rebuilt with the Aggregates type (its quantile rule is the pipeline's).
    public func histogram(_ r: Int) throws(ReportError) -> ExponentialHistogram {
        let c = counts.values[counts.offsets[r]..<counts.offsets[r + 1]].map { UInt64(clamping: $0) }
        do {
            return try ExponentialHistogram(scale: Int(scale[r]), zeroCount: UInt64(clamping: zero[r]), offset: Int(offset[r]),
                                            counts: c, sum: UInt64(clamping: sum[r]),
                                            min: minNs[r].map { UInt64(clamping: $0) }, max: maxNs[r].map { UInt64(clamping: $0) })
        } catch {
            throw .badTable(path: path, reason: "row \(r): latency histogram: \(error)")
        }
    }
}
