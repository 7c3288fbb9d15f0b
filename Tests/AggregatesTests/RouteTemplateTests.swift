import DevSupport
import Testing
@testable import Aggregates

@Suite struct RouteTemplateTests {
    func t(_ s: String, truncated: Bool = false) -> String { RouteTemplate.template(Array(s.utf8), truncated: truncated) }

    @Test func identifiersBecomePlaceholders() {
        #expect(t("/users/4711/orders") == "/users/{id}/orders")
        #expect(t("/users/-3") == "/users/{id}")
        #expect(t("/o/3f2504e0-4f89-11d3-9a0c-0305e82c3301") == "/o/{uuid}")
        #expect(t("/o/3F2504E0-4F89-11D3-9A0C-0305E82C3301/x") == "/o/{uuid}/x")
        #expect(t("/blob/507f1f77bcf86cd799439011") == "/blob/{hex}")
        #expect(t("/git/da39a3ee5e6b4b0d3255bfef95601890afd80709") == "/git/{hex}")
        #expect(t("/s/eyJhbGciOiJIUzI1NiJ9abc_-") == "/s/{token}")
    }

    @Test func wordsAndVersionsStay() {
        #expect(t("/api/v1/healthz") == "/api/v1/healthz")
        #expect(t("/") == "/")
        #expect(t("/a//b/") == "/a//b/")
        // Long hex-looking words without a digit, long words without a digit stay.
        #expect(t("/deadbeefcafebabedeadbeef") == "/deadbeefcafebabedeadbeef")
        #expect(t("/configuration-settings-page") == "/configuration-settings-page")
        // 15 hex digits is not long hex.
        #expect(t("/abc123abc123abc") == "/abc123abc123abc")
        #expect(t("/index.html") == "/index.html")
    }

    @Test func untrustedPathsGetOnePlaceholderEach() {
        #expect(t("") == "{none}")
        #expect(t("*") == "{invalid}")
        #expect(RouteTemplate.template([0x2F, 0xC3, 0x28]) == "{invalid}")
        #expect(RouteTemplate.template([0x2F, 0x61, 0x00, 0x62]) == "{invalid}")
        #expect(t("/a b") == "{invalid}")
        #expect(t("/users/4711/ord", truncated: true) == "/users/{id}/{truncated}")
    }

    @Test func domainsLoseTheirPortAndCase() {
        #expect(RouteTemplate.domain(Array("API.Example.com:8080".utf8)) == "api.example.com")
        #expect(RouteTemplate.domain(Array("[::1]:80".utf8)) == "[::1]")
        #expect(RouteTemplate.domain(Array("a:b".utf8)) == "a:b")
        #expect(RouteTemplate.domain([UInt8]()) == "{none}")
        #expect(RouteTemplate.domain([0xFF, 0x61]) == "{invalid}")
    }

