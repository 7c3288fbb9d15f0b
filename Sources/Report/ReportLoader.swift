import Aggregates
import Foundation
import Pipeline

/// Reads a table root's committed files for a selection and computes `ReportData`.
///
/// Where a table holds a call or a flow twice — once per observing side — the report shows
/// one side, never the sum: the server side of `red_service`/`red_edge` rows where the callee's
/// hosts saw the group, else the client side; the source side of `traffic_matrix` rows where the
/// sender's host saw the (bucket, key), else the destination side (docs/report.md).
struct ReportLoader {
    let root: String
    let selection: ReportSelection
    static var hourlyTables: [String] { PipelineTables.hourly.map { $0.name } }
    /// The hourly tables whose rows carry `completeness` (chain_paths, built by a join, does not).
    static var completenessTables: [String] {
        PipelineTables.hourly.filter { $0.schema.columns.contains { $0.name == "completeness" } }.map { $0.name }
    }
    static let anomalyTable = "anomaly_candidates"
    static let topPairsShown = 20

    /// The table's Parquet files of one partition, sorted; empty when the folder is absent.
    func files(_ table: String, _ partition: Partition) -> [String] {
        let dir = "\(root)/\(table)/\(partition.path)"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        return names.filter { $0.hasSuffix(".parquet") }.sorted().map { "\(dir)/\($0)" }
    }

    func load() throws(ReportError) -> ReportData {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else { throw .noTableRoot(root) }
        let hours = selection.hours
        let partitions = manifests(hours)

        var daily: DailyMatrices?
        var dailyPairs: [ServicePair]?
        if let day = selection.day {
            let dayFiles = files(DailyTrafficRun.table.name, day)
            guard !dayFiles.isEmpty else {
                throw .noDailyTable("no \(DailyTrafficRun.table.name) for \(day.path) under \(root) "
                    + "(make it with: redline run pipelines/daily-traffic.yaml --partition \(day.path) --out \(root))")
            }
            let prev = Partition(day: day.day - 1, hour: nil)
            var prevMatrix: DCMatrix?
            let prevFiles = files(DailyTrafficRun.table.name, prev)
            if !prevFiles.isEmpty { prevMatrix = try trafficMatrix(prevFiles, slots: nil).matrix }
            let today = try trafficMatrix(dayFiles, slots: nil)
            dailyPairs = today.pairs
            daily = DailyMatrices(day: day.path, matrix: today.matrix, previousDay: prev.path, previous: prevMatrix)
        }

        var byTable: [String: [String]] = [:]
        for t in Self.hourlyTables { byTable[t] = hours.flatMap { files(t, $0) } }
        let anyHourly = byTable.values.contains { !$0.isEmpty } || partitions.contains { $0.hasManifest }
        if !anyHourly && daily == nil {
            let what = hours.count == 1 ? "partition \(hours[0].path)" : "any hour of \(selection.label)"
            throw .noPartition("no tables for \(what) under \(root): no manifest and no table files "
                + "(make them with: redline run pipelines/hourly.yaml --partition date=…/hour=… --out \(root))")
        }

        var bucketSeconds: Int64 = 60
        for path in (byTable["red_service"] ?? []).prefix(1) + (byTable["traffic_matrix"] ?? []).prefix(1) {
            let f = try TableFile(path: path)
            if f.rows > 0, let b = try f.int32s("bucket_seconds").first { bucketSeconds = Int64(b) }
        }
        let slots = Slots(start: selection.startNanos, end: selection.endNanos, bucketSeconds: bucketSeconds)

        var completeness: [String: TableCompleteness] = [:]
        func track(_ f: TableFile, _ table: String) throws(ReportError) {
            var c = completeness[table] ?? TableCompleteness(table: table)
            c.files += 1
            c.rows += f.rows
            if f.rows > 0 {
                let ratio = try f.doubles("completeness"), lost = try f.int64s("events_lost")
                for r in 0..<f.rows {
                    if ratio[r] < 1 { c.rowsIncomplete += 1 }
                    c.minCompleteness = min(c.minCompleteness, ratio[r])
                    c.maxEventsLost = max(c.maxEventsLost, lost[r])
                }
            }
            completeness[table] = c
        }

        let traffic = try trafficMatrix(byTable["traffic_matrix"]!, slots: slots, track: track)
        let (services, scale) = try serviceRED(byTable["red_service"]!, slots: slots, track: track)
        let (nodes, edges) = try topology(byTable["red_edge"]!, track: track)
        let health = try tcpHealth(byTable["tcp_health"]!, track: track)
        let drops = try dropReasons(byTable["tcp_drops"]!, track: track)
        let (anomalies, problem) = try anomalyCandidates(hours)
        // Tables no section reads (red_route, dns_names) still say how complete their rows are.
        for t in Self.completenessTables where !["traffic_matrix", "red_service", "red_edge", "tcp_health", "tcp_drops"].contains(t) {
            for path in byTable[t] ?? [] { try track(try TableFile(path: path), t) }
        }

        return ReportData(
            selection: selection, slots: slots,
            matrix: byTable["traffic_matrix"]!.isEmpty ? nil : traffic.matrix, daily: daily,
            topPairs: Array((dailyPairs ?? traffic.pairs).filter { $0.srcDC != $0.dstDC }.prefix(Self.topPairsShown)),
            shares: traffic.shares, services: services, nodes: nodes, edges: edges, health: health,
            dropReasons: drops, anomalies: anomalies, anomalyProblem: problem,
            tables: Self.completenessTables.map { completeness[$0] ?? TableCompleteness(table: $0) },
            partitions: partitions,
            quantileError: ExponentialHistogram(scale: scale).relativeError)
    }

