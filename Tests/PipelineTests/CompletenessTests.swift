import CRedlineABI
import DevSupport
import Foundation
import Logging
import Parquet
@testable import Pipeline
import Segments
import Testing

/// Replays segments with known loss — a rate cap, a collector stall across a bucket edge, a stall
/// across an hour edge, losses without an owner, unpaired messages — and checks each row's
/// completeness against the truth the segments were written from: a row's
/// `requests / completeness` is what was offered, and rows that lost nothing say 1.0.
@Suite("Completeness by kind and by time")
struct CompletenessTests {
    /// One host serving http1 (service web, id 10, cgroup 1000) and redis (service redis, id 20,
    /// cgroup 2000), written second by second as its collector would: observed calls in the
    /// segment of their minute, each second's loss as one `rl_loss` record in the segment of the
    /// minute the collector got to write it (after a stall: when the stall ended).
    struct Host {
        static let web: UInt64 = 1000, redis: UInt64 = 2000
        /// Monotonic ns = UTC ns − this (a fixed clock; anchors say so).
        static let offset: Int64 = 1_767_000_000_000_000_000
        static let second: Int64 = 1_000_000_000

        /// Per UTC second (ns): calls offered and lost per service, and the loss records to write.
        struct Second {
            var httpOffered = 100, httpLost = 0
            var redisOffered = 1, redisUnpaired = 0
            /// Calls lost whose owner the kernel did not know (its map was full): cgroup 0.
            var ownerless = 0
            /// UTC ns at which the collector wrote this second's loss (default: the second's end).
            var writtenAt: Int64?
        }

        let root: String
        var seconds: [Int64: Second] = [:]

        static func mono(_ utc: Int64) -> UInt64 { UInt64(utc - offset) }

        func write(minutes: [Int64]) throws {
            var lossByMinute: [Int64: [rl_loss]] = [:]
            for (s, sec) in seconds {
                let written = sec.writtenAt ?? s + Self.second
                let minute = (written - 1) / (60 * Self.second) * (60 * Self.second)
                func loss(_ value: Int, cgroup: UInt64, reason: rl_stats_counter, l7: rl_l7_protocol, side: rl_side) {
                    guard value > 0 else { return }
                    lossByMinute[minute, default: []].append(rl_loss(
                        ts_ns: Self.mono(s + Self.second), interval_ns: UInt64(Self.second), cgroup_id: cgroup, value: UInt64(value),
                        reason: UInt8(reason.rawValue), record_type: UInt8(RL_REC_L7_CALL.rawValue), l7_proto: UInt8(l7.rawValue),
                        side: UInt8(side.rawValue), pad: 0))
                }
                loss(sec.httpLost, cgroup: Self.web, reason: RL_STAT_RINGBUF_DROPPED, l7: RL_L7_HTTP1, side: RL_SIDE_SERVER)
                loss(sec.redisUnpaired, cgroup: Self.redis, reason: RL_STAT_UNPAIRED_REQUEST, l7: RL_L7_REDIS, side: RL_SIDE_SERVER)
                loss(sec.ownerless, cgroup: 0, reason: RL_STAT_RINGBUF_DROPPED, l7: RL_L7_UNKNOWN, side: RL_SIDE_UNKNOWN)
            }
            var options = WriterOptions()
            options.durable = false
            for m in minutes {
                let header = SegmentHeader(hostID: "h1", bootID: BootID(uuidString: "5eed0000-0000-4000-8000-000000000001")!,
                                           windowStartNs: m, windowEndNs: m + 60 * Self.second, openedMonotonicNs: Self.mono(m))
                let w = try SegmentWriter(root: root, header: header, sequence: 0, options: options)
                try w.append(anchor(m))
                for (cg, id) in [(Self.web, UInt32(10)), (Self.redis, UInt32(20))] {
                    var g = rl_cgroup_mapping()
                    g.ts_ns = Self.mono(m)
                    g.cgroup_id = cg
                    g.service_id = id
                    try w.append(g)
                }
                for s in stride(from: m, to: m + 60 * Self.second, by: Int(Self.second)) {
                    let sec = seconds[s] ?? Second()
                    for i in 0..<(sec.httpOffered - sec.httpLost) {
                        try w.append(call(at: s + Int64(i) * 7_000_000, web: true))
                    }
                    for i in 0..<(sec.redisOffered - sec.redisUnpaired) {
                        try w.append(call(at: s + 500_000_000 + Int64(i) * 1_000_000, web: false))
                    }
                }
                for l in lossByMinute[m] ?? [] { try w.append(l) }
                try w.append(anchor(m + 60 * Self.second))
                try w.seal()
            }
        }

