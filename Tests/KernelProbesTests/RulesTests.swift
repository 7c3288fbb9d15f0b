import CRedlineABI
import KernelProbes
import Testing
import YAMLConfig
import TestSupport

private func ascii(_ s: String) -> [UInt8] { Array(s.utf8) }
private func hex(_ s: String) -> [UInt8] {
    let c = Array(s.filter { !$0.isWhitespace })
    return stride(from: 0, to: c.count, by: 2).map { UInt8(String(c[$0...$0 + 1]), radix: 16)! }
}

/// Positive and negative samples for every shipped rule: each positive must be
/// classified as exactly that rule, no negative by it.
private let ruleSamples: [Int: (transport: L7Rule.Transport, pos: [[UInt8]], neg: [[UInt8]])] = [
    1: (.tcp, [ascii("GET / HTTP/1.1\r\n"), ascii("GET /api?x=1 HTTP/1.0\r\n\r\n"),
               ascii("GET /" + String(repeating: "a", count: 250) + " HTTP/1.1\r\n")],
        [ascii("GET"), ascii("get / HTTP/1.1"), ascii("GETX / HTTP/1.1"), ascii("GET\t/"),
         ascii("GET /k\r\n"), ascii("GET /k HTTP/2\r\n"), ascii("GET / HTTP/1.1"),
         ascii("GET /" + String(repeating: "a", count: 260) + " HTTP/1.1\r\n")]),
    2: (.tcp, [ascii("POST /submit HTTP/1.1\r\n")], [ascii("POSTS /"), ascii("POST")]),
    3: (.tcp, [ascii("PUT /k HTTP/1.1\r\n")], [ascii("PUTS /"), ascii("PUT")]),
    4: (.tcp, [ascii("HEAD / HTTP/1.1\r\n")], [ascii("HEAD"), ascii("HEADER /")]),
    5: (.tcp, [ascii("DELETE /x HTTP/1.1\r\n")], [ascii("DELETED /")]),
    6: (.tcp, [ascii("PATCH /x HTTP/1.1\r\n")], [ascii("PATCHY /")]),
    7: (.tcp, [ascii("OPTIONS * HTTP/1.1\r\n")],
        [ascii("OPTION /"), ascii("OPTIONS rtsp://198.18.0.1:554/live RTSP/1.0\r\nCSeq: 1\r\n\r\n"),
         ascii("OPTIONS sip:bob@198.18.0.1 SIP/2.0\r\n")]),
    8: (.tcp, [ascii("HTTP/1.1 200 OK\r\n"), ascii("HTTP/1.0 404 Not Found\r\n")],
        [ascii("HTTP/2 200"), ascii("http/1.1 200"), ascii("HTTP/1.1 2x0 OK\r\n"), ascii("RTSP/1.0 200 OK\r\n")]),
    20: (.tcp, [ascii("*3\r\n$3\r\nSET\r\n"), ascii("*1\r\n$4\r\nPING\r\n")],
         [ascii("*3\r\n:1\r\n"), ascii("*\r\n$"), ascii("*3\r\n$x"), ascii("* OK [CAPABILITY IMAP4rev1]\r\n")]),
    21: (.tcp, [ascii("*11\r\n$4\r\nMSET\r\n")], [ascii("*1a\r\n$"), ascii("*11\n$")]),
    22: (.tcp, [ascii("+OK\r\n"), ascii("+PONG\r\n"), ascii("+QUEUED\r\n")],
         [ascii("+ok"), ascii("+1"), ascii("+O"), ascii("+OK Dovecot ready.\r\n")]),
    23: (.tcp, [ascii("-ERR unknown command\r\n"), ascii("-WRONGTYPE x\r\n")], [ascii("-1\r\n"), ascii("-err"), ascii("-E")]),
    24: (.tcp, [ascii(":1\r\n"), ascii(":42\r\n")], [ascii(":a"), ascii(":-1")]),
    27: (.tcp, [ascii(":-2\r\n"), ascii(":-1\r\n")], [ascii(":-a"), ascii(":-")]),
    25: (.tcp, [ascii("$3\r\nfoo\r\n")], [ascii("$x"), ascii("$")]),
    26: (.tcp, [ascii("$-1\r\n")], [ascii("$-2\r\n"), ascii("$-1")]),
    30: (.tcp, [hex("16 03 01 02 00 01 00 01 fc 03 03"), hex("16 03 03 00 c8 01 00 00 c4 03 03")],
         [hex("16 03 01 02 00 02"), hex("17 03 03 00 20 01"), hex("16 02 00 00 00 01"),
          hex("16 03 01 02 00 01 00 01 fc 02 00"), hex("16 03 01 02 00 01 01 01 fc 03 03")]),
    40: (.tcp, [hex("09 00 00 00 03") + ascii("SELECT 1")], [hex("09 00 00 01 03") + ascii("SELECT 1")]),
    41: (.tcp, [hex("09 00 00 00 16") + ascii("SELECT ?")], [hex("09 00 00 00 15")]),
    42: (.tcp, [hex("0b 00 00 00 17 01 00 00 00 00 01")], [hex("0b 00 00 02 17")]),
    43: (.tcp, [hex("07 00 00 01 00 00 00 02 00 00 00")],
         [hex("07 00 00 02 00 00"), hex("80 0c 00 01 00 00 00 00 00 00 00 01 00 01 00 00 00 00 00 00 00 00 00 00 6b")]),
    44: (.tcp, [hex("17 00 00 01 ff 28 04 23 34 32 30 30 30")], [hex("17 00 00 01 fe"), hex("17 00 00 01 ff 28 04 20")]),
    50: (.tcp, [hex("00 00 00 14 80 01 00 01 00 00 00 04 70 69 6e 67")],
         [hex("00 00 00 14 80 01 00 05"), hex("00 00 00 14 80 01 00 01 00 01 00 04 70 69 6e 67")]),
    51: (.tcp, [hex("00 00 00 14 80 01 00 04 00 00 00 04")], [hex("00 00 00 14 80 02 00 04")]),
    52: (.tcp, [hex("00 00 00 14 80 01 00 02 00 00 00 04")], [hex("00 00 00 14 80 01 01 02")]),
    53: (.tcp, [hex("00 00 00 14 80 01 00 03 00 00 00 04")], [hex("00 00 00 14 81 01 00 03")]),
    54: (.tcp, [hex("00 00 00 30 0f ff 00 00 00 00 00 01"), hex("00 00 00 30 0f ff 00 01 00 00 00 01")],
         [hex("00 00 00 30 0f fe 00 00")]),
    60: (.tcp, [hex("00 00 00 40 00 03 00 09 00 00 00 07 00 07") + ascii("rdkafka")],
         [hex("00 00 00 40 00 03 00 19 00 00 00 07 00 07") + ascii("rdkafka"),
          hex("00 00 00 40 00 83 00 09 00 00 00 07 00 07") + ascii("rdkafka"),
          hex("00 00 00 40 00 03 00 09 00 00 00 07 ff ff") + ascii("rdkafka"),
          hex("00 00 00 40 00 03 00 09 00 00 00 07 00 07 00 00 00 00"),
          [UInt8](repeating: 0, count: 64),
          // PostgreSQL startup messages, protocol 3.0 and 3.2: "user\0postgres\0..."
          hex("00 00 00 29 00 03 00 00") + ascii("user\0postgres\0database\0postgres\0\0"),
          hex("00 00 00 29 00 03 00 02") + ascii("user\0alice\0database\0shop\0\0")]),
    70: (.udp, [hex("12 34 01 20 00 01 00 00 00 00 00 01 07 65 78"), hex("ab cd 00 00 00 01 00 00 00 00 00 00 00")],
         [hex("12 34 81 80 00 01 00 00"), hex("12 34 01 20 00 02 00 00"), hex("12 34 01 20 00 01 00 01"),
          hex("12 34 01 20 00 01 00 00 00 00 00 02 07 65 78"), hex("12 34 01 20 00 01 00 00 00 00 00 00 47 65 78")]),
    71: (.udp, [hex("12 34 81 82 00 01 00 00 00 00 00 00")], [hex("12 34 81 83 00 01 00 00")]),
    72: (.udp, [hex("12 34 81 80 00 01 00 01 00 00 00 00"), hex("12 34 81 83 00 01 00 00 00 00 00 00")],
         [hex("12 34 01 80 00 01 00 01"), hex("12 34 81 80 00 02 00 01")]),
]

