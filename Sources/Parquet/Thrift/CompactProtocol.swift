// Thrift compact protocol (apache/thrift doc/specs/thrift-compact-protocol.md), the
// encoding of every Parquet metadata structure. Only what Parquet's metadata uses is
// implemented: structs, i8/i16/i32/i64 (zigzag varints), bool, double, binary, list.

/// Compact-protocol wire types (low nibble of a field header / list header).
enum ThriftType: UInt8 {
    case stop = 0, boolTrue = 1, boolFalse = 2, byte = 3, i16 = 4, i32 = 5, i64 = 6
    case double = 7, binary = 8, list = 9, set = 10, map = 11, `struct` = 12
}

/// Appends compact-protocol bytes to a buffer. Structs nest with `beginStruct`/`endStruct`,
/// which save and restore the last field id (field ids are delta-encoded per struct).
struct ThriftWriter {
    private(set) var bytes: [UInt8] = []
    private var lastField: Int16 = 0
    private var fieldStack: [Int16] = []

    init() { bytes.reserveCapacity(256) }

    mutating func varint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    private mutating func zigzag(_ v: Int64) { varint(UInt64(bitPattern: (v << 1) ^ (v >> 63))) }

    private mutating func fieldHeader(_ id: Int16, _ type: ThriftType) {
        let delta = Int(id) - Int(lastField)
        if delta > 0 && delta <= 15 {
            bytes.append(UInt8(delta << 4) | type.rawValue)
        } else {
            bytes.append(type.rawValue)
            zigzag(Int64(id))
        }
        lastField = id
    }

    mutating func beginStruct() { fieldStack.append(lastField); lastField = 0 }
    mutating func endStruct() { bytes.append(ThriftType.stop.rawValue); lastField = fieldStack.removeLast() }

    mutating func i32(_ id: Int16, _ v: Int32) { fieldHeader(id, .i32); zigzag(Int64(v)) }
    mutating func i64(_ id: Int16, _ v: Int64) { fieldHeader(id, .i64); zigzag(v) }
    mutating func i16(_ id: Int16, _ v: Int16) { fieldHeader(id, .i16); zigzag(Int64(v)) }
    mutating func i8(_ id: Int16, _ v: Int8) { fieldHeader(id, .byte); bytes.append(UInt8(bitPattern: v)) }
    mutating func bool(_ id: Int16, _ v: Bool) { fieldHeader(id, v ? .boolTrue : .boolFalse) }
    mutating func binary(_ id: Int16, _ v: [UInt8]) { fieldHeader(id, .binary); varint(UInt64(v.count)); bytes += v }
    mutating func string(_ id: Int16, _ v: String) { binary(id, Array(v.utf8)) }
    /// Starts a struct-valued field; close it with `endStruct()`.
    mutating func structField(_ id: Int16) { fieldHeader(id, .struct); beginStruct() }

    /// Starts a list field; the caller then writes `count` elements with the element writers.
    mutating func listField(_ id: Int16, _ element: ThriftType, count: Int) {
        fieldHeader(id, .list)
        if count < 15 {
            bytes.append(UInt8(count << 4) | element.rawValue)
        } else {
            bytes.append(0xF0 | element.rawValue)
            varint(UInt64(count))
        }
    }
    mutating func listI32(_ v: Int32) { zigzag(Int64(v)) }
    mutating func listBinary(_ v: [UInt8]) { varint(UInt64(v.count)); bytes += v }
    /// A struct element of a list; close it with `endStruct()`.
    mutating func listStruct() { beginStruct() }
}

