import Testing
import CRedlineABI
@testable import Collector

@Suite struct RequestPrefixTests {
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

    @Test func httpHostRouteAndTraceparent() {
        let req = "GET /api/v1/cart/42?session=abc#x HTTP/1.1\r\nHost: Shop.Example:8080\r\nUser-Agent: curl/7.88\r\ntraceparent: \(tp)\r\n\r\nbody"
        let c = RequestPrefixParser.http(Array(req.utf8))
        #expect(c.host == "shop.example:8080")
        #expect(c.route == "/api/v1/cart/42")
        #expect(c.traceSource == .w3c)
        #expect(c.traceID == RequestPrefixParser.hex("4bf92f3577b34da6a3ce929d0e0e4736", bytes: 16))
        #expect(c.spanID == RequestPrefixParser.hex("00f067aa0ba902b7", bytes: 8))
    }

    @Test func b3SingleAndMultiHeader() {
        let single = RequestPrefixParser.http(Array("POST /x HTTP/1.1\r\nb3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90\r\n\r\n".utf8))
        #expect(single.traceSource == .b3)
        #expect(single.traceID == RequestPrefixParser.hex("80f198ee56343ba864fe8b2a57d3eff7", bytes: 16))
        let multi = RequestPrefixParser.http(Array("GET / HTTP/1.1\r\nX-B3-TraceId: 463ac35c9f6413ad\r\nX-B3-SpanId: a2fb4a1d1a96d312\r\n\r\n".utf8))
        #expect(multi.traceSource == .b3)
        #expect(multi.traceID == [0, 0, 0, 0, 0, 0, 0, 0] + RequestPrefixParser.hex("463ac35c9f6413ad", bytes: 8)!)
        #expect(multi.spanID == RequestPrefixParser.hex("a2fb4a1d1a96d312", bytes: 8))
        // W3C wins over B3 when both are present.
        let both = RequestPrefixParser.http(Array("GET / HTTP/1.1\r\nb3: 80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1\r\ntraceparent: \(tp)\r\n\r\n".utf8))
        #expect(both.traceSource == .w3c)
    }

    @Test func headerNamesAnyCaseValuesTrimmedControlBytesRefused() {
        let c = RequestPrefixParser.http(Array("GET / HTTP/1.1\r\nHOST:\t Api.Example \t\r\nTraceParent:  \(tp)\t\r\n\r\n".utf8))
        #expect(c.host == "api.example")
        #expect(c.traceSource == .w3c)
        // A near-miss name is not the header; a value with a control byte is not text.
        let d = RequestPrefixParser.http(Array("GET / HTTP/1.1\r\nHost-X: a\r\nhost : b\r\nHost: c\u{01}d\r\ntraceparent\u{01}: \(tp)\r\n\r\n".utf8))
        #expect(d.host == nil)
        #expect(d.traceID == nil)
    }

    @Test func laterTraceparentVersionsMayAppendFields() {
        let c = RequestPrefixParser.http(Array("GET / HTTP/1.1\r\ntraceparent: 01\(tp.dropFirst(2))-future\r\n\r\n".utf8))
        #expect(c.traceID == RequestPrefixParser.hex("4bf92f3577b34da6a3ce929d0e0e4736", bytes: 16))
    }

    @Test func invalidTraceContextIsIgnored() {
        for bad in ["00-00000000000000000000000000000000-00f067aa0ba902b7-01", "ff-\(tp.dropFirst(3))",
                    "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01", "00-4bf92f3577b34da6a3ce929d0e0e4736-zz-01",
                    "\(tp)1", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-701"] {
            let c = RequestPrefixParser.http(Array("GET / HTTP/1.1\r\ntraceparent: \(bad)\r\n\r\n".utf8))
            #expect(c.traceID == nil, "\(bad)")
        }
    }

