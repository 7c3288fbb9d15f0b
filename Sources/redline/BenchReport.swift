import Aggregates
import ArgumentParser
import Foundation
import Parquet
import Pipeline

/// `redline dev bench-report --days N --services N --out DIR`: the input of
/// tools/bench/report/run — synthetic merged hourly tables (red_service, red_edge,
/// traffic_matrix, tcp_health, tcp_drops) for N days ending 2026-01-31, written with Redline's
/// own Parquet writer from the tables' declarations. Deterministic: same arguments, same bytes.
///
/// Shape: services `s000…` in four tiers; each calls two services of the next tier. Service i
/// runs in datacenter `dc(i % dcs + 1)`; every fourth service also in the next datacenter (its
/// DR pair), serving a fifth of its calls there — and all of them during a 12-hour drill on the
/// middle day, so the DR-drill view has something to show. Latency histograms have a fixed
/// shape per tier; errors are a per-service rate with one bad service.
struct BenchReport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-report",
        abstract: "Write synthetic hourly tables for the report benchmark (tools/bench/report/run)."
    )

    @Option(help: "Days of hourly partitions, ending 2026-01-31.")
    var days = 30

    @Option(help: "Services (at least 8).")
    var services = 100

    @Option(help: "Datacenters.")
    var dcs = 3

    @Option(help: "Bucket width in seconds (divides 3600).")
    var bucketSeconds = 300

    @Option(help: "Table root to write (must not exist).")
    var out: String

    func validate() throws {
        guard (1...366).contains(days), (8...1000).contains(services), (1...8).contains(dcs), bucketSeconds > 0, 3600 % bucketSeconds == 0 else {
            throw ValidationError("need 1 ≤ days ≤ 366, 8 ≤ services ≤ 1000, 1 ≤ dcs ≤ 8, bucket seconds dividing 3600")
        }
        if FileManager.default.fileExists(atPath: out) { throw ValidationError("\(out) exists") }
    }

    /// 2026-01-31 is day 20484 since the epoch.
    static let lastDay = 20_484

    func name(_ i: Int) -> String { "s" + String(repeating: "0", count: max(0, 3 - String(i).count)) + String(i) }

    func run() throws {
        let tier = max(services / 4, 1)
        func callees(_ i: Int) -> [Int] {
            let t = i / tier
            guard t < 3 else { return [] }
            let base = (t + 1) * tier, width = t == 2 ? services - base : tier
            guard width > 0 else { return [] }
            return Array(Set([base + (i * 7) % width, base + (i * 11 + 3) % width])).sorted()
        }
        func home(_ i: Int) -> Int { i % dcs }
        func pair(_ i: Int) -> Int? { dcs > 1 && i % 4 == 0 ? (i + 1) % dcs : nil }
        let firstDay = Self.lastDay - days + 1
        let drillStart = Int64(firstDay + days / 2) * 86_400 + 6 * 3600, drillEnd = drillStart + 12 * 3600
        let ns: Int64 = 1_000_000_000
        // Latency histogram templates (scale 4) per tier: bucket counts per 1000 calls.
        let templates: [(offset: Int32, counts: [Int64])] = (0..<4).map { t in
            let center = 300 + 24 * t
            return (Int32(center - 12), (0..<25).map { k in Int64(1000.0 * exp(-Double((k - 12) * (k - 12)) / 30.0) / 5.6) + 1 })
        }
        var written = 0
        for day in firstDay...Self.lastDay {
            for hour in 0..<24 {
                let p = Partition(day: day, hour: hour)
                var rs = Rows(), re = Rows(), tm = Rows(), th = Rows(), td = Rows()
                for b in 0..<(3600 / bucketSeconds) {
                    let t = p.startNanos + Int64(b * bucketSeconds) * ns
                    let secs = t / ns
                    let drilling = secs >= drillStart && secs < drillEnd
                    let diurnal = 1.0 + 0.5 * sin(Double(hour) / 24 * 2 * .pi)
                    for i in 0..<services {
                        let calls = Int64(Double(200 + (i * 37) % 400) * diurnal * Double(bucketSeconds) / 60)
                        // Calls served per datacenter: the DR pair takes a fifth, or all during the drill.
                        var split: [(Int, Int64)] = [(home(i), calls)]
                        if let q = pair(i) { split = drilling ? [(q, calls)] : [(home(i), calls - calls / 5), (q, calls / 5)] }
                        let errRate = i == services / 2 ? 0.05 : Double((i * 13) % 7) / 10_000
                        let tpl = templates[min(i / tier, 3)]
                        rs.red(t, bucketSeconds, [name(i), "http1", "server"], requests: calls, errorRate: errRate, tpl: tpl)
                        for c in callees(i) {
                            let n = calls / 2
                            for (dc, served) in split {
                                var calleeSplit: [(Int, Int64)] = [(home(c), n * served / max(calls, 1))]
                                if let q = pair(c) { calleeSplit = drilling ? [(q, calleeSplit[0].1)] : [(home(c), calleeSplit[0].1 * 4 / 5), (q, calleeSplit[0].1 / 5)] }
                                for (cdc, m) in calleeSplit where m > 0 {
                                    re.red(t, bucketSeconds, [name(i), name(c), "dc\(dc + 1)", "dc\(cdc + 1)", "http1", "server"], requests: m,
                                           errorRate: c == services / 2 ? 0.05 : 0, tpl: templates[min(c / tier, 3)])
                                    tm.traffic(t, bucketSeconds, ["dc\(dc + 1)", "dc\(cdc + 1)", name(i), name(c), "tcp", "source"], bytes: m * 900, calls: m)
                                    tm.traffic(t, bucketSeconds, ["dc\(cdc + 1)", "dc\(dc + 1)", name(c), name(i), "tcp", "source"], bytes: m * 2400, calls: 0)
                                }
                            }
                        }
                        if b % 12 == 0 {
                            th.health(t, bucketSeconds, [name(i), callees(i).first.map(name) ?? "unknown"], retransmits: Int64((i * 17 + hour) % 9))
                            if i % 10 == 0 {
                                td.drops(t, bucketSeconds, name(i), code: 3, reason: "no_socket", drops: Int64(1 + i % 5))
                                td.drops(t, bucketSeconds, name(i), code: 73, reason: "tc_ingress", drops: Int64(i % 3))
                            }
                        }
                    }
                }
                for (schema, rows) in [(RedService.schema, rs), (RedEdge.schema, re), (TrafficMatrix.schema, tm),
                                       (TCPHealth.schema, th), (TCPDrops.schema, td)] {
                    let dir = "\(out)/\(schema.name)/\(p.path)"
                    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                    let w = try schema.makeWriter(path: dir + "/part-00000.parquet")
                    try w.write(rows.columns(schema))
                    try w.close()
                    written += 1
                }
            }
        }
        print("\(written) files under \(out)")
    }

    /// Column builders in the order of each table's declaration.
    struct Rows {
        var buckets: [Int64] = [], widths: [Int32] = [], keys: [[String]] = []
        var ints: [[Int64]] = [], codes: [Int32] = []
        var counts: [Int64] = [], offsets: [Int] = [0], histOffset: [Int32] = []
        var minNs: [Int64] = [], maxNs: [Int64] = [], sums: [Int64] = [], quantiles: [[Double]] = []

        mutating func key(_ t: Int64, _ w: Int, _ k: [String]) { buckets.append(t); widths.append(Int32(w)); keys.append(k) }

        mutating func red(_ t: Int64, _ w: Int, _ k: [String], requests: Int64, errorRate: Double, tpl: (offset: Int32, counts: [Int64])) {
            key(t, w, k)
            let scaled = tpl.counts.map { $0 * max(requests, 1) / 1000 }
            let total = scaled.reduce(0, +)
            for c in scaled { counts.append(c) }
            offsets.append(counts.count)
            histOffset.append(tpl.offset)
            let lo = Int64(exp2(Double(tpl.offset) / 16)), hi = Int64(exp2(Double(Int(tpl.offset) + scaled.count) / 16))
            minNs.append(lo); maxNs.append(hi); sums.append(total * Int64(exp2(Double(Int(tpl.offset) + 12) / 16)))
            let mid = exp2((Double(tpl.offset) + 12.5) / 16)
            quantiles.append([mid, mid * 1.3, mid * 1.7])
            let errors = Int64(Double(total) * errorRate)
            ints.append([total, errors, 0, total * 120, total * 900])
        }

        mutating func traffic(_ t: Int64, _ w: Int, _ k: [String], bytes: Int64, calls: Int64) {
            key(t, w, k)
            ints.append([bytes, bytes / 1000 + 1, 1, calls])
        }

        mutating func health(_ t: Int64, _ w: Int, _ k: [String], retransmits: Int64) {
            key(t, w, k)
            ints.append([retransmits, 0, 0, retransmits / 3, 0])
        }

        mutating func drops(_ t: Int64, _ w: Int, _ service: String, code: Int32, reason: String, drops: Int64) {
            key(t, w, [service])
            codes.append(code)
            keys[keys.count - 1].append(reason)
            ints.append([drops])
        }

        func columns(_ schema: TableSchema) -> [ColumnData] {
            let n = buckets.count
            func strings(_ i: Int) -> ColumnData { ColumnData(.byteArray(ByteArrays(strings: keys.map { $0[i] }))) }
            func int64(_ i: Int) -> ColumnData { ColumnData(.int64(ints.map { $0[i] })) }
            let head = [ColumnData(.int64(buckets)), ColumnData(.int32(widths))]
            let completeness = [ColumnData(.int64(Array(repeating: 1000, count: n))), ColumnData(.int64(Array(repeating: 0, count: n))),
                                ColumnData(.int64(Array(repeating: 0, count: n))), ColumnData(.double(Array(repeating: 1, count: n)))]
            // Every synthetic peer is named from metadata (the tables' peer_identity_source key).
            let peerSource = ColumnData(.byteArray(ByteArrays(strings: Array(repeating: "metadata", count: n))))
            switch schema.name {
            case "red_service", "red_edge":
                let keys = schema.name == "red_service" ? (0..<3).map(strings) : (0..<6).map(strings) + [peerSource]
                return head + keys + (0..<5).map(int64) + [
                    ColumnData(.int32(Array(repeating: 4, count: n))), ColumnData(.int64(Array(repeating: 0, count: n))),
                    ColumnData(.int32(histOffset)), ColumnData(.int64(counts), listOffsets: offsets), ColumnData(.int64(sums)),
                    ColumnData(.int64(minNs), validity: Array(repeating: true, count: n)), ColumnData(.int64(maxNs), validity: Array(repeating: true, count: n)),
                ] + (0..<3).map { q in ColumnData(.double(quantiles.map { $0[q] }), validity: Array(repeating: true, count: n)) } + completeness
            case "traffic_matrix":
                // Payload: the link bytes less 40 bytes of headers per packet.
                let payload = ColumnData(.int64(ints.map { max(0, $0[0] - 40 * $0[1]) }), validity: Array(repeating: true, count: n))
                return head + (0..<6).map(strings) + [peerSource] + (0..<2).map(int64) + [payload] + (2..<4).map(int64) + completeness
            case "tcp_health":
                // Drops here are network losses; no policy, teardown or other drops.
                let zeros = ColumnData(.int64(Array(repeating: 0, count: n)))
                return head + (0..<2).map(strings) + [peerSource] + (0..<4).map(int64) + [zeros, zeros, zeros, int64(4)] + completeness
            default:
                let classes = ColumnData(.byteArray(ByteArrays(strings: codes.map { DropReasons.dropClass($0).rawValue })))
                return head + [strings(0), ColumnData(.int32(codes)), strings(1), classes, int64(0)] + completeness
            }
        }
    }
}
