import CRedlineABI
import RedlineBase
import YAMLConfig

/// A rule set the kernel layout cannot hold (`RuleSet.compile`). A rules file that breaks a
/// limit is rejected with a `ConfigError` saying this, like any other mistake in it.
public enum RuleError: Error, Equatable, CustomStringConvertible {
    case tooMany(what: String, limit: Int)

    public var description: String {
        switch self {
        case let .tooMany(what, limit): return "more than \(limit) \(what)"
        }
    }
}

/// One L7 rule as schemas/rules-v2.md specifies it.
public struct L7Rule: Sendable, Equatable {
    /// An extra condition (rules-v2 `and`): a masked pattern at a fixed
    /// offset, or searched from `offset` over `window` start positions; with
    /// `absent` the condition is that the pattern is not there.
    public struct Clause: Sendable, Equatable {
        public var offset: Int
        /// 1...16 bytes and their masks, same length.
        public var value: [UInt8]
        public var mask: [UInt8]
        /// Start positions tried (1...256); 1 is a fixed offset.
        public var window: Int
        public var absent: Bool

        /// The kernel's decision (`rl_clause_holds`): the pattern must lie
        /// wholly inside the payload at a start position it tries.
        public func holds(_ payload: [UInt8]) -> Bool {
            var found = false
            var p = offset
            while !found && p < offset + window && p + value.count <= payload.count {
                found = (0..<value.count).allSatisfy { payload[p + $0] & mask[$0] == value[$0] }
                p += 1
            }
            return found != absent
        }
    }

    public enum Role: String, Sendable { case request, response }
    public enum Transport: String, Sendable { case tcp, udp }
    public enum StatusExtractor: Sendable, Equatable {
        case none
        case ascii3(offset: Int)
        case byte(offset: Int, mask: UInt8)
        case be16(offset: Int)
    }
    public enum StatusClass: String, Sendable {
        case unknown, ok, client_error, server_error
        var abi: UInt8 {
            switch self {
            case .unknown: UInt8(RL_STATUS_UNKNOWN.rawValue)
            case .ok: UInt8(RL_STATUS_OK.rawValue)
            case .client_error: UInt8(RL_STATUS_CLIENT_ERROR.rawValue)
            case .server_error: UInt8(RL_STATUS_SERVER_ERROR.rawValue)
            }
        }
    }

    public var id: Int
    public var name: String
    /// `enum rl_l7_protocol` value.
    public var protocolID: Int
    public var role: Role
    public var transport: Transport
    public var offset: Int
    /// Bytes compared (1...16) and their masks, same length.
    public var value: [UInt8]
    public var mask: [UInt8]
    public var status: StatusExtractor
    public var fixedClass: StatusClass
    public var errorClass: StatusClass
    public var capture: Int
    public var pairAnyResponse: Bool
    public var labelOnly: Bool
    /// Extra clauses, all of which must hold too (version 2).
    public var clauses: [Clause] = []

    /// Whether `payload` matches, exactly as the kernel decides
    /// (needs `value.count` bytes at `offset`, then every clause).
    public func matches(_ payload: [UInt8]) -> Bool {
        guard payload.count >= offset + value.count else { return false }
        for i in 0..<value.count where payload[offset + i] & mask[i] != value[i] { return false }
        return clauses.allSatisfy { $0.holds(payload) }
    }
}

/// A validated rules file (schemas/rules-v2.md; version 1 files are read
/// too, they are version 2 without clauses), ready to compile into the
/// kernel's `rl_ruleset` layout.
public struct RuleSet: Sendable, Equatable {
    public var rules: [L7Rule]

    /// Parses and validates the YAML text of `file` on the line-aware loader every config
    /// uses. Throws a `ConfigError` naming the file, the line and the field
    /// (`rules[3].and[0].within`) of the first mistake.
    public init(yaml text: String, file: String = "rules") throws(ConfigError) {
        let root = try YAMLNode.load(text, file: file)
        guard root.node.mapping != nil else { throw root.fail("the top level must be a mapping with version and rules") }
        let v = try root.required("version")
        let version = try v.int()
        guard version == 1 || version == 2 else { throw v.fail("version \(version) is not supported (this build reads 1 and 2)") }
        let list = try root.required("rules")
        var rules: [L7Rule] = []
        var ids = Set<Int>()
        for n in try list.sequence() {
            let rule = try Self.parseRule(n, version: version)
            guard ids.insert(rule.id).inserted else { throw (n["id"] ?? n).fail("id \(rule.id) used twice") }
            rules.append(rule)
        }
        self.rules = rules
        // Limits are part of validity.
        do throws(RuleError) { _ = try compile() } catch { throw list.fail(error.description) }
    }

