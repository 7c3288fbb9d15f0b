/// Interned names (services, datacenters, protocols, observers): keys hash
/// and compare small integers on the hot path, and names come back for output.
/// Id 0 is always `unknown`. One pool serves a whole run, so partials of all
/// hosts share ids and merge by key.
public struct NamePool: Sendable {
    public private(set) var names: [String] = ["unknown"]
    private var ids: [String: Int32] = ["unknown": 0]

    public init() {}

    public static let unknown: Int32 = 0

    public mutating func id(_ name: String) -> Int32 {
        if let i = ids[name] { return i }
        let i = Int32(names.count)
        names.append(name)
        ids[name] = i
        return i
    }

    public func name(_ id: Int32) -> String { names[Int(id)] }
}

/// Protocol names of `enum rl_l7_protocol` (the ids rules name).
public enum L7ProtocolName {
    public static func name(_ id: UInt8) -> String {
        switch id {
        case 1: "http1"
        case 2: "redis"
        case 3: "dns"
        case 4: "mysql"
        case 5: "kafka"
        case 6: "thrift"
        case 7: "tls"
        case 0: "unknown"
        default: "l7_\(id)"
        }
    }
}
