import Aggregates
import Collector
import CRedlineABI
import Foundation
import KernelProbes
import Testing
import TestSupport

/// Counting fidelity on real clients and servers: every request counted whatever
/// the traffic's shape (pipelined, split across segments, retransmitted, one per
/// connection, answered before its body), compared with the servers' own counts
/// (redis' INFO commandstats, nginx's access log) and the clients' (wrk, curl).
@Suite("Counting fidelity in network namespaces (root, BPF, netns)", .serialized, .requiresNetnsLab)
struct FidelityTests {
    static let http1 = UInt8(RL_L7_HTTP1.rawValue), redis = UInt8(RL_L7_REDIS.rawValue), dns = UInt8(RL_L7_DNS.rawValue)
    static let server = UInt8(RL_SIDE_SERVER.rawValue), client = UInt8(RL_SIDE_CLIENT.rawValue)

    /// nginx with an access log (the truth), a 4 KB page, a 404 and an upload endpoint.
    static func startNginx(_ e: AttachedLab, dir: String) throws {
        try FileManager.default.createDirectory(atPath: dir + "/www", withIntermediateDirectories: true)
        try String(repeating: "redline\n", count: 500).write(toFile: dir + "/www/index.html", atomically: true, encoding: .utf8)
        let conf = """
            daemon off; worker_processes 1; pid \(dir)/nginx.pid; error_log \(dir)/error.log;
            events { worker_connections 256; }
            http { log_format s '$status $request_length'; access_log \(dir)/access.log s;
              client_body_temp_path \(dir); proxy_temp_path \(dir); fastcgi_temp_path \(dir);
              uwsgi_temp_path \(dir); scgi_temp_path \(dir); keepalive_requests 100000;
              client_max_body_size 4m;
              server { listen \(e.lab.serverAddr):80; root \(dir)/www;
                location /missing { return 404; }
                location /upload { return 200 "stored\\n"; } } }
            """
        try conf.write(toFile: dir + "/nginx.conf", atomically: true, encoding: .utf8)
        try e.lab.start(in: e.lab.server, cgroup: e.lab.serverCgroup, "nginx -c \(dir)/nginx.conf -p \(dir)")
        try e.lab.waitForPort(80)
    }

    static func startRedis(_ e: AttachedLab, dir: String) throws {
        try e.lab.start(
            in: e.lab.server, cgroup: e.lab.serverCgroup,
            "redis-server --port 6379 --bind \(e.lab.serverAddr) --protected-mode no --save '' --appendonly no --dir \(dir)")
        try e.lab.waitForPort(6379)
    }

    /// nginx's access log: (requests, 404s).
    static func nginxLog(_ dir: String) throws -> (requests: Int, notFound: Int) {
        let lines = try String(contentsOfFile: dir + "/access.log", encoding: .utf8).split(separator: "\n")
        return (lines.count, lines.filter { $0.hasPrefix("404 ") }.count)
    }

    /// Commands redis-server executed, from INFO commandstats (`cmdstat_x:calls=N,...`).
    /// The INFO command that reads them is not among them.
    static func redisCommands(_ e: AttachedLab) throws -> Int {
        let out = try e.lab.run(in: e.lab.client, cgroup: e.lab.clientCgroup,
                                "redis-cli -h \(e.lab.serverAddr) -p 6379 INFO commandstats")
        return out.split(whereSeparator: \.isNewline).compactMap { line -> Int? in
            guard line.hasPrefix("cmdstat_"), let r = line.range(of: "calls=") else { return nil }
            return Int(line[r.upperBound...].prefix { $0.isNumber })
        }.reduce(0, +)
    }

    /// Commands redis-server executed, by name as a RESP request names it (`cmdstat_get` → GET;
    /// redis 7 lists subcommands apart, `cmdstat_config|get`, the wire carries CONFIG).
    static func redisCommandsByName(_ e: AttachedLab) throws -> [String: Int] {
        let out = try e.lab.run(in: e.lab.client, cgroup: e.lab.clientCgroup,
                                "redis-cli -h \(e.lab.serverAddr) -p 6379 INFO commandstats")
        var byName: [String: Int] = [:]
        for line in out.split(whereSeparator: \.isNewline) where line.hasPrefix("cmdstat_") {
            guard let colon = line.firstIndex(of: ":"), let r = line.range(of: "calls="),
                  let n = Int(line[r.upperBound...].prefix { $0.isNumber }) else { continue }
            let name = line[line.index(line.startIndex, offsetBy: 8)..<colon].split(separator: "|").first.map { $0.uppercased() } ?? ""
            byName[name, default: 0] += n
        }
        return byName
    }

