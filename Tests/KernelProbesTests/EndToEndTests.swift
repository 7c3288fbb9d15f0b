import CRedlineABI
import Foundation
import KernelProbes
import Testing
import TestSupport

/// The data plane attached to both ends of a lab: tc on each veth end (in its
/// namespace), sockops on the lab's cgroup, TCP health tracepoints.
final class AttachedLab {
    let lab: NetnsLab
    let dp: DataPlane
    let attachments = Attachments()
    let sink = Collected()
    let ring: RingBufferReader
    let clientService: UInt32 = 101
    let serverService: UInt32 = 202

    /// `onRecord`, when given, receives each record instead of `sink` (a test that
    /// reads hundreds of thousands keeps only what it counts, and keeps up).
    init(tag: String, subnet: Int, onRecord: ((KernelRecord) -> Void)? = nil) throws {
        lab = try NetnsLab(tag: tag, subnet: subnet)
        dp = try DataPlane.withDefaultRules()
        if let onRecord {
            ring = try RingBufferReader(map: dp.events) { onRecord(KernelRecord($0)) }
        } else {
            ring = try reader(for: dp, into: sink)
        }
        try dp.set(RL_CFG_ID_OPTION_EXPECTED, 1)
        try dp.setService(cgroupID: try NetnsLab.cgroupID(lab.clientCgroup), serviceID: clientService)
        try dp.setService(cgroupID: try NetnsLab.cgroupID(lab.serverCgroup), serviceID: serverService)
        for (ifname, ns) in [(lab.clientIf, lab.clientNetns), (lab.serverIf, lab.serverNetns)] {
            attachments.add(try TCAttachment(program: try dp.program(.tcIngress), interface: ifname, direction: .ingress, netns: ns))
            attachments.add(try TCAttachment(program: try dp.program(.tcEgress), interface: ifname, direction: .egress, netns: ns))
        }
        attachments.add(try Link.attachCgroup(try dp.program(.sockops), cgroupPath: lab.cgroupRoot))
        for p in [DataPlane.ProgramName.retransmit, .sendReset, .receiveReset, .kfreeSkb] {
            attachments.add(try Link.attach(try dp.program(p)))
        }
    }

    func tearDown() throws {
        try attachments.detachAll()
        lab.tearDown()
    }

    func startNginx(port: Int) throws -> String {
        let dir = NSTemporaryDirectory() + "redline-nginx-\(getpid())-\(port)"
        try FileManager.default.createDirectory(atPath: dir + "/www", withIntermediateDirectories: true)
        try String(repeating: "redline\n", count: 500).write(toFile: dir + "/www/index.html", atomically: true, encoding: .utf8)
        let conf = """
            daemon off; worker_processes 1; pid \(dir)/nginx.pid; error_log \(dir)/error.log;
            events { worker_connections 64; }
            http { access_log off; client_body_temp_path \(dir); proxy_temp_path \(dir); fastcgi_temp_path \(dir);
              uwsgi_temp_path \(dir); scgi_temp_path \(dir); keepalive_requests 1000;
              server { listen \(lab.serverAddr):\(port); root \(dir)/www; location /missing { return 404; } } }
            """
        try conf.write(toFile: dir + "/nginx.conf", atomically: true, encoding: .utf8)
        try lab.start(in: lab.server, cgroup: lab.serverCgroup, "nginx -c \(dir)/nginx.conf -p \(dir)")
        try lab.waitForPort(port)
        return dir
    }
}

/// A 4-tuple seen from one side.
private func endpoint(_ laddr: some Any, _ lport: UInt16) -> String {
    let b = tupleBytes(laddr)
    return "\(b[12]).\(b[13]).\(b[14]).\(b[15]):\(lport)"
}

