import Foundation
import Parquet
import Testing
import TestSupport

/// Issue 14 on real traffic: the lab's chained services forward W3C trace context (one legacy
/// service drops it) and log every request they handle with the chain it made
/// (OUT/ground-truth/chains.jsonl); the hourly pipeline's call_chains, chain_paths and red_route
/// are compared with that record.
///
/// The fleet is tools/lab/topologies/eval.json: 11 services over 2 datacenters and 4 hosts, call
/// depth 6, two callers of one Redis, a cross-datacenter callee, payment the legacy hop, and no
/// caller on its callee's host (the lab's collectors watch each host's eth0; calls between two
/// pods of one host would cross lo unobserved).
@Suite("Call chains in the namespace lab (root, BPF, netns)", .serialized, .requiresNetnsLab)
struct ChainsLabTests {
    typealias Lab = CollectorLabTests

    /// One line of chains.jsonl.
    struct ChainRecord: Decodable {
        struct Callee: Decodable { var service: String; var kind: String; var traceparent: String? }
        var service: String
        var trace_id: String
        var span_id: String
        var parent_span_id: String?
        var callees: [Callee]
    }

    /// A hop as both sides describe it: caller, callee, depth in its chain.
    struct Hop: Hashable, CustomStringConvertible {
        var caller, callee: String
        var depth: Int
        var description: String { "\(caller)>\(callee)@\(depth)" }
    }

    /// The string column `name` of a Parquet file, nil for null values.
    static func strings(_ cols: [ColumnData], _ names: [String], _ name: String) throws -> [String?] {
        let c = cols[names.firstIndex(of: name)!]
        guard case .byteArray(let b) = c.values else { throw TestSupportError("\(name) is not a string column") }
        guard let valid = c.validity else { return b.strings }
        var next = 0
        return valid.map { ok in
            guard ok else { return nil }
            defer { next += 1 }
            return b.string(next)
        }
    }

    static func ints(_ cols: [ColumnData], _ names: [String], _ name: String) throws -> [Int?] {
        let c = cols[names.firstIndex(of: name)!]
        let values: [Int]
        switch c.values {
        case .int32(let v): values = v.map(Int.init)
        case .int64(let v): values = v.map(Int.init)
        default: throw TestSupportError("\(name) is not an integer column")
        }
        guard let valid = c.validity else { return values }
        var next = 0
        return valid.map { ok in
            guard ok else { return nil }
            defer { next += 1 }
            return values[next]
        }
    }

