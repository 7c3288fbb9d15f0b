/// Variable-length byte strings stored back to back (Arrow-style): value `i` is
/// `bytes[offsets[i] ..< offsets[i + 1]]`. `offsets` has count + 1 entries, starting at 0.
public struct ByteArrays: Sendable, Equatable {
    public var offsets: [Int]
    public var bytes: [UInt8]

    public init() { offsets = [0]; bytes = [] }
    public init(offsets: [Int], bytes: [UInt8]) { self.offsets = offsets; self.bytes = bytes }
    public init<S: Sequence>(strings: S) where S.Element == String {
        self.init()
        for s in strings { append(s) }
    }

    public var count: Int { offsets.count - 1 }
    public mutating func append(_ s: String) { bytes.append(contentsOf: s.utf8); offsets.append(bytes.count) }
    public mutating func append<C: Collection>(bytes b: C) where C.Element == UInt8 {
        bytes.append(contentsOf: b); offsets.append(bytes.count)
    }
    public subscript(i: Int) -> ArraySlice<UInt8> { bytes[offsets[i]..<offsets[i + 1]] }
    public func string(_ i: Int) -> String { String(decoding: self[i], as: UTF8.self) }
    public var strings: [String] { (0..<count).map(string) }
}

/// The leaf values of one column, dense: only present (non-null) values, in order.
/// INT8/16 and UINT8/16/32 columns use `.int32` (unsigned as their bit pattern);
/// UINT64 and timestamps use `.int64` (UINT64 as its bit pattern).
public enum ColumnValues: Sendable, Equatable {
    case boolean([Bool])
    case int32([Int32])
    case int64([Int64])
    case double([Double])
    case byteArray(ByteArrays)
    /// Fixed-width values of `width` bytes each, back to back.
    case fixedLenByteArray(width: Int, bytes: [UInt8])

    public var count: Int {
        switch self {
        case .boolean(let a): return a.count
        case .int32(let a): return a.count
        case .int64(let a): return a.count
        case .double(let a): return a.count
        case .byteArray(let a): return a.count
        case let .fixedLenByteArray(w, b): return w > 0 ? b.count / w : 0
        }
    }

    var physicalType: PhysicalType {
        switch self {
        case .boolean: return .boolean
        case .int32: return .int32
        case .int64: return .int64
        case .double: return .double
        case .byteArray: return .byteArray
        case .fixedLenByteArray: return .fixedLenByteArray
        }
    }

    static func empty(_ t: ValueType) -> ColumnValues {
        switch t.physicalType {
        case .boolean: return .boolean([])
        case .int32: return .int32([])
        case .int64, .int96: return .int64([])
        case .double, .float: return .double([])
        case .byteArray: return .byteArray(ByteArrays())
        case .fixedLenByteArray:
            if case let .fixedBinary(w) = t { return .fixedLenByteArray(width: w, bytes: []) }
            return .fixedLenByteArray(width: 0, bytes: [])
        }
    }
}

/// One column's data for a batch of rows — the writer's input and the reader's output.
///
/// - `values`: present leaf values only (dense).
/// - `validity`: for `.optional` columns, one flag per row (false = null); for nullable
///   lists, one flag per row for the list itself. `nil` means nothing is null.
/// - `listOffsets`: for list columns, rows + 1 offsets into the element slots; row `r`'s
///   elements are slots `listOffsets[r] ..< listOffsets[r + 1]` (equal for empty and null lists).
/// - `elementValidity`: for lists with nullable elements, one flag per element slot.
public struct ColumnData: Sendable, Equatable {
    public var values: ColumnValues
    public var validity: [Bool]?
    public var listOffsets: [Int]?
    public var elementValidity: [Bool]?

    public init(_ values: ColumnValues, validity: [Bool]? = nil, listOffsets: [Int]? = nil,
                elementValidity: [Bool]? = nil) {
        self.values = values
        self.validity = validity
        self.listOffsets = listOffsets
        self.elementValidity = elementValidity
    }

    /// Rows described: list rows, else validity flags, else values.
    public var rowCount: Int {
        if let o = listOffsets { return max(o.count - 1, 0) }
        if let v = validity { return v.count }
        return values.count
    }

    /// Checks that counts agree with each other and with the field's shape and type.
    func validate(against field: ParquetField) throws(ParquetError) {
        let name = field.name
        guard values.physicalType == field.type.physicalType else {
            throw .schemaMismatch("column \(name): \(values.physicalType) values for a \(field.type) column")
        }
        if case .int32(let a) = values, let range = field.type.int32Range {
            // Narrow integer types travel in INT32; a value outside the type would be read back wrong.
            if let bad = a.first(where: { !range.contains($0) }) {
                throw .schemaMismatch("column \(name): \(bad) does not fit \(field.type)")
            }
        }
        if case let .fixedLenByteArray(w, b) = values {
            guard case let .fixedBinary(fw) = field.type, fw == w, b.count % w == 0 else {
                throw .schemaMismatch("column \(name): fixed width or byte count does not match")
            }
        }
        if case let .byteArray(ba) = values {
            guard ba.offsets.first == 0, ba.offsets.last == ba.bytes.count,
                  zip(ba.offsets, ba.offsets.dropFirst()).allSatisfy({ $0 <= $1 })
            else { throw .schemaMismatch("column \(name): byte-array offsets not monotone from 0 to bytes.count") }
        }
        switch field.shape {
        case .required:
            guard validity == nil, listOffsets == nil, elementValidity == nil else {
                throw .schemaMismatch("column \(name) is required: no validity or list offsets allowed")
            }
        case .optional:
            guard listOffsets == nil, elementValidity == nil else {
                throw .schemaMismatch("column \(name) is not a list")
            }
            let present = validity.map { $0.reduce(0) { $0 + ($1 ? 1 : 0) } } ?? values.count
            guard present == values.count else {
                throw .schemaMismatch("column \(name): \(present) present rows but \(values.count) values")
            }
        case let .list(nullable, elementNullable):
            guard let offsets = listOffsets, offsets.first == 0 else {
                throw .schemaMismatch("list column \(name) needs listOffsets starting at 0")
            }
            guard zip(offsets, offsets.dropFirst()).allSatisfy({ $0 <= $1 }) else {
                throw .schemaMismatch("list column \(name): offsets decrease")
            }
            let rows = offsets.count - 1
            if let v = validity {
                guard nullable else { throw .schemaMismatch("list column \(name) is not nullable") }
                guard v.count == rows else { throw .schemaMismatch("list column \(name): validity count") }
                for r in 0..<rows where !v[r] && offsets[r] != offsets[r + 1] {
                    throw .schemaMismatch("list column \(name): null list at row \(r) has elements")
                }
            }
            let slots = offsets.last ?? 0
            var present = slots
            if let ev = elementValidity {
                guard elementNullable else { throw .schemaMismatch("list column \(name): elements not nullable") }
                guard ev.count == slots else { throw .schemaMismatch("list column \(name): element validity count") }
                present = ev.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            guard present == values.count else {
                throw .schemaMismatch("list column \(name): \(present) present elements but \(values.count) values")
            }
        }
    }
}

extension ValueType {
    /// Values an INT32-stored narrow type may take (as stored: unsigned types as bit patterns).
    var int32Range: ClosedRange<Int32>? {
        switch self {
        case .int8: return -128...127
        case .int16: return -32768...32767
        case .uint8: return 0...255
        case .uint16: return 0...65535
        default: return nil
        }
    }
}
