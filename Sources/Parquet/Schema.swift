/// The value type of a column's leaf, as Redline's tables use them. Each maps to one
/// Parquet physical type plus its logical annotation (schemas/parquet.md, "Types").
public enum ValueType: Sendable, Equatable, Hashable {
    case boolean
    case int8, int16, int32, int64
    case uint8, uint16, uint32, uint64
    case double
    /// UTF-8 text (BYTE_ARRAY, STRING).
    case string
    /// Opaque bytes (BYTE_ARRAY, no annotation).
    case binary
    /// Fixed-width bytes (FIXED_LEN_BYTE_ARRAY of the given width, 1...65535).
    case fixedBinary(Int)
    /// Nanoseconds since the Unix epoch, UTC (INT64, TIMESTAMP(NANOS, isAdjustedToUTC=true)).
    case timestampNanos

    public var physicalType: PhysicalType {
        switch self {
        case .boolean: return .boolean
        case .int8, .int16, .int32, .uint8, .uint16, .uint32: return .int32
        case .int64, .uint64, .timestampNanos: return .int64
        case .double: return .double
        case .string, .binary: return .byteArray
        case .fixedBinary: return .fixedLenByteArray
        }
    }

    /// True for UINT_*: statistics order values as unsigned.
    var isUnsigned: Bool {
        switch self {
        case .uint8, .uint16, .uint32, .uint64: return true
        default: return false
        }
    }

    var logicalType: LogicalType? {
        switch self {
        case .int8: return .integer(bitWidth: 8, signed: true)
        case .int16: return .integer(bitWidth: 16, signed: true)
        case .int32: return .integer(bitWidth: 32, signed: true)
        case .int64: return .integer(bitWidth: 64, signed: true)
        case .uint8: return .integer(bitWidth: 8, signed: false)
        case .uint16: return .integer(bitWidth: 16, signed: false)
        case .uint32: return .integer(bitWidth: 32, signed: false)
        case .uint64: return .integer(bitWidth: 64, signed: false)
        case .string: return .string
        case .timestampNanos: return .timestampNanosUTC
        case .boolean, .double, .binary, .fixedBinary: return nil
        }
    }

    var convertedType: ConvertedType? {
        switch self {
        case .int8: return .int8
        case .int16: return .int16
        case .int32: return .int32
        case .int64: return .int64
        case .uint8: return .uint8
        case .uint16: return .uint16
        case .uint32: return .uint32
        case .uint64: return .uint64
        case .string: return .utf8
        default: return nil
        }
    }

    /// Inverse of (physical, logical) for files Redline reads; nil for anything outside the subset.
    static func from(physical: PhysicalType, logical: LogicalType?, converted: ConvertedType?,
                     typeLength: Int32?) -> ValueType? {
        switch (physical, logical) {
        case (.boolean, nil): return .boolean
        case (.int32, nil):
            switch converted {
            case .int8?: return .int8
            case .int16?: return .int16
            case .uint8?: return .uint8
            case .uint16?: return .uint16
            case .uint32?: return .uint32
            default: return .int32
            }
        case (.int32, .integer(8, true)?): return .int8
        case (.int32, .integer(16, true)?): return .int16
        case (.int32, .integer(32, true)?): return .int32
        case (.int32, .integer(8, false)?): return .uint8
        case (.int32, .integer(16, false)?): return .uint16
        case (.int32, .integer(32, false)?): return .uint32
        case (.int64, nil): return converted == .uint64 ? .uint64 : .int64
        case (.int64, .integer(64, true)?): return .int64
        case (.int64, .integer(64, false)?): return .uint64
        case (.int64, .timestampNanosUTC?): return .timestampNanos
        case (.double, nil): return .double
        case (.byteArray, .string?): return .string
        case (.byteArray, nil): return converted == .utf8 ? .string : .binary
        case (.fixedLenByteArray, nil):
            guard let n = typeLength, n > 0 else { return nil }
            return .fixedBinary(Int(n))
        default: return nil
        }
    }
}

/// How a column nests: a plain value (required or optional), or a standard 3-level LIST
/// `<name> (LIST) { repeated group list { <element> } }` of that value type.
public enum ColumnShape: Sendable, Equatable, Hashable {
    case required
    case optional
    /// `nullable`: the list itself may be null; `elementNullable`: elements may be null.
    case list(nullable: Bool, elementNullable: Bool)
}

/// One top-level column of a Parquet file.
public struct ParquetField: Sendable, Equatable, Hashable {
    public var name: String
    public var type: ValueType
    public var shape: ColumnShape

    public init(_ name: String, _ type: ValueType, _ shape: ColumnShape = .required) {
        self.name = name
        self.type = type
        self.shape = shape
    }