    /// Call records, and the name each one's captured prefix gives (a Redis command, an HTTP
    /// path, a DNS question as `name/QTYPE`) as the collector parses it; nil when no prefix
    /// came or it named nothing.
    final class Calls {
        var all: [rl_l7_call] = []
        var names: [String?] = []
        var closedFlows: [rl_flow_delta] = []
        init() { all.reserveCapacity(1 << 18) }
        func take(_ r: KernelRecord) {
            switch r {
            case .call(let c, let prefix):
                all.append(c)
                var name: String?
                if let prefix, c.l7_proto == FidelityTests.redis, case .success(let command) = RequestNames.redisCommand(prefix) {
                    name = command
                } else if let prefix, c.l7_proto == FidelityTests.http1 {
                    name = RequestPrefixParser.http(prefix).route
                } else if let prefix, c.l7_proto == FidelityTests.dns, case .success(let q) = RequestNames.dnsQuestion(prefix) {
                    name = "\(q.name)/\(q.type)"
                }
                names.append(name)
            case .flowDelta(let d) where d.flags & UInt32(RL_FLOW_CLOSED.rawValue) != 0: closedFlows.append(d)
            default: break
            }
        }
        func of(_ proto: UInt8, _ side: UInt8) -> [rl_l7_call] { all.filter { $0.l7_proto == proto && $0.side == side } }
        /// The calls of a protocol and side with their names.
        func named(_ proto: UInt8, _ side: UInt8) -> [(call: rl_l7_call, name: String?)] {
            zip(all, names).filter { $0.0.l7_proto == proto && $0.0.side == side }.map { ($0.0, $0.1) }
        }
    }

    static func within(_ observed: Int, _ truth: Int, _ what: String) {
        let rel = truth > 0 ? abs(Double(observed - truth)) / Double(truth) : 1
        #expect(truth > 0 && rel <= 0.005, "\(what): observed \(observed), truth \(truth)")
    }

