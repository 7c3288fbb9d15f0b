import Foundation

/// A base-2 exponential histogram as OpenTelemetry defines it: at scale `s` the
/// base is `2^(2^-s)` and bucket `i` holds the values in `(base^i, base^(i+1)]`.
/// Zero (and only zero) goes to `zeroCount`; negative values are not accepted
/// (Redline records durations and sizes).
///
/// Redline keeps the scale fixed per table (set in the pipeline YAML) instead of
/// letting each histogram shrink its scale as its range grows. A fixed scale makes
/// partial histograms mergeable by any SQL engine with `GROUP BY bucket index,
/// SUM(count)`; `merge(_:)` still handles differing scales by downscaling to the
/// coarser one, as the OpenTelemetry merge rules do.
///
/// Buckets are dense from `offset`: `counts[k]` is bucket `offset + k`. Counts are kept as
/// 32-bit words in one array, with the high words appended only once a count needs one: a
/// histogram takes half the memory of 64-bit counts while its counts fit, and copying one
/// retains a single array. The
/// relative error of a quantile read from the histogram is at most
/// `2^(2^-s / 2) - 1` (the half-width of a bucket, geometrically); at the
/// default scale 4 that is 2.19 %.
public struct ExponentialHistogram: Sendable, Equatable {
    /// Scales Redline accepts. Above 8 the dense form grows past 256 buckets per octave.
    public static let scaleRange: ClosedRange<Int> = -4...8
    /// The default scale for latencies: 16 buckets per power of two, ≤ 2.19 % error.
    public static let defaultScale = 4

    public private(set) var scale: Int
    public private(set) var zeroCount: UInt64 = 0
    /// Index of `counts[0]`; meaningless while `counts` is empty.
    public private(set) var offset: Int = 0
    /// The low 32 bits of each bucket's count, followed by the high 32 bits of each once
    /// `wide` (from the first count that needed them on).
    private var words: [UInt32] = []
    private var wide = false
    /// Number of recorded values, zero included.
    public private(set) var count: UInt64 = 0
    /// Sum of recorded values (saturates rather than overflows).
    public private(set) var sum: UInt64 = 0
    /// Smallest and largest recorded values; `nil` when empty.
    public private(set) var min: UInt64?
    public private(set) var max: UInt64?

    /// One of the immortal shared mappings (`IndexMapping.shared`), so not reference-counted:
    /// used through `_withUnsafeGuaranteedRef`, which neither retains nor releases it (an
    /// `unowned(unsafe)` reference is retained around every call, once per recorded value).
    private let unmanagedMapping: Unmanaged<IndexMapping>

    @inline(__always)
    private func withMapping<R>(_ body: (IndexMapping) -> R) -> R { unmanagedMapping._withUnsafeGuaranteedRef(body) }

    /// An empty histogram. `scale` must lie in `scaleRange`.
    public init(scale: Int = ExponentialHistogram.defaultScale) {
        precondition(Self.scaleRange.contains(scale), "scale \(scale) outside \(Self.scaleRange)")
        self.scale = scale
        self.unmanagedMapping = Unmanaged.passUnretained(IndexMapping.shared(scale: scale))
    }

    /// Rebuilds a histogram from its stored parts (a Parquet row, a partial).
    /// Fails with a reason if the parts cannot describe a histogram.
    public init(
        scale: Int, zeroCount: UInt64, offset: Int, counts: [UInt64],
        sum: UInt64, min: UInt64?, max: UInt64?
    ) throws(HistogramError) {
        guard Self.scaleRange.contains(scale) else { throw .scaleOutOfRange(scale) }
        self.init(scale: scale)
        self.zeroCount = zeroCount
        self.offset = offset
        words = counts.map { UInt32(truncatingIfNeeded: $0) }
        if counts.contains(where: { $0 > UInt32.max }) {
            words += counts.map { UInt32(truncatingIfNeeded: $0 >> 32) }
            wide = true
        }
        var total = zeroCount
        for c in counts {
            let (t, o) = total.addingReportingOverflow(c)
            if o { throw .countOverflow }
            total = t
        }
        self.count = total
        self.sum = sum
        self.min = total == 0 ? nil : min
        self.max = total == 0 ? nil : max
        trim()
    }