    /// Highest definition level of the leaf (0: always present).
    var maxDefinitionLevel: Int {
        switch shape {
        case .required: return 0
        case .optional: return 1
        case let .list(nullable, elementNullable): return (nullable ? 1 : 0) + 1 + (elementNullable ? 1 : 0)
        }
    }
    /// Highest repetition level of the leaf (1 for lists, else 0).
    var maxRepetitionLevel: Int {
        if case .list = shape { return 1 }
        return 0
    }
    /// Dotted path of the leaf, as `path_in_schema`.
    var leafPath: [String] {
        if case .list = shape { return [name, "list", "element"] }
        return [name]
    }

    /// The schema elements of this field, depth-first (parquet.thrift flattening).
    var schemaElements: [SchemaElement] {
        func leaf(_ name: String, _ rep: Repetition) -> SchemaElement {
            var typeLength: Int32?
            if case let .fixedBinary(n) = type { typeLength = Int32(clamping: n) }
            return SchemaElement(type: type.physicalType, typeLength: typeLength, repetition: rep, name: name,
                                 numChildren: nil, convertedType: type.convertedType, logicalType: type.logicalType)
        }
        switch shape {
        case .required: return [leaf(name, .required)]
        case .optional: return [leaf(name, .optional)]
        case let .list(nullable, elementNullable):
            return [
                SchemaElement(type: nil, typeLength: nil, repetition: nullable ? .optional : .required, name: name,
                              numChildren: 1, convertedType: .list, logicalType: .list),
                SchemaElement(type: nil, typeLength: nil, repetition: .repeated, name: "list", numChildren: 1,
                              convertedType: nil, logicalType: nil),
                leaf("element", elementNullable ? .optional : .required),
            ]
        }
    }
}

/// A file's columns, in order. Redline writes flat schemas whose columns are values or
/// lists of values; that is also all its reader accepts.
public struct ParquetSchema: Sendable, Equatable, Hashable {
    public var fields: [ParquetField]

    public init(_ fields: [ParquetField]) { self.fields = fields }

    func validate() throws(ParquetError) {
        guard !fields.isEmpty else { throw .schemaMismatch("a schema needs at least one column") }
        var seen = Set<String>()
        for f in fields {
            guard !f.name.isEmpty else { throw .schemaMismatch("empty column name") }
            guard seen.insert(f.name).inserted else { throw .schemaMismatch("duplicate column \(f.name)") }
            if case let .fixedBinary(n) = f.type, !(1...65535).contains(n) {
                throw .schemaMismatch("column \(f.name): fixed width \(n) outside 1...65535")
            }
        }
    }

    var schemaElements: [SchemaElement] {
        [SchemaElement(type: nil, typeLength: nil, repetition: nil, name: "schema",
                       numChildren: Int32(fields.count), convertedType: nil, logicalType: nil)]
            + fields.flatMap(\.schemaElements)
    }

    /// Rebuilds the schema from a file's flattened elements, rejecting shapes outside the subset.
    static func from(elements: [SchemaElement]) throws(ParquetError) -> ParquetSchema {
        guard let root = elements.first, let n = root.numChildren, n >= 0 else {
            throw .invalidValue("schema root missing or without children")
        }
        var fields: [ParquetField] = []
        var i = 1
        for _ in 0..<n {
            guard i < elements.count else { throw .invalidValue("schema ends early") }
            let e = elements[i]
            if let children = e.numChildren {
                // Only the standard 3-level LIST of a primitive.
                // A group is a list only when annotated LIST; a plain group would be a struct.
                guard children == 1, i + 2 < elements.count, e.repetition != .repeated,
                      e.logicalType == .list || e.convertedType == .list else {
                    throw .unsupported("group column \(e.name) other than a 3-level LIST")
                }
                let mid = elements[i + 1], leafE = elements[i + 2]
                guard mid.repetition == .repeated, mid.numChildren == 1, leafE.numChildren == nil,
                      leafE.repetition != .repeated, let pt = leafE.type,
                      let vt = ValueType.from(physical: pt, logical: leafE.logicalType,
                                              converted: leafE.convertedType, typeLength: leafE.typeLength)
                else { throw .unsupported("group column \(e.name) other than a 3-level LIST of a primitive") }
                fields.append(ParquetField(e.name, vt, .list(nullable: e.repetition == .optional,
                                                             elementNullable: leafE.repetition == .optional)))
                i += 3
            } else {
                guard let pt = e.type else { throw .invalidValue("leaf \(e.name) without a type") }
                guard e.repetition != .repeated else { throw .unsupported("repeated primitive \(e.name)") }
                guard let vt = ValueType.from(physical: pt, logical: e.logicalType, converted: e.convertedType,
                                              typeLength: e.typeLength)
                else { throw .unsupported("column \(e.name): type \(pt) with \(String(describing: e.logicalType))") }
                fields.append(ParquetField(e.name, vt, e.repetition == .optional ? .optional : .required))
                i += 1
            }
        }
        guard i == elements.count else { throw .invalidValue("schema has \(elements.count - i) stray elements") }
        return ParquetSchema(fields)
    }
}