    /// Each hour's manifests (any pipeline that committed the hour).
    func manifests(_ hours: [Partition]) -> [PartitionStatus] {
        let pipelines = ((try? FileManager.default.contentsOfDirectory(atPath: "\(root)/_manifests")) ?? [])
            .filter { !$0.hasPrefix(".") }.sorted()
        return hours.map { h in
            var s = PartitionStatus(partition: h.path, hasManifest: false)
            var hosts = Set<String>()
            for p in pipelines {
                guard let m = Manifest.load("\(root)/_manifests/\(p)/\(h.path).json") else { continue }
                s.hasManifest = true
                s.segments += m.inputs.count
                for (host, c) in m.hosts {
                    hosts.insert(host)
                    s.damagedFiles += c.damagedFiles
                    s.openFiles += c.openFiles
                    s.uncorrectable += c.uncorrectable
                }
                s.warnings += m.warnings
            }
            s.hosts = hosts.count
            return s
        }
    }

    struct TrafficResult {
        var matrix = DCMatrix([:])
        var pairs: [ServicePair] = []
        var shares: [ServiceShares] = []
    }

    /// traffic_matrix (or traffic_matrix_daily) files → the DC matrix, service pairs and, with
    /// slots, each service's calls served per datacenter and slot.
    func trafficMatrix(_ paths: [String], slots: Slots?,
                       track: ((TableFile, String) throws(ReportError) -> Void)? = nil) throws(ReportError) -> TrafficResult {
        struct Key: Hashable { var bucket: Int64; var srcDC, dstDC, src, dst, l4: String }
        struct PairKey: Hashable { var srcDC, dstDC, src, dst: String }
        var cells: [String: [String: Traffic]] = [:]
        var pairs: [PairKey: Traffic] = [:]
        var served: [String: [[String: Int64]]] = [:]
        for path in paths {
            let f = try TableFile(path: path)
            try track?(f, "traffic_matrix")
            guard f.rows > 0 else { continue }
            let bucket = try f.int64s("bucket_start")
            let srcDC = try f.strings("src_dc"), dstDC = try f.strings("dst_dc")
            let src = try f.strings("src_service"), dst = try f.strings("dst_service"), l4 = try f.strings("l4_protocol")
            let observer = try f.strings("observer"), bytes = try f.int64s("bytes"), calls = try f.int64s("calls")
            // Per (bucket, key): the source side when the sender's host saw it, else the destination side.
            var chosen: [Key: (row: Int, source: Bool)] = [:]
            for r in 0..<f.rows {
                let k = Key(bucket: bucket[r], srcDC: srcDC[r], dstDC: dstDC[r], src: src[r], dst: dst[r], l4: l4[r])
                let isSource = observer[r] == "source"
                if let c = chosen[k], c.source || !isSource { continue }
                chosen[k] = (r, isSource)
            }
            for r in chosen.values.map(\.row).sorted() {
                let t = Traffic(bytes: bytes[r], calls: calls[r])
                cells[srcDC[r], default: [:]][dstDC[r], default: Traffic()].add(t)
                pairs[PairKey(srcDC: srcDC[r], dstDC: dstDC[r], src: src[r], dst: dst[r]), default: Traffic()].add(t)
                if let slots, calls[r] > 0, let s = slots.slot(bucket[r]) {
                    var series = served[dst[r]] ?? Array(repeating: [:], count: slots.count)
                    series[s][dstDC[r], default: 0] += calls[r]
                    served[dst[r]] = series
                }
            }
        }
        var out = TrafficResult()
        out.matrix = DCMatrix(cells)
        out.pairs = pairs.map { ServicePair(srcDC: $0.key.srcDC, dstDC: $0.key.dstDC, srcService: $0.key.src,
                                            dstService: $0.key.dst, traffic: $0.value) }
            .sorted { a, b in
                a.traffic.bytes != b.traffic.bytes ? a.traffic.bytes > b.traffic.bytes
                    : (a.srcDC, a.dstDC, a.srcService, a.dstService) < (b.srcDC, b.dstDC, b.srcService, b.dstService)
            }
        out.shares = served.map { svc, series in
            ServiceShares(service: svc, calls: series, total: series.reduce(0) { $0 + $1.values.reduce(0, +) })
        }.sorted { a, b in a.total != b.total ? a.total > b.total : dcOrder(a.service, b.service) }
        return out
    }