    @Test("rootBPF netns: pipelined redis-benchmark and pipelined wrk (200s and 404s) on one host, depths 1–32: within 0.5 % of the servers' own counts, errors included",
          arguments: [(1, 1, 21), (16, 8, 22), (32, 32, 23)])
    func pipelinedRedisAndHTTP(redisDepth: Int, httpDepth: Int, subnet: Int) throws {
        let seen = Calls()
        let e = try AttachedLab(tag: "pipe\(redisDepth)", subnet: subnet, onRecord: seen.take)
        defer { try? e.tearDown() }
        let dir = NSTemporaryDirectory() + "redline-fidelity-\(getpid())-\(redisDepth)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.startNginx(e, dir: dir)
        try Self.startRedis(e, dir: dir)
        try e.ring.drain()
        seen.all.removeAll(keepingCapacity: true)
        seen.names.removeAll(keepingCapacity: true)

        // wrk's pipelining example: every write carries `httpDepth` requests, every other one a 404.
        let script = dir + "/pipeline.lua"
        try """
            init = function(args)
              local r = {}
              for i = 1, \(httpDepth) do
                r[i] = wrk.format(nil, (i % 2 == 0) and "/missing" or "/index.html")
              end
              req = table.concat(r)
            end
            request = function() return req end
            delay = function() return \(2 * httpDepth) end
            """.write(toFile: script, atomically: true, encoding: .utf8)
        // Both clients at once (two protocols on one host), the ring read meanwhile.
        // The volume is sized so that every record fits in the 4 MiB ring even if
        // this debug-built reader, on a small busy machine, does not run until the
        // clients are done: wrk is paced to ~1000 requests/s (a delay per write of
        // `httpDepth` requests), redis-benchmark sends 5 × 1000 commands, and both run
        // at the lowest priority. (A lost record would be counted, but not by
        // protocol and side, and these counts must be exact.)
        let wrkOut = dir + "/wrk.out"
        try e.lab.start(in: e.lab.client, cgroup: e.lab.clientCgroup,
                        "nice -n 19 sh -c 'wrk -t1 -c2 -d1s -s \(script) http://\(e.lab.serverAddr)/ > \(wrkOut) 2>&1; touch \(dir)/wrk.done'")
        let n = 1000
        try e.lab.start(in: e.lab.client, cgroup: e.lab.clientCgroup,
                        "nice -n 19 sh -c 'redis-benchmark -h \(e.lab.serverAddr) -p 6379 -t set,get,incr,lpush,lrange_100 -n \(n) -c 2 -P \(redisDepth) -q > \(dir)/rb.out 2>&1; touch \(dir)/rb.done'")
        let done = { ["wrk.done", "rb.done"].allSatisfy { FileManager.default.fileExists(atPath: dir + "/" + $0) } }
        // A deadline, not a poll count: polls return as soon as records arrive.
        let deadline = Date().addingTimeInterval(120)
        while !done() && Date() < deadline { try e.ring.poll(timeoutMilliseconds: 100) }
        #expect(done(), "wrk and redis-benchmark finished")
        let commands = try Self.redisCommands(e)
        let wrkText = (try? String(contentsOfFile: wrkOut, encoding: .utf8)) ?? ""
        let wrkRequests = wrkText.range(of: #"(\d+) requests in"#, options: .regularExpression)
            .flatMap { Int(wrkText[$0].prefix { $0.isNumber }) } ?? 0
        let log = try Self.nginxLog(dir)

        // The INFO call that read the statistics is walked too: one more than redis counted.
        try pollUntil(e.ring) {
            seen.of(Self.redis, Self.server).count >= commands + 1
                && seen.of(Self.http1, Self.server).count >= log.requests
        }
        let redisServer = seen.of(Self.redis, Self.server), redisClient = seen.of(Self.redis, Self.client)
        let httpServer = seen.of(Self.http1, Self.server), httpClient = seen.of(Self.http1, Self.client)
        print("fidelity depth redis \(redisDepth) http \(httpDepth): redis commandstats \(commands) (+1 INFO), calls server \(redisServer.count) client \(redisClient.count); nginx log \(log.requests) (404: \(log.notFound)), wrk \(wrkRequests), calls server \(httpServer.count) (404: \(httpServer.filter { $0.status_code == 404 }.count)) client \(httpClient.count)")
        Self.within(redisServer.count, commands + 1, "redis server-side calls vs INFO commandstats")
        Self.within(redisClient.count, commands + 1, "redis client-side calls vs INFO commandstats")
        Self.within(httpServer.count, log.requests, "HTTP server-side calls vs nginx's access log")
        Self.within(httpClient.count, log.requests, "HTTP client-side calls vs nginx's access log")
        // wrk stops counting at its deadline: the writes then in flight on its two
        // connections were answered (nginx logged them) but are not in wrk's count.
        #expect(wrkRequests > 0 && abs(httpClient.count - wrkRequests) <= max(wrkRequests / 200, 2 * httpDepth),
                "HTTP client-side calls \(httpClient.count) vs wrk \(wrkRequests)")
        // 404s are client errors, counted as today; the ratio is the log's.
        let ratio = { (c: [rl_l7_call]) in Double(c.filter { $0.status_class == UInt8(RL_STATUS_CLIENT_ERROR.rawValue) }.count) / Double(max(c.count, 1)) }
        let truthRatio = Double(log.notFound) / Double(max(log.requests, 1))
        #expect(abs(ratio(httpServer) - truthRatio) <= 0.005, "server error ratio \(ratio(httpServer)) vs log \(truthRatio)")
        #expect(abs(ratio(httpClient) - truthRatio) <= 0.005, "client error ratio \(ratio(httpClient)) vs log \(truthRatio)")
        #expect(httpDepth == 1 || truthRatio > 0.45)
        // Paired calls carry a latency; only requests cut off by the clients' close are unpaired.
        let unpaired = (redisServer + httpServer).filter { $0.flags & UInt8(RL_CALL_UNPAIRED.rawValue) != 0 }.count
        #expect(unpaired <= 4 * (redisDepth + httpDepth), "unpaired \(unpaired)")
        let stats = try e.dp.stats()
        print("fidelity depth redis \(redisDepth) http \(httpDepth): stream lost \(stats.streamLost), ring dropped \(stats.ringbufDropped), retransmits skipped \(stats.retransmitsSkipped), unpaired requests \(stats.unpairedRequest[1]) / \(stats.unpairedRequest[2]), responses \(stats.unpairedResponse[1]) / \(stats.unpairedResponse[2])")
        #expect(stats.streamLost == 0)
        #expect(stats.ringbufDropped.allSatisfy { $0 == 0 })

        // Names under pipelining (bpf/README.md, "Prefix capture"): the oldest pending request's
        // prefix is the socket's, each of up to 16 queued behind it keeps its first bytes in a
        // slot. A name is never wrong: a path names only calls with its status, no command is
        // counted above what redis executed. Up to 16 deep every call is named; deeper, at least
        // the first 16 of each batch are.
        let executed = try Self.redisCommandsByName(e).merging(["INFO": 1], uniquingKeysWith: +)
        for side in [Self.server, Self.client] {
            let redisNamed = seen.named(Self.redis, side)
            var perCommand: [String: Int] = [:]
            for (_, name) in redisNamed { if let name { perCommand[name, default: 0] += 1 } }
            for (command, n) in perCommand {
                #expect(n <= executed[command] ?? 0, "side \(side) depth \(redisDepth): \(command) named \(n) times, redis executed \(executed[command] ?? 0)")
            }
            let http = seen.named(Self.http1, side)
            let misnamed = http.filter { ($0.name == "/missing") != ($0.call.status_code == 404) && $0.name != nil }
            #expect(misnamed.isEmpty, "side \(side) depth \(httpDepth): \(misnamed.count) HTTP calls named against their status")
            let redisShare = Double(redisNamed.filter { $0.name != nil }.count) / Double(max(redisNamed.count, 1))
            let httpShare = Double(http.filter { $0.name != nil }.count) / Double(max(http.count, 1))
            print("fidelity depth redis \(redisDepth) http \(httpDepth) side \(side): named redis \(redisShare), http \(httpShare); per command \(perCommand) vs executed \(executed)")
            if redisDepth <= 16 {
                for (command, n) in executed where n >= 100 { Self.within(perCommand[command] ?? 0, n, "side \(side): \(command) named vs redis executed") }
                #expect(redisShare >= 0.995, "side \(side) depth \(redisDepth): \(redisShare) of Redis calls named")
            } else {
                #expect(redisShare >= 16.0 / Double(redisDepth) * 0.95, "side \(side) depth \(redisDepth): \(redisShare) of Redis calls named")
            }
            if httpDepth <= 16 {
                #expect(httpShare >= 0.995, "side \(side) depth \(httpDepth): \(httpShare) of HTTP calls named")
            } else {
                #expect(httpShare >= 16.0 / Double(httpDepth) * 0.95, "side \(side) depth \(httpDepth): \(httpShare) of HTTP calls named")
            }
        }
    }

    /// Cuts `stream` into pieces of 1–90 bytes, with now and then one of 700 (several
    /// messages in one write): a fixed seed, so a failure reproduces. The first piece
    /// holds whole lines up to at least 16 bytes: the classifier decides a flow's protocol
    /// from its first segment — rule patterns are up to 16 bytes, and the HTTP rules need
    /// the request line's ` HTTP/1.x` there (schemas/rules-v2.md, "Call pairing"); every
    /// later message, request lines included, is cut anywhere.
    static func cut(_ stream: [UInt8], seed: UInt64) -> [[UInt8]] {
        var x = seed, at = 0, out: [[UInt8]] = []
        if stream.count > 16, let lf = stream[15...].firstIndex(of: UInt8(ascii: "\n")) {
            out.append(Array(stream[...lf]))
            at = lf + 1
        }
        while at < stream.count {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            let n = (x >> 33) % 8 == 0 ? 700 : Int((x >> 33) % 90) + 1
            out.append(Array(stream[at..<min(at + n, stream.count)]))
            at += n
        }
        return out
    }