    /// Bucket counts from `offset` (a new array: for reading a histogram out).
    public var counts: [UInt64] {
        guard wide else { return words.map { UInt64($0) } }
        let n = bucketCount
        return (0..<n).map { UInt64(words[n + $0]) << 32 | UInt64(words[$0]) }
    }

    /// Number of dense buckets (`counts.count`).
    public var bucketCount: Int { wide ? words.count / 2 : words.count }

    /// The count of bucket `offset + k`, `k` in `0..<bucketCount`.
    @inline(__always)
    public func count(atPosition k: Int) -> UInt64 {
        wide ? UInt64(words[words.count / 2 + k]) << 32 | UInt64(words[k]) : UInt64(words[k])
    }

    /// The bucket index a positive value maps to at this histogram's scale.
    @inline(__always)
    public func index(of value: UInt64) -> Int { withMapping { $0.index(of: Double(value)) } }

    /// Lower (exclusive) bound of bucket `index`: `base^index`.
    public func lowerBound(ofBucket index: Int) -> Double { withMapping { $0.lowerBound(index) } }

    /// Records one value (`record(value, times: 1)`, on the per-call path).
    @inline(__always)
    public mutating func record(_ value: UInt64) {
        record(value, index: value == 0 ? 0 : index(of: value))
    }

    /// `record(value)` with the value's bucket index given: `index(of: value)` at this
    /// histogram's scale (ignored for 0). A value recorded into several histograms of one scale
    /// (a call's red_service and red_edge cells) has its index computed once.
    @inline(__always)
    mutating func record(_ value: UInt64, index i: Int) {
        count &+= 1
        let (s, o) = sum.addingReportingOverflow(value)
        sum = o ? .max : s
        if let m = min { if value < m { min = value } } else { min = value }
        if let m = max { if value > m { max = value } } else { max = value }
        if value == 0 {
            zeroCount &+= 1
            return
        }
        // Inline for the common case: a bucket inside the range whose count stays in 32 bits.
        let k = i &- offset
        if !wide && k >= 0 && k < words.count && words[k] < .max {
            words[k] &+= 1
            return
        }
        add(index: i, 1)
    }

    /// Records `value` `n` times.
    public mutating func record(_ value: UInt64, times n: UInt64) {
        guard n > 0 else { return }
        count &+= n
        let (s, o) = sum.addingReportingOverflow(value &* n)
        sum = o || value.multipliedReportingOverflow(by: n).overflow ? .max : s
        min = Swift.min(min ?? value, value)
        max = Swift.max(max ?? value, value)
        if value == 0 {
            zeroCount &+= n
            return
        }
        add(index: withMapping { $0.index(of: Double(value)) }, n)
    }

    private mutating func add(index i: Int, _ n: UInt64) {
        let k = i &- offset
        let buckets = bucketCount
        if k >= 0 && k < buckets {
            add(position: k, n)
            return
        }
        if buckets == 0 {
            offset = i
            words = [0]
            wide = false
        } else if i < offset {
            widen(before: offset - i, after: 0)
            offset = i
        } else {
            widen(before: 0, after: i - offset - buckets + 1)
        }
        add(position: i - offset, n)
    }

    /// Adds empty buckets before and after the dense range (in both halves once `wide`).
    private mutating func widen(before: Int, after: Int) {
        guard wide else {
            if before > 0 { words.insert(contentsOf: repeatElement(0, count: before), at: 0) }
            if after > 0 { words.append(contentsOf: repeatElement(0, count: after)) }
            return
        }
        let n = bucketCount
        var grown: [UInt32] = []
        grown.reserveCapacity(2 * (before + n + after))
        for half in 0..<2 {
            grown.append(contentsOf: repeatElement(0, count: before))
            grown.append(contentsOf: words[half * n..<(half + 1) * n])
            grown.append(contentsOf: repeatElement(0, count: after))
        }
        words = grown
    }