    /// red_service → per service (protocols merged, one observer) totals and slots; also the
    /// finest histogram scale seen (for the quantile error the page states).
    func serviceRED(_ paths: [String], slots: Slots,
                    track: (TableFile, String) throws(ReportError) -> Void) throws(ReportError) -> ([ServiceRED], Int) {
        struct Acc { var protocols = Set<String>(); var total: REDFigures; var slots: [REDFigures?] }
        var byObserver: [String: [String: Acc]] = ["server": [:], "client": [:]]
        var coarsest = ExponentialHistogram.defaultScale
        for path in paths {
            let f = try TableFile(path: path)
            try track(f, "red_service")
            guard f.rows > 0 else { continue }
            let bucket = try f.int64s("bucket_start"), service = try f.strings("service")
            let proto = try f.strings("protocol"), observer = try f.strings("observer")
            let m = try REDColumns(f)
            for r in 0..<f.rows where observer[r] == "server" || observer[r] == "client" {
                let h = try m.histogram(r)
                coarsest = min(coarsest, h.scale)
                var a = byObserver[observer[r]]![service[r]]
                    ?? Acc(total: REDFigures(scale: h.scale), slots: Array(repeating: nil, count: slots.count))
                a.protocols.insert(proto[r])
                a.total.add(requests: m.requests[r], errors: m.errors[r], latency: h, completeness: m.completeness[r])
                if let s = slots.slot(bucket[r]) {
                    var fig = a.slots[s] ?? REDFigures(scale: h.scale)
                    fig.add(requests: m.requests[r], errors: m.errors[r], latency: h, completeness: m.completeness[r])
                    a.slots[s] = fig
                }
                byObserver[observer[r]]![service[r]] = a
            }
        }
        var out: [ServiceRED] = []
        let names = Set(byObserver["server"]!.keys).union(byObserver["client"]!.keys)
        for name in names {
            let observer = byObserver["server"]![name] != nil ? "server" : "client"
            let a = byObserver[observer]![name]!
            out.append(ServiceRED(service: name, protocols: a.protocols.sorted(), observer: observer, total: a.total, slots: a.slots))
        }
        out.sort { a, b in a.total.requests != b.total.requests ? a.total.requests > b.total.requests : dcOrder(a.service, b.service) }
        return (out, coarsest)
    }

    /// red_edge → nodes (service in datacenter) and edges (protocols merged, one observer per edge).
    func topology(_ paths: [String], track: (TableFile, String) throws(ReportError) -> Void) throws(ReportError)
        -> ([TopologyNode], [TopologyEdge]) {
        struct Key: Hashable { var caller, callee: TopologyNode }
        var byObserver: [String: [Key: REDFigures]] = ["server": [:], "client": [:]]
        for path in paths {
            let f = try TableFile(path: path)
            try track(f, "red_edge")
            guard f.rows > 0 else { continue }
            let caller = try f.strings("caller"), callee = try f.strings("callee")
            let callerDC = try f.strings("caller_dc"), calleeDC = try f.strings("callee_dc"), observer = try f.strings("observer")
            let m = try REDColumns(f)
            for r in 0..<f.rows where observer[r] == "server" || observer[r] == "client" {
                let h = try m.histogram(r)
                let k = Key(caller: TopologyNode(dc: callerDC[r], service: caller[r]), callee: TopologyNode(dc: calleeDC[r], service: callee[r]))
                var fig = byObserver[observer[r]]![k] ?? REDFigures(scale: h.scale)
                fig.add(requests: m.requests[r], errors: m.errors[r], latency: h, completeness: m.completeness[r])
                byObserver[observer[r]]![k] = fig
            }
        }
        var edges: [TopologyEdge] = []
        for k in Set(byObserver["server"]!.keys).union(byObserver["client"]!.keys) {
            let observer = byObserver["server"]![k] != nil ? "server" : "client"
            edges.append(TopologyEdge(caller: k.caller, callee: k.callee, observer: observer, figures: byObserver[observer]![k]!))
        }
        edges.sort { a, b in a.caller != b.caller ? a.caller < b.caller : a.callee < b.callee }
        let nodes = Set(edges.flatMap { [$0.caller, $0.callee] }).sorted()
        return (nodes, edges)
    }