    public init(rules: [L7Rule]) { self.rules = rules }

    static func parseRule(_ n: YAMLNode, version: Int) throws(ConfigError) -> L7Rule {
        try n.requireKeys(in: [
            "id", "name", "protocol", "role", "transport", "offset", "text", "hex", "mask", "status",
            "fixed_class", "error_class", "capture", "pair_any_response", "label_only", "and",
        ])
        if version < 2, let and = n["and"] { throw and.fail("clauses need version 2") }

        let id = try int(n.required("id"), 1...255)
        let name = try n["name"]?.string() ?? "rule-\(id)"
        let p = try n.required("protocol")
        let protocolID: Int
        if let number = Int(try p.string()) {
            guard (1..<L7Protocol.limit).contains(number) else { throw p.fail("must be 1...\(L7Protocol.limit - 1), not \(number)") }
            protocolID = number
        } else {
            let name = try p.string()
            guard let known = L7Protocol.id(named: name) else {
                throw p.fail("unknown protocol '\(name)' (known: \(L7Protocol.nameable.joined(separator: ", ")), or an id 1...\(L7Protocol.limit - 1))")
            }
            protocolID = Int(known)
        }
        let r = try n.required("role")
        guard let role = L7Rule.Role(rawValue: try r.string()) else { throw r.fail("request or response") }
        var transport = L7Rule.Transport.tcp
        if let t = n["transport"] {
            guard let v = L7Rule.Transport(rawValue: try t.string()) else { throw t.fail("tcp or udp") }
            transport = v
        }
        let offset = try n["offset"].map { (o: YAMLNode) throws(ConfigError) in try int(o, 0...255) } ?? 0
        let (value, mask) = try parsePattern(n)

        var clauses: [L7Rule.Clause] = []
        if let and = n["and"] {
            let list = try and.sequence()
            guard list.count <= Int(RL_CLAUSES_PER_RULE) else { throw and.fail("at most \(RL_CLAUSES_PER_RULE) clauses per rule") }
            for c in list {
                try c.requireKeys(in: ["offset", "text", "hex", "mask", "within", "absent"])
                let o = try c["offset"].map { (o: YAMLNode) throws(ConfigError) in try int(o, 0...255) } ?? 0
                let (v, mk) = try parsePattern(c)
                let window = try c["within"].map { (w: YAMLNode) throws(ConfigError) in try int(w, 1...Int(RL_FIND_WINDOW_MAX)) } ?? 1
                let absent = try c["absent"]?.bool() ?? false
                clauses.append(.init(offset: o, value: v, mask: mk, window: window, absent: absent))
            }
        }

        var status = L7Rule.StatusExtractor.none
        if let s = n["status"] {
            guard s.node.mapping != nil else { throw s.fail("a mapping with kind and offset") }
            let so = try s["offset"].map { (o: YAMLNode) throws(ConfigError) in try int(o, 0...255) } ?? 0
            let kind = try s["kind"]?.string() ?? "none"
            switch kind {
            case "none": status = .none
            case "ascii3": status = .ascii3(offset: so)
            case "byte":
                let mk = try s["mask"].map { (m: YAMLNode) throws(ConfigError) in try int(m, 0...255) } ?? 0xff
                status = .byte(offset: so, mask: UInt8(mk))
            case "be16": status = .be16(offset: so)
            default: throw (s["kind"] ?? s).fail("none, ascii3, byte or be16, not '\(kind)'")
            }
        }
        func cls(_ key: String, _ def: L7Rule.StatusClass) throws(ConfigError) -> L7Rule.StatusClass {
            guard let c = n[key] else { return def }
            guard let v = L7Rule.StatusClass(rawValue: try c.string()) else { throw c.fail("unknown, ok, client_error or server_error") }
            return v
        }
        let capture = try n["capture"].map { (c: YAMLNode) throws(ConfigError) in try int(c, 0...Int(RL_CAPTURE_MAX)) } ?? 0
        if capture > 0 && role != .request { throw (n["capture"] ?? n).fail("only request rules capture") }
        return L7Rule(
            id: id, name: name, protocolID: protocolID, role: role, transport: transport, offset: offset,
            value: value, mask: mask, status: status, fixedClass: try cls("fixed_class", .unknown),
            errorClass: try cls("error_class", .server_error), capture: capture,
            pairAnyResponse: try n["pair_any_response"]?.bool() ?? false,
            labelOnly: try n["label_only"]?.bool() ?? false, clauses: clauses)
    }

