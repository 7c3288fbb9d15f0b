import Yams

/// A thin, line-aware view over a composed YAML node, so validation errors can
/// say where in the file the problem is.
struct YAMLNode {
    let node: Node
    let file: String
    let path: String

    var line: Int? { node.mark.map { $0.line } }

    func fail(_ message: String, field: String? = nil) -> MetadataError {
        MetadataError(file: file, line: line, field: field ?? (path.isEmpty ? nil : path), message)
    }

    static func load(_ text: String, file: String) throws(MetadataError) -> YAMLNode {
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw MetadataError(file: file, line: 1, "the file is empty")
            }
            return YAMLNode(node: node, file: file, path: "")
        } catch let e as MetadataError {
            throw e
        } catch let e as YamlError {
            throw MetadataError(file: file, line: Self.line(of: e), "invalid YAML: \(e)")
        } catch {
            throw MetadataError(file: file, "invalid YAML: \(error)")
        }
    }

    private static func line(of e: YamlError) -> Int? {
        switch e {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return mark.line
        default:
            return nil
        }
    }

    func mapping() throws(MetadataError) -> [(key: String, value: YAMLNode)] {
        guard let m = node.mapping else { throw fail("expected a mapping") }
        return m.map { (k, v) in
            let key = k.string ?? "\(k)"
            return (key, YAMLNode(node: v, file: file, path: path.isEmpty ? key : "\(path).\(key)"))
        }
    }

    func sequence() throws(MetadataError) -> [YAMLNode] {
        guard let s = node.sequence else { throw fail("expected a list") }
        return s.enumerated().map { YAMLNode(node: $1, file: file, path: "\(path)[\($0)]") }
    }

    func string() throws(MetadataError) -> String {
        guard case .scalar(let s) = node else { throw fail("expected a string") }
        return s.string
    }

    func int() throws(MetadataError) -> Int {
        guard case .scalar(let s) = node, let v = Int(s.string) else { throw fail("expected an integer") }
        return v
    }

    /// Checks that a mapping has no keys beyond `allowed` (catches typos early).
    func requireKeys(in allowed: Set<String>) throws(MetadataError) {
        for (k, v) in try mapping() where !allowed.contains(k) {
            throw MetadataError(file: file, line: v.line, field: v.path,
                                "unknown key '\(k)' (expected one of: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    subscript(key: String) -> YAMLNode? {
        guard let m = node.mapping, let v = m[key] else { return nil }
        return YAMLNode(node: v, file: file, path: path.isEmpty ? key : "\(path).\(key)")
    }

    func required(_ key: String) throws(MetadataError) -> YAMLNode {
        guard let v = self[key] else {
            throw MetadataError(file: file, line: line, field: path.isEmpty ? key : "\(path).\(key)", "missing required key")
        }
        return v
    }
}