@Suite("End to end in network namespaces (root, BPF, netns)", .serialized, .requiresNetnsLab)
struct EndToEndTests {
    @Test("rootBPF netns: nginx + curl — call count, status, captured prefix, identity option, flow bytes")
    func rootBPFNetnsHTTP() throws {
        let e = try AttachedLab(tag: "http", subnet: 10)
        defer { try? e.tearDown() }
        let dir = try e.startNginx(port: 80)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // The readiness probe above opened connections too (no payload, no calls).
        try e.ring.drain()
        e.sink.records.removeAll()

        // 20 requests on one keep-alive connection (2 of them 404), then 5 on another.
        let base = "http://\(e.lab.serverAddr)"
        let urls1 = (0..<20).map { $0 % 10 == 9 ? "\(base)/missing" : "\(base)/index.html?i=\($0)" }
        let urls2 = (0..<5).map { "\(base)/?j=\($0)" }
        var requestBytes = 0, responseBytes = 0
        for urls in [urls1, urls2] {
            let out = try e.lab.run(
                in: e.lab.client, cgroup: e.lab.clientCgroup,
                "curl -s -w '%{size_request} %{size_header} %{size_download}\\n' " + urls.map { "-o /dev/null '\($0)'" }.joined(separator: " "))
            for line in out.split(separator: "\n") {
                let v = line.split(separator: " ").compactMap { Int($0) }
                #expect(v.count == 3, "curl -w printed: \(line)")
                if v.count == 3 { requestBytes += v[0]; responseBytes += v[1] + v[2] }
            }
        }
        let clientCalls = { e.sink.calls.filter { $0.0.side == UInt8(RL_SIDE_CLIENT.rawValue) } }
        let serverCalls = { e.sink.calls.filter { $0.0.side == UInt8(RL_SIDE_SERVER.rawValue) } }
        // Both ends of curl's two connections (not the readiness probe's).
        let closedFlows = { e.sink.flows.filter {
            $0.flags & UInt32(RL_FLOW_CLOSED.rawValue) != 0 && ($0.local_service == e.clientService || $0.peer_service == e.clientService)
        } }
        try pollUntil(e.ring) { clientCalls().count >= 25 && serverCalls().count >= 25 && closedFlows().count >= 4 }

        #expect(clientCalls().count == 25)
        #expect(serverCalls().count == 25)
        for (c, prefix) in clientCalls() {
            #expect(c.l7_proto == UInt8(RL_L7_HTTP1.rawValue))
            #expect(c.req_rule == 1 && c.resp_rule == 8)
            #expect(c.local_service == e.clientService && c.peer_service == e.serverService)
            #expect(c.duration_ns > 0)
            #expect(prefix.map { Array($0.prefix(5)) } == Array("GET /".utf8))
        }
        #expect(clientCalls().filter { $0.0.status_code == 404 }.count == 2)
        #expect(clientCalls().filter { $0.0.status_code == 200 }.count == 23)
        #expect(clientCalls().filter { $0.0.status_class == UInt8(RL_STATUS_CLIENT_ERROR.rawValue) }.count == 2)
        for (c, _) in serverCalls() {
            #expect(c.local_service == e.serverService && c.peer_service == e.clientService)
        }
        // Request/response payload bytes as curl counted them.
        #expect(clientCalls().reduce(0) { $0 + Int($1.0.req_bytes) } == requestBytes)
        #expect(clientCalls().reduce(0) { $0 + Int($1.0.resp_bytes) } == responseBytes)

        // Flow bytes on the client: L3 bytes = payload + per-packet IP/TCP headers (20 + 20..60).
        // curl's flows: the client cgroup's. The readiness probe's connection (from outside the
        // lab's cgroups) may close after the drain above; a CI run under load saw its closing
        // delta here.
        let clientFlows = e.sink.flows.filter {
            endpoint($0.laddr, 0).hasPrefix(e.lab.clientAddr) && $0.rport == 80 && $0.local_service == e.clientService
        }
        let tx = clientFlows.reduce(UInt64(0)) { $0 + $1.tx_bytes }, txp = clientFlows.reduce(UInt64(0)) { $0 + $1.tx_packets }
        let rx = clientFlows.reduce(UInt64(0)) { $0 + $1.rx_bytes }, rxp = clientFlows.reduce(UInt64(0)) { $0 + $1.rx_packets }
        #expect(tx >= UInt64(requestBytes) + txp * 40 && tx <= UInt64(requestBytes) + txp * 80, "tx \(tx) for \(requestBytes) in \(txp) packets")
        #expect(rx >= UInt64(responseBytes) + rxp * 40 && rx <= UInt64(responseBytes) + rxp * 80, "rx \(rx) for \(responseBytes) in \(rxp) packets")
        #expect(clientFlows.allSatisfy { $0.peer_service == e.serverService && $0.l7_proto == UInt8(RL_L7_HTTP1.rawValue) })
        #expect(clientFlows.filter { $0.flags & UInt32(RL_FLOW_CLOSED.rawValue) != 0 }.count == 2)

        let stats = try e.dp.stats()
        #expect(stats.idOptionSeen >= 4)  // both ends of both connections
        // The readiness probe connected from outside the lab's cgroups: no option, counted.
        #expect(stats.idOptionMissing >= 1)
        #expect(stats.unpairedRequest[Int(RL_L7_HTTP1.rawValue)] == 0)
        #expect(stats.unpairedResponse[Int(RL_L7_HTTP1.rawValue)] == 0)
        #expect(try e.dp.ruleHitCounts()[1] ?? 0 >= 50)
    }