    func tcpHealth(_ paths: [String], track: (TableFile, String) throws(ReportError) -> Void) throws(ReportError) -> [HealthRow] {
        struct Key: Hashable { var service, peer: String }
        var rows: [Key: HealthRow] = [:]
        for path in paths {
            let f = try TableFile(path: path)
            try track(f, "tcp_health")
            guard f.rows > 0 else { continue }
            let service = try f.strings("service"), peer = try f.strings("peer_service")
            let retx = try f.int64s("retransmits"), rs = try f.int64s("resets_sent"), rr = try f.int64s("resets_received")
            let drops = try f.int64s("drops"), missing = try f.int64s("id_option_missing")
            for r in 0..<f.rows {
                let k = Key(service: service[r], peer: peer[r])
                var h = rows[k] ?? HealthRow(service: k.service, peer: k.peer)
                h.retransmits += retx[r]; h.resetsSent += rs[r]; h.resetsReceived += rr[r]
                h.drops += drops[r]; h.idOptionMissing += missing[r]
                rows[k] = h
            }
        }
        return rows.values.sorted { a, b in
            a.trouble != b.trouble ? a.trouble > b.trouble
                : (a.service != b.service ? dcOrder(a.service, b.service) : dcOrder(a.peer, b.peer))
        }
    }

    func dropReasons(_ paths: [String], track: (TableFile, String) throws(ReportError) -> Void) throws(ReportError) -> [DropReasonRow] {
        struct Key: Hashable { var reason: String; var code: Int32 }
        var drops: [Key: Int64] = [:]
        for path in paths {
            let f = try TableFile(path: path)
            try track(f, "tcp_drops")
            guard f.rows > 0 else { continue }
            let reason = try f.strings("reason"), code = try f.int32s("reason_code"), n = try f.int64s("drops")
            for r in 0..<f.rows { drops[Key(reason: reason[r], code: code[r]), default: 0] += n[r] }
        }
        return drops.map { DropReasonRow(reason: $0.key.reason, code: $0.key.code, drops: $0.value) }
            .sorted { a, b in a.drops != b.drops ? a.drops > b.drops : (a.code, a.reason) < (b.code, b.reason) }
    }

    /// `anomaly_candidates` of the selected hours (and of the day, for a daily report): nil when
    /// no partition has the table; the columns it needs are documented on `AnomalyRow`.
    func anomalyCandidates(_ hours: [Partition]) throws(ReportError) -> ([AnomalyRow]?, String?) {
        var parts = hours
        if let d = selection.day { parts.insert(d, at: 0) }
        let paths = parts.flatMap { files(Self.anomalyTable, $0) }
        guard !paths.isEmpty else { return (nil, nil) }
        var rows: [AnomalyRow] = []
        for path in paths {
            let f = try TableFile(path: path)
            let missing = AnomalyRow.requiredColumns.filter { !f.has($0) }
            guard missing.isEmpty else {
                return ([], "\(path) lacks the column\(missing.count == 1 ? "" : "s") \(missing.joined(separator: ", ")) the report needs")
            }
            guard f.rows > 0 else { continue }
            let bucket = try f.int64s("bucket_start"), service = try f.strings("service"), metric = try f.strings("metric")
            let score = try f.doubles("score"), evidence = try f.strings("evidence"), rank = try f.int32s("rank")
            for r in 0..<f.rows where bucket[r] >= selection.startNanos && bucket[r] < selection.endNanos {
                rows.append(AnomalyRow(bucketStart: bucket[r], rank: rank[r], service: service[r], metric: metric[r],
                                       score: score[r], evidence: evidence[r]))
            }
        }
        // The table's ranking, not the score: a cause can score lower than the symptom it explains
        // (schemas/tables/anomaly_candidates.md). Over several hours each hour's rank 1 comes first.
        rows.sort { a, b in
            a.rank != b.rank ? a.rank < b.rank
                : (a.bucketStart, a.service, a.metric, a.evidence) < (b.bucketStart, b.service, b.metric, b.evidence)
        }
        return (rows, nil)
    }
}