@Suite("L7 rules (root, BPF)", .requiresRootBPF)
struct RulesTests {
    @Test("the shipped rules file parses, and every rule has samples here")
    func shippedRulesParse() throws {
        let rules = try RuleSet(yaml: try Package.read(Package.defaultRules))
        #expect(Set(rules.rules.map(\.id)) == Set(ruleSamples.keys))
    }

    @Test("rootBPF: each shipped rule matches its positive samples and none of its negatives, in the kernel")
    func rootBPFShippedRulesSamples() throws {
        let dp = try DataPlane.withDefaultRules(programs: [.tcProbe])
        let rules = try RuleSet(yaml: try Package.read(Package.defaultRules))
        for (id, s) in ruleSamples.sorted(by: { $0.key < $1.key }) {
            for p in s.pos {
                #expect(try dp.probe(Frame.payload(for: s.transport, p)).ruleID == id, "rule \(id) positive \(p)")
                #expect(rules.classify(p, transport: s.transport)?.id == id)
            }
            for n in s.neg {
                #expect(try dp.probe(Frame.payload(for: s.transport, n)).ruleID != id, "rule \(id) negative \(n)")
            }
        }
        // The same payload on the other transport matches nothing.
        #expect(try dp.probe(Frame.udp4(ascii("GET / HTTP/1.1\r\n"))).ruleID == 0)
        #expect(try dp.probe(Frame.tcp4(hex("12 34 01 20 00 01 00 00 00 00 00 01"))).ruleID == 0)
    }

