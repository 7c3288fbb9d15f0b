import Foundation
import Aggregates
import Parquet

/// Turns table rows into Parquet column batches, rows sorted by bucket and
/// then by names (not ids), so a file's bytes depend only on its contents.
public struct TableBuilder {
    public let names: NamePool
    public let bucketSeconds: Int32

    public init(names: NamePool, bucketSeconds: Int) {
        self.names = names
        self.bucketSeconds = Int32(bucketSeconds)
    }

    /// Columns of the named tables (all five when `tables` is nil), by table name.
    public func columns(_ rows: TableRows, tables: Set<String>? = nil) -> [String: [ColumnData]] {
        func want(_ t: String) -> Bool { tables?.contains(t) ?? true }
        var out: [String: [ColumnData]] = [:]
        if want("red_service") { out["red_service"] = redService(rows.redService) }
        if want("red_edge") { out["red_edge"] = redEdge(rows.redEdge) }
        if want("traffic_matrix") { out["traffic_matrix"] = traffic(rows.traffic) }
        if want("tcp_health") { out["tcp_health"] = health(rows.health) }
        if want("tcp_drops") { out["tcp_drops"] = drops(rows.drops) }
        return out
    }

    func n(_ id: Int32) -> String { names.name(id) }

    /// Each name id's position in the names' sorted order: comparing ranks orders rows exactly
    /// as comparing the names would (names in a pool are distinct), without building strings.
    var ranks: [Int64] {
        var r = [Int64](repeating: 0, count: names.names.count)
        for (pos, id) in names.names.indices.sorted(by: { names.names[$0] < names.names[$1] }).enumerated() {
            r[id] = Int64(pos)
        }
        return r
    }

    /// Rows ordered by `key`, built from `ranks`.
    func sorted<K, C>(_ acc: Accumulator<K, C>, by key: ([Int64], K) -> SortKey) -> [(key: K, cell: C)] {
        let rk = ranks
        return acc.cells.map { (key: $0.key, cell: $0.value, order: key(rk, $0.key)) }
            .sorted { a, b in a.order < b.order }
            .map { (key: $0.key, cell: $0.cell) }
    }

    /// Up to eight integers compared lexicographically (unused trailing ones stay 0), inline:
    /// an array per row would cost an allocation per row.
    struct SortKey: Comparable {
        // Swift compares tuples of at most six elements.
        var head: (Int64, Int64, Int64, Int64, Int64, Int64)
        var tail: (Int64, Int64)
        init(_ a: Int64, _ b: Int64, _ c: Int64, _ d: Int64 = 0, _ e: Int64 = 0, _ f: Int64 = 0, _ g: Int64 = 0,
             _ h: Int64 = 0) {
            head = (a, b, c, d, e, f)
            tail = (g, h)
        }
        static func == (x: Self, y: Self) -> Bool { x.head == y.head && x.tail == y.tail }
        static func < (x: Self, y: Self) -> Bool { x.head != y.head ? x.head < y.head : x.tail < y.tail }
    }

    /// An integer ordered as its `%011d` text was (the order of drop reasons in written files):
    /// negatives ("-…") first, by magnitude, then the others ascending.
    static func textOrder(_ x: Int32) -> Int64 { x < 0 ? Int64(x.magnitude) - (1 << 40) : Int64(x) }

    /// Builders for one column each.
    struct Strings {
        var v = ByteArrays()
        mutating func add(_ s: String) { v.append(s) }
        var column: ColumnData { ColumnData(.byteArray(v)) }
    }
    struct Int64s {
        var v: [Int64] = []
        mutating func add(_ x: Int64) { v.append(x) }
        mutating func add(_ x: UInt64) { v.append(Int64(clamping: x)) }
        var column: ColumnData { ColumnData(.int64(v)) }
    }
    struct Int32s {
        var v: [Int32] = []
        mutating func add(_ x: Int32) { v.append(x) }
        var column: ColumnData { ColumnData(.int32(v)) }
    }
    struct OptionalInt64s {
        var v: [Int64] = []
        var valid: [Bool] = []
        mutating func add(_ x: UInt64?) {
            valid.append(x != nil)
            if let x { v.append(Int64(clamping: x)) }
        }
        var column: ColumnData { ColumnData(.int64(v), validity: valid) }
    }
    struct OptionalDoubles {
        var v: [Double] = []
        var valid: [Bool] = []
        mutating func add(_ x: Double?) {
            valid.append(x != nil)
            if let x { v.append(x) }
        }
        var column: ColumnData { ColumnData(.double(v), validity: valid) }
    }
    struct Doubles {
        var v: [Double] = []
        mutating func add(_ x: Double) { v.append(x) }
        var column: ColumnData { ColumnData(.double(v)) }
    }
    struct Int64Lists {
        var v: [Int64] = []
        var offsets: [Int] = [0]
        mutating func add(_ xs: [UInt64]) {
            for x in xs { v.append(Int64(clamping: x)) }
            offsets.append(v.count)
        }
        var column: ColumnData { ColumnData(.int64(v), listOffsets: offsets) }
    }

