#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Value encoders: turn a column's dense values into the value section of data pages,
// either PLAIN or RLE_DICTIONARY (1 byte bit width + RLE/bit-packed indices, with the
// PLAIN-encoded dictionary page written once per chunk), and keep min/max statistics.
// One encoder per column chunk. The column writer calls `append` once per slice of rows,
// so the per-value loops below are monomorphic (no protocol dispatch per value).

/// Statistics bytes as parquet.thrift `Statistics.min_value/max_value` store them: PLAIN
/// encoding of the value, without the length prefix for byte arrays.
struct MinMax: Equatable { var min: [UInt8]; var max: [UInt8] }

/// parquet-cpp drops min/max larger than this (its default max_statistics_size); Redline
/// does the same so both writers' files carry the same statistics.
let maxStatisticsBytes = 4096

protocol ValueEncoder: AnyObject {
    /// Encodes `values[range]` into the current page (and the dictionary).
    func append(_ values: ColumnValues, _ range: Range<Int>)
    /// Bytes the buffered page values will take, roughly (for page cuts).
    var pageBytesEstimate: Int { get }
    /// Bytes the dictionary takes so far (0 when not dictionary-encoding).
    var dictionaryBytes: Int { get }
    /// Distinct entries in the dictionary, and values dictionary-encoded in this chunk so far.
    var dictionaryEntries: Int { get }
    var encodedValueCount: Int { get }
    /// True while values go to the dictionary.
    var isDictionaryEncoding: Bool { get }
    /// Writes the buffered page values to `out`, clears them, returns their encoding.
    func takePage(into out: ByteBuffer) -> Encoding
    /// Stops dictionary encoding for the rest of the chunk; the buffered page must be empty.
    func fallBackToPlain()
    /// The dictionary page body (PLAIN entries) and entry count, if a dictionary was used.
    func dictionaryPage(into out: ByteBuffer) -> Int?
    var statistics: MinMax? { get }
    /// Starts a new column chunk, keeping allocated buffers.
    func reset()
}

/// Fixed-width physical values (INT32, INT64, DOUBLE) the generic encoder handles.
protocol FixedWidthValue: Equatable {
    static func extract(_ v: ColumnValues) -> [Self]?
    /// Bit pattern used as the dictionary key (distinct bits, distinct entries: keeps -0.0 and NaNs exact).
    var dictionaryKey: UInt64 { get }
    /// Min and max of `p` in the type's sort order; nil if none is orderable (all NaN).
    static func minMax(_ p: UnsafeBufferPointer<Self>, unsigned: Bool) -> (Self, Self)?
    static func less(_ a: Self, _ b: Self, unsigned: Bool) -> Bool
    /// Looks up / inserts each value of `p`, appending new ones to `dictionary` and every
    /// index to `indices`. Implemented per concrete type (via `dictionaryEncodeLoop`) so the
    /// loop is specialized even though the encoder is reached through an existential.
    static func dictionaryEncode(_ p: UnsafeBufferPointer<Self>, _ table: inout FixedKeyTable,
                                 _ dictionary: inout [Self], _ indices: inout IndexBuffer)
    /// Statistics adjustments (e.g. ±0.0 for doubles) applied once at the end.
    static func finishMin(_ v: Self) -> Self
    static func finishMax(_ v: Self) -> Self
}

extension FixedWidthValue {
    static func finishMin(_ v: Self) -> Self { v }
    static func finishMax(_ v: Self) -> Self { v }
}

@inline(__always) func dictionaryEncodeLoop<T: FixedWidthValue>(
    _ p: UnsafeBufferPointer<T>, _ table: inout FixedKeyTable, _ dictionary: inout [T], _ indices: inout IndexBuffer
) {
    var inserted = false
    indices.reserve(p.count)
    for v in p {
        let i = table.index(of: v.dictionaryKey, inserted: &inserted)
        if inserted { dictionary.append(v); inserted = false }
        indices.appendReserved(i)
    }
}

extension Int32: FixedWidthValue {
    static func dictionaryEncode(_ p: UnsafeBufferPointer<Int32>, _ table: inout FixedKeyTable,
                                 _ dictionary: inout [Int32], _ indices: inout IndexBuffer) {
        dictionaryEncodeLoop(p, &table, &dictionary, &indices)
    }
    static func extract(_ v: ColumnValues) -> [Int32]? { if case .int32(let a) = v { return a }; return nil }
    var dictionaryKey: UInt64 { UInt64(UInt32(bitPattern: self)) }
    static func less(_ a: Int32, _ b: Int32, unsigned: Bool) -> Bool {
        unsigned ? UInt32(bitPattern: a) < UInt32(bitPattern: b) : a < b
    }
    static func minMax(_ p: UnsafeBufferPointer<Int32>, unsigned: Bool) -> (Int32, Int32)? {
        guard !p.isEmpty else { return nil }
        if unsigned {
            var lo = UInt32.max, hi = UInt32.min
            for v in p { let u = UInt32(bitPattern: v); lo = Swift.min(lo, u); hi = Swift.max(hi, u) }
            return (Int32(bitPattern: lo), Int32(bitPattern: hi))
        }
        var lo = Int32.max, hi = Int32.min
        for v in p { lo = Swift.min(lo, v); hi = Swift.max(hi, v) }
        return (lo, hi)
    }
}