    /// An integer in `range`.
    private static func int(_ n: YAMLNode, _ range: ClosedRange<Int>) throws(ConfigError) -> Int {
        let v = try n.int()
        guard range.contains(v) else { throw n.fail("must be \(range.lowerBound)...\(range.upperBound), not \(v)") }
        return v
    }

    /// The pattern of a rule or clause: exactly one of `text` / `hex`, an
    /// optional `mask`; 1...16 bytes, no value bit outside its mask.
    static func parsePattern(_ n: YAMLNode) throws(ConfigError) -> ([UInt8], [UInt8]) {
        var value: [UInt8]
        var mask: [UInt8]
        switch (n["text"], n["hex"]) {
        case let (text?, nil):
            value = Array(try text.string().utf8)
            mask = [UInt8](repeating: 0xff, count: value.count)
            guard (1...16).contains(value.count) else { throw text.fail("a pattern is 1...16 bytes, not \(value.count)") }
        case let (nil, hex?):
            (value, mask) = try parseHex(hex)
            guard (1...16).contains(value.count) else { throw hex.fail("a pattern is 1...16 bytes, not \(value.count)") }
        default:
            throw n.fail("exactly one of text or hex")
        }
        if let m = n["mask"] {
            let (explicit, _) = try parseHex(m)
            guard explicit.count == value.count else { throw m.fail("\(explicit.count) bytes; the pattern has \(value.count)") }
            mask = zip(mask, explicit).map { $0 & $1 }
            for k in 0..<value.count where value[k] & ~mask[k] != 0 {
                throw m.fail("the pattern has bits outside the mask at byte \(k)")
            }
        }
        return (value, mask)
    }

    /// Hex bytes, spaces allowed; "??" is a wildcard byte (mask 00).
    static func parseHex(_ n: YAMLNode) throws(ConfigError) -> ([UInt8], [UInt8]) {
        let chars = Array(try n.string().filter { !$0.isWhitespace })
        guard chars.count % 2 == 0 else { throw n.fail("an odd number of hex digits") }
        var value: [UInt8] = []
        var mask: [UInt8] = []
        var k = 0
        while k < chars.count {
            let pair = String(chars[k...k + 1])
            if pair == "??" {
                value.append(0)
                mask.append(0)
            } else {
                guard let b = UInt8(pair, radix: 16) else { throw n.fail("'\(pair)' is not hex") }
                value.append(b)
                mask.append(0xff)
            }
            k += 2
        }
        return (value, mask)
    }

    /// The first rule matching `payload` in the kernel's order (groups by
    /// first appearance of (transport, offset), rules in file order within a
    /// group). The same decision `rl_classify_payload` makes.
    public func classify(_ payload: [UInt8], transport: L7Rule.Transport) -> L7Rule? {
        var groups: [(L7Rule.Transport, Int)] = []
        for r in rules where !groups.contains(where: { $0 == (r.transport, r.offset) }) {
            groups.append((r.transport, r.offset))
        }
        for g in groups where g.0 == transport {
            for r in rules where r.transport == g.0 && r.offset == g.1 && r.matches(payload) { return r }
        }
        return nil
    }