    @Test func tenThousandRandomRoutesKeepTheTopK() {
        var cap = NameCap<String>(limit: 200)
        var rng = SplitMix64(seed: 14)
        // Ten real routes with many calls, then 10 000 distinct random words (no digits, so
        // templating keeps them all) with one call each.
        for r in 0..<10 { cap.admit("svc", "/real/\(r)x", 1000 + UInt64(r)) }
        var folded = 0
        for _ in 0..<10_000 {
            let word = String((0..<12).map { _ in Character(Unicode.Scalar(UInt8(97 + rng.next() % 26))) })
            if cap.admit("svc", "/" + word) == RouteTemplate.other { folded += 1 }
        }
        #expect(folded == 10_010 - cap.trackLimit)
        let kept = cap.kept()["svc"]!
        #expect(kept.count == 200)
        for r in 0..<10 { #expect(kept.contains("/real/\(r)x")) }
        #expect(!kept.contains(RouteTemplate.other))
    }

    @Test func rejectsAreNeverFolded() {
        var cap = NameCap<Int>(limit: 1) { RouteTemplate.rejects.contains($0) }
        cap.admit(1, "/a", 10)
        cap.admit(1, "/b", 5)
        cap.admit(1, RouteTemplate.invalid, 1)
        #expect(cap.kept()[1] == ["/a", RouteTemplate.invalid])
    }

    @Test func theCapDoesNotDependOnArrivalOrder() {
        var a = NameCap<Int>(limit: 2), b = NameCap<Int>(limit: 2)
        let calls: [(String, UInt64)] = [("/x", 5), ("/y", 5), ("/z", 5), ("/w", 1)]
        for (n, c) in calls { a.admit(1, n, c) }
        for (n, c) in calls.reversed() { b.admit(1, n, c) }
        #expect(a.kept() == b.kept())
        #expect(a.kept()[1] == ["/x", "/y"])
    }
}

@Suite struct RequestNamesTests {
    /// A DNS query for `name` of `type` as a resolver sends it.
    static func query(_ labels: [String], type: UInt16 = 1) -> [UInt8] {
        var b: [UInt8] = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for l in labels { b.append(UInt8(l.utf8.count)); b += Array(l.utf8) }
        b += [0, UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
        return b
    }

    @Test func readsTheQuestion() throws {
        let q = try RequestNames.dnsQuestion(Self.query(["API", "Example", "com"], type: 28)).get()
        #expect(q == RequestNames.DNSQuestion(name: "api.example.com", type: 28))
        #expect(RequestNames.dnsTypeName(q.type) == "AAAA")
        #expect(try RequestNames.dnsQuestion(Self.query([])).get().name == ".")
        #expect(RequestNames.dnsTypeName(999) == "TYPE999")
        #expect(RequestNames.dnsResponseCodeName(3) == "NXDOMAIN")
    }

    @Test func everyCutOfAQueryIsTruncatedNeverACrash() {
        let q = Self.query(["svc", "lab", "internal"])
        for n in 0..<q.count - 2 {
            #expect(RequestNames.dnsQuestion(q.prefix(n)) == .failure(.truncated), "cut at \(n)")
        }
    }

    @Test func hostileQuestionsAreRejectedWithAReason() {
        var pointer = Self.query(["a"]); pointer[12] = 0xC0
        #expect(RequestNames.dnsQuestion(pointer) == .failure(.invalid))
        #expect(RequestNames.dnsQuestion(Self.query(["a\u{7F}b"])) == .failure(.invalid))
        var utf8 = Self.query(["ab"]); utf8[13] = 0xC3
        #expect(RequestNames.dnsQuestion(utf8) == .failure(.invalid))
        let long = Array(repeating: String(repeating: "x", count: 63), count: 5)
        #expect(RequestNames.dnsQuestion(Self.query(long)) == .failure(.oversized))
        var rng = SplitMix64(seed: 53)
        for _ in 0..<2000 {
            let junk = (0..<Int(rng.next() % 300)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if case .success(let q) = RequestNames.dnsQuestion(junk) { #expect(q.name.utf8.count <= 254) }
        }
    }

    @Test func readsRedisCommands() {
        #expect(RequestNames.redisCommand(Array("*2\r\n$3\r\nget\r\n$1\r\nk\r\n".utf8)) == .success("GET"))
        #expect(RequestNames.redisCommand(Array("*1\r\n$4\r\nPING\r\n".utf8)) == .success("PING"))
        #expect(RequestNames.redisCommand(Array("*2\r\n$3\r\nge".utf8)) == .failure(.truncated))
        #expect(RequestNames.redisCommand(Array("*2\r\n$40\r\n".utf8)) == .failure(.oversized))
        #expect(RequestNames.redisCommand(Array("GET k\r\n".utf8)) == .failure(.invalid))
        #expect(RequestNames.redisCommand([0x2A, 0x31, 0x0D, 0x0A, 0x24, 0x31, 0x0D, 0x0A, 0xFF]) == .failure(.invalid))
        let cmd = Array("*1\r\n$4\r\nPING\r\n".utf8)
        for n in 0..<(cmd.count - 2) { #expect(RequestNames.redisCommand(cmd.prefix(n)) == .failure(.truncated), "cut at \(n)") }
    }
}
