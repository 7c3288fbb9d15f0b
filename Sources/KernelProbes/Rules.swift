import CRedlineABI
import RedlineBase
import Yams

/// Why a rules file was rejected. Nothing is installed from a rejected file.
public enum RuleError: Error, Equatable, CustomStringConvertible {
    case yaml(String)
    case unsupportedVersion(Int)
    case missingField(rule: Int, field: String)
    case badValue(rule: Int, field: String, value: String, reason: String)
    case duplicateID(Int)
    case tooMany(what: String, limit: Int)

    public var description: String {
        switch self {
        case let .yaml(m): return "rules: not valid YAML: \(m)"
        case let .unsupportedVersion(v): return "rules: version \(v) is not supported (this build reads 1 and 2)"
        case let .missingField(r, f): return "rules[\(r)]: missing '\(f)'"
        case let .badValue(r, f, v, why): return "rules[\(r)].\(f) = \(v): \(why)"
        case let .duplicateID(id): return "rules: id \(id) used twice"
        case let .tooMany(what, limit): return "rules: more than \(limit) \(what)"
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

    /// Parses and validates YAML text. Throws `RuleError` naming the first
    /// offending rule and field.
    public init(yaml text: String) throws {
        let root: Any?
        do {
            // Yams.load traps on a mapping key that is not a scalar (`{[a]: b}`, `{{k: v}: x}`),
            // found by fuzzing: refuse those from the composed tree before constructing values.
            if let node = try Yams.compose(yaml: text), let line = Self.lineOfNonScalarKey(node) {
                throw RuleError.yaml("line \(line): a mapping key must be a plain scalar (a name), not a list or mapping")
            }
            root = try Yams.load(yaml: text)
        } catch let e as RuleError {
            throw e
        } catch {
            throw RuleError.yaml("\(error)")
        }
        guard let doc = root as? [String: Any] else { throw RuleError.yaml("top level must be a mapping") }
        guard let version = doc["version"] as? Int else { throw RuleError.missingField(rule: -1, field: "version") }
        guard version == 1 || version == 2 else { throw RuleError.unsupportedVersion(version) }
        guard let list = doc["rules"] as? [Any] else { throw RuleError.missingField(rule: -1, field: "rules") }
        var rules: [L7Rule] = []
        var ids = Set<Int>()
        for (i, item) in list.enumerated() {
            guard let m = item as? [String: Any] else {
                throw RuleError.badValue(rule: i, field: "", value: "\(item)", reason: "a rule is a mapping")
            }
            let rule = try Self.parseRule(i, m, version: version)
            guard ids.insert(rule.id).inserted else { throw RuleError.duplicateID(rule.id) }
            rules.append(rule)
        }
        self.rules = rules
        _ = try compile()  // limits are part of validity
    }

    public init(rules: [L7Rule]) { self.rules = rules }

    /// The 1-based line of the first mapping key that is not a scalar, if any.
    static func lineOfNonScalarKey(_ node: Node) -> Int? {
        switch node {
        case .mapping(let m):
            for (k, v) in m {
                guard case .scalar = k else { return k.mark?.line ?? node.mark?.line ?? 0 }
                if let line = lineOfNonScalarKey(v) { return line }
            }
        case .sequence(let s):
            for item in s { if let line = lineOfNonScalarKey(item) { return line } }
        default:
            break
        }
        return nil
    }

    static func parseRule(_ i: Int, _ m: [String: Any], version: Int) throws -> L7Rule {
        func req<T>(_ key: String, _ type: T.Type) throws -> T {
            guard let raw = m[key] else { throw RuleError.missingField(rule: i, field: key) }
            guard let v = raw as? T else {
                throw RuleError.badValue(rule: i, field: key, value: "\(raw)", reason: "wrong type")
            }
            return v
        }
        func bad(_ f: String, _ v: Any, _ why: String) -> RuleError {
            RuleError.badValue(rule: i, field: f, value: "\(v)", reason: why)
        }
        let known: Set<String> = [
            "id", "name", "protocol", "role", "transport", "offset", "text", "hex", "mask", "status",
            "fixed_class", "error_class", "capture", "pair_any_response", "label_only", "and",
        ]
        for key in m.keys where !known.contains(key) { throw bad(key, m[key]!, "unknown field") }
        if version < 2, let and = m["and"] { throw bad("and", and, "clauses need version 2") }

        let id = try req("id", Int.self)
        guard (1...255).contains(id) else { throw bad("id", id, "must be 1...255") }
        let name = (m["name"] as? String) ?? "rule-\(id)"
        let protocolID: Int
        if let p = m["protocol"] as? String {
            guard let v = L7Protocol.id(named: p).map(Int.init) else { throw bad("protocol", p, "unknown name") }
            protocolID = v
        } else if let p = m["protocol"] as? Int {
            guard (1..<Int(RL_L7_MAX.rawValue)).contains(p) else { throw bad("protocol", p, "must be 1...31") }
            protocolID = p
        } else {
            throw RuleError.missingField(rule: i, field: "protocol")
        }
        guard let role = L7Rule.Role(rawValue: try req("role", String.self)) else {
            throw bad("role", m["role"]!, "request or response")
        }
        guard let transport = L7Rule.Transport(rawValue: (m["transport"] as? String) ?? "tcp") else {
            throw bad("transport", m["transport"]!, "tcp or udp")
        }
        let offset = (m["offset"] as? Int) ?? 0
        guard (0...255).contains(offset) else { throw bad("offset", offset, "must be 0...255") }

        let (value, mask) = try parsePattern(m, field: "", bad: bad)

        var clauses: [L7Rule.Clause] = []
        if let raw = m["and"] {
            guard let list = raw as? [Any] else { throw bad("and", raw, "a list of clauses") }
            guard list.count <= Int(RL_CLAUSES_PER_RULE) else {
                throw bad("and", list.count, "at most \(RL_CLAUSES_PER_RULE) clauses per rule")
            }
            for (k, item) in list.enumerated() {
                let f = "and[\(k)]"
                guard let c = item as? [String: Any] else { throw bad(f, item, "a clause is a mapping") }
                for key in c.keys where !["offset", "text", "hex", "mask", "within", "absent"].contains(key) {
                    throw bad("\(f).\(key)", c[key]!, "unknown field")
                }
                let off = c["offset"] ?? 0
                guard let o = off as? Int, (0...255).contains(o) else { throw bad("\(f).offset", off, "must be 0...255") }
                let (v, mk) = try parsePattern(c, field: "\(f).", bad: bad)
                var window = 1
                if let w = c["within"] {
                    guard let wi = w as? Int, (1...Int(RL_FIND_WINDOW_MAX)).contains(wi) else {
                        throw bad("\(f).within", w, "must be 1...\(RL_FIND_WINDOW_MAX)")
                    }
                    window = wi
                }
                let absent = c["absent"] ?? false
                guard let a = absent as? Bool else { throw bad("\(f).absent", absent, "true or false") }
                clauses.append(.init(offset: o, value: v, mask: mk, window: window, absent: a))
            }
        }

        var status = L7Rule.StatusExtractor.none
        if let s = m["status"] as? [String: Any] {
            let kind = (s["kind"] as? String) ?? "none"
            let so = (s["offset"] as? Int) ?? 0
            guard (0...255).contains(so) else { throw bad("status.offset", so, "must be 0...255") }
            switch kind {
            case "none": status = .none
            case "ascii3": status = .ascii3(offset: so)
            case "byte":
                let mk = (s["mask"] as? Int) ?? 0xff
                guard (0...255).contains(mk) else { throw bad("status.mask", mk, "a byte") }
                status = .byte(offset: so, mask: UInt8(mk))
            case "be16": status = .be16(offset: so)
            default: throw bad("status.kind", kind, "none, ascii3, byte or be16")
            }
        } else if let s = m["status"] {
            throw bad("status", s, "a mapping with kind and offset")
        }
        func cls(_ key: String, _ def: L7Rule.StatusClass) throws -> L7Rule.StatusClass {
            guard let raw = m[key] else { return def }
            guard let s = raw as? String, let c = L7Rule.StatusClass(rawValue: s) else {
                throw bad(key, raw, "unknown, ok, client_error or server_error")
            }
            return c
        }
        let capture = (m["capture"] as? Int) ?? 0
        guard (0...Int(RL_CAPTURE_MAX)).contains(capture) else { throw bad("capture", capture, "must be 0...256") }
        if capture > 0 && role != .request { throw bad("capture", capture, "only request rules capture") }
        return L7Rule(
            id: id, name: name, protocolID: protocolID, role: role, transport: transport, offset: offset,
            value: value, mask: mask, status: status, fixedClass: try cls("fixed_class", .unknown),
            errorClass: try cls("error_class", .server_error), capture: capture,
            pairAnyResponse: (m["pair_any_response"] as? Bool) ?? false,
            labelOnly: (m["label_only"] as? Bool) ?? false, clauses: clauses)
    }

    /// The pattern of a rule or clause: exactly one of `text` / `hex`, an
    /// optional `mask`; 1...16 bytes, no value bit outside its mask.
    static func parsePattern(_ m: [String: Any], field prefix: String,
                             bad: (String, Any, String) -> RuleError) throws -> ([UInt8], [UInt8]) {
        var value: [UInt8]
        var mask: [UInt8]
        switch (m["text"], m["hex"]) {
        case let (text as String, nil):
            value = Array(text.utf8)
            mask = [UInt8](repeating: 0xff, count: value.count)
        case let (nil, hex as String):
            (value, mask) = try parseHex(hex, bad: { bad(prefix + "hex", hex, $0) })
        default:
            throw bad(prefix + "text/hex", "", "exactly one of text or hex")
        }
        if let raw = m["mask"] {
            guard let maskHex = raw as? String else { throw bad(prefix + "mask", raw, "hex pairs") }
            let (explicit, _) = try parseHex(maskHex, bad: { bad(prefix + "mask", maskHex, $0) })
            guard explicit.count == value.count else { throw bad(prefix + "mask", maskHex, "length differs from the pattern") }
            mask = zip(mask, explicit).map { $0 & $1 }
        }
        guard (1...16).contains(value.count) else { throw bad(prefix + "text/hex", value.count, "pattern is 1...16 bytes") }
        for k in 0..<value.count where value[k] & ~mask[k] != 0 {
            throw bad(prefix + "mask", mask, "value has bits outside the mask at byte \(k)")
        }
        return (value, mask)
    }

    /// Hex bytes, spaces allowed; "??" is a wildcard byte (mask 00).
    static func parseHex(_ s: String, bad: (String) -> RuleError) throws -> ([UInt8], [UInt8]) {
        let chars = Array(s.filter { !$0.isWhitespace })
        guard chars.count % 2 == 0 else { throw bad("odd number of hex digits") }
        var value: [UInt8] = []
        var mask: [UInt8] = []
        var k = 0
        while k < chars.count {
            let pair = String(chars[k...k + 1])
            if pair == "??" {
                value.append(0)
                mask.append(0)
            } else {
                guard let b = UInt8(pair, radix: 16) else { throw bad("'\(pair)' is not hex") }
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
    public func compile() throws -> rl_ruleset {
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
