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

    /// Columns of every table, by table name.
    public func columns(_ rows: TableRows) -> [String: [ColumnData]] {
        [
            "red_service": redService(rows.redService),
            "red_edge": redEdge(rows.redEdge),
            "traffic_matrix": traffic(rows.traffic),
            "tcp_health": health(rows.health),
            "tcp_drops": drops(rows.drops),
        ]
    }

    func n(_ id: Int32) -> String { names.name(id) }

    func sorted<K, C>(_ acc: Accumulator<K, C>, by key: (K) -> [String]) -> [(key: K, cell: C)] {
        acc.cells.map { (key: $0.key, cell: $0.value, names: key($0.key)) }
            .sorted { a, b in a.names.lexicographicallyPrecedes(b.names) }
            .map { (key: $0.key, cell: $0.cell) }
    }

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
        var observed = Int64s(), lost = Int64s(), ratio = Doubles()
        mutating func add(_ c: Completeness) {
            observed.add(c.observed); lost.add(c.lost); ratio.add(c.ratio)
        }
        var columns: [ColumnData] { [observed.column, lost.column, ratio.column] }
    }

    func bucketColumns(_ buckets: [Int64]) -> [ColumnData] {
        [ColumnData(.int64(buckets)), ColumnData(.int32([Int32](repeating: bucketSeconds, count: buckets.count)))]
    }

    func redService(_ acc: Accumulator<ServiceKey, Row<REDCell>>) -> [ColumnData] {
        var buckets: [Int64] = [], service = Strings(), proto = Strings(), observer = Strings(), m = REDColumns()
        for (k, r) in sorted(acc, by: { [String(format: "%020lld", $0.bucket), n($0.service), n($0.proto), n($0.observer)] }) {
            buckets.append(k.bucket); service.add(n(k.service)); proto.add(n(k.proto)); observer.add(n(k.observer))
            m.add(r)
        }
        return bucketColumns(buckets) + [service.column, proto.column, observer.column] + m.columns
    }

    func redEdge(_ acc: Accumulator<EdgeKey, Row<REDCell>>) -> [ColumnData] {
        var buckets: [Int64] = [], caller = Strings(), callee = Strings(), callerDC = Strings(), calleeDC = Strings()
        var proto = Strings(), observer = Strings(), m = REDColumns()
        for (k, r) in sorted(acc, by: { [String(format: "%020lld", $0.bucket), n($0.caller), n($0.callee), n($0.callerDC),
                                          n($0.calleeDC), n($0.proto), n($0.observer)] }) {
            buckets.append(k.bucket); caller.add(n(k.caller)); callee.add(n(k.callee))
            callerDC.add(n(k.callerDC)); calleeDC.add(n(k.calleeDC)); proto.add(n(k.proto)); observer.add(n(k.observer))
            m.add(r)
        }
        return bucketColumns(buckets) + [caller.column, callee.column, callerDC.column, calleeDC.column, proto.column,
                                         observer.column] + m.columns
    }

    func traffic(_ acc: Accumulator<TrafficKey, Row<TrafficCell>>) -> [ColumnData] {
        var buckets: [Int64] = [], srcDC = Strings(), dstDC = Strings(), src = Strings(), dst = Strings()
        var l4 = Strings(), observer = Strings(), bytes = Int64s(), packets = Int64s(), flows = Int64s(), calls = Int64s()
        var c = CompletenessColumns()
        for (k, r) in sorted(acc, by: { [String(format: "%020lld", $0.bucket), n($0.srcDC), n($0.dstDC), n($0.srcService),
                                          n($0.dstService), n($0.l4), n($0.observer)] }) {
            buckets.append(k.bucket); srcDC.add(n(k.srcDC)); dstDC.add(n(k.dstDC)); src.add(n(k.srcService))
            dst.add(n(k.dstService)); l4.add(n(k.l4)); observer.add(n(k.observer))
            bytes.add(r.cell.bytes); packets.add(r.cell.packets); flows.add(r.cell.flows); calls.add(r.cell.calls)
            c.add(r.completeness)
        }
        return bucketColumns(buckets) + [srcDC.column, dstDC.column, src.column, dst.column, l4.column, observer.column,
                                         bytes.column, packets.column, flows.column, calls.column] + c.columns
    }

    func health(_ acc: Accumulator<HealthKey, Row<TCPHealthCell>>) -> [ColumnData] {
        var buckets: [Int64] = [], service = Strings(), peer = Strings()
        var retx = Int64s(), rstS = Int64s(), rstR = Int64s(), drops = Int64s(), missing = Int64s(), c = CompletenessColumns()
        for (k, r) in sorted(acc, by: { [String(format: "%020lld", $0.bucket), n($0.service), n($0.peer)] }) {
            buckets.append(k.bucket); service.add(n(k.service)); peer.add(n(k.peer))
            retx.add(r.cell.retransmits); rstS.add(r.cell.resetsSent); rstR.add(r.cell.resetsReceived)
            drops.add(r.cell.drops); missing.add(r.cell.idOptionMissing); c.add(r.completeness)
        }
        return bucketColumns(buckets) + [service.column, peer.column, retx.column, rstS.column, rstR.column,
                                         drops.column, missing.column] + c.columns
    }

    func drops(_ acc: Accumulator<DropKey, Row<Count>>) -> [ColumnData] {
        var buckets: [Int64] = [], service = Strings(), code = Int32s(), reason = Strings(), drops = Int64s()
        var c = CompletenessColumns()
        for (k, r) in sorted(acc, by: { [String(format: "%020lld", $0.bucket), n($0.service), String(format: "%011d", $0.reason)] }) {
            buckets.append(k.bucket); service.add(n(k.service)); code.add(k.reason); reason.add(DropReasons.name(k.reason))
            drops.add(r.cell.value); c.add(r.completeness)
        }
        return bucketColumns(buckets) + [service.column, code.column, reason.column, drops.column] + c.columns
    }
}