    @Test("rootBPF: status extraction — ASCII digits, masked byte, fixed class")
    func rootBPFStatusExtraction() throws {
        let dp = try DataPlane.withDefaultRules(programs: [.tcProbe])
        let ok = try dp.probe(Frame.tcp4(ascii("HTTP/1.1 200 OK\r\n")))
        #expect(ok.statusCode == 200 && ok.statusClass == Int(RL_STATUS_OK.rawValue))
        let nf = try dp.probe(Frame.tcp4(ascii("HTTP/1.1 404 Not Found\r\n")))
        #expect(nf.statusCode == 404 && nf.statusClass == Int(RL_STATUS_CLIENT_ERROR.rawValue))
        let se = try dp.probe(Frame.tcp4(ascii("HTTP/1.0 503 Service Unavailable\r\n")))
        #expect(se.statusCode == 503 && se.statusClass == Int(RL_STATUS_SERVER_ERROR.rawValue))
        // A status line without three digits is not HTTP (rules-v2 tightened rule 8).
        #expect(try dp.probe(Frame.tcp4(ascii("HTTP/1.1 2x0 OK\r\n"))).ruleID == 0)
        let nx = try dp.probe(Frame.udp4(hex("12 34 81 83 00 01 00 00 00 00 00 00"), sport: 53, dport: 40000))
        #expect(nx.ruleID == 72 && nx.statusCode == 3 && nx.statusClass == Int(RL_STATUS_CLIENT_ERROR.rawValue))
        let sf = try dp.probe(Frame.udp4(hex("12 34 81 82 00 01 00 00 00 00 00 00"), sport: 53, dport: 40000))
        #expect(sf.ruleID == 71 && sf.statusCode == 2 && sf.statusClass == Int(RL_STATUS_SERVER_ERROR.rawValue))
        let noerr = try dp.probe(Frame.udp4(hex("12 34 81 80 00 01 00 01 00 00 00 00"), sport: 53, dport: 40000))
        #expect(noerr.ruleID == 72 && noerr.statusCode == 0 && noerr.statusClass == Int(RL_STATUS_OK.rawValue))
        let err = try dp.probe(Frame.tcp4(ascii("-ERR wrong\r\n")))
        #expect(err.ruleID == 23 && err.statusClass == Int(RL_STATUS_SERVER_ERROR.rawValue))
    }

