import CRedlineABI
import Foundation
import Logging
import Parquet
@testable import Pipeline
import DevSupport
import RedlineBase
import Segments
import Testing

/// red_route and dns_names under hostile input, through the whole hourly pipeline: a scan of
/// 10 000 distinct paths, cut paths, bytes that are not text, oversized and garbage DNS names.
/// The tables stay bounded (at most `route_cap` names per owner plus the placeholders) and
/// lose nothing: every call is in some row, the folded ones in `{other}`.
@Suite("red_route and dns_names: bounded and lossless on hostile prefixes")
struct L7TablesTests {
    static let offset: Int64 = 1_767_000_000_000_000_000
    static let minute: Int64 = 1_767_225_600_000_000_000 // 2026-01-01T00:00:00Z
    static let partition = Partition("date=2026-01-01/hour=00")!

    static func mono(_ utc: Int64) -> UInt64 { UInt64(utc - offset) }

    /// Raw bytes into a char array field, NUL-padded, cut to fit.
    static func setBytes<A>(_ field: inout A, _ bytes: [UInt8]) {
        withUnsafeMutableBytes(of: &field) { b in
            for i in b.indices { b[i] = i < min(bytes.count, b.count - 1) ? bytes[i] : 0 }
        }
    }

    static func call(_ i: Int, proto: rl_l7_protocol, side: rl_side, route: [UInt8], host: [UInt8], truncated: Bool = false,
                     status: UInt16 = 200) -> (call: rl_l7_call, detail: rl_call_detail) {
        var c = rl_l7_call()
        c.start_ns = mono(minute + Int64(i) * 1_000_000)
        c.duration_ns = 500_000
        c.cgroup_id = 1000
        SyntheticSegments.setAddress(&c.laddr, (198, 18, 1, 10))
        SyntheticSegments.setAddress(&c.raddr, (198, 18, 1, 20))
        c.lport = proto == RL_L7_DNS ? 40000 : 80
        c.rport = proto == RL_L7_DNS ? 53 : 40000
        c.family = UInt8(RL_FAMILY_INET.rawValue)
        c.l4_proto = proto == RL_L7_DNS ? 17 : 6
        c.l7_proto = UInt8(proto.rawValue)
        c.side = UInt8(side.rawValue)
        c.status_code = status
        c.status_class = UInt8(RL_STATUS_OK.rawValue)
        c.flags = UInt8(RL_CALL_PREFIX_CAPTURED.rawValue) | (truncated ? UInt8(RL_CALL_TRUNCATED.rawValue) : 0)
        c.req_rule = 1
        c.local_service = 10
        var d = rl_call_detail()
        setBytes(&d.route, route)
        setBytes(&d.host, host)
        return (c, d)
    }

    /// Sums `requests` of a written table by the named string columns joined with "|".
    static func rows(_ dir: String, _ table: String, _ keys: [String]) throws -> [String: Int64] {
        let r = try ParquetFileReader(path: "\(dir)/out/\(table)/\(partition.path)/part-00000.parquet")
        let cols = try r.readAll(), names = r.schema.fields.map(\.name)
        let keyCols: [ByteArrays] = keys.map { k in
            if case .byteArray(let b) = cols[names.firstIndex(of: k)!].values { b } else { ByteArrays() }
        }
        guard case .int64(let req) = cols[names.firstIndex(of: "requests")!].values else { return [:] }
        var out: [String: Int64] = [:]
        for i in req.indices { out[keyCols.map { $0.string(i) }.joined(separator: "|"), default: 0] += req[i] }
        return out
    }