        func anchor(_ utc: Int64) -> rl_clock_anchor {
            rl_clock_anchor(realtime_ns: utc, monotonic_ns: Self.mono(utc), boottime_ns: Self.mono(utc), uncertainty_ns: 100,
                            samples: 7, reason: RL_ANCHOR_PERIODIC.rawValue)
        }

        func call(at utc: Int64, web: Bool) -> rl_l7_call {
            var c = rl_l7_call()
            c.start_ns = Self.mono(utc)
            c.duration_ns = 1_000_000
            c.cgroup_id = web ? Self.web : Self.redis
            SyntheticSegments.setAddress(&c.laddr, (198, 18, 1, 10))
            SyntheticSegments.setAddress(&c.raddr, (198, 18, 1, 20))
            c.lport = web ? 80 : 6379
            c.rport = 40000
            c.family = UInt8(RL_FAMILY_INET.rawValue)
            c.l4_proto = 6
            c.l7_proto = UInt8((web ? RL_L7_HTTP1 : RL_L7_REDIS).rawValue)
            c.side = UInt8(RL_SIDE_SERVER.rawValue)
            c.status_class = UInt8(RL_STATUS_OK.rawValue)
            c.local_service = web ? 10 : 20
            return c
        }
    }

    /// A red_service row as written.
    struct ServiceRow {
        var requests: Int64, observed: Int64, lost: Int64, shared: Int64, completeness: Double
    }

    /// Runs pipelines/hourly.yaml on `partition` and returns red_service rows by
    /// "HH:MM service/protocol/observer".
    static func run(_ dir: String, _ partition: Partition) throws -> [String: ServiceRow] {
        let spec = try PipelineSpec.load(path: packageRoot.appendingPathComponent("pipelines/hourly.yaml").path)
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let metadata = packageRoot.appendingPathComponent("tools/lab/samples/metadata").path
        _ = try HourlyRun(spec: spec, segmentRoot: dir + "/segments", metadataDir: metadata, tableRoot: dir + "/out",
                          partition: partition, ifChanged: false, logger: logger).execute()
        let r = try ParquetFileReader(path: "\(dir)/out/red_service/\(partition.path)/part-00000.parquet")
        let cols = try r.readAll()
        let names = r.schema.fields.map(\.name)
        func ints(_ n: String) -> [Int64] { if case .int64(let v) = cols[names.firstIndex(of: n)!].values { v } else { [] } }
        func strings(_ n: String) -> ByteArrays { if case .byteArray(let v) = cols[names.firstIndex(of: n)!].values { v } else { ByteArrays() } }
        guard case .double(let ratio) = cols[names.firstIndex(of: "completeness")!].values else { return [:] }
        let bucket = ints("bucket_start"), req = ints("requests"), obs = ints("events_observed"), lost = ints("events_lost")
        let shared = ints("events_lost_shared")
        let svc = strings("service"), proto = strings("protocol"), observer = strings("observer")
        var out: [String: ServiceRow] = [:]
        for i in 0..<bucket.count {
            let minute = (bucket[i] / 60_000_000_000) % 60, hour = (bucket[i] / 3_600_000_000_000) % 24
            let key = String(format: "%02d:%02d ", hour, minute) + "\(svc.string(i))/\(proto.string(i))/\(observer.string(i))"
            out[key] = ServiceRow(requests: req[i], observed: obs[i], lost: lost[i], shared: shared[i], completeness: ratio[i])
        }
        return out
    }