    /// The kernel layout (`struct rl_ruleset`) of this set.
    /// Throws `RuleError.tooMany` past RL_MAX_RULES / RL_MAX_GROUPS /
    /// RL_RULES_PER_GROUP / RL_MAX_CLAUSES / RL_CLAUSES_PER_RULE.
    public func compile() throws(RuleError) -> rl_ruleset {
        guard rules.count <= Int(RL_MAX_RULES) else { throw RuleError.tooMany(what: "rules", limit: Int(RL_MAX_RULES)) }
        let clauseCount = rules.reduce(0) { $0 + $1.clauses.count }
        guard clauseCount <= Int(RL_MAX_CLAUSES) else {
            throw RuleError.tooMany(what: "clauses", limit: Int(RL_MAX_CLAUSES))
        }
        // The kernel tests at most this many per rule; a set built in code could hold more.
        guard rules.allSatisfy({ $0.clauses.count <= Int(RL_CLAUSES_PER_RULE) }) else {
            throw RuleError.tooMany(what: "clauses in one rule", limit: Int(RL_CLAUSES_PER_RULE))
        }
        var rs = rl_ruleset()
        var groups: [(transport: L7Rule.Transport, offset: Int, slots: [Int])] = []
        for (slot, r) in rules.enumerated() {
            if let g = groups.firstIndex(where: { $0.transport == r.transport && $0.offset == r.offset }) {
                groups[g].slots.append(slot)
                guard groups[g].slots.count <= Int(RL_RULES_PER_GROUP) else {
                    throw RuleError.tooMany(what: "rules at one offset", limit: Int(RL_RULES_PER_GROUP))
                }
            } else {
                groups.append((r.transport, r.offset, [slot]))
                guard groups.count <= Int(RL_MAX_GROUPS) else {
                    throw RuleError.tooMany(what: "distinct offsets", limit: Int(RL_MAX_GROUPS))
                }
            }
        }
        rs.n_groups = UInt32(groups.count)
        rs.n_rules = UInt32(rules.count)
        withUnsafeMutableBytes(of: &rs.groups) { raw in
            let base = raw.bindMemory(to: rl_rule_group.self)
            for (i, g) in groups.enumerated() {
                var grp = rl_rule_group()
                grp.offset = UInt16(g.offset)
                grp.l4_proto = g.transport == .tcp ? 6 : 17
                grp.n_rules = UInt8(g.slots.count)
                withUnsafeMutableBytes(of: &grp.slots) { s in
                    for (k, slot) in g.slots.enumerated() { s[k] = UInt8(slot) }
                }
                base[i] = grp
            }
        }
        var firstClause = 0
        withUnsafeMutableBytes(of: &rs.rules) { raw in
            let base = raw.bindMemory(to: rl_rule.self)
            for (slot, r) in rules.enumerated() {
                base[slot] = Self.kernelRule(r, firstClause: firstClause)
                firstClause += r.clauses.count
            }
        }
        withUnsafeMutableBytes(of: &rs.clauses) { raw in
            let base = raw.bindMemory(to: rl_clause.self)
            var i = 0
            for c in rules.flatMap(\.clauses) {
                base[i] = Self.kernelClause(c)
                i += 1
            }
        }
        return rs
    }

    static func kernelClause(_ c: L7Rule.Clause) -> rl_clause {
        var k = rl_clause()
        withUnsafeMutableBytes(of: &k.mask) { m in for (i, b) in c.mask.enumerated() { m[i] = b } }
        withUnsafeMutableBytes(of: &k.value) { v in for (i, b) in c.value.enumerated() { v[i] = b } }
        k.offset = UInt16(c.offset)
        k.window = UInt16(c.window)
        k.length = UInt8(c.value.count)
        let kind: rl_clause_kind = switch (c.window > 1, c.absent) {
        case (false, false): RL_CLAUSE_AT
        case (false, true): RL_CLAUSE_NOT_AT
        case (true, false): RL_CLAUSE_FIND
        case (true, true): RL_CLAUSE_NOT_FIND
        }
        k.kind = UInt8(kind.rawValue)
        return k
    }

    static func kernelRule(_ r: L7Rule, firstClause: Int) -> rl_rule {
        var k = rl_rule()
        withUnsafeMutableBytes(of: &k.mask) { m in for (i, b) in r.mask.enumerated() { m[i] = b } }
        withUnsafeMutableBytes(of: &k.value) { v in for (i, b) in r.value.enumerated() { v[i] = b } }
        k.id = UInt16(r.id)
        k.offset = UInt16(r.offset)
        k.length = UInt8(r.value.count)
        k.l7_proto = UInt8(r.protocolID)
        k.role = UInt8(r.role == .request ? RL_ROLE_REQUEST.rawValue : RL_ROLE_RESPONSE.rawValue)
        switch r.status {
        case .none:
            k.status_kind = UInt8(RL_EXTRACT_NONE.rawValue)
        case let .ascii3(o):
            k.status_kind = UInt8(RL_EXTRACT_ASCII3.rawValue)
            k.status_offset = UInt8(o)
        case let .byte(o, mask):
            k.status_kind = UInt8(RL_EXTRACT_BYTE.rawValue)
            k.status_offset = UInt8(o)
            k.status_mask = mask
        case let .be16(o):
            k.status_kind = UInt8(RL_EXTRACT_BE16.rawValue)
            k.status_offset = UInt8(o)
        }
        k.fixed_class = r.fixedClass.abi
        k.error_class = r.errorClass.abi
        k.capture_len = UInt16(r.capture)
        var flags: UInt16 = 0
        if r.pairAnyResponse { flags |= UInt16(RL_RULE_PAIR_ANY_RESPONSE.rawValue) }
        if r.labelOnly { flags |= UInt16(RL_RULE_LABEL_ONLY.rawValue) }
        k.flags = flags
        k.first_clause = UInt8(firstClause)
        k.n_clauses = UInt8(r.clauses.count)
        return k
    }
}