    @Test("10 000 distinct routes, cut and non-text paths, garbage DNS names: at most route_cap names per owner, every call counted")
    func hostileNamesStayBounded() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("redline-l7-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var rng = SystemRandomNumberGenerator()
        var calls: [(call: rl_l7_call, detail: rl_call_detail)] = []
        // Ten real routes, 50 calls each, with ids in them.
        for r in 0..<10 { for k in 0..<50 { calls.append(Self.call(calls.count, proto: RL_L7_HTTP1, side: RL_SIDE_SERVER,
                                                                   route: Array("/api/r\(r)x/\(k)".utf8), host: Array("API.lab:8080".utf8))) } }
        // Before the scan (a service tracks at most 8 × route_cap names; later ones go straight to
        // {other}, schemas/tables/red_route.md): a path cut by the record, bytes that are not text (invalid UTF-8), a Host of garbage.
        for _ in 0..<5 {
            calls.append(Self.call(calls.count, proto: RL_L7_HTTP1, side: RL_SIDE_SERVER,
                                   route: Array(("/files/" + String(repeating: "a", count: 90)).utf8), host: Array("api.lab".utf8), truncated: true))
        }
        calls.append(Self.call(calls.count, proto: RL_L7_HTTP1, side: RL_SIDE_SERVER, route: [0x2F, 0xC3, 0x28, 0xFF], host: [0xFE, 0xFF]))
        // A scan: 10 000 distinct paths of letters (templating keeps them all), one call each.
        for _ in 0..<10_000 {
            let word = (0..<14).map { _ in UInt8.random(in: 97...122, using: &rng) }
            calls.append(Self.call(calls.count, proto: RL_L7_HTTP1, side: RL_SIDE_SERVER, route: Array("/".utf8) + word,
                                   host: Array("api.lab".utf8)))
        }
        // DNS: 300 distinct names, one oversized, one of non-text bytes, NXDOMAINs.
        for i in 0..<300 {
            calls.append(Self.call(calls.count, proto: RL_L7_DNS, side: RL_SIDE_CLIENT, route: Array("n\(i).svc.lab".utf8),
                                   host: Array("A".utf8), status: i % 3 == 0 ? 3 : 0))
        }
        calls.append(Self.call(calls.count, proto: RL_L7_DNS, side: RL_SIDE_CLIENT,
                               route: Array(String(repeating: "x", count: 200).utf8), host: Array("AAAA".utf8), status: 0))
        calls.append(Self.call(calls.count, proto: RL_L7_DNS, side: RL_SIDE_CLIENT, route: [0x80, 0x81], host: [], status: 0))

        var options = WriterOptions()
        options.durable = false
        let header = SegmentHeader(hostID: "h1", bootID: BootID(uuidString: "5eed0000-0000-4000-8000-000000000014")!,
                                   windowStartNs: Self.minute, windowEndNs: Self.minute + 60_000_000_000,
                                   openedMonotonicNs: Self.mono(Self.minute))
        let w = try SegmentWriter(root: dir + "/segments", header: header, sequence: 0, options: options)
        func anchor(_ utc: Int64) -> rl_clock_anchor {
            rl_clock_anchor(realtime_ns: utc, monotonic_ns: Self.mono(utc), boottime_ns: Self.mono(utc), uncertainty_ns: 100,
                            samples: 7, reason: RL_ANCHOR_PERIODIC.rawValue)
        }
        try w.append(anchor(Self.minute))
        var g = rl_cgroup_mapping()
        g.ts_ns = Self.mono(Self.minute)
        g.cgroup_id = 1000
        g.service_id = 10
        try w.append(g)
        for c in calls { try w.append(call: c.call, detail: c.detail) }
        try w.append(anchor(Self.minute + 60_000_000_000))
        try w.seal()

        let spec = try PipelineSpec.load(path: packageRoot.appendingPathComponent("pipelines/hourly.yaml").path)
        let cap = try #require(spec.aggregate?.routeCap)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        _ = try HourlyRun(spec: spec, segmentRoot: dir + "/segments", metadataDir: packageRoot.appendingPathComponent("tools/lab/samples/metadata").path,
                          tableRoot: dir + "/out", partition: Self.partition, ifChanged: false, logger: logger).execute()

        let http = calls.filter { $0.call.l7_proto == UInt8(RL_L7_HTTP1.rawValue) }.count
        let routes = try Self.rows(dir, "red_route", ["protocol", "domain", "route"]).filter { $0.key.hasPrefix("http1|") }
        #expect(routes.values.reduce(0, +) == Int64(http), "every HTTP call is in some red_route row")
        // The cap's names, {other}, and the rejects (pairs of placeholders only, never folded).
        let rejects = routes.keys.filter { $0.split(separator: "|").dropFirst().allSatisfy { $0.hasPrefix("{") && $0.hasSuffix("}") } }
        #expect(routes.count <= cap + 1 + rejects.count && rejects.count <= 4,
                "\(routes.count) (domain, route) pairs for one service, cap \(cap), rejects \(rejects)")
        for r in 0..<10 { #expect(routes["http1|api.lab|/api/r\(r)x/{id}"] == 50, "the busy routes survive the scan, templated") }
        #expect(routes["http1|{other}|{other}"] ?? 0 >= 10_000 - Int64(cap), "the scan's paths are folded into {other} and counted")
        #expect(routes["http1|{invalid}|{invalid}"] == 1)
        #expect(routes["http1|api.lab|/files/{truncated}"] == 5)

        let dnsCalls = calls.count - http
        let names = try Self.rows(dir, "dns_names", ["query_name", "query_type", "response_code"])
        #expect(names.values.reduce(0, +) == Int64(dnsCalls), "every DNS query is in some dns_names row")
        #expect(Set(names.keys.map { $0.split(separator: "|", omittingEmptySubsequences: false)[0] }).count <= cap + 1 + 2)
        #expect(names.keys.contains { $0.hasSuffix("|NXDOMAIN") } && names.keys.contains { $0.hasSuffix("|NOERROR") })
        #expect(names["{invalid}|{none}|NOERROR"] == 1, "a name of non-text bytes is a counted reject: \(names.keys.filter { $0.hasPrefix("{") })")
        #expect(names.keys.contains { $0.hasPrefix("xxxxxxxx") } || names["{other}|A|NOERROR"] != nil, "the 79-byte name is kept or folded, never lost")
    }
}