extension Int64: FixedWidthValue {
    static func dictionaryEncode(_ p: UnsafeBufferPointer<Int64>, _ table: inout FixedKeyTable,
                                 _ dictionary: inout [Int64], _ indices: inout IndexBuffer) {
        dictionaryEncodeLoop(p, &table, &dictionary, &indices)
    }
    static func extract(_ v: ColumnValues) -> [Int64]? { if case .int64(let a) = v { return a }; return nil }
    var dictionaryKey: UInt64 { UInt64(bitPattern: self) }
    static func less(_ a: Int64, _ b: Int64, unsigned: Bool) -> Bool {
        unsigned ? UInt64(bitPattern: a) < UInt64(bitPattern: b) : a < b
    }
    static func minMax(_ p: UnsafeBufferPointer<Int64>, unsigned: Bool) -> (Int64, Int64)? {
        guard !p.isEmpty else { return nil }
        if unsigned {
            var lo = UInt64.max, hi = UInt64.min
            for v in p { let u = UInt64(bitPattern: v); lo = Swift.min(lo, u); hi = Swift.max(hi, u) }
            return (Int64(bitPattern: lo), Int64(bitPattern: hi))
        }
        var lo = Int64.max, hi = Int64.min
        for v in p { lo = Swift.min(lo, v); hi = Swift.max(hi, v) }
        return (lo, hi)
    }
}

extension Double: FixedWidthValue {
    static func dictionaryEncode(_ p: UnsafeBufferPointer<Double>, _ table: inout FixedKeyTable,
                                 _ dictionary: inout [Double], _ indices: inout IndexBuffer) {
        dictionaryEncodeLoop(p, &table, &dictionary, &indices)
    }
    static func extract(_ v: ColumnValues) -> [Double]? { if case .double(let a) = v { return a }; return nil }
    var dictionaryKey: UInt64 { bitPattern }
    static func less(_ a: Double, _ b: Double, unsigned: Bool) -> Bool { a < b }
    /// NaN is skipped (it has no place in the order); ±0 are fixed up in finishMin/Max.
    static func minMax(_ p: UnsafeBufferPointer<Double>, unsigned: Bool) -> (Double, Double)? {
        var lo = Double.infinity, hi = -Double.infinity, any = false
        for v in p where !v.isNaN { any = true; lo = Swift.min(lo, v); hi = Swift.max(hi, v) }
        return any ? (lo, hi) : nil
    }
    /// A zero minimum is written as -0.0 and a zero maximum as +0.0 (parquet-format's rule,
    /// since -0.0 == +0.0 and either may occur).
    static func finishMin(_ v: Double) -> Double { v == 0 ? -0.0 : v }
    static func finishMax(_ v: Double) -> Double { v == 0 ? 0.0 : v }
}

@inline(__always) func statBytes<T>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v) { Array($0) } }

/// INT32 / INT64 / DOUBLE.
final class FixedWidthEncoder<T: FixedWidthValue>: ValueEncoder {
    private let unsigned: Bool
    private let dictionaryEnabled: Bool
    private(set) var isDictionaryEncoding: Bool
    private var table: FixedKeyTable
    private var dictionary: [T] = []
    private var indices = IndexBuffer()
    private let plain = ByteBuffer(capacity: 1 << 16)
    private var lo: T?, hi: T?

    init(unsigned: Bool, dictionary: Bool) {
        self.unsigned = unsigned
        dictionaryEnabled = dictionary
        isDictionaryEncoding = dictionary
        table = FixedKeyTable(capacity: dictionary ? 1024 : 1)
    }
    deinit { table.release(); indices.release() }

    func reset() {
        isDictionaryEncoding = dictionaryEnabled
        table.removeAll()
        dictionary.removeAll(keepingCapacity: true)
        indices.removeAll()
        plain.removeAll()
        lo = nil
        hi = nil
        encodedValueCount = 0
    }