    @Test("rootBPF: rules are swapped at run time without reloading, and hits are counted per rule")
    func rootBPFRuntimeSwapAndHits() throws {
        let dp = try DataPlane.withDefaultRules(programs: [.tcProbe])
        let get = Frame.tcp4(ascii("GET / HTTP/1.1\r\n"))
        let fd = try dp.program(.tcProbe).fd
        #expect(try dp.probe(get).ruleID == 1)
        let custom = try RuleSet(yaml: """
            version: 1
            rules:
              - {id: 99, protocol: 20, role: request, text: "GET "}
            """)
        try dp.install(custom)
        #expect(try dp.program(.tcProbe).fd == fd)
        #expect(try dp.probe(get).ruleID == 99)
        #expect(try dp.probe(Frame.tcp4(ascii("HTTP/1.1 200 OK\r\n"))).ruleID == 0)
        try dp.install(try RuleSet(yaml: try Package.read(Package.defaultRules)))
        #expect(try dp.probe(get).ruleID == 1)
        let hits = try dp.ruleHitCounts()
        #expect(hits[1] == 2)
        #expect(hits[99] == 1)
        #expect(hits[8] == nil)
    }

    /// The error a rules text is rejected with (file "r.yaml").
    private func rejection(_ text: String) -> ConfigError? {
        #expect(throws: ConfigError.self) { _ = try RuleSet(yaml: text, file: "r.yaml") }
    }

    @Test("bad rules files are rejected naming the file, the line and the field, like every other config")
    func badRulesNameTheLine() throws {
        func body(_ lines: String...) -> String { "version: 1\nrules:\n" + lines.joined(separator: "\n") + "\n" }
        let cases: [(text: String, line: Int, field: String?, says: String)] = [
            ("version: 3\nrules: []\n", 1, "version", "version 3 is not supported"),
            (body("  - {protocol: http1, role: request, text: x}"), 3, "rules[0].id", "missing required key"),
            (body("  - {id: 1, protocol: http1, role: request, text: a}", "  - {id: 1, protocol: http1, role: request, text: b}"),
             4, "rules[1].id", "id 1 used twice"),
            (body("  - {id: 1, protocol: http1, role: request, text: a}", "  - {id: 2, protocol: http1, role: request, hex: \"zz\"}"),
             4, "rules[1].hex", "'zz' is not hex"),
            (body("  - {id: 1, protocol: http1, role: request, hex: \"ff\", mask: \"0f\"}"), 3, "rules[0].mask", "bits outside the mask"),
            (body("  - {id: 1, protocol: http1, role: request, text: \"0123456789abcdefg\"}"), 3, "rules[0].text", "1...16 bytes, not 17"),
            (body("  - id: 1", "    protocol: nope", "    role: request", "    text: a"), 4, "rules[0].protocol", "unknown protocol 'nope'"),
            (body("  - id: 1", "    protocol: http1", "    role: maybe", "    text: a"), 5, "rules[0].role", "request or response"),
            (body("  - id: 1", "    protocol: http1", "    role: request", "    text: a", "    offset: 300"), 7, "rules[0].offset", "must be 0...255, not 300"),
            (body("  - {id: 1, protocol: http1, role: request, text: a, colour: red}"), 3, "rules[0].colour", "unknown key 'colour'"),
            (body("  - {id: 1, protocol: http1, role: response, text: a, capture: 10}"), 3, "rules[0].capture", "only request rules capture"),
            (body("  - {id: 1, protocol: http1, role: request, text: a, label_only: maybe}"), 3, "rules[0].label_only", "expected true or false"),
            ("version: 1\nrules: [\n", 3, nil, "invalid YAML"),
        ]
        for c in cases {
            let e = rejection(c.text)
            #expect(e?.file == "r.yaml" && e?.line == c.line, "\(c.says): \(e?.description ?? "accepted")")
            #expect(e?.field == c.field, "\(c.says): \(e?.description ?? "accepted")")
            #expect(e?.description.contains(c.says) == true, "\(e?.description ?? "accepted")")
        }
        let tooMany = (1...33).map { "  - {id: \($0), protocol: http1, role: request, text: \"x\($0)\"}" }
        let limit = rejection("version: 1\nrules:\n" + tooMany.joined(separator: "\n"))
        #expect(limit?.description.contains("more than 32 rules at one offset") == true && limit?.field == "rules", "\(limit?.description ?? "")")
    }