    /// `counts[k] &+= n` on the split words: the low word's carry and n's high word go to the
    /// high word, which exists from the first count that needs it.
    @inline(__always)
    private mutating func add(position k: Int, _ n: UInt64) {
        let (sum, carried) = words[k].addingReportingOverflow(UInt32(truncatingIfNeeded: n))
        words[k] = sum
        let carry = UInt32(truncatingIfNeeded: n >> 32) &+ (carried ? 1 : 0)
        guard carry != 0 else { return }
        if !wide {
            words.append(contentsOf: repeatElement(0, count: words.count))
            wide = true
        }
        words[words.count / 2 + k] &+= carry
    }

    /// Adds `other` into this histogram. If the scales differ, both are brought
    /// to the coarser scale first (an exact operation: buckets only combine).
    public mutating func merge(_ other: ExponentialHistogram) {
        if other.scale < scale { self = self.downscaled(to: other.scale) }
        let o = other.scale > scale ? other.downscaled(to: scale) : other
        zeroCount &+= o.zeroCount
        count &+= o.count
        let (s, ov) = sum.addingReportingOverflow(o.sum)
        sum = ov ? .max : s
        if let m = o.min { min = Swift.min(min ?? m, m) }
        if let m = o.max { max = Swift.max(max ?? m, m) }
        for k in 0..<o.bucketCount {
            let c = o.count(atPosition: k)
            if c > 0 { add(index: o.offset + k, c) }
        }
    }

    /// The same histogram at a coarser scale: bucket `i` becomes `i >> (scale - newScale)`.
    public func downscaled(to newScale: Int) -> ExponentialHistogram {
        precondition(newScale <= scale && Self.scaleRange.contains(newScale))
        if newScale == scale { return self }
        var h = ExponentialHistogram(scale: newScale)
        h.zeroCount = zeroCount
        h.count = count
        h.sum = sum
        h.min = min
        h.max = max
        let shift = scale - newScale
        for k in 0..<bucketCount {
            let c = count(atPosition: k)
            if c > 0 { h.add(index: (offset + k) >> shift, c) }
        }
        return h
    }

    /// The value at quantile `q` (0...1): the representative value of the bucket
    /// holding the value of rank `ceil(q * count)` (1-based, at least 1),
    /// clamped to the recorded min and max. The representative is the bucket's
    /// geometric midpoint `base^(i + 0.5)`, so the relative error is at most
    /// `relativeError`. `nil` when empty.
    ///
    /// The same rule is written in SQL in pipelines/spark/ so a merged table's
    /// quantiles agree between engines.
    public func quantile(_ q: Double) -> Double? {
        guard count > 0, let lo = min, let hi = max else { return nil }
        let clampedQ = Swift.min(Swift.max(q, 0), 1)
        let rank = Swift.max(1, UInt64((clampedQ * Double(count)).rounded(.up)))
        if rank <= zeroCount { return 0 }
        var cumulative = zeroCount
        for k in 0..<bucketCount {
            cumulative &+= count(atPosition: k)
            if cumulative >= rank {
                let mid = withMapping { $0.lowerBound(offset + k) * $0.sqrtBase }
                return Swift.min(Swift.max(mid, Double(lo)), Double(hi))
            }
        }
        return Double(hi)
    }

    /// Largest relative error of a quantile at this scale: `2^(2^-scale / 2) - 1`.
    public var relativeError: Double { withMapping { $0.sqrtBase } - 1 }

    /// Drops zero buckets at both ends so equal histograms have equal parts.
    private mutating func trim() {
        let used = (0..<bucketCount).filter { count(atPosition: $0) > 0 }
        guard let first = used.first, let last = used.last else {
            words = []
            wide = false
            offset = 0
            return
        }
        let n = bucketCount
        if first > 0 || last < n - 1 {
            words = wide ? Array(words[first...last]) + Array(words[n + first...n + last]) : Array(words[first...last])
            offset += first
        }
    }