    @Test func cutPrefixKeepsOnlyCompleteParts() {
        let full = Array("GET /orders/7?q=1 HTTP/1.1\r\nHost: api\r\ntraceparent: \(tp)\r\n\r\n".utf8)
        // Cut anywhere: never crash, never report a half header as a value.
        for n in 0...full.count {
            let c = RequestPrefixParser.http(full[0..<n])
            if let h = c.host { #expect(h == "api") }
            if let r = c.route { #expect(r == "/orders/7") }
            if c.traceID != nil { #expect(c.spanID == RequestPrefixParser.hex("00f067aa0ba902b7", bytes: 8)) }
        }
        #expect(RequestPrefixParser.http(full[0..<20]).host == nil)
    }

    @Test func absoluteFormAndBinaryGarbage() {
        let c = RequestPrefixParser.http(Array("GET http://Backend:9000/health?x HTTP/1.1\r\n\r\n".utf8))
        #expect(c.host == "backend:9000" && c.route == "/health")
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let junk = (0..<Int.random(in: 0...256, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = RequestPrefixParser.http(junk)
            _ = RequestPrefixParser.ttheader(junk)
        }
    }

    /// Builds a TTHeader frame the way a Kitex client lays it out.
    func ttheaderFrame(strings: [(String, String)], ints: [(UInt16, String)] = []) -> [UInt8] {
        var h: [UInt8] = [0x01, 0x00] // protocol id (binary), no transforms
        func u16(_ v: Int) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
        if !ints.isEmpty {
            h += [0x10] + u16(ints.count)
            for (k, v) in ints { h += u16(Int(k)) + u16(v.utf8.count) + Array(v.utf8) }
        }
        h += [0x01] + u16(strings.count)
        for (k, v) in strings { h += u16(k.utf8.count) + Array(k.utf8) + u16(v.utf8.count) + Array(v.utf8) }
        while h.count % 4 != 0 { h.append(0) }
        let payload: [UInt8] = [0x80, 0x01, 0x00, 0x01]
        let rest = [0x10, 0x00, 0x00, 0x00] + [0, 0, 0, 7] + u16(h.count / 4) + h + payload
        return [UInt8(rest.count >> 24), UInt8(rest.count >> 16 & 0xFF), UInt8(rest.count >> 8 & 0xFF), UInt8(rest.count & 0xFF)] + rest
    }

    @Test func ttheaderTraceContext() {
        let f = ttheaderFrame(strings: [("env", "prod"), ("traceparent", tp)], ints: [(3, "caller-svc")])
        let c = RequestPrefixParser.ttheader(f)
        #expect(c.traceSource == .ttheader)
        #expect(c.traceID == RequestPrefixParser.hex("4bf92f3577b34da6a3ce929d0e0e4736", bytes: 16))
        for n in 0..<f.count { _ = RequestPrefixParser.ttheader(f[0..<n]) }
        #expect(RequestPrefixParser.ttheader(Array(f[0..<20])).traceID == nil)
        var notTT = f
        notTT[4] = 0x0F
        #expect(RequestPrefixParser.ttheader(notTT).traceID == nil)
    }
}

/// The detail a call's captured prefix becomes (schemas/records-v2.md, "Which calls get a detail").
@Suite struct CallDetailTests {
    static func redisCall() -> rl_l7_call {
        var c = rl_l7_call()
        c.l7_proto = UInt8(RL_L7_REDIS.rawValue)
        return c
    }

    static func route(_ d: rl_call_detail) -> String {
        withUnsafeBytes(of: d.route) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    @Test("Redis: the command, upper-cased, in route, from a 64-byte capture of a pipelined write; the flag says a prefix was parsed")
    func redisCommand() throws {
        var c = Self.redisCall()
        // What the kernel captures (64 bytes) of a pipelined write: the first command and part of the next.
        let write = Array("*3\r\n$3\r\nset\r\n$16\r\nkey:000000000042\r\n$3\r\nxyz\r\n*2\r\n$3\r\nGET\r\n$16\r\nkey:0000".utf8)
        let d = try #require(CallContext.detail(for: &c, prefix: Array(write.prefix(64))))
        #expect(Self.route(d) == "SET")
        #expect(c.flags & UInt8(RL_CALL_PREFIX_CAPTURED.rawValue) != 0)
        #expect(c.flags & UInt8(RL_CALL_TRUNCATED.rawValue) == 0)
        withUnsafeBytes(of: d.host) { #expect($0.allSatisfy { $0 == 0 }) }
        withUnsafeBytes(of: d.trace_id) { #expect($0.allSatisfy { $0 == 0 }) }
    }

    @Test("Redis: a prefix that is no RESP command, or is cut inside the command, gives no detail (counted under {none}, never a guessed name)")
    func redisRejects() {
        for prefix in ["PING\r\n", "*1\r\n$4\r\nPI", "*1\r\n$40\r\n", "*0\r\n", "*1\r\n$4\r\nP NG\r\n", ""] {
            var c = Self.redisCall()
            #expect(CallContext.detail(for: &c, prefix: Array(prefix.utf8)) == nil, "\(prefix.debugDescription)")
        }
    }

    /// A DNS query as a resolver sends it: id, flags (RD), one question, one EDNS OPT record.
    static func dnsQuery(_ name: String, type: UInt16) -> [UInt8] {
        var b: [UInt8] = [0x4a, 0x17, 0x01, 0x20, 0, 1, 0, 0, 0, 0, 0, 1]
        for label in name.split(separator: ".") { b.append(UInt8(label.utf8.count)); b += Array(label.utf8) }
        b += [0, UInt8(type >> 8), UInt8(type & 0xff), 0, 1]
        b += [0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0] // OPT, UDP size 1232
        return b
    }

    static func dnsCall() -> rl_l7_call {
        var c = rl_l7_call()
        c.l7_proto = UInt8(RL_L7_DNS.rawValue)
        return c
    }

    static func host(_ d: rl_call_detail) -> String {
        withUnsafeBytes(of: d.host) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    @Test("DNS: the question's name (lower-cased) in route and its type in host, from the rule's 256-byte capture")
    func dnsQuestion() throws {
        for (name, type, mnemonic) in [("Redis.Default.svc.cluster.local", UInt16(1), "A"), ("api.example.org", 28, "AAAA"),
                                       ("_http._tcp.web.dc1.internal", 33, "SRV"), ("x.test", 65, "HTTPS"), ("y.test", 999, "TYPE999")] {
            var c = Self.dnsCall()
            let d = try #require(CallContext.detail(for: &c, prefix: Self.dnsQuery(name, type: type)))
            #expect(Self.route(d) == name.lowercased())
            #expect(Self.host(d) == mnemonic)
            #expect(c.flags & UInt8(RL_CALL_PREFIX_CAPTURED.rawValue) != 0)
            #expect(c.flags & UInt8(RL_CALL_TRUNCATED.rawValue) == 0)
        }
    }

    @Test("DNS: a name past the 79-byte field is cut and flagged; a question that cannot be read gives its reason, no type")
    func dnsRejects() throws {
        let long = (0..<6).map { _ in String(repeating: "a", count: 20) }.joined(separator: ".") // 125 bytes
        var c = Self.dnsCall()
        let d = try #require(CallContext.detail(for: &c, prefix: Self.dnsQuery(long, type: 1)))
        #expect(Self.route(d) == String(long.prefix(79)))
        #expect(c.flags & UInt8(RL_CALL_TRUNCATED.rawValue) != 0)
        let whole = Self.dnsQuery("svc.cluster.local", type: 1)
        var pointer = whole
        pointer[12] = 0xC0
        for (prefix, reason) in [(Array(whole.prefix(18)), "{truncated}"), (pointer, "{invalid}")] {
            var c = Self.dnsCall()
            let d = try #require(CallContext.detail(for: &c, prefix: prefix))
            #expect(Self.route(d) == reason)
            #expect(Self.host(d) == "")
        }
    }

    @Test("protocols without a prefix parser (MySQL, Kafka) get no detail and keep their flags")
    func otherProtocols() {
        for proto in [RL_L7_MYSQL, RL_L7_KAFKA] {
            var c = rl_l7_call()
            c.l7_proto = UInt8(proto.rawValue)
            #expect(CallContext.detail(for: &c, prefix: Array("*1\r\n$4\r\nPING\r\n".utf8)) == nil)
            #expect(c.flags == 0)
        }
    }
}