    @Test("version 2 clauses: a version 1 file may not use them; bad clauses are named with their line and index")
    func clauseErrors() throws {
        let v1 = rejection("version: 1\nrules:\n  - {id: 1, protocol: http1, role: request, text: a, and: [{text: x}]}")
        #expect(v1?.description == "r.yaml:3: rules[0].and: clauses need version 2", "\(v1?.description ?? "")")
        func rule(_ clause: String) -> String {
            "version: 2\nrules:\n  - id: 1\n    protocol: http1\n    role: request\n    text: a\n    and: [\(clause)]\n"
        }
        _ = try RuleSet(yaml: rule("{text: x, within: 256, absent: true}"))
        let cases: [(clause: String, field: String, says: String)] = [
            ("{text: x, within: 257}", "rules[0].and[0].within", "must be 1...256, not 257"),
            ("{text: x}, {text: y, offset: 256}", "rules[0].and[1].offset", "must be 0...255, not 256"),
            ("{text: x, hex: \"78\"}", "rules[0].and[0]", "exactly one of text or hex"),
            ("{hex: \"ff\", mask: \"0f\"}", "rules[0].and[0].mask", "bits outside the mask"),
            ("{text: \"0123456789abcdefg\"}", "rules[0].and[0].text", "1...16 bytes"),
            ("{text: x, absent: maybe}", "rules[0].and[0].absent", "expected true or false"),
            ("{text: x, near: 3}", "rules[0].and[0].near", "unknown key 'near'"),
            ("{text: a}, {text: b}, {text: c}, {text: d}, {text: e}", "rules[0].and", "at most 4 clauses per rule"),
        ]
        for c in cases {
            let e = rejection(rule(c.clause))
            #expect(e?.line == 7 && e?.field == c.field, "\(c.clause): \(e?.description ?? "accepted")")
            #expect(e?.description.contains(c.says) == true, "\(e?.description ?? "accepted")")
        }
        let many = (1...17).map { "  - {id: \($0), protocol: http1, role: request, text: \"x\($0)\", and: [{text: a}, {text: b}, {text: c}, {text: d}]}" }
        #expect(rejection("version: 2\nrules:\n" + many.joined(separator: "\n"))?.message == "more than 64 clauses")
    }

