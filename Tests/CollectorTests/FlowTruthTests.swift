import CRedlineABI
import Foundation
import Parquet
import Segments
import Testing
import TestSupport

/// Bytes and drops as the network sees them, against the lab's own truth: the inter-DC
/// link's interface counters (`ip -s -j link` on the routers, before and after), the bytes
/// each transfer sent (curl), and the drop fault's own count. Real nginx and curl across the
/// two datacenters; the collectors and the hourly pipeline as shipped.
///
/// `traffic_matrix.bytes` is L3 (schemas/tables/traffic_matrix.md): the router's veth counts
/// each packet with its 14-byte Ethernet header, so the comparison subtracts 14 × packets.
@Suite("Flow truth in the namespace lab: link bytes, drops by class, orientation (root, BPF, netns)", .serialized, .requiresNetnsLab)
struct FlowTruthTests {
    static let id = "tb1"
    static let transferBytes = 8_000_000

    /// A fleet with collectors on every host, `body` run while they collect, then the hourly
    /// pipeline over every partition the segments fall in. Returns the run's folder, holding
    /// `segments/`, `tables/` and what `body` wrote.
    static func collect(gsoMaxSegs: Int? = nil, _ body: (_ dir: String) throws -> Void) throws -> String {
        let dir = try makeScratchDirectory("redline-lab").path
        let redline = try builtProduct("redline")
        let lab = Prerequisites.packageRoot + "/tools/lab/lab"
        try shell([lab, "down", "--id", id], allowFailure: true)
        try shell([lab, "up", "--id", id, "--bytes", String(transferBytes)] + (gsoMaxSegs.map { ["--gso-max-segs", String($0)] } ?? []))
        defer { _ = try? shell([lab, "down", "--id", id], allowFailure: true) }
        try shell([lab, "metadata", "--id", id, "--out", dir + "/metadata"])
        try shell([lab, "collect-start", "--id", id, "--segments", dir + "/segments", "--redline", redline])
        do {
            try body(dir)
        } catch {
            try? shell([lab, "collect-stop", "--id", id], allowFailure: true)
            throw error
        }
        try shell([lab, "collect-stop", "--id", id])
        let found = try shell(["find", dir + "/segments", "-name", "*.rls"]).output
        let partitions = Set(found.split(separator: "\n").compactMap { line in
            line.range(of: #"date=\d{4}-\d{2}-\d{2}/hour=\d{2}"#, options: .regularExpression).map { String(line[$0]) }
        })
        #expect(!partitions.isEmpty, "the collectors wrote segments")
        for p in partitions.sorted() {
            try shell([redline, "run", Prerequisites.packageRoot + "/pipelines/hourly.yaml", "--partition", p, "--segments", dir + "/segments",
                        "--metadata", dir + "/metadata", "--out", dir + "/tables", "--quiet"])
        }
        return dir
    }

    /// Every row of a merged table (all partitions), string and int64 columns by name; a null is absent.
    static func rows(_ table: String, in dir: String) throws -> [[String: Any]] {
        var out: [[String: Any]] = []
        let root = dir + "/tables/" + table
        guard let e = FileManager.default.enumerator(atPath: root) else { return [] }
        for case let p as String in e where p.hasSuffix(".parquet") {
            let r = try ParquetFileReader(path: root + "/" + p)
            let columns = try r.readAll()
            let n = columns.first?.rowCount ?? 0
            var part = [[String: Any]](repeating: [:], count: n)
            for (field, c) in zip(r.schema.fields, columns) {
                let valid = c.validity ?? [Bool](repeating: true, count: n)
                var next = 0
                for row in 0..<n where valid[row] {
                    switch c.values {
                    case .int64(let v): part[row][field.name] = v[next]
                    case .int32(let v): part[row][field.name] = Int64(v[next])
                    case .byteArray(let b): part[row][field.name] = b.string(next)
                    default: break
                    }
                    next += 1
                }
            }
            out += part
        }
        return out
    }

    static func sum(_ rows: [[String: Any]], _ column: String, where match: ([String: Any]) -> Bool) -> Int64 {
        rows.filter(match).reduce(0) { $0 + (($1[column] as? Int64) ?? 0) }
    }

    struct LinkTruth: Decodable {
        struct Counters: Decodable { var bytes: Int64, packets: Int64 }
        var dc1_to_dc2: Counters
        var dc2_to_dc1: Counters
        var download_bytes: Int64
        var upload_bytes: Int64
    }

    @Test("rootBPF netns lab: cross-DC traffic_matrix bytes and packets equal the router link's counters within 0.5 % both ways, default offloads and gso_max_segs 1",
          arguments: [nil, 1] as [Int?])
    func linkBytesMatchTheRouter(gsoMaxSegs: Int?) throws {
        let dir = try Self.collect(gsoMaxSegs: gsoMaxSegs) { dir in
            try shell([Prerequisites.packageRoot + "/tools/lab/lab", "transfer", "--id", Self.id, "--out", dir, "--bytes", String(Self.transferBytes),
                        "--connections", "0"])
        }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let truth = try JSONDecoder().decode(LinkTruth.self, from: Data(contentsOf: URL(fileURLWithPath: dir + "/links.json")))
        #expect(truth.download_bytes == Int64(Self.transferBytes) && truth.upload_bytes == Int64(Self.transferBytes))
        let traffic = try Self.rows("traffic_matrix", in: dir)
        let mode = gsoMaxSegs.map { "gso_max_segs \($0)" } ?? "default offloads"
        for (src, dst, link) in [("dc1", "dc2", truth.dc1_to_dc2), ("dc2", "dc1", truth.dc2_to_dc1)] {
            // The link's L3 bytes: its counter less the Ethernet header of every packet.
            let l3 = link.bytes - 14 * link.packets
            #expect(link.packets > Int64(Self.transferBytes / 1500) / 2, "\(src)→\(dst): the link carried the transfer")
            for observer in ["source", "destination"] {
                let row = { (r: [String: Any]) in
                    r["src_dc"] as? String == src && r["dst_dc"] as? String == dst && r["observer"] as? String == observer
                }
                let bytes = Self.sum(traffic, "bytes", where: row), packets = Self.sum(traffic, "packets", where: row)
                let payload = Self.sum(traffic, "payload_bytes", where: row)
                #expect(abs(Double(bytes - l3)) / Double(l3) <= 0.005,
                        "\(mode), \(src)→\(dst) seen by the \(observer): traffic_matrix \(bytes) B, router link \(l3) B (L3)")
                #expect(abs(Double(packets - link.packets)) / Double(link.packets) <= 0.005,
                        "\(mode), \(src)→\(dst) seen by the \(observer): traffic_matrix \(packets) packets, router link \(link.packets)")
                // Payload: the transfer itself, plus HTTP headers and retransmitted data (counted
                // again, as the link carried it again).
                #expect(payload >= Int64(Self.transferBytes) && payload <= Int64(Self.transferBytes) * 105 / 100,
                        "\(mode), \(src)→\(dst) seen by the \(observer): payload \(payload) B for a \(Self.transferBytes)-byte transfer")
                #expect(payload < bytes)
            }
        }
    }

    @Test("rootBPF netns lab: 1000 short connections without loss report no network drop; the teardown purges are kept in their class")
    func shortConnectionsHaveNoNetworkDrops() throws {
        let connections = 1000
        let dir = try Self.collect { dir in
            try shell([Prerequisites.packageRoot + "/tools/lab/lab", "transfer", "--id", Self.id, "--out", dir, "--bytes", "0",
                        "--connections", String(connections)])
        }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let health = try Self.rows("tcp_health", in: dir)
        let drops = try Self.rows("tcp_drops", in: dir)
        let any: ([String: Any]) -> Bool = { _ in true }
        let teardown = Self.sum(health, "drops_teardown", where: any)
        print("1000 short connections: tcp_health drops \(Self.sum(health, "drops", where: any)), policy \(Self.sum(health, "drops_policy", where: any)), teardown \(teardown), other \(Self.sum(health, "drops_other", where: any)); tcp_drops \(drops.map { "\($0["reason"] ?? "")/\($0["drop_class"] ?? ""): \($0["drops"] ?? 0)" })")
        #expect(Self.sum(health, "drops", where: any) == 0, "tcp_health.drops counts network losses only")
        #expect(Self.sum(drops, "drops", where: { $0["drop_class"] as? String == "network" }) == 0,
                "no network-class row in tcp_drops: \(drops)")
        // The purges at close are there, in their own class, not discarded.
        #expect(teardown > 0 && teardown == Self.sum(drops, "drops", where: { $0["drop_class"] as? String == "teardown" }))
        // The connections really happened and were seen: one call each at the server.
        let calls = Self.sum(try Self.rows("red_service", in: dir), "requests", where: {
            $0["service"] as? String == "catalog" && $0["observer"] as? String == "server"
        })
        #expect(calls == Int64(connections))
    }

    @Test("rootBPF netns lab: the drop fault's drops are counted (class policy, tc_ingress) within 2 %, each on the host that dropped, local = that host")
    func injectedDropsCountedAndOriented() throws {
        let drop = Prerequisites.packageRoot + "/tools/lab/drop"
        // Drops at both ends of the same connections: nginx's host (h12, dc1) and curl's (h21, dc2).
        let ends = [("h12", "198.18.1."), ("h21", "198.18.2.")]
        var dropped: [String: Int64] = [:]
        let dir = try Self.collect { dir in
            for (host, _) in ends { try shell([drop, "attach", "rl\(Self.id)-\(host)", "eth0", "20"]) }
            try shell([Prerequisites.packageRoot + "/tools/lab/lab", "transfer", "--id", Self.id, "--out", dir, "--bytes", "2000000",
                        "--connections", "0"])
            for (host, _) in ends {
                let n = try shell([drop, "count", "rl\(Self.id)-\(host)", "eth0"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
                dropped[host] = Int64(n) ?? -1
                try shell([drop, "detach", "rl\(Self.id)-\(host)", "eth0"])
            }
        }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let drops = try Self.rows("tcp_drops", in: dir)
        // The kernel's code for tc_ingress, as the pipeline named it (codes differ across kernels).
        let tcIngress = drops.first { $0["reason"] as? String == "tc_ingress" }.flatMap { $0["reason_code"] as? Int64 }.map(Int32.init) ?? -1
        for (host, prefix) in ends {
            // Straight from the host's segments: every drop and TCP event has the host's own address as local.
            var tcDrops: Int64 = 0, events = 0
            let e = FileManager.default.enumerator(atPath: dir + "/segments/host=\(host)")!
            for case let p as String in e where p.hasSuffix(".rls") {
                let r = try SegmentReader(path: dir + "/segments/host=\(host)/" + p)
                while let b = try r.nextBlock() {
                    guard b.recordType == .tcpEvent else { continue }
                    _ = r.withRecords(as: rl_tcp_event.self) { records in
                        for t in records {
                            events += 1
                            let local = RecordJSON.address(t.laddr), remote = RecordJSON.address(t.raddr)
                            #expect(local.hasPrefix(prefix) && !remote.hasPrefix(prefix),
                                    "\(host): event kind \(t.kind) reason \(t.drop_reason) local \(local):\(t.lport) remote \(remote):\(t.rport)")
                            if t.kind == UInt8(RL_TCP_DROP.rawValue) && Int32(bitPattern: t.drop_reason) == tcIngress {
                                tcDrops += Int64(max(t.count, 1))
                            }
                        }
                    }
                }
            }
            let truth = dropped[host] ?? 0
            #expect(truth > 10, "\(host): the fault dropped \(truth) packets")
            #expect(events > 0)
            #expect(abs(Double(tcDrops - truth)) <= 0.02 * Double(truth), "\(host): \(tcDrops) tc_ingress drop events, the fault dropped \(truth)")
        }
        // In the tables: the same drops under class policy, none under network.
        let policy = Self.sum(drops, "drops", where: { $0["reason"] as? String == "tc_ingress" && $0["drop_class"] as? String == "policy" })
        let truth = dropped.values.reduce(0, +)
        #expect(abs(Double(policy - truth)) <= 0.02 * Double(truth), "tcp_drops tc_ingress/policy \(policy), fault dropped \(truth)")
        // None of the fault's drops is network loss. (Other drops may follow from the losses it
        // causes, e.g. TCP pruning out-of-order segments: those are network and stay countable.)
        #expect(Self.sum(drops, "drops", where: { $0["reason"] as? String == "tc_ingress" && $0["drop_class"] as? String != "policy" }) == 0,
                "the fault is a tc program on the host: policy, not network loss")
        let network = Self.sum(drops, "drops", where: { $0["drop_class"] as? String == "network" })
        #expect(Self.sum(try Self.rows("tcp_health", in: dir), "drops", where: { _ in true }) == network,
                "tcp_health.drops is exactly tcp_drops' network class")
    }
}