    @Test("rootBPF netns: two services listening on one port at two addresses of a host: each connection's option names its own listener's service")
    func listenersSharingAPort() throws {
        let e = try AttachedLab(tag: "twol", subnet: 30)
        let second = "198.18.30.6", secondService: UInt32 = 203
        let secondCgroup = e.lab.cgroupRoot + "/server2"
        defer {
            try? e.tearDown()
            // The lab's teardown removes its own cgroups; this one first (its process is gone).
            _ = try? NetnsLab.sh("rmdir \(secondCgroup) \(e.lab.cgroupRoot) 2>/dev/null; true")
        }
        // A second address on the server's link (a /32 beside the lab's /30), routed from the client.
        _ = try NetnsLab.sh("ip -n \(e.lab.server) addr add \(second)/32 dev \(e.lab.serverIf)")
        _ = try NetnsLab.sh("ip -n \(e.lab.client) route add \(second)/32 dev \(e.lab.clientIf)")
        _ = try NetnsLab.sh("mkdir -p \(secondCgroup)")
        try e.dp.setService(cgroupID: try NetnsLab.cgroupID(secondCgroup), serviceID: secondService)
        let dir = NSTemporaryDirectory() + "redline-twol-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Two redis-servers on port 6379, one per address and service, started after sockops
        // was attached (TCP_LISTEN_CB records each listener).
        for (addr, cgroup, name) in [(e.lab.serverAddr, e.lab.serverCgroup, "a"), (second, secondCgroup, "b")] {
            try e.lab.start(in: e.lab.server, cgroup: cgroup,
                            "redis-server --port 6379 --bind \(addr) --protected-mode no --save '' --appendonly no --dir \(dir) --dbfilename \(name).rdb")
        }
        try e.lab.waitForPort(6379)
        var up = false
        for _ in 0..<200 where !up {
            up = (try? NetnsLab.sh("ip netns exec \(e.lab.client) bash -c 'exec 3<>/dev/tcp/\(second)/6379'")) != nil
            if !up { usleep(20_000) }  // pacing between readiness probes, not synchronisation
        }
        try #require(up, "the second redis-server never listened")
        try e.ring.drain()
        e.sink.records.removeAll()

        for addr in [e.lab.serverAddr, second] {
            _ = try e.lab.run(in: e.lab.client, cgroup: e.lab.clientCgroup, "redis-benchmark -h \(addr) -p 6379 -t ping -n 200 -c 2 -q")
        }
        let clientCalls = { e.sink.calls.filter { $0.0.side == UInt8(RL_SIDE_CLIENT.rawValue) } }
        try pollUntil(e.ring) { clientCalls().count >= 400 }
        let toFirst = clientCalls().filter { endpoint($0.0.raddr, 0).hasPrefix(e.lab.serverAddr + ":") }
        let toSecond = clientCalls().filter { endpoint($0.0.raddr, 0).hasPrefix(second + ":") }
        #expect(toFirst.count >= 200 && toSecond.count >= 200, "calls: \(toFirst.count) to \(e.lab.serverAddr), \(toSecond.count) to \(second)")
        #expect(toFirst.allSatisfy { $0.0.peer_service == e.serverService }, "to \(e.lab.serverAddr): peers \(Set(toFirst.map(\.0.peer_service)))")
        #expect(toSecond.allSatisfy { $0.0.peer_service == secondService }, "to \(second): peers \(Set(toSecond.map(\.0.peer_service)))")
        // And the servers' view: each service served the client.
        let serverCalls = e.sink.calls.filter { $0.0.side == UInt8(RL_SIDE_SERVER.rawValue) }
        #expect(Set(serverCalls.map(\.0.local_service)) == [e.serverService, secondService])
        #expect(serverCalls.allSatisfy { $0.0.peer_service == e.clientService })
    }

    @Test("rootBPF netns: redis-server + redis-benchmark — one call per request")
    func rootBPFNetnsRedis() throws {
        let e = try AttachedLab(tag: "redis", subnet: 11)
        defer { try? e.tearDown() }
        let dir = NSTemporaryDirectory() + "redline-redis-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try e.lab.start(
            in: e.lab.server, cgroup: e.lab.serverCgroup,
            "redis-server --port 6379 --bind \(e.lab.serverAddr) --protected-mode no --save '' --appendonly no --dir \(dir)")
        try e.lab.waitForPort(6379)
        try e.ring.drain()
        e.sink.records.removeAll()