    func append(_ values: ColumnValues, _ range: Range<Int>) {
        guard let array = T.extract(values) else { preconditionFailure("validated by ColumnData.validate") }
        array.withUnsafeBufferPointer { all in
            let p = UnsafeBufferPointer(rebasing: all[range])
            if let (a, b) = T.minMax(p, unsigned: unsigned) {
                if lo == nil || T.less(a, lo!, unsigned: unsigned) { lo = a }
                if hi == nil || T.less(hi!, b, unsigned: unsigned) { hi = b }
            }
            if isDictionaryEncoding {
                // Locals: the loop then mutates uniquely owned values, not class properties.
                var t = table, d = dictionary, idx = indices
                dictionary = []
                T.dictionaryEncode(p, &t, &d, &idx)
                encodedValueCount += p.count
                table = t
                dictionary = d
                indices = idx
            } else if let base = p.baseAddress {
                plain.append(UnsafeRawPointer(base), p.count * MemoryLayout<T>.stride)
            }
        }
    }

    private var indexBitWidth: Int { bitWidth(of: UInt64(max(dictionary.count, 1) - 1)) }
    private(set) var encodedValueCount = 0
    var dictionaryEntries: Int { dictionary.count }

    var pageBytesEstimate: Int { isDictionaryEncoding ? (indices.count * indexBitWidth + 7) / 8 : plain.count }
    var dictionaryBytes: Int { isDictionaryEncoding ? dictionary.count * MemoryLayout<T>.stride : 0 }

    func takePage(into out: ByteBuffer) -> Encoding {
        if isDictionaryEncoding {
            let w = indexBitWidth
            out.append(UInt8(w))
            RLEHybrid.encode(indices.buffer, bitWidth: w, into: out)
            indices.removeAll()
            return .rleDictionary
        }
        out.append(plain)
        plain.removeAll()
        return .plain
    }

    func fallBackToPlain() {
        precondition(indices.count == 0, "flush the page before falling back")
        isDictionaryEncoding = false
    }

    func dictionaryPage(into out: ByteBuffer) -> Int? {
        guard dictionaryEnabled else { return nil }
        dictionary.withUnsafeBytes { if $0.count > 0 { out.append($0.baseAddress!, $0.count) } }
        return dictionary.count
    }

    var statistics: MinMax? {
        guard let lo, let hi else { return nil }
        return MinMax(min: statBytes(T.finishMin(lo)), max: statBytes(T.finishMax(hi)))
    }
}

/// BYTE_ARRAY (4-byte little-endian length + bytes in PLAIN) and FIXED_LEN_BYTE_ARRAY
/// (bytes only). Min/max compare bytes as unsigned, lexicographically.
final class BytesEncoder: ValueEncoder {
    private let fixedWidth: Int?
    private let dictionaryEnabled: Bool
    private(set) var isDictionaryEncoding: Bool
    private var table: BytesKeyTable
    private var indices = IndexBuffer()
    private let plain = ByteBuffer(capacity: 1 << 16)
    private var lo: [UInt8]?, hi: [UInt8]?

    init(fixedWidth: Int?, dictionary: Bool) {
        self.fixedWidth = fixedWidth
        dictionaryEnabled = dictionary
        isDictionaryEncoding = dictionary
        table = BytesKeyTable(capacity: dictionary ? 1024 : 1)
    }
    deinit { table.release(); indices.release() }

    func reset() {
        table.release()
        table = BytesKeyTable(capacity: dictionaryEnabled ? 1024 : 1)
        isDictionaryEncoding = dictionaryEnabled
        indices.removeAll()
        plain.removeAll()
        lo = nil
        hi = nil
        encodedValueCount = 0
    }

    @inline(__always) private func noteStat(_ p: UnsafeRawPointer, _ n: Int) {
        let v = UnsafeRawBufferPointer(start: p, count: n)
        if lo == nil || bytesLess(v, lo!) { lo = Array(v) }
        if hi == nil || bytesLess(hi!, v) { hi = Array(v) }
    }

    func append(_ values: ColumnValues, _ range: Range<Int>) {
        switch values {
        case .byteArray(let a):
            a.bytes.withUnsafeBytes { raw in
                a.offsets.withUnsafeBufferPointer { off in
                    let base = raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
                    encode(count: range.count) { k in
                        let i = range.lowerBound + k
                        return (base + off[i], off[i + 1] - off[i])
                    }
                }
            }
        case let .fixedLenByteArray(w, bytes):
            bytes.withUnsafeBytes { raw in
                let base = raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
                encode(count: range.count) { k in (base + (range.lowerBound + k) * w, w) }
            }
        default: preconditionFailure("validated by ColumnData.validate")
        }
    }