    @Test("rootBPF: clauses at, absent, found within a window and not found decide in the kernel as in the spec")
    func rootBPFClauseSemantics() throws {
        let dp = try DataPlane(objectPath: Package.redlineObject, programs: [.tcProbe])
        let rules = try RuleSet(yaml: """
            version: 2
            rules:
              - {id: 1, protocol: 20, role: request, text: "A", and: [{offset: 3, text: "BC"}]}
              - {id: 2, protocol: 20, role: request, text: "N", and: [{offset: 2, text: "XY", absent: true}]}
              - {id: 3, protocol: 20, role: request, text: "F", and: [{offset: 2, within: 5, hex: "0d 0a"}]}
              - {id: 4, protocol: 20, role: request, text: "G", and: [{offset: 1, within: 4, text: " ", absent: true}]}
              - {id: 5, protocol: 20, role: request, text: "W",
                 and: [{offset: 1, within: 256, text: "0123456789abcdef"}, {offset: 0, text: "W"}]}
            """)
        try dp.install(rules)
        var payloads: [[UInt8]] = []
        // Short payloads over a small alphabet (seeded) hit the edges: the
        // pattern just inside / outside the window, a payload ending mid-pattern.
        let alphabet: [UInt8] = Array("ANFGWBCXY \r\n".utf8)
        var seed: UInt64 = 0x5eed
        func next(_ n: Int) -> Int {
            seed = seed &* 6364136223846793005 &+ 1442695040888963407
            return Int((seed >> 33) % UInt64(n))
        }
        for first in Array("ANFG".utf8) {
            for _ in 0..<3000 { payloads.append([first] + (0..<next(8)).map { _ in alphabet[next(alphabet.count)] }) }
        }
        let needle = Array("0123456789abcdef".utf8)
        for pad in [0, 1, 100, 239, 240, 241, 255, 256, 300] {
            payloads.append(Array("W".utf8) + [UInt8](repeating: 0x2e, count: pad) + needle)
            payloads.append(Array("W".utf8) + [UInt8](repeating: 0x2e, count: pad) + needle.dropLast())
        }
        var disagree = 0, matched = Set<Int>()
        for p in payloads {
            let k = try dp.probe(Frame.tcp4(p)).ruleID
            if k != (rules.classify(p, transport: .tcp)?.id ?? 0) { disagree += 1 }
            if k != 0 { matched.insert(k) }
        }
        #expect(disagree == 0, "kernel and spec disagree on \(disagree) of \(payloads.count) payloads")
        #expect(matched == [1, 2, 3, 4, 5])
        // Window edges by hand: start positions are 1...256, so a needle at 256 is found, at 257 not.
        #expect(try dp.probe(Frame.tcp4(Array("W".utf8) + [UInt8](repeating: 0x2e, count: 255) + needle)).ruleID == 5)
        #expect(try dp.probe(Frame.tcp4(Array("W".utf8) + [UInt8](repeating: 0x2e, count: 256) + needle)).ruleID == 0)
        #expect(try dp.probe(Frame.tcp4(Array("F\r\n".utf8))).ruleID == 0)  // CRLF at 1, before the window
        #expect(try dp.probe(Frame.tcp4(Array("F...\r\n".utf8))).ruleID == 3)
        #expect(try dp.probe(Frame.tcp4(Array("N.".utf8))).ruleID == 2)  // too short to hold "XY": absent
        #expect(try dp.probe(Frame.tcp4(Array("N.XY".utf8))).ruleID == 0)
    }

    @Test("rootBPF: filters — port, CIDR deny and allow-list, L4 protocol")
    func rootBPFFilters() throws {
        let dp = try DataPlane(objectPath: Package.redlineObject, programs: [.tcProbe])
        let toB80 = Frame.tcp4([1])
        #expect(try !dp.probe(toB80).denied)
        try dp.addPort(80, l4Proto: 6, action: RL_FILTER_DENY)
        try dp.set(RL_CFG_FILTERS_ACTIVE, UInt64(RL_FILTER_PORT.rawValue))
        #expect(try dp.probe(toB80).denied)
        #expect(try !dp.probe(Frame.tcp4([1], dport: 8080)).denied)
        #expect(try !dp.probe(Frame.udp4([1], dport: 80)).denied)  // the entry is for TCP

        try dp.set(RL_CFG_FILTERS_ACTIVE, UInt64(RL_FILTER_CIDR.rawValue))
        try dp.addCIDR(Frame.v4b, prefixLength: 32, action: RL_FILTER_DENY)
        #expect(try dp.probe(Frame.tcp4([1], dport: 8080)).denied)
        #expect(try !dp.probe(Frame.udp4([1], dst: [198, 18, 0, 9])).denied)
        // Allow-list mode: only 198.18.0.0/15 (minus the denied /32) is reported.
        try dp.addCIDR([198, 18, 0, 0], prefixLength: 15, action: RL_FILTER_ALLOW)
        try dp.set(RL_CFG_DEFAULT_DENY, UInt64(RL_FILTER_CIDR.rawValue))
        #expect(try !dp.probe(Frame.udp4([1], dst: [198, 19, 255, 1])).denied)
        #expect(try dp.probe(Frame.udp4([1], dst: [10, 0, 0, 1])).denied)
        #expect(try dp.probe(Frame.udp4([1], dst: Frame.v4b)).denied)

        try dp.set(RL_CFG_FILTERS_ACTIVE, 0)
        try dp.set(RL_CFG_L4_MASK, 2)  // UDP only
        #expect(try dp.probe(Frame.tcp4([1])).denied)
        #expect(try !dp.probe(Frame.udp4([1], dst: [10, 0, 0, 1])).denied)
    }
}
