/// Turns a request path into a route template: segments that look like identifiers
/// become placeholders, so `/users/4711/orders` and `/users/4712/orders` count as one
/// route, `/users/{id}/orders`. The rules (schemas/tables/red_route.md, "Templating"),
/// applied to each `/`-separated segment, first match wins:
///
/// | segment | placeholder |
/// |---|---|
/// | digits only (`4711`), optionally with a leading `-` | `{id}` |
/// | a UUID, 8-4-4-4-12 hex digits (either case) | `{uuid}` |
/// | 16 or more hex digits with at least one decimal digit (object ids, hashes) | `{hex}` |
/// | 20 or more characters of the base64 / base64url alphabet (`A-Z a-z 0-9 - _ + =`, `%3D` as `=`) with at least one digit and one letter (tokens) | `{token}` |
///
/// Every other segment is kept as it is (so `v1`, `api`, `healthz`). The template is
/// bounded by its input: a path is at most the 79 bytes of a call record's `route`.
/// Inputs the templating cannot trust come out as one fixed placeholder each, so a
/// hostile client cannot create rows with them:
/// - no path captured (empty): `{none}`;
/// - bytes other than printable ASCII (the collector stores only those, so this is a
///   corrupt or foreign record), or a path not starting with `/` (`*`, garbage): `{invalid}`;
/// - a path cut by the record's size (`truncated`): its last segment becomes `{truncated}`,
///   because the cut part of an identifier would make every request a distinct route.
public enum RouteTemplate {
    public static let none = "{none}"
    public static let invalid = "{invalid}"
    public static let truncated = "{truncated}"
    /// Routes folded away by the per-service cap (`NameCap`).
    public static let other = "{other}"

    /// The whole-name placeholders for unreadable input, which caps never fold.
    public static let rejects: Set<String> = [none, invalid, truncated, "{oversized}"]

    /// The template of `path` (raw bytes of a record's route field, trimmed at its NUL).
    public static func template(_ path: some Collection<UInt8>, truncated cut: Bool = false) -> String {
        if path.isEmpty { return none }
        guard path.first == UInt8(ascii: "/"), path.allSatisfy({ $0 >= 0x21 && $0 < 0x7F }) else { return invalid }
        let segments = Array(path).split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst()
        var out = ""
        out.reserveCapacity(path.count + 8)
        let last = segments.count - 1
        for (i, s) in segments.enumerated() {
            out.append("/")
            if cut && i == last {
                out.append(truncated)
            } else if let p = placeholder(s) {
                out.append(p)
            } else {
                out.append(String(decoding: s, as: UTF8.self))
            }
        }
        return out
    }

    /// The placeholder a segment becomes, nil if it is kept.
    static func placeholder(_ s: ArraySlice<UInt8>) -> String? {
        guard !s.isEmpty else { return nil }
        let digits = s.first == UInt8(ascii: "-") ? s.dropFirst() : s
        if !digits.isEmpty && digits.allSatisfy(isDigit) { return "{id}" }
        if isUUID(s) { return "{uuid}" }
        if s.count >= 16 && s.allSatisfy(isHex) && s.contains(where: isDigit) { return "{hex}" }
        if s.count >= 20 && s.allSatisfy(isTokenChar) && s.contains(where: isDigit) && s.contains(where: isLetter) {
            return "{token}"
        }
        return nil
    }

    static func isUUID(_ s: ArraySlice<UInt8>) -> Bool {
        guard s.count == 36 else { return false }
        for (i, c) in s.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                if c != UInt8(ascii: "-") { return false }
            } else if !isHex(c) {
                return false
            }
        }
        return true
    }

    static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    static func isLetter(_ c: UInt8) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7A }
    static func isHex(_ c: UInt8) -> Bool { isDigit(c) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66) }
    static func isTokenChar(_ c: UInt8) -> Bool {
        isDigit(c) || isLetter(c) || c == UInt8(ascii: "-") || c == UInt8(ascii: "_") || c == UInt8(ascii: "+")
            || c == UInt8(ascii: "=") || c == UInt8(ascii: "%")
    }

    /// A domain from an HTTP Host / :authority value: port stripped, lower-cased.
    /// Empty → `{none}`; anything but printable ASCII without spaces → `{invalid}`.
    public static func domain(_ host: some Collection<UInt8>) -> String {
        if host.isEmpty { return none }
        guard host.allSatisfy({ $0 >= 0x21 && $0 < 0x7F }) else { return invalid }
        var h = Array(host)
        if h.first == UInt8(ascii: "[") {
            // [v6]:port → [v6]
            if let close = h.firstIndex(of: UInt8(ascii: "]")) { h = Array(h[...close]) }
        } else if let colon = h.lastIndex(of: UInt8(ascii: ":")), h[(colon + 1)...].allSatisfy(isDigit) {
            h = Array(h[..<colon])
        }
        return String(decoding: h, as: UTF8.self).lowercased()
    }
}

/// Bounds the distinct names (route templates, DNS query names) per owner (a service)
/// in one partition: the `limit` names with the most calls are kept, every other name
/// is folded into `{other}`. Ties go to the smaller name, so the choice depends only on
/// the counts, never on the order rows arrive in: Swift and the Spark SQL merge make the
/// same choice (`ROW_NUMBER() OVER (PARTITION BY owner ORDER BY calls DESC, name)`).
///
/// Memory: while counting, an owner tracks at most `trackLimit` distinct names (8 ×
/// `limit`); names arriving after that go straight to `{other}`, so a scan of random
/// URLs costs at most `trackLimit` entries per service however long it runs.
public struct NameCap<Owner: Hashable & Comparable & Sendable>: Sendable {
    public let limit: Int
    public var trackLimit: Int { limit * 8 }
    /// Names that are always kept and never count against the limit: the few placeholders that
    /// stand for unreadable input (`{invalid}`, …), so rejects stay visible as their own rows.
    public let isExempt: @Sendable (String) -> Bool
    private var calls: [Owner: [String: UInt64]] = [:]

    public init(limit: Int, exempt: @escaping @Sendable (String) -> Bool = { _ in false }) {
        precondition(limit >= 1, "a cap keeps at least one name")
        self.limit = limit
        isExempt = exempt
    }

    /// Counts `n` calls of `name` under `owner` and returns the name to aggregate them
    /// under: `name` itself, or `{other}` once the owner tracks `trackLimit` names.
    @discardableResult
    public mutating func admit(_ owner: Owner, _ name: String, _ n: UInt64 = 1) -> String {
        var admitted = name
        if let tracked = calls[owner], !isExempt(name), tracked[name] == nil, tracked.count >= trackLimit {
            admitted = RouteTemplate.other
        }
        // In place through the default subscript (no other reference to the owner's names is
        // alive here), so counting does not copy them.
        calls[owner, default: [:]][admitted, default: 0] &+= n
        return admitted
    }

    /// The names kept per owner: at most `limit`, the placeholder `{other}` never among them
    /// (it is where the rest goes, whatever its own count).
    public func kept() -> [Owner: Set<String>] {
        var out: [Owner: Set<String>] = [:]
        for (owner, names) in calls {
            let ranked = names.filter { $0.key != RouteTemplate.other && !isExempt($0.key) }
                .sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            out[owner] = Set(ranked.prefix(limit).map(\.key)).union(names.keys.filter(isExempt))
        }
        return out
    }
}