    @inline(__always) private func encode(count: Int, _ value: (Int) -> (UnsafeRawPointer, Int)) {
        if isDictionaryEncoding {
            var t = table, idx = indices
            idx.reserve(count)
            var inserted = false
            for k in 0..<count {
                let (p, n) = value(k)
                let i = t.index(of: p, n, inserted: &inserted)
                if inserted {
                    // Only distinct values can be a new min or max.
                    noteStat(p, n)
                    inserted = false
                }
                idx.appendReserved(i)
            }
            table = t
            indices = idx
            encodedValueCount += count
        } else {
            let prefix = fixedWidth == nil
            for k in 0..<count {
                let (p, n) = value(k)
                noteStat(p, n)
                if prefix { plain.appendUInt32LE(UInt32(n)) }
                plain.append(p, n)
            }
        }
    }

    private var indexBitWidth: Int { bitWidth(of: UInt64(max(table.count, 1) - 1)) }
    private(set) var encodedValueCount = 0
    var dictionaryEntries: Int { table.count }

    var pageBytesEstimate: Int { isDictionaryEncoding ? (indices.count * indexBitWidth + 7) / 8 : plain.count }
    var dictionaryBytes: Int {
        isDictionaryEncoding ? table.storageBytes + (fixedWidth == nil ? 4 * table.count : 0) : 0
    }

    func takePage(into out: ByteBuffer) -> Encoding {
        if isDictionaryEncoding {
            let w = indexBitWidth
            out.append(UInt8(w))
            RLEHybrid.encode(indices.buffer, bitWidth: w, into: out)
            indices.removeAll()
            return .rleDictionary
        }
        out.append(plain)
        plain.removeAll()
        return .plain
    }

    func fallBackToPlain() {
        precondition(indices.count == 0, "flush the page before falling back")
        isDictionaryEncoding = false
    }

    func dictionaryPage(into out: ByteBuffer) -> Int? {
        guard dictionaryEnabled else { return nil }
        for i in 0..<table.count {
            let start = table.offsets[i], n = table.offsets[i + 1] - start
            if fixedWidth == nil { out.appendUInt32LE(UInt32(n)) }
            out.append(table.storage + start, n)
        }
        return table.count
    }

    var statistics: MinMax? {
        guard let lo, let hi, lo.count <= maxStatisticsBytes, hi.count <= maxStatisticsBytes else { return nil }
        return MinMax(min: lo, max: hi)
    }
}

@inline(__always) func bytesLess(_ a: UnsafeRawBufferPointer, _ b: [UInt8]) -> Bool {
    b.withUnsafeBytes { bytesLess(a, $0) }
}
@inline(__always) func bytesLess(_ a: [UInt8], _ b: UnsafeRawBufferPointer) -> Bool {
    a.withUnsafeBytes { bytesLess($0, b) }
}
/// Unsigned lexicographic order (parquet-format's order for BYTE_ARRAY / STRING / FLBA).
@inline(__always) func bytesLess(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    let n = min(a.count, b.count)
    if n > 0 {
        let c = memcmp(a.baseAddress!, b.baseAddress!, n)
        if c != 0 { return c < 0 }
    }
    return a.count < b.count
}

/// BOOLEAN: PLAIN only (bit-packed, LSB first); parquet-cpp does not dictionary-encode booleans either.
final class BooleanEncoder: ValueEncoder {
    private var page: [Bool] = []
    private var sawFalse = false, sawTrue = false

    func append(_ values: ColumnValues, _ range: Range<Int>) {
        guard case .boolean(let a) = values else { preconditionFailure("validated by ColumnData.validate") }
        for v in a[range] { if v { sawTrue = true } else { sawFalse = true } }
        page.append(contentsOf: a[range])
    }
    var pageBytesEstimate: Int { (page.count + 7) / 8 }
    var dictionaryBytes: Int { 0 }
    var dictionaryEntries: Int { 0 }
    var encodedValueCount: Int { 0 }
    var isDictionaryEncoding: Bool { false }
    func takePage(into out: ByteBuffer) -> Encoding {
        var byte: UInt8 = 0
        for (i, v) in page.enumerated() {
            if v { byte |= 1 << UInt8(i & 7) }
            if i & 7 == 7 { out.append(byte); byte = 0 }
        }
        if page.count & 7 != 0 { out.append(byte) }
        page.removeAll(keepingCapacity: true)
        return .plain
    }
    func fallBackToPlain() {}
    func dictionaryPage(into out: ByteBuffer) -> Int? { nil }
    func reset() {
        page.removeAll(keepingCapacity: true)
        sawFalse = false
        sawTrue = false
    }
    var statistics: MinMax? {
        guard sawTrue || sawFalse else { return nil }
        return MinMax(min: [sawFalse ? 0 : 1], max: [sawTrue ? 1 : 0])
    }
}
