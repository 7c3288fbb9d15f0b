import Yams

/// A thin, line-aware view over a composed YAML node, so validation errors can
/// say where in the file the problem is.
public struct YAMLNode {
    public let node: Node
    public let file: String
    /// Dotted path of this node from the root, e.g. `networks[0].cidr`.
    public let path: String

    public var line: Int? { node.mark.map { $0.line } }

    public func fail(_ message: String, field: String? = nil) -> ConfigError {
        ConfigError(file: file, line: line, field: field ?? (path.isEmpty ? nil : path), message)
    }

    /// Parses YAML text; a syntax error becomes a ConfigError with its line.
    public static func load(_ text: String, file: String) throws(ConfigError) -> YAMLNode {
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ConfigError(file: file, line: 1, "the file is empty")
            }
            // Keys name fields; a list or mapping as a key is a mistake (and traps Yams's
            // value construction, found by fuzzing the rules loader).
            if let line = lineOfNonScalarKey(node) {
                throw ConfigError(file: file, line: line, "a mapping key must be a plain scalar (a name), not a list or mapping")
            }
            return YAMLNode(node: node, file: file, path: "")
        } catch let e as ConfigError {
            throw e
        } catch let YamlError.duplicatedKeysInMapping(duplicates, context) {
            let keys = duplicates.sorted()
            throw ConfigError(file: file, line: Self.secondOccurrence(of: keys, in: text, from: context.mark.line) ?? context.mark.line,
                              "duplicate key \(keys.map { "'\($0)'" }.joined(separator: ", ")) (a key appears once per mapping)")
        } catch let YamlError.reader(problem, offset, _, _) {
            throw ConfigError(file: file, line: offset.map { Self.line(atUTF8Offset: $0, in: text) },
                              "invalid YAML: \(problem)\(offset.map { " at byte \($0)" } ?? "")")
        } catch let e as YamlError {
            throw ConfigError(file: file, line: Self.line(of: e), "invalid YAML: \(e)")
        } catch {
            throw ConfigError(file: file, "invalid YAML: \(error)")
        }
    }

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

    /// The 1-based line where one of `keys` appears for the second time at or after `line`
    /// (the duplicate the parser refused), if a plain `key:` line shows it.
    static func secondOccurrence(of keys: [String], in text: String, from line: Int) -> Int? {
        var seen: [String: Int] = [:]
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where i + 1 >= line {
            var t = raw.drop { $0 == " " || $0 == "\t" }
            if t.hasPrefix("- ") { t = t.dropFirst(2).drop { $0 == " " } }
            for k in keys where t.hasPrefix(k + ":") || t.hasPrefix("\"\(k)\":") || t.hasPrefix("'\(k)':") {
                seen[k, default: 0] += 1
                if seen[k] == 2 { return i + 1 }
            }
        }
        return nil
    }

    static func line(atUTF8Offset offset: Int, in text: String) -> Int {
        1 + text.utf8.prefix(offset).reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
    }

    private static func line(of e: YamlError) -> Int? {
        switch e {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        default:
            return nil
        }
    }

    public func mapping() throws(ConfigError) -> [(key: String, value: YAMLNode)] {
        guard let m = node.mapping else { throw fail("expected a mapping") }
        return m.map { (k, v) in
            let key = k.string ?? "\(k)"
            return (key, YAMLNode(node: v, file: file, path: path.isEmpty ? key : "\(path).\(key)"))
        }
    }

    public func sequence() throws(ConfigError) -> [YAMLNode] {
        guard let s = node.sequence else { throw fail("expected a list") }
        return s.enumerated().map { YAMLNode(node: $1, file: file, path: "\(path)[\($0)]") }
    }

    public func string() throws(ConfigError) -> String {
        guard case .scalar(let s) = node else { throw fail("expected a string") }
        return s.string
    }

    public func int() throws(ConfigError) -> Int {
        guard case .scalar(let s) = node, let v = Int(s.string) else { throw fail("expected an integer") }
        return v
    }

    /// A boolean as Yams reads one (`true`/`false`, and YAML 1.1's `yes`/`no`/`on`/`off`).
    public func bool() throws(ConfigError) -> Bool {
        guard case .scalar(let s) = node, let v = Bool.construct(from: s) else { throw fail("expected true or false") }
        return v
    }

    /// A permission mode written in octal ("0640", "0o640" or "640"). The owner must be able to
    /// read and write: a mode that locks out the writer itself is a mistake, not a policy.
    public func permissionMode() throws(ConfigError) -> UInt32 {
        var s = try string()
        if s.hasPrefix("0o") { s = String(s.dropFirst(2)) }
        guard !s.isEmpty, s.count <= 4, let v = UInt32(s, radix: 8), v <= 0o777 else {
            throw fail("'\(s)' is not a permission mode in octal (e.g. \"0640\"; quote it so YAML keeps the digits)")
        }
        guard v & 0o600 == 0o600 else { throw fail("the owner needs read and write permission (0o600)") }
        return v
    }

    /// Checks that a mapping has no keys beyond `allowed` (catches typos early).
    public func requireKeys(in allowed: Set<String>) throws(ConfigError) {
        for (k, v) in try mapping() where !allowed.contains(k) {
            throw ConfigError(file: file, line: v.line, field: v.path,
                                "unknown key '\(k)' (expected one of: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    public subscript(key: String) -> YAMLNode? {
        guard let m = node.mapping, let v = m[key] else { return nil }
        return YAMLNode(node: v, file: file, path: path.isEmpty ? key : "\(path).\(key)")
    }

    public func required(_ key: String) throws(ConfigError) -> YAMLNode {
        guard let v = self[key] else {
            throw ConfigError(file: file, line: line, field: path.isEmpty ? key : "\(path).\(key)", "missing required key")
        }
        return v
    }
}
