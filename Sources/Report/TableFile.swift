import Foundation
import Parquet

/// One Parquet file of a Redline table, read whole with the project's reader and addressed by
/// column name, so a column added by a later schema version is ignored rather than misread.
/// Every accessor checks the column exists with the expected type; a mismatch is a
/// `ReportError.badTable` naming the file and the column.
struct TableFile {
    let path: String
    let rows: Int
    private let columns: [String: ColumnData]

    init(path: String) throws(ReportError) {
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

    func has(_ name: String) -> Bool { columns[name] != nil }

    private func column(_ name: String) throws(ReportError) -> ColumnData {
        guard let c = columns[name] else { throw .badTable(path: path, reason: "no column \(name)") }
        return c
    }

    func strings(_ name: String) throws(ReportError) -> [String] {
        let c = try column(name)
        guard case .byteArray(let b) = c.values, c.validity == nil else {
            throw .badTable(path: path, reason: "column \(name) is not a required string")
        }
        return b.strings
    }

    func int64s(_ name: String) throws(ReportError) -> [Int64] {
        let c = try column(name)
        guard case .int64(let v) = c.values, c.validity == nil, c.listOffsets == nil else {
            throw .badTable(path: path, reason: "column \(name) is not a required 64-bit integer")
        }
        return v
    }

    func int32s(_ name: String) throws(ReportError) -> [Int32] {
        let c = try column(name)
        guard case .int32(let v) = c.values, c.validity == nil, c.listOffsets == nil else {
            throw .badTable(path: path, reason: "column \(name) is not a required 32-bit integer")
        }
        return v
    }

    func doubles(_ name: String) throws(ReportError) -> [Double] {
        let c = try column(name)
        guard case .double(let v) = c.values, c.validity == nil else {
            throw .badTable(path: path, reason: "column \(name) is not a required double")
        }
        return v
    }

    /// An optional 64-bit integer column, one entry per row (nil where null).
    func optionalInt64s(_ name: String) throws(ReportError) -> [Int64?] {
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
    func int64Lists(_ name: String) throws(ReportError) -> (values: [Int64], offsets: [Int]) {
        let c = try column(name)
        guard case .int64(let v) = c.values, let o = c.listOffsets, c.validity == nil, c.elementValidity == nil else {
            throw .badTable(path: path, reason: "column \(name) is not a list of 64-bit integers")
        }
        return (v, o)
    }
}