/// Reads compact-protocol bytes with every length bounds-checked. Nesting depth and
/// container sizes are capped so hostile input cannot exhaust the stack or memory.
struct ThriftReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var pos: Int
    private var lastField: Int16 = 0
    private var fieldStack: [Int16] = []
    static let maxDepth = 64

    init(_ bytes: UnsafeRawBufferPointer, offset: Int = 0) {
        self.bytes = bytes
        self.pos = offset
    }

    mutating func byte() throws(ParquetError) -> UInt8 {
        guard pos < bytes.count else { throw .malformedThrift("truncated at byte \(pos)") }
        defer { pos += 1 }
        return bytes[pos]
    }

    mutating func varint() throws(ParquetError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try byte()
            guard shift < 64 else { throw .malformedThrift("varint longer than 10 bytes at \(pos)") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
        }
    }

    mutating func zigzag() throws(ParquetError) -> Int64 {
        let u = try varint()
        return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }

    func type(_ raw: UInt8) throws(ParquetError) -> ThriftType {
        guard let t = ThriftType(rawValue: raw) else { throw .malformedThrift("unknown wire type \(raw) at \(pos)") }
        return t
    }

    mutating func beginStruct() throws(ParquetError) {
        guard fieldStack.count < Self.maxDepth else { throw .malformedThrift("nesting deeper than \(Self.maxDepth)") }
        fieldStack.append(lastField)
        lastField = 0
    }
    mutating func endStruct() { lastField = fieldStack.popLast() ?? 0 }

    /// Next field header inside the current struct, or nil at its stop byte.
    mutating func nextField() throws(ParquetError) -> (id: Int16, type: ThriftType)? {
        let b = try byte()
        if b == 0 { return nil }
        let t = try type(b & 0x0F)
        let delta = b >> 4
        let id: Int16
        if delta != 0 {
            let (sum, overflow) = lastField.addingReportingOverflow(Int16(delta))
            guard !overflow else { throw .malformedThrift("field id overflow") }
            id = sum
        } else {
            let raw = try zigzag()
            guard let small = Int16(exactly: raw) else { throw .malformedThrift("field id \(raw) out of range") }
            id = small
        }
        lastField = id
        return (id, t)
    }

    mutating func readI32(_ t: ThriftType) throws(ParquetError) -> Int32 {
        guard t == .i32 || t == .i16 || t == .byte else { throw .malformedThrift("expected i32, got \(t)") }
        if t == .byte { return Int32(Int8(bitPattern: try byte())) }
        let v = try zigzag()
        guard let r = Int32(exactly: v) else { throw .malformedThrift("i32 value \(v) out of range") }
        return r
    }
    mutating func readI64(_ t: ThriftType) throws(ParquetError) -> Int64 {
        guard t == .i64 || t == .i32 || t == .i16 else { throw .malformedThrift("expected i64, got \(t)") }
        return try zigzag()
    }
    mutating func readI8(_ t: ThriftType) throws(ParquetError) -> Int8 {
        guard t == .byte else { throw .malformedThrift("expected byte, got \(t)") }
        return Int8(bitPattern: try byte())
    }
    func readBool(_ t: ThriftType) throws(ParquetError) -> Bool {
        switch t {
        case .boolTrue: return true
        case .boolFalse: return false
        default: throw .malformedThrift("expected bool, got \(t)")
        }
    }
    mutating func readBinary(_ t: ThriftType) throws(ParquetError) -> [UInt8] {
        guard t == .binary else { throw .malformedThrift("expected binary, got \(t)") }
        let n = try varint()
        guard n <= UInt64(bytes.count - pos) else {
            throw .outOfBounds(what: "thrift binary", offset: pos, length: Int(clamping: n), limit: bytes.count)
        }
        let start = pos
        pos += Int(n)
        return Array(UnsafeRawBufferPointer(rebasing: bytes[start..<pos]))
    }
    mutating func readString(_ t: ThriftType) throws(ParquetError) -> String {
        String(decoding: try readBinary(t), as: UTF8.self)
    }

    /// Reads a list header; returns element type and count (count bounded by remaining bytes,
    /// since every element takes at least one byte — except bools in some writers, also ≥1).
    mutating func listHeader(_ t: ThriftType) throws(ParquetError) -> (ThriftType, Int) {
        guard t == .list || t == .set else { throw .malformedThrift("expected list, got \(t)") }
        let h = try byte()
        let elem = try type(h & 0x0F)
        var n = UInt64(h >> 4)
        if n == 15 { n = try varint() }
        guard n <= UInt64(bytes.count - pos) else {
            throw .malformedThrift("list of \(n) elements exceeds the \(bytes.count - pos) bytes left")
        }
        return (elem, Int(n))
    }
    mutating func listI32(_ elem: ThriftType) throws(ParquetError) -> Int32 { try readI32(elem) }

    /// Skips a value of any type (unknown or unused fields), depth-limited.
    mutating func skip(_ t: ThriftType, depth: Int = 0) throws(ParquetError) {
        guard depth < Self.maxDepth else { throw .malformedThrift("nesting deeper than \(Self.maxDepth)") }
        switch t {
        case .stop: throw .malformedThrift("unexpected stop")
        case .boolTrue, .boolFalse: return
        case .byte: _ = try byte()
        case .i16, .i32, .i64: _ = try varint()
        case .double:
            guard bytes.count - pos >= 8 else { throw .malformedThrift("truncated double") }
            pos += 8
        case .binary:
            let n = try varint()
            guard n <= UInt64(bytes.count - pos) else { throw .malformedThrift("binary overruns input") }
            pos += Int(n)
        case .list, .set:
            let (elem, n) = try listHeader(t)
            for _ in 0..<n {
                if elem == .boolTrue || elem == .boolFalse { _ = try byte() } else { try skip(elem, depth: depth + 1) }
            }
        case .map:
            let n = try varint()
            if n == 0 { return }
            guard n <= UInt64(bytes.count - pos) else { throw .malformedThrift("map overruns input") }
            let kv = try byte()
            let k = try type(kv >> 4), v = try type(kv & 0x0F)
            for _ in 0..<n { try skip(k, depth: depth + 1); try skip(v, depth: depth + 1) }
        case .struct:
            try beginStruct()
            while let f = try nextField() { try skip(f.type, depth: depth + 1) }
            endStruct()
        }
    }
}