        let n = 2000
        try e.lab.run(
            in: e.lab.client, cgroup: e.lab.clientCgroup,
            "redis-benchmark -h \(e.lab.serverAddr) -p 6379 -t set,get -n \(n) -c 4 -q")
        let clientCalls = { e.sink.calls.filter { $0.0.side == UInt8(RL_SIDE_CLIENT.rawValue) } }
        try pollUntil(e.ring) { clientCalls().count >= 2 * n }
        // SET and GET, n each; redis-benchmark may also ask the server for its CONFIG first.
        let sets = clientCalls().filter { ($0.1 ?? []).starts(with: Array("*3\r\n$3\r\nSET".utf8)) }.count
        let gets = clientCalls().filter { ($0.1 ?? []).starts(with: Array("*2\r\n$3\r\nGET".utf8)) }.count
        #expect(sets == n)
        #expect(gets == n)
        #expect(clientCalls().allSatisfy { $0.0.l7_proto == UInt8(RL_L7_REDIS.rawValue) })
        #expect(clientCalls().filter { $0.1.map { $0.starts(with: Array("*3\r\n$3\r\nSET".utf8)) } ?? false }
            .allSatisfy { $0.0.status_class == UInt8(RL_STATUS_OK.rawValue) && $0.0.resp_rule == 22 })
        #expect(try e.dp.stats().unpairedRequest[Int(RL_L7_REDIS.rawValue)] == 0)
    }

    @Test("rootBPF netns: a provoked retransmit and a reset are reported as TCP events")
    func rootBPFNetnsRetransmitAndReset() throws {
        let e = try AttachedLab(tag: "health", subnet: 12)
        defer { try? e.tearDown() }
        let dir = try e.startNginx(port: 80)
        defer { try? FileManager.default.removeItem(atPath: dir) }

        // Lose the client's first two payload segments to port 80 on the wire (at the
        // server's ingress: a drop at the sender's own egress is a local xmit error,
        // which TCP retries without a retransmit).
        let lossySpec = try ObjectSpec(path: Package.lossyObject)
        let lossy = try lossySpec.load()
        let cfg = try lossy.map("lossy_cfg")
        try cfg.update(key: bytes(of: UInt32(0)), value: bytes(of: UInt32(80)))
        try cfg.update(key: bytes(of: UInt32(1)), value: bytes(of: UInt32(2)))
        let drop = try TCAttachment(program: try lossy.program("rl_lossy"), interface: e.lab.serverIf, direction: .ingress, netns: e.lab.serverNetns)
        try e.lab.run(in: e.lab.client, cgroup: e.lab.clientCgroup, "curl -s -o /dev/null --max-time 20 http://\(e.lab.serverAddr)/")
        try drop.detach()
        #expect(load(UInt32.self, from: try cfg.lookup(key: bytes(of: UInt32(2))) ?? []) == 2)

        // A connection to a closed port: the server's kernel resets it.
        _ = try? e.lab.run(in: e.lab.client, cgroup: e.lab.clientCgroup, "curl -s --max-time 5 http://\(e.lab.serverAddr):81/")

        let events = { e.sink.tcpEvents.filter { ev in
            let r = tupleBytes(ev.raddr), l = tupleBytes(ev.laddr)
            return [r, l].contains(ipv4Mapped(e.lab.serverAddr.split(separator: ".").map { UInt8($0)! }))
        } }
        let of = { (k: rl_tcp_event_kind) in events().filter { $0.kind == UInt8(k.rawValue) } }
        try pollUntil(e.ring) {
            !of(RL_TCP_RETRANSMIT).isEmpty && !of(RL_TCP_RESET_SENT).isEmpty && !of(RL_TCP_RESET_RECEIVED).isEmpty
                && of(RL_TCP_DROP).count >= 2
        }
        // The two segments rl_lossy shot at the server's ingress are kernel drops with a reason.
        let drops = of(RL_TCP_DROP).filter { $0.lport == 80 && $0.l4_proto == 6 }
        #expect(drops.count >= 2)
        #expect(drops.allSatisfy { $0.drop_reason > 2 })  // a specific reason, not NOT_SPECIFIED
        let retrans = of(RL_TCP_RETRANSMIT)
        #expect(!retrans.isEmpty)
        #expect(retrans.allSatisfy { $0.rport == 80 && $0.local_service == e.clientService && $0.peer_service == e.serverService })
        let sent = of(RL_TCP_RESET_SENT)
        #expect(sent.contains { $0.lport == 81 && endpoint($0.laddr, $0.lport) == "\(e.lab.serverAddr):81" })
        let received = of(RL_TCP_RESET_RECEIVED)
        #expect(received.contains { $0.rport == 81 && $0.tcp_state == 2 })  // TCP_SYN_SENT
    }
}