    /// Sends `pieces` with tools/lab/pieces.py from the client namespace.
    static func sendPieces(_ e: AttachedLab, port: Int, _ pieces: [[UInt8]], until: String?, dir: String, linger: Double = 0) throws {
        let hex = { (b: [UInt8]) in b.map { String(format: "%02x", $0) }.joined() }
        let file = dir + "/pieces-\(port)"
        try pieces.map(hex).joined(separator: "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let root = String(Package.redlineObject.dropLast("/bpf/build/redline.bpf.o".count))
        try e.lab.run(in: e.lab.client, cgroup: e.lab.clientCgroup,
                      "/usr/bin/python3 \(root)/tools/lab/pieces.py \(e.lab.serverAddr) \(port) \(file) '\(until.map { hex(Array($0.utf8)) } ?? "")' --linger \(linger)")
    }

    /// Waits until each side recorded a call per HTTP request and per RESP command (+1: the
    /// INFO that read redis' counts), then checks the servers' own counts: nginx's access
    /// log (`http` requests, `notFound` 404s) and redis' commandstats (`executed` of `redis`).
    static func awaitCalls(_ e: AttachedLab, _ seen: Calls, dir: String, http: Int, notFound: Int, redis: Int, executed: Int) throws {
        try pollUntil(e.ring) {
            seen.of(Self.http1, Self.server).count >= http && seen.of(Self.http1, Self.client).count >= http
                && seen.of(Self.redis, Self.server).count >= redis + 1 && seen.of(Self.redis, Self.client).count >= redis + 1
        }
        let log = try Self.nginxLog(dir)
        #expect(log.requests == http && log.notFound == notFound, "nginx logged \(log)")
        #expect(executed == redis, "redis executed \(executed) of \(redis)")
    }

    @Test("rootBPF netns: requests split across segments and several per segment (GET, 404, POST with Content-Length and chunked, HEAD; RESP bulk, inline, arrays): each counted and paired, exactly")
    func splitAndCoalesced() throws {
        let seen = Calls()
        let e = try AttachedLab(tag: "split", subnet: 24, onRecord: seen.take)
        defer { try? e.tearDown() }
        let dir = NSTemporaryDirectory() + "redline-split-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.startNginx(e, dir: dir)
        try Self.startRedis(e, dir: dir)
        try e.ring.drain()
        seen.all.removeAll()

        var http = [UInt8](), httpCount = 0, notFound = 0
        func req(_ s: String) { http += Array(s.utf8); httpCount += 1 }
        for i in 0..<60 {
            switch i % 5 {
            case 0: req("GET /index.html?i=\(i) HTTP/1.1\r\nHost: lab\r\nUser-Agent: pieces\r\n\r\n")
            case 1: req("GET /missing/\(i) HTTP/1.1\r\nHost: lab\r\n\r\n"); notFound += 1
            case 2: req("POST /upload HTTP/1.1\r\nHost: lab\r\ncontent-length: 3000\r\n\r\n" + String(repeating: "p", count: 3000))
            case 3: req("POST /upload HTTP/1.1\r\nHost: lab\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n" + String(repeating: "c", count: 100)
                        + "\r\n7d0;ext=1\r\n" + String(repeating: "d", count: 2000) + "\r\n0\r\nX-Trailer: t\r\n\r\n")
            default: req("HEAD /index.html HTTP/1.1\r\nHost: lab\r\n\r\n")
            }
        }
        req("GET /index.html HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n")
        try Self.sendPieces(e, port: 80, Self.cut(http, seed: 7), until: nil, dir: dir)

        var resp = [UInt8](), redisCount = 0
        func cmd(_ args: [String]) {
            resp += Array("*\(args.count)\r\n".utf8)
            for a in args { resp += Array("$\(a.utf8.count)\r\n\(a)\r\n".utf8) }
            redisCount += 1
        }
        for i in 0..<60 {
            switch i % 5 {
            case 0: cmd(["SET", "k\(i)", String(repeating: "v", count: 3000)])
            case 1: cmd(["GET", "k\(i - 1)"])
            case 2: resp += Array("PING\r\n".utf8); redisCount += 1
            case 3: cmd(["RPUSH", "list", "a", "bb", "ccc"])
            default: cmd(["LRANGE", "list", "0", "-1"])
            }
        }
        cmd(["ECHO", "sentinel-\(getpid())"])
        try Self.sendPieces(e, port: 6379, Self.cut(resp, seed: 11), until: "sentinel-\(getpid())", dir: dir)
        let commands = try Self.redisCommands(e)

        try Self.awaitCalls(e, seen, dir: dir, http: httpCount, notFound: notFound, redis: redisCount, executed: commands)
        let unpairedFlag = UInt8(RL_CALL_UNPAIRED.rawValue)
        for side in [Self.server, Self.client] {
            let h = seen.of(Self.http1, side), r = seen.of(Self.redis, side)
            #expect(h.count == httpCount, "HTTP side \(side): \(h.count) of \(httpCount)")
            #expect(h.filter { $0.status_code == 404 }.count == notFound)
            #expect(h.filter { $0.status_code == 200 }.count == httpCount - notFound)
            #expect(h.allSatisfy { $0.flags & unpairedFlag == 0 && $0.duration_ns > 0 })
            // Request bytes are each request's own, body included.
            #expect(h.reduce(0) { $0 + Int($1.req_bytes) } == http.count)
            #expect(r.count == redisCount + 1, "RESP side \(side): \(r.count) of \(redisCount) + INFO")
            #expect(r.allSatisfy { $0.flags & unpairedFlag == 0 })
        }
        let stats = try e.dp.stats()
        #expect(stats.streamLost == 0)
        #expect(stats.unpairedResponse[Int(RL_L7_HTTP1.rawValue)] == 0 && stats.unpairedResponse[Int(RL_L7_REDIS.rawValue)] == 0)
    }

    /// Both directions of one connection are walked at once: the client's tc egress runs on
    /// the CPU that writes the requests while the responses of earlier ones come in through
    /// tc ingress on the other CPU, and the server's side mirrors it. Thousands of requests
    /// written in 1–90-byte pieces without waiting for their answers keep the two walks
    /// overlapping; each request joins and each response leaves the same FIFO, and none may
    /// be lost or invented (an unlocked FIFO lost up to half of them here).
    @Test("rootBPF netns: thousands of requests written while their responses return, both directions walked at once on two CPUs: each counted and paired, exactly")
    func requestsAndResponsesAtOnce() throws {
        let seen = Calls()
        let e = try AttachedLab(tag: "both", subnet: 31, onRecord: seen.take)
        defer { try? e.tearDown() }
        let dir = NSTemporaryDirectory() + "redline-both-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.startNginx(e, dir: dir)
        try Self.startRedis(e, dir: dir)
        try e.ring.drain()
        seen.all.removeAll()

        var resp = [UInt8](), redisCount = 0
        for i in 0..<3000 {
            let args = i % 3 == 0 ? ["SET", "k\(i % 50)", "v\(i)"] : i % 3 == 1 ? ["GET", "k\(i % 50)"] : ["INCR", "n"]
            resp += Array("*\(args.count)\r\n".utf8)
            for a in args { resp += Array("$\(a.utf8.count)\r\n\(a)\r\n".utf8) }
            redisCount += 1
        }
        let sentinel = "both-\(getpid())"
        resp += Array("*2\r\n$4\r\nECHO\r\n$\(sentinel.utf8.count)\r\n\(sentinel)\r\n".utf8)
        redisCount += 1
        try Self.sendPieces(e, port: 6379, Self.cut(resp, seed: 13), until: sentinel, dir: dir)
        let commands = try Self.redisCommands(e)

        var http = [UInt8](), httpCount = 0, notFound = 0
        for i in 0..<600 {
            if i % 2 == 0 {
                http += Array("GET /index.html?i=\(i) HTTP/1.1\r\nHost: lab\r\n\r\n".utf8)
            } else {
                http += Array("GET /missing/\(i) HTTP/1.1\r\nHost: lab\r\n\r\n".utf8)
                notFound += 1
            }
            httpCount += 1
        }
        http += Array("GET /index.html HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n".utf8)
        httpCount += 1
        try Self.sendPieces(e, port: 80, Self.cut(http, seed: 17), until: nil, dir: dir)

        try Self.awaitCalls(e, seen, dir: dir, http: httpCount, notFound: notFound, redis: redisCount, executed: commands)
        // More than 64 requests are often in flight here (nginx stops reading while the
        // client, still writing, reads no answers): those past the FIFO's depth are calls
        // without latency (flag unpaired, duration 0), still one each, with their
        // response's status and bytes (bpf/README.md, "Pairing").
        let unpairedFlag = UInt8(RL_CALL_UNPAIRED.rawValue)
        for side in [Self.server, Self.client] {
            let h = seen.of(Self.http1, side), r = seen.of(Self.redis, side)
            print("both directions at once, side \(side): HTTP \(h.count) calls, \(h.filter { $0.flags & unpairedFlag != 0 }.count) past the depth; RESP \(r.count), \(r.filter { $0.flags & unpairedFlag != 0 }.count) past the depth")
            #expect(h.count == httpCount, "HTTP side \(side): \(h.count) of \(httpCount)")
            #expect(h.filter { $0.status_code == 404 }.count == notFound)
            #expect(h.filter { $0.status_code == 200 }.count == httpCount - notFound)
            #expect(r.count == redisCount + 1, "RESP side \(side): \(r.count) of \(redisCount) + INFO")
            for c in h + r {
                #expect((c.flags & unpairedFlag != 0) == (c.duration_ns == 0), "a call has a latency exactly when it was paired")
            }
            // Each answer went to its own call: every 200 carries the page, every 404 the
            // error page (same sizes: one Date header length within a test), but the last
            // 200, whose `Connection: close` is 5 bytes shorter than `keep-alive`.
            let sizes200 = Dictionary(grouping: h.filter { $0.status_code == 200 }, by: \.resp_bytes).mapValues(\.count)
            let sizes404 = Dictionary(grouping: h.filter { $0.status_code == 404 }, by: \.resp_bytes).mapValues(\.count)
            #expect(sizes200.count == 2 && sizes200.values.max() == httpCount - notFound - 1 && sizes404.count == 1,
                    "response sizes of 200s \(sizes200), of 404s \(sizes404)")
        }
        let stats = try e.dp.stats()
        print("both directions at once: \(redisCount) RESP, \(httpCount) HTTP; stream lost \(stats.streamLost), unpaired requests \(stats.unpairedRequest[1]) / \(stats.unpairedRequest[2]), responses \(stats.unpairedResponse[1]) / \(stats.unpairedResponse[2])")
        #expect(stats.streamLost == 0)
        #expect(stats.unpairedResponse.allSatisfy { $0 == 0 } && stats.unpairedRequest.allSatisfy { $0 == 0 })
    }

