import CRedlineABI

/// The L7 protocols of `enum rl_l7_protocol` (bpf/include/redline_abi.h) and their names in
/// rules files, records and tables. Ids come from the header; the names are the enum
/// constants' suffixes in lower case (`RL_L7_HTTP1` → "http1"), which a test checks against
/// the header text. Ids 8…31 are free for user rules and have no name here.
public enum L7Protocol {
    /// Every named id, in id order, "unknown" (0) first.
    public static let all: [(id: UInt8, name: String)] = [
        (UInt8(RL_L7_UNKNOWN.rawValue), "unknown"),
        (UInt8(RL_L7_HTTP1.rawValue), "http1"),
        (UInt8(RL_L7_REDIS.rawValue), "redis"),
        (UInt8(RL_L7_DNS.rawValue), "dns"),
        (UInt8(RL_L7_MYSQL.rawValue), "mysql"),
        (UInt8(RL_L7_KAFKA.rawValue), "kafka"),
        (UInt8(RL_L7_THRIFT.rawValue), "thrift"),
        (UInt8(RL_L7_TLS.rawValue), "tls"),
    ]

    /// Ids at or above this are invalid (`RL_L7_MAX`).
    public static let limit = Int(RL_L7_MAX.rawValue)

    private static let names: [String] = {
        var n = [String](repeating: "", count: limit)
        for p in all { n[Int(p.id)] = p.name }
        return n
    }()

    private static let ids: [String: UInt8] = Dictionary(uniqueKeysWithValues: all.dropFirst().map { ($0.name, $0.id) })

    /// The names a rule or a filter can give, sorted ("unknown" is no protocol and not one).
    public static let nameable: [String] = ids.keys.sorted()

    /// The name of `id`, "l7_<id>" for an id without one (a user rule's protocol).
    public static func name(_ id: UInt8) -> String { knownName(id) ?? "l7_\(id)" }

    /// The name of `id` if the header names it.
    public static func knownName(_ id: UInt8) -> String? {
        Int(id) < names.count && !names[Int(id)].isEmpty ? names[Int(id)] : nil
    }

    /// The id a rule or filter names; nil for "unknown" and for a name not in `all`.
    public static func id(named name: String) -> UInt8? { ids[name] }
}