    /// The RED metric and completeness columns shared by red_service and red_edge.
    struct REDColumns {
        var requests = Int64s(), errors = Int64s(), clientErrors = Int64s(), reqBytes = Int64s(), respBytes = Int64s()
        var scale = Int32s(), zero = Int64s(), offset = Int32s(), counts = Int64Lists(), sum = Int64s()
        var minNs = OptionalInt64s(), maxNs = OptionalInt64s(), p50 = OptionalDoubles(), p90 = OptionalDoubles(), p99 = OptionalDoubles()
        var completeness = CompletenessColumns()

        mutating func add(_ r: Row<REDCell>) {
            let c = r.cell, h = c.latency
            requests.add(c.requests); errors.add(c.errors); clientErrors.add(c.clientErrors)
            reqBytes.add(c.requestBytes); respBytes.add(c.responseBytes)
            scale.add(Int32(h.scale)); zero.add(h.zeroCount); offset.add(Int32(h.counts.isEmpty ? 0 : h.offset))
            counts.add(h.counts); sum.add(h.sum); minNs.add(h.min); maxNs.add(h.max)
            p50.add(h.quantile(0.5)); p90.add(h.quantile(0.9)); p99.add(h.quantile(0.99))
            completeness.add(r.completeness)
        }

        var columns: [ColumnData] {
            [requests.column, errors.column, clientErrors.column, reqBytes.column, respBytes.column,
             scale.column, zero.column, offset.column, counts.column, sum.column, minNs.column, maxNs.column,
             p50.column, p90.column, p99.column] + completeness.columns
        }
    }

    struct CompletenessColumns {
        var observed = Int64s(), lost = Int64s(), shared = Int64s(), ratio = Doubles()
        mutating func add(_ c: Completeness) {
            observed.add(c.observed); lost.add(c.lost); shared.add(c.shared); ratio.add(c.ratio)
        }
        var columns: [ColumnData] { [observed.column, lost.column, shared.column, ratio.column] }
    }

    func bucketColumns(_ buckets: [Int64]) -> [ColumnData] {
        [ColumnData(.int64(buckets)), ColumnData(.int32([Int32](repeating: bucketSeconds, count: buckets.count)))]
    }

    func redService(_ acc: Accumulator<ServiceKey, Row<REDCell>>) -> [ColumnData] {
        var buckets: [Int64] = [], service = Strings(), proto = Strings(), observer = Strings(), m = REDColumns()
        for (k, r) in sorted(acc, by: { SortKey($1.bucket, $0[Int($1.service)], $0[Int($1.proto)], $0[Int($1.observer)]) }) {
            buckets.append(k.bucket); service.add(n(k.service)); proto.add(n(k.proto)); observer.add(n(k.observer))
            m.add(r)
        }
        return bucketColumns(buckets) + [service.column, proto.column, observer.column] + m.columns
    }

    func redEdge(_ acc: Accumulator<EdgeKey, Row<REDCell>>) -> [ColumnData] {
        var buckets: [Int64] = [], caller = Strings(), callee = Strings(), callerDC = Strings(), calleeDC = Strings()
        var proto = Strings(), observer = Strings(), source = Strings(), m = REDColumns()
        for (k, r) in sorted(acc, by: { SortKey($1.bucket, $0[Int($1.caller)], $0[Int($1.callee)], $0[Int($1.callerDC)],
                                                $0[Int($1.calleeDC)], $0[Int($1.proto)], $0[Int($1.observer)],
                                                $0[Int($1.peerSource)]) }) {
            buckets.append(k.bucket); caller.add(n(k.caller)); callee.add(n(k.callee))
            callerDC.add(n(k.callerDC)); calleeDC.add(n(k.calleeDC)); proto.add(n(k.proto)); observer.add(n(k.observer))
            source.add(n(k.peerSource))
            m.add(r)
        }
        return bucketColumns(buckets) + [caller.column, callee.column, callerDC.column, calleeDC.column, proto.column,
                                         observer.column, source.column] + m.columns
    }

