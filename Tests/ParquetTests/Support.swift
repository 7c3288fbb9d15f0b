import Foundation
import TestSupport
@testable import Parquet

/// Runs a tools/validate script with the package venv's Python; returns stdout and stderr.
func runValidator(_ script: String, _ args: [String]) throws -> (out: Data, err: String, status: Int32) {
    let root = Prerequisites.packageRoot
    let r = try runToCompletion(root + "/.venv/bin/python", [root + "/tools/validate/\(script)"] + args)
    return (Data(r.stdout.utf8), r.stderr, r.status)
}

/// A reader-neutral cell (tools/validate/normalize.py defines the same encoding).
indirect enum Cell: Decodable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case text(String)
    case list([Cell])

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null } else if let b = try? c.decode(Bool.self) { self = .bool(b) } else if let s = try? c.decode(String.self) {
            self = .text(s)
        } else { self = .list(try c.decode([Cell].self)) }
    }

    var description: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return "\(b)"
        case .text(let s): return s.count > 40 ? "\"\(s.prefix(40))…\"" : "\"\(s)\""
        case .list(let l): return "[" + l.map(\.description).joined(separator: ",") + "]"
        }
    }
}

/// Cells of a column as Redline wrote it, in normalize.py's encoding.
func expectedCells(_ field: ParquetField, _ data: ColumnData) -> [Cell] {
    func scalar(_ k: Int) -> Cell {
        switch data.values {
        case .boolean(let a): return .bool(a[k])
        case .int32(let a): return .text(field.type.isUnsigned ? String(UInt32(bitPattern: a[k])) : String(a[k]))
        case .int64(let a): return .text(field.type.isUnsigned ? String(UInt64(bitPattern: a[k])) : String(a[k]))
        case .double(let a): return .text(String(a[k].bitPattern))
        case .byteArray(let a):
            if field.type == .string { return .text(a.string(k)) }
            return .text("hex:" + a[k].map { String(format: "%02x", $0) }.joined())
        case let .fixedLenByteArray(w, b):
            return .text("hex:" + b[(k * w)..<(k * w + w)].map { String(format: "%02x", $0) }.joined())
        }
    }
    var out: [Cell] = []
    var k = 0
    switch field.shape {
    case .required:
        for i in 0..<data.rowCount { out.append(scalar(i)) }
    case .optional:
        for r in 0..<data.rowCount {
            if data.validity?[r] ?? true { out.append(scalar(k)); k += 1 } else { out.append(.null) }
        }
    case .list:
        let o = data.listOffsets!
        for r in 0..<data.rowCount {
            if let v = data.validity, !v[r] { out.append(.null); continue }
            var l: [Cell] = []
            for j in o[r]..<o[r + 1] {
                if data.elementValidity?[j] ?? true { l.append(scalar(k)); k += 1 } else { l.append(.null) }
            }
            out.append(.list(l))
        }
    }
    return out
}

/// Concatenates batches of one column (for expected whole-file contents).
func concat(_ parts: [ColumnData]) -> ColumnData {
    var values = parts[0].values
    var validity: [Bool]? = nil, elementValidity: [Bool]? = nil, offsets: [Int]? = nil
    let anyValidity = parts.contains { $0.validity != nil }
    let anyElem = parts.contains { $0.elementValidity != nil }
    for (i, p) in parts.enumerated() {
        if i > 0 {
            switch (values, p.values) {
            case let (.boolean(a), .boolean(b)): values = .boolean(a + b)
            case let (.int32(a), .int32(b)): values = .int32(a + b)
            case let (.int64(a), .int64(b)): values = .int64(a + b)
            case let (.double(a), .double(b)): values = .double(a + b)
            case let (.byteArray(a), .byteArray(b)):
                var c = a
                for j in 0..<b.count { c.append(bytes: b[j]) }
                values = .byteArray(c)
            case let (.fixedLenByteArray(w, a), .fixedLenByteArray(_, b)): values = .fixedLenByteArray(width: w, bytes: a + b)
            default: fatalError("mixed types")
            }
        }
        if anyValidity { validity = (validity ?? []) + (p.validity ?? Array(repeating: true, count: p.rowCount)) }
        if let o = p.listOffsets {
            let base = offsets?.last ?? 0
            offsets = (offsets ?? [0]) + o.dropFirst().map { $0 + base }
            if anyElem { elementValidity = (elementValidity ?? []) + (p.elementValidity ?? Array(repeating: true, count: o.last!)) }
        }
    }
    return ColumnData(values, validity: validity, listOffsets: offsets, elementValidity: elementValidity).canonical
}