    static func scratch() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("redline-completeness-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/segments", withIntermediateDirectories: true)
        return dir
    }

    static let hour3: Int64 = 1_767_322_800_000_000_000  // 2026-01-02T03:00:00Z
    static func minute(_ m: Int64) -> Int64 { hour3 + m * 60_000_000_000 }

    @Test("a rate cap, a stall across a minute edge, ownerless loss and unpaired messages land on their own rows and minutes")
    func kindsAndMinutes() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var host = Host(root: dir + "/segments")
        let s = Host.second
        // 03:02 — a 30/s cap on a 100/s HTTP flood: 70 of every 100 lost, each second.
        for i in 0..<60 { host.seconds[Self.minute(2) + Int64(i) * s, default: .init()].httpLost = 70 }
        // 03:04:55–03:05:05 — the collector stalled: every HTTP call lost; it wrote the loss at 03:05:05.
        for i in -5..<5 {
            host.seconds[Self.minute(5) + Int64(i) * s] = .init(httpLost: 100, writtenAt: Self.minute(5) + 5 * s)
        }
        // 03:07 — 600 calls lost whose owner the kernel could not tell; 03:08 — 6 unpaired redis requests.
        host.seconds[Self.minute(7) + 10 * s, default: .init()].ownerless = 600
        host.seconds[Self.minute(8) + 20 * s, default: .init()] = .init(redisOffered: 6, redisUnpaired: 6)
        try host.write(minutes: (1...9).map(Self.minute))

        let rows = try Self.run(dir, Partition("date=2026-01-02/hour=03")!)
        for m in 1...9 {
            let web = try #require(rows[String(format: "03:%02d web/http1/server", m)])
            let offered = Double(web.requests) / web.completeness
            // requests / completeness is what the clients sent in that minute (at 03:07 plus
            // web's share of the ownerless loss, which the truth above does not offer).
            #expect(m == 7 || abs(offered - 6000) <= 1, "03:0\(m) web: \(web)")
            let redisKey = String(format: "03:%02d redis/redis/server", m)
            let redis = rows[redisKey]
            if m == 8 {
                // Every unpaired redis request is charged to redis, none to web.
                #expect(redis?.lost == 6 && redis?.shared == 0, "\(redisKey): \(String(describing: redis))")
                #expect(web.lost == 0 && web.completeness == 1)
            } else if m == 7 {
                // Ownerless loss is a host-level share, by each row's calls, and says so.
                let r = try #require(redis)
                #expect(web.lost + r.lost == 600 && web.shared == web.lost && r.shared == r.lost, "web \(web) redis \(r)")
            } else {
                // Redis lost nothing in these minutes: 1.0, whatever HTTP lost beside it.
                #expect(redis?.completeness == 1 && redis?.requests == 60, "\(redisKey): \(String(describing: redis))")
            }
        }
        #expect(rows["03:02 web/http1/server"]?.completeness == 0.3)
        #expect(rows["03:04 web/http1/server"]?.lost == 500 && rows["03:05 web/http1/server"]?.lost == 500)
        #expect(rows["03:03 web/http1/server"]?.completeness == 1 && rows["03:06 web/http1/server"]?.completeness == 1)
    }

    @Test("a stall across an hour edge keeps each hour's loss in its own partition")
    func hourEdge() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var host = Host(root: dir + "/segments")
        let s = Host.second
        // 03:59:52–04:00:04 stalled; the collector wrote all of it at 04:00:04, into the 04:00 segment.
        for i in -8..<4 {
            host.seconds[Self.minute(60) + Int64(i) * s] = .init(httpLost: 100, writtenAt: Self.minute(60) + 4 * s)
        }
        try host.write(minutes: [Self.minute(59), Self.minute(60)])
        let three = try Self.run(dir, Partition("date=2026-01-02/hour=03")!)
        let four = try Self.run(dir, Partition("date=2026-01-02/hour=04")!)
        let a = try #require(three["03:59 web/http1/server"]), b = try #require(four["04:00 web/http1/server"])
        #expect(a.lost == 800 && a.requests == 5200, "\(a)")
        #expect(b.lost == 400 && b.requests == 5600, "\(b)")
        #expect(abs(Double(a.requests) / a.completeness - 6000) <= 1 && abs(Double(b.requests) / b.completeness - 6000) <= 1)
        #expect(three["03:59 redis/redis/server"]?.completeness == 1 && four["04:00 redis/redis/server"]?.completeness == 1)
    }

    @Test("a loss record spanning buckets is split pro rata by overlap, parts adding up to its value")
    func proRata() throws {
        let dir = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var host = Host(root: dir + "/segments")
        try host.write(minutes: [Self.minute(10), Self.minute(11)])
        // An ownerless-by-time record: 1000 http1 calls lost over 03:10:45–03:11:05 (20 s: 15 + 5).
        var options = WriterOptions()
        options.durable = false
        let m = Self.minute(11)
        let header = SegmentHeader(hostID: "h1", bootID: BootID(uuidString: "5eed0000-0000-4000-8000-000000000001")!,
                                   windowStartNs: m, windowEndNs: m + 60 * Host.second, openedMonotonicNs: Host.mono(m))
        let w = try SegmentWriter(root: dir + "/segments", header: header, sequence: 1, options: options)
        try w.append(host.anchor(m))
        try w.append(rl_loss(ts_ns: Host.mono(m + 5 * Host.second), interval_ns: UInt64(20 * Host.second), cgroup_id: Host.web,
                             value: 1000, reason: UInt8(RL_STAT_USER_DROPPED.rawValue), record_type: UInt8(RL_REC_L7_CALL.rawValue),
                             l7_proto: UInt8(RL_L7_HTTP1.rawValue), side: UInt8(RL_SIDE_SERVER.rawValue), pad: 0))
        try w.append(host.anchor(m + 60 * Host.second))
        try w.seal()
        host.seconds = [:]
        let rows = try Self.run(dir, Partition("date=2026-01-02/hour=03")!)
        #expect(rows["03:10 web/http1/server"]?.lost == 750 && rows["03:11 web/http1/server"]?.lost == 250)
        #expect(rows["03:10 redis/redis/server"]?.lost == 0)
    }
}