    @Test("rootBPF netns: segments lost on the wire and retransmitted are counted once: calls, request and response bytes as curl counted them")
    func retransmitsCountedOnce() throws {
        let seen = Calls()
        let e = try AttachedLab(tag: "retx", subnet: 25, onRecord: seen.take)
        defer { try? e.tearDown() }
        let dir = NSTemporaryDirectory() + "redline-retx-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.startNginx(e, dir: dir)
        try e.ring.drain()
        seen.all.removeAll()
        // Lose two request segments at the server and two response segments at the
        // client; the senders retransmit them (their own tc egress sees both copies).
        var drops: [TCAttachment] = []
        var cfgs: [Map] = []
        for (ifname, ns) in [(e.lab.serverIf, e.lab.serverNetns), (e.lab.clientIf, e.lab.clientNetns)] {
            let lossy = try ObjectSpec(path: Package.lossyObject).load()
            let cfg = try lossy.map("lossy_cfg")
            try cfg.update(key: bytes(of: UInt32(0)), value: bytes(of: UInt32(80)))
            try cfg.update(key: bytes(of: UInt32(1)), value: bytes(of: UInt32(2)))
            cfgs.append(cfg)
            drops.append(try TCAttachment(program: try lossy.program("rl_lossy"), interface: ifname, direction: .ingress, netns: ns))
        }
        let urls = (0..<12).map { "http://\(e.lab.serverAddr)/missing/\($0)" }
        let out = try e.lab.run(in: e.lab.client, cgroup: e.lab.clientCgroup,
                                "curl -s --max-time 60 -w '%{size_request} %{size_header} %{size_download}\\n' " + urls.map { "-o /dev/null '\($0)'" }.joined(separator: " "))
        for d in drops { try d.detach() }
        for cfg in cfgs { #expect(load(UInt32.self, from: try cfg.lookup(key: bytes(of: UInt32(2))) ?? []) == 2) }
        var requestBytes = 0, responseBytes = 0
        for line in out.split(separator: "\n") {
            let v = line.split(separator: " ").compactMap { Int($0) }
            if v.count == 3 { requestBytes += v[0]; responseBytes += v[1] + v[2] }
        }
        try pollUntil(e.ring) { seen.of(Self.http1, Self.server).count >= 12 && seen.of(Self.http1, Self.client).count >= 12 }
        for side in [Self.server, Self.client] {
            let h = seen.of(Self.http1, side)
            #expect(h.count == 12, "side \(side): \(h.count) calls")
            #expect(h.allSatisfy { $0.status_code == 404 })
            #expect(h.reduce(0) { $0 + Int($1.req_bytes) } == requestBytes, "side \(side) request bytes")
            #expect(h.reduce(0) { $0 + Int($1.resp_bytes) } == responseBytes, "side \(side) response bytes")
        }
        #expect(try e.dp.stats().retransmitsSkipped >= 4)
    }

    @Test("rootBPF netns: 256 KiB uploads with Expect: 100-continue: one call each, the body in its request bytes, as curl sent it")
    func continueUploads() throws {
        let seen = Calls()
        let e = try AttachedLab(tag: "expect", subnet: 26, onRecord: seen.take)
        defer { try? e.tearDown() }
        let dir = NSTemporaryDirectory() + "redline-expect-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.startNginx(e, dir: dir)
        try Data(repeating: 0x61, count: 256 * 1024).write(to: URL(fileURLWithPath: dir + "/body"))
        try e.ring.drain()
        seen.all.removeAll()
        // Both endpoints: /upload reads the body and answers 200; /index.html refuses a
        // POST (405) without waiting for it.
        let urls = ["upload", "index.html", "upload", "index.html", "upload"]
        var requestBytes = 0, statuses: [Int] = []
        for u in urls {
            let out = try e.lab.run(in: e.lab.client, cgroup: e.lab.clientCgroup,
                                    "curl -s -o /dev/null -H 'Expect: 100-continue' --data-binary @\(dir)/body -w '%{size_request} %{size_upload} %{http_code}' http://\(e.lab.serverAddr)/\(u)")
            let v = out.split(separator: " ").compactMap { Int($0) }
            #expect(v.count == 3, "curl printed \(out)")
            if v.count == 3 { requestBytes += v[0] + v[1]; statuses.append(v[2]) }
        }
        try pollUntil(e.ring) { seen.of(Self.http1, Self.server).count >= urls.count && seen.of(Self.http1, Self.client).count >= urls.count }
        print("100-continue: curl sent \(requestBytes) bytes, statuses \(statuses); calls \(seen.of(Self.http1, Self.client).map { ($0.req_bytes, $0.status_code) })")
        for side in [Self.server, Self.client] {
            let h = seen.of(Self.http1, side)
            #expect(h.count == urls.count, "side \(side): \(h.count) calls")
            #expect(h.map { Int($0.status_code) }.sorted() == statuses.sorted())
            #expect(h.reduce(0) { $0 + Int($1.req_bytes) } == requestBytes, "side \(side) request bytes")
        }
    }

    @Test("rootBPF netns: 500 HTTP/1.0 requests, one connection each, and 10 whose client closes late: a call and a closed flow each, on each side")
    func connectionPerRequest() throws {
        let seen = Calls()
        let e = try AttachedLab(tag: "conn", subnet: 27, onRecord: seen.take)
        defer { try? e.tearDown() }
        let dir = NSTemporaryDirectory() + "redline-conn-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.startNginx(e, dir: dir)
        try e.ring.drain()
        seen.all.removeAll()
        seen.closedFlows.removeAll()
        let curls = 500, late = 10
        let n = curls + late
        let urls = (0..<curls).map { "http://\(e.lab.serverAddr)/\($0 % 10 == 9 ? "missing" : "index.html")?c=\($0)" }
        try urls.map { "url = \"\($0)\"\noutput = /dev/null" }.joined(separator: "\n").write(toFile: dir + "/urls", atomically: true, encoding: .utf8)
        try e.lab.run(in: e.lab.client, cgroup: e.lab.clientCgroup, "curl -s -0 -K \(dir)/urls")
        // The server closes first; these clients acknowledge its FIN and close 50 ms
        // later, by when the server's socket is a timewait mini-socket.
        for i in 0..<late {
            try Self.sendPieces(e, port: 80, [Array("GET /index.html?late=\(i) HTTP/1.0\r\n\r\n".utf8)], until: nil, dir: dir, linger: 0.05)
        }
        // curl's flows: the client service's (its cgroup on the client, its identity option on
        // the server). The readiness probe's connection, from outside the lab's cgroups, may
        // close after the drain above.
        let port80 = { (side: UInt8) in
            seen.closedFlows.filter {
                side == Self.server ? $0.lport == 80 && $0.peer_service == e.clientService
                                    : $0.rport == 80 && $0.local_service == e.clientService
            }
        }
        try pollUntil(e.ring) {
            seen.of(Self.http1, Self.server).count >= n && seen.of(Self.http1, Self.client).count >= n
                && port80(Self.server).count >= n && port80(Self.client).count >= n
        }
        let log = try Self.nginxLog(dir)
        #expect(log.requests == n && log.notFound == curls / 10)
        for side in [Self.server, Self.client] {
            let h = seen.of(Self.http1, side)
            #expect(h.count == n, "side \(side): \(h.count) calls")
            #expect(h.filter { $0.status_code == 404 }.count == curls / 10)
            #expect(port80(side).count == n, "side \(side): \(port80(side).count) closed flows")
        }
    }

    /// dnsmasq in the server namespace while `body` runs: it answers svc.test from its
    /// configuration (A 198.18.7.7; REFUSED for AAAA: none configured, no upstream) and NXDOMAIN for
    /// nx.test, logs each query to `dir`/dnsmasq.log and has no upstream, so nothing leaves
    /// the namespace. It inherits the test thread's blocked signals and keeps them blocked
    /// (SIGTERM does not end it), and in the test's process group it stalled the test's later
    /// commands: so it runs in a session of its own, not as the process `start` tracks, and
    /// is ended with SIGKILL, by its PID, as the only process in the server's netns.
    static func withDnsmasq(_ e: AttachedLab, dir: String, _ body: () throws -> Void) throws {
        defer {
            // Until it is gone (bounded), so the lab's teardown can remove its cgroup.
            for _ in 0..<100 {
                let pids = ((try? NetnsLab.sh("ip netns pids \(e.lab.server)")) ?? "").split(whereSeparator: \.isNewline).compactMap { pid_t($0) }
                if pids.isEmpty { break }
                for pid in pids { kill(pid, SIGKILL) }
                usleep(20_000)  // pacing between checks, not synchronisation
            }
        }
        try e.lab.start(in: e.lab.server, cgroup: e.lab.serverCgroup,
                        "setsid dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces --listen-address=\(e.lab.serverAddr) " +
                        "--port=53 --address=/svc.test/198.18.7.7 --address=/nx.test/ --log-queries --log-facility=\(dir)/dnsmasq.log")
        // Ready once its UDP socket is bound (a TCP probe would make dnsmasq fork a handler).
        var bound = false
        for _ in 0..<200 where !bound {
            bound = !(try e.lab.run(in: e.lab.server, cgroup: e.lab.serverCgroup, "ss -Hlun src \(e.lab.serverAddr):53")).isEmpty
            if !bound { usleep(20_000) }  // pacing between readiness probes, not synchronisation
        }
        try #require(bound, "dnsmasq never bound \(e.lab.serverAddr):53")
        try body()
    }

    /// glibc's resolver asks A and AAAA at once, two datagrams on one socket (one 5-tuple),
    /// before either answer: the calls are told apart by the DNS transaction id, not only
    /// the 5-tuple (before, the second query replaced the first's pending entry, so one
    /// call in two was lost and the answers were paired crosswise).
    @Test("rootBPF netns: glibc's getaddrinfo asks A and AAAA at once on one socket (getent ahosts): two calls per name on each side, each named by its own question and answered by its own response")
    func parallelQueriesOnOneSocket() throws {
        let seen = Calls()
        let e = try AttachedLab(tag: "dns2", subnet: 32, onRecord: seen.take)
        defer { try? e.tearDown() }
        let dir = NSTemporaryDirectory() + "redline-dns2-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // `ip netns exec` bind-mounts /etc/netns/<netns>/resolv.conf over /etc/resolv.conf.
        let etc = "/etc/netns/\(e.lab.client)"
        try FileManager.default.createDirectory(atPath: etc, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: etc) }
        try "nameserver \(e.lab.serverAddr)\noptions timeout:2 attempts:1\n".write(toFile: etc + "/resolv.conf", atomically: true, encoding: .utf8)
        try Self.withDnsmasq(e, dir: dir) {
            try e.ring.drain()
            seen.all.removeAll()
            seen.names.removeAll()
            let names = (0..<30).map { "api-\($0).pay.svc.test" } + (0..<6).map { "gone-\($0).nx.test" }
            // getent exits 2 for a name it cannot resolve.
            _ = try e.lab.run(in: e.lab.client, cgroup: e.lab.clientCgroup,
                              "sh -c 'for n in \(names.joined(separator: " ")); do getent ahosts $n >/dev/null; done; true'")
            try pollUntil(e.ring) { seen.of(Self.dns, Self.server).count >= 2 * names.count && seen.of(Self.dns, Self.client).count >= 2 * names.count }
            let log = (try String(contentsOfFile: dir + "/dnsmasq.log", encoding: .utf8)).split(separator: "\n")
            #expect(log.filter { $0.contains(" query[A] ") }.count == names.count && log.filter { $0.contains(" query[AAAA] ") }.count == names.count,
                    "dnsmasq logged \(log.filter { $0.contains(" query[") }.count) queries")
            let expected = Set(names.flatMap { ["\($0)/1", "\($0)/28"] })
            for side in [Self.server, Self.client] {
                let calls = seen.named(Self.dns, side)
                #expect(calls.count == 2 * names.count, "side \(side): \(calls.count) DNS calls for \(2 * names.count) queries")
                let named = calls.compactMap(\.name)
                #expect(named.count == calls.count && Set(named) == expected, "side \(side): \(Set(named).symmetricDifference(expected).sorted().prefix(6))")
                // dnsmasq answers NXDOMAIN (3) for nx.test, the configured A for svc.test, and
                // REFUSED (5) for its AAAA (nothing configured, no upstream): answers paired
                // crosswise would show here.
                for (c, name) in calls {
                    let status = name?.contains(".nx.test/") == true ? 3 : name?.hasSuffix("/28") == true ? 5 : 0
                    #expect(Int(c.status_code) == status && c.flags & UInt8(RL_CALL_UNPAIRED.rawValue) == 0,
                            "side \(side): \(name ?? "?") answered \(c.status_code), dnsmasq \(status)")
                }
            }
            let stats = try e.dp.stats()
            let dns = Int(RL_L7_DNS.rawValue)
            #expect(stats.unpairedRequest[dns] == 0 && stats.unpairedResponse[dns] == 0,
                    "unpaired DNS requests \(stats.unpairedRequest[dns]), responses \(stats.unpairedResponse[dns])")
        }
    }

    @Test("rootBPF netns: dig's queries to dnsmasq, one per name: a call each on each side, named by its question, NOERROR or NXDOMAIN as dnsmasq answered")
    func dnsQueriesNamed() throws {
        let seen = Calls()
        let e = try AttachedLab(tag: "dns", subnet: 29, onRecord: seen.take)
        defer { try? e.tearDown() }
        let dir = NSTemporaryDirectory() + "redline-dns-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try Self.withDnsmasq(e, dir: dir) {
            try e.ring.drain()
            seen.all.removeAll()
            seen.names.removeAll()
            // Queries as a service's resolver sends them: dig's defaults (EDNS with a cookie), one try each.
            let names = (0..<40).map { "Shard-\($0).Orders.svc.test" } + (0..<10).map { "missing-\($0).nx.test" }
            try names.map { "\($0) A" }.joined(separator: "\n").write(toFile: dir + "/queries", atomically: true, encoding: .utf8)
            _ = try e.lab.run(in: e.lab.client, cgroup: e.lab.clientCgroup, "timeout 60 dig @\(e.lab.serverAddr) +tries=1 +time=2 -f \(dir)/queries")
            try pollUntil(e.ring) { seen.of(Self.dns, Self.server).count >= names.count && seen.of(Self.dns, Self.client).count >= names.count }
            let logged = (try String(contentsOfFile: dir + "/dnsmasq.log", encoding: .utf8)).split(separator: "\n").filter { $0.contains(" query[A] ") }
            #expect(logged.count == names.count, "dnsmasq logged \(logged.count) queries")
            for side in [Self.server, Self.client] {
                let calls = seen.named(Self.dns, side)
                #expect(calls.count == names.count, "side \(side): \(calls.count) DNS calls")
                var byName: [String: rl_l7_call] = [:]
                for (c, name) in calls { if let name { byName[name] = c } }
                #expect(Set(byName.keys) == Set(names.map { $0.lowercased() + "/1" }), "side \(side): names \(byName.keys.sorted().prefix(5))")
                for (name, c) in byName {
                    #expect(Int(c.status_code) == (name.hasSuffix(".nx.test/1") ? 3 : 0), "side \(side): \(name) answered \(c.status_code)")
                }
            }
        }
    }
}