    public static func == (a: ExponentialHistogram, b: ExponentialHistogram) -> Bool {
        var x = a, y = b
        x.trim()
        y.trim()
        return x.scale == y.scale && x.zeroCount == y.zeroCount && x.count == y.count
            && x.sum == y.sum && x.min == y.min && x.max == y.max
            && x.counts == y.counts && (x.counts.isEmpty || x.offset == y.offset)
    }
}

/// Why stored histogram parts were refused.
public enum HistogramError: Error, Equatable, CustomStringConvertible {
    case scaleOutOfRange(Int)
    case countOverflow

    public var description: String {
        switch self {
        case .scaleOutOfRange(let s):
            "histogram scale \(s) is outside \(ExponentialHistogram.scaleRange)"
        case .countOverflow:
            "histogram bucket counts overflow UInt64"
        }
    }
}

/// Value → bucket index at one scale, exact at bucket boundaries.
///
/// A positive double is `2^e · (1 + f)`. At scale `s > 0` bucket `i` covers
/// `(2^(i/2^s), 2^((i+1)/2^s)]`, so the index is `e·2^s + k` where `k` is the
/// sub-bucket of the mantissa among the `2^s` boundaries `2^(k/2^s)` of `[1, 2)`;
/// an exact power of two falls in the previous octave's last bucket. The
/// boundaries are precomputed once per scale; a table over the top mantissa bits
/// gives a starting `k`, corrected by at most a step or two.
final class IndexMapping: Sendable {
    let scale: Int
    /// `2^(k / 2^scale)` for k in 0...2^scale (scale > 0 only).
    let boundaries: [Double]
    /// For the top `tableBits` mantissa bits: the largest k with boundaries[k] ≤ that prefix.
    let table: [UInt16]
    let sqrtBase: Double
    static let tableBits = 10

    init(scale: Int) {
        self.scale = scale
        self.sqrtBase = Self.exp2(0.5 * Self.exp2(Double(-scale)))
        if scale > 0 {
            let n = 1 << scale
            var b = [Double]()
            b.reserveCapacity(n + 1)
            for k in 0...n { b.append(Self.exp2(Double(k) / Double(n))) }
            b[n] = 2
            self.boundaries = b
            var t = [UInt16](repeating: 0, count: 1 << Self.tableBits)
            for p in 0..<(1 << Self.tableBits) {
                let x = 1 + Double(p) / Double(1 << Self.tableBits)
                var k = 0
                while k + 1 < n && b[k + 1] <= x { k += 1 }
                t[p] = UInt16(k)
            }
            self.table = t
        } else {
            self.boundaries = []
            self.table = []
        }
    }

    private static let cache: [IndexMapping] = ExponentialHistogram.scaleRange.map { IndexMapping(scale: $0) }

    static func shared(scale: Int) -> IndexMapping {
        cache[scale - ExponentialHistogram.scaleRange.lowerBound]
    }

    @inline(__always)
    func index(of v: Double) -> Int {
        let bits = v.bitPattern
        let e = Int((bits >> 52) & 0x7FF) - 1023
        let frac = bits & ((1 << 52) - 1)
        if scale <= 0 {
            let exp = frac == 0 ? e - 1 : e
            return exp >> -scale
        }
        if frac == 0 { return (e << scale) - 1 }
        let m = Double(bitPattern: (1023 << 52) | frac) // 1 + f, in (1, 2)
        var k = Int(table[Int(frac >> UInt64(52 - Self.tableBits))])
        // Bucket k of the octave is (b[k], b[k+1]]: move until b[k] < m <= b[k+1].
        while m <= boundaries[k] { k -= 1 }
        while m > boundaries[k + 1] { k += 1 }
        return (e << scale) + k
    }

    func lowerBound(_ index: Int) -> Double {
        Self.exp2(Double(index) * Self.exp2(Double(-scale)))
    }

    private static func exp2(_ x: Double) -> Double { Foundation.exp2(x) }
}