    func traffic(_ acc: Accumulator<TrafficKey, Row<TrafficCell>>) -> [ColumnData] {
        var buckets: [Int64] = [], srcDC = Strings(), dstDC = Strings(), src = Strings(), dst = Strings()
        var l4 = Strings(), observer = Strings(), source = Strings()
        var bytes = Int64s(), packets = Int64s(), payload = OptionalInt64s(), flows = Int64s(), calls = Int64s()
        var c = CompletenessColumns()
        for (k, r) in sorted(acc, by: { SortKey($1.bucket, $0[Int($1.srcDC)], $0[Int($1.dstDC)], $0[Int($1.srcService)],
                                                $0[Int($1.dstService)], $0[Int($1.l4)], $0[Int($1.observer)],
                                                $0[Int($1.peerSource)]) }) {
            buckets.append(k.bucket); srcDC.add(n(k.srcDC)); dstDC.add(n(k.dstDC)); src.add(n(k.srcService))
            dst.add(n(k.dstService)); l4.add(n(k.l4)); observer.add(n(k.observer)); source.add(n(k.peerSource))
            bytes.add(r.cell.bytes); packets.add(r.cell.packets); payload.add(r.cell.payloadBytes)
            flows.add(r.cell.flows); calls.add(r.cell.calls)
            c.add(r.completeness)
        }
        return bucketColumns(buckets) + [srcDC.column, dstDC.column, src.column, dst.column, l4.column, observer.column,
                                         source.column, bytes.column, packets.column, payload.column, flows.column,
                                         calls.column] + c.columns
    }

    func health(_ acc: Accumulator<HealthKey, Row<TCPHealthCell>>) -> [ColumnData] {
        var buckets: [Int64] = [], service = Strings(), peer = Strings(), source = Strings()
        var retx = Int64s(), rstS = Int64s(), rstR = Int64s(), drops = Int64s(), missing = Int64s(), c = CompletenessColumns()
        var policy = Int64s(), teardown = Int64s(), other = Int64s()
        for (k, r) in sorted(acc, by: { SortKey($1.bucket, $0[Int($1.service)], $0[Int($1.peer)], $0[Int($1.peerSource)]) }) {
            buckets.append(k.bucket); service.add(n(k.service)); peer.add(n(k.peer)); source.add(n(k.peerSource))
            retx.add(r.cell.retransmits); rstS.add(r.cell.resetsSent); rstR.add(r.cell.resetsReceived)
            drops.add(r.cell.drops); policy.add(r.cell.dropsPolicy); teardown.add(r.cell.dropsTeardown)
            other.add(r.cell.dropsOther); missing.add(r.cell.idOptionMissing); c.add(r.completeness)
        }
        return bucketColumns(buckets) + [service.column, peer.column, source.column, retx.column, rstS.column, rstR.column,
                                         drops.column, policy.column, teardown.column, other.column, missing.column] + c.columns
    }

    func drops(_ acc: Accumulator<DropKey, Row<Count>>) -> [ColumnData] {
        var buckets: [Int64] = [], service = Strings(), code = Int32s(), reason = Strings(), dropClass = Strings()
        var drops = Int64s()
        var c = CompletenessColumns()
        for (k, r) in sorted(acc, by: { SortKey($1.bucket, $0[Int($1.service)], Self.textOrder($1.reason)) }) {
            buckets.append(k.bucket); service.add(n(k.service)); code.add(k.reason); reason.add(DropReasons.name(k.reason))
            dropClass.add(DropReasons.dropClass(k.reason).rawValue)
            drops.add(r.cell.value); c.add(r.completeness)
        }
        return bucketColumns(buckets) + [service.column, code.column, reason.column, dropClass.column, drops.column] + c.columns
    }
}
