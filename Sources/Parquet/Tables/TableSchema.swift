import Foundation

/// One column of a Redline output table: its Parquet shape plus the words a reader needs.
public struct TableColumn: Sendable, Equatable {
    public var name: String
    public var type: ValueType
    public var shape: ColumnShape
    /// Unit of the values ("ns since Unix epoch, UTC", "bytes", …), if they have one.
    public var unit: String?
    public var doc: String

    public init(_ name: String, _ type: ValueType, _ shape: ColumnShape = .required, unit: String? = nil, doc: String) {
        self.name = name
        self.type = type
        self.shape = shape
        self.unit = unit
        self.doc = doc
    }
}

/// A table declared once: its name, schema version, meaning and columns. Writers are made
/// from it (`parquetSchema`, `keyValueMetadata`), and tests compare it with its
/// machine-readable form, `schemas/tables/<name>.json` (format: schemas/tables/README.md).
public struct TableSchema: Sendable, Equatable {
    public var name: String
    /// Bumped on any column change; written to each file as `redline.schema_version`.
    public var version: Int
    public var doc: String
    public var columns: [TableColumn]

    public init(name: String, version: Int, doc: String, columns: [TableColumn]) {
        self.name = name
        self.version = version
        self.doc = doc
        self.columns = columns
    }

    public var parquetSchema: ParquetSchema { ParquetSchema(columns.map { ParquetField($0.name, $0.type, $0.shape) }) }

    /// Footer metadata naming the table and schema version.
    public var keyValueMetadata: [(String, String)] {
        [("redline.table", name), ("redline.schema_version", String(version))]
    }

    /// A writer for a file of this table.
    public func makeWriter(path: String, options: ParquetWriterOptions = ParquetWriterOptions()) throws(ParquetError)
        -> ParquetFileWriter {
        try ParquetFileWriter(path: path, schema: parquetSchema, options: options, metadata: keyValueMetadata)
    }

    /// Human-readable differences from `other` (empty when equal).
    public func differences(from other: TableSchema) -> [String] {
        var d: [String] = []
        if name != other.name { d.append("name \(name) vs \(other.name)") }
        if version != other.version { d.append("version \(version) vs \(other.version)") }
        if doc != other.doc { d.append("table doc differs") }
        let a = columns.map(\.name), b = other.columns.map(\.name)
        if a != b { d.append("columns \(a) vs \(b)") }
        for (x, y) in zip(columns, other.columns) where x.name == y.name {
            if x.type != y.type { d.append("\(x.name): type \(x.type.schemaName) vs \(y.type.schemaName)") }
            if x.shape != y.shape { d.append("\(x.name): shape \(x.shape) vs \(y.shape)") }
            if x.unit != y.unit { d.append("\(x.name): unit \(x.unit ?? "-") vs \(y.unit ?? "-")") }
            if x.doc != y.doc { d.append("\(x.name): doc differs") }
        }
        return d
    }
}

/// Errors loading a table schema's JSON form.
public enum TableSchemaError: Error, Equatable, CustomStringConvertible {
    case malformedJSON(String)
    case unknownType(column: String, type: String)

    public var description: String {
        switch self {
        case .malformedJSON(let s): return "malformed table schema JSON: \(s)"
        case let .unknownType(c, t): return "column \(c): unknown type \(t)"
        }
    }
}

extension ValueType {
    /// The type's name in schemas/tables/*.json.
    public var schemaName: String {
        switch self {
        case .boolean: return "boolean"
        case .int8: return "int8"
        case .int16: return "int16"
        case .int32: return "int32"
        case .int64: return "int64"
        case .uint8: return "uint8"
        case .uint16: return "uint16"
        case .uint32: return "uint32"
        case .uint64: return "uint64"
        case .double: return "double"
        case .string: return "string"
        case .binary: return "binary"
        case .fixedBinary(let n): return "fixed_binary(\(n))"
        case .timestampNanos: return "timestamp_ns"
        }
    }

    public init?(schemaName s: String) {
        let simple: [String: ValueType] = [
            "boolean": .boolean, "int8": .int8, "int16": .int16, "int32": .int32, "int64": .int64,
            "uint8": .uint8, "uint16": .uint16, "uint32": .uint32, "uint64": .uint64, "double": .double,
            "string": .string, "binary": .binary, "timestamp_ns": .timestampNanos,
        ]
        if let t = simple[s] { self = t; return }
        if s.hasPrefix("fixed_binary("), s.hasSuffix(")"),
           let n = Int(s.dropFirst("fixed_binary(".count).dropLast()), (1...65535).contains(n) {
            self = .fixedBinary(n)
            return
        }
        return nil
    }
}

extension TableSchema {
    private struct JSONForm: Codable {
        struct Column: Codable {
            var name: String
            var type: String
            var nullable: Bool
            var element_nullable: Bool?
            var unit: String?
            var doc: String
        }
        var table: String
        var version: Int
        var doc: String
        var columns: [Column]
    }

    /// Parses the JSON form (schemas/tables/README.md).
    public init(json: Data) throws(TableSchemaError) {
        let form: JSONForm
        do { form = try JSONDecoder().decode(JSONForm.self, from: json) } catch {
            throw .malformedJSON(String(describing: error))
        }
        var cols: [TableColumn] = []
        for c in form.columns {
            var typeName = c.type
            var isList = false
            if typeName.hasPrefix("list<"), typeName.hasSuffix(">") {
                typeName = String(typeName.dropFirst(5).dropLast())
                isList = true
            }
            guard let t = ValueType(schemaName: typeName) else { throw .unknownType(column: c.name, type: c.type) }
            let shape: ColumnShape = isList
                ? .list(nullable: c.nullable, elementNullable: c.element_nullable ?? false)
                : (c.nullable ? .optional : .required)
            cols.append(TableColumn(c.name, t, shape, unit: c.unit, doc: c.doc))
        }
        self.init(name: form.table, version: form.version, doc: form.doc, columns: cols)
    }

    /// The JSON form, pretty-printed with sorted keys (what `schemas/tables/<name>.json` holds).
    public func json() -> Data {
        let form = JSONForm(table: name, version: version, doc: doc, columns: columns.map { c in
            switch c.shape {
            case .required, .optional:
                return .init(name: c.name, type: c.type.schemaName, nullable: c.shape == .optional,
                             element_nullable: nil, unit: c.unit, doc: c.doc)
            case let .list(nullable, elementNullable):
                return .init(name: c.name, type: "list<\(c.type.schemaName)>", nullable: nullable,
                             element_nullable: elementNullable, unit: c.unit, doc: c.doc)
            }
        })
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? enc.encode(form)) ?? Data()
    }
}

/// Every table Redline declares. Each must have `schemas/tables/<name>.json`; a test checks both agree.
public enum TableCatalog {
    public static let all: [TableSchema] = [CallSampleTable.schema]
}