    @Test("rootBPF netns lab: chains assembled by trace id equal the services' own chain log (≥ 99 % of traces whole), the legacy hop's break is reported and never bridged, route counts equal the callers' within 0.5 %")
    func chainsMatchTheServicesRecord() throws {
        let dir = try makeScratchDirectory("redline-chains").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let redline = try builtProduct("redline")
        // Its own lab id: suites run in parallel, and CollectorLabTests' runs use tc1 (tc2, tb1 are taken too).
        _ = try shell([Prerequisites.packageRoot + "/tools/lab/lab", "down", "--id", "tk1"], allowFailure: true)
        _ = try shell([Prerequisites.packageRoot + "/tools/lab/lab", "run", "--id", "tk1", "--topology", Prerequisites.packageRoot + "/tools/lab/topologies/eval.json",
                    "--duration", "15",
                    "--out", dir, "--redline", redline])
        let partitions = try Lab.pipeline(dir, redline: redline)

        // The truth: per trace id, the HTTP hops that carried it (Redis calls never carry one,
        // payment's calls neither) with their depth, following parent span ids.
        let records = try String(contentsOfFile: dir + "/ground-truth/chains.jsonl", encoding: .utf8)
            .split(separator: "\n").map { try JSONDecoder().decode(ChainRecord.self, from: Data($0.utf8)) }
        let bySpan = Dictionary(records.map { ("\($0.trace_id)/\($0.span_id)", $0) }, uniquingKeysWith: { a, _ in a })
        func depth(_ r: ChainRecord) -> Int {
            var d = 1, r = r
            while let p = r.parent_span_id, let up = bySpan["\(r.trace_id)/\(p)"], d < 64 { r = up; d += 1 }
            return d
        }
        var truth: [String: [Hop: Int]] = [:]
        var entries: [String: Int] = [:]  // per entry service: traces with a traced hop
        for r in records where r.parent_span_id == nil && r.callees.contains(where: { $0.kind != "redis" && $0.traceparent != nil }) {
            entries[r.service, default: 0] += 1
        }
        var calls: [String: Int] = [:]  // per callee: calls its callers made
        var legacyCalls = 0
        for r in records {
            for c in r.callees {
                calls[c.service, default: 0] += 1
                if r.service == "payment" && c.service == "ledger" { legacyCalls += 1 }
                guard c.kind != "redis", c.traceparent != nil else { continue }
                truth[r.trace_id, default: [:]][Hop(caller: r.service, callee: c.service, depth: depth(r)), default: 0] += 1
            }
        }
        #expect(legacyCalls > 100, "the load made too few legacy calls to judge: \(legacyCalls)")

        // What the pipeline assembled, in every hour the run fell in (a trace cut by the hour
        // boundary is joined in each hour's part; together the parts are the trace).
        var assembled: [String: [Hop: Int]] = [:]
        var bridged = 0, untracedLegacy = 0
        for p in partitions {
            let reader = try ParquetFileReader(path: "\(dir)/tables/call_chains/\(p)/part-00000.parquet")
            let cols = try reader.readAll(), names = reader.schema.fields.map(\.name)
            let traces = try Self.strings(cols, names, "trace_id"), callers = try Self.strings(cols, names, "caller")
            let callees = try Self.strings(cols, names, "callee"), depths = try Self.ints(cols, names, "depth")
            guard case .boolean(let missing) = cols[names.firstIndex(of: "trace_missing")!].values else {
                throw TestSupportError("trace_missing is not boolean")
            }
            for i in traces.indices {
                let hop = Hop(caller: callers[i] ?? "", callee: callees[i] ?? "", depth: depths[i] ?? 0)
                if let t = traces[i] {
                    assembled[t, default: [:]][hop, default: 0] += 1
                    if hop.caller == "payment" && hop.callee == "ledger" { bridged += 1 }
                } else {
                    #expect(missing[i])
                    if hop.caller == "payment" && hop.callee == "ledger" { untracedLegacy += 1 }
                }
            }
        }
        let whole = truth.filter { assembled[$0.key] == $0.value }.count
        let share = Double(whole) / Double(max(truth.count, 1))
        let broken = truth.filter { assembled[$0.key] != $0.value }.prefix(3)
            .map { "\($0.key): truth \($0.value) assembled \(assembled[$0.key] ?? [:])" }
        #expect(truth.count > 300 && share >= 0.99, "\(whole) of \(truth.count) traces assembled whole: \(broken)")
        #expect(Set(assembled.keys).isSubset(of: Set(truth.keys)), "assembled traces the services never made")
        // The legacy hop: reported as untraced calls, never linked into a chain.
        #expect(bridged == 0, "payment -> ledger linked into a chain \(bridged) times")
        func within(_ observed: Int, _ expected: Int, _ what: String) {
            #expect(expected > 0 && abs(Double(observed - expected)) / Double(expected) <= 0.005,
                    "\(what): tables \(observed), services \(expected)")
        }
        within(untracedLegacy, legacyCalls, "call_chains untraced payment -> ledger")
        let paths = try Lab.sums(dir, "chain_paths", partitions, by: ["entry_service", "path"], of: "chains")
        within(Int(paths["payment/payment>ledger"] ?? 0), legacyCalls, "chain_paths untraced payment>ledger")
        #expect(!paths.keys.contains { $0.contains("payment>ledger") && !$0.hasPrefix("payment/") },
                "a traced path runs through the legacy hop: \(paths.keys.sorted())")
        // Every entry of a trace (wrk's targets, and services called without trace context) heads as
        // many assembled chains as it started traces.
        #expect(entries.count >= 2, "entries: \(entries)")
        for (service, n) in entries {
            let chains = paths.filter { $0.key.hasPrefix("\(service)/\(service)>") }.values.reduce(0, +)
            within(Int(chains), n, "chains entered at \(service)")
        }

        // Routes: the callee's own view (observer server) against what its callers sent.
        let routes = try Lab.sums(dir, "red_route", partitions, by: ["service", "route", "observer"], of: "requests")
        let wrk = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/ground-truth/truth.json"))) as! [String: Any]
        func entry(_ s: String) -> Int { ((wrk[s] as? [String: Any])?["requests"] as? NSNumber)?.intValue ?? 0 }
        func inFlight(_ s: String) -> Double { ((wrk[s] as? [String: Any])?["client"] as? String == "wrk" ? ((wrk[s] as? [String: Any])?["connections"] as? NSNumber)?.doubleValue : nil) ?? 0 }
        struct Topology: Decodable { struct Service: Decodable { var name, kind: String; var path: String? }; var services: [Service] }
        let fleet = try JSONDecoder().decode(Topology.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/ground-truth/topology.json")))
        var checked = 0
        for svc in fleet.services where svc.kind != "redis" {
            // What callers request: an http service at its path, nginx at /items (tools/lab/README.md).
            let route = svc.kind == "nginx" ? "/items" : svc.path ?? "/"
            // wrk's count stops at its deadline: its connections' last requests may be served
            // (and observed) uncounted, so an entry service may show up to that many more.
            let observed = Double(routes["\(svc.name)/\(route)/server"] ?? 0), expected = Double((calls[svc.name] ?? 0) + entry(svc.name))
            #expect(Lab.withinClientCut(observed, expected, inFlight: inFlight(svc.name)),
                    "red_route \(svc.name) \(route): tables \(observed), callers \(expected), at most \(inFlight(svc.name)) more in flight at wrk's stop")
            checked += 1
        }
        #expect(checked >= 9)
    }
}
