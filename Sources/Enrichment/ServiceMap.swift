import YAMLConfig

/// Which workloads make up which service, from `services.yaml`.
///
/// A service is matched, in this order, by: the service id a collector put
/// in records (from its cgroup → id config and the peer's TCP option); a
/// Kubernetes label selector (all labels equal, namespace if given); a glob on
/// the cgroup path (for workloads outside Kubernetes).
public struct ServiceMap: Sendable {
    public struct Service: Sendable, Equatable {
        public let name: String
        /// The id carried in the TCP identity option and in records; 0 = none.
        public let id: UInt32
        public let namespace: String?
        public let selector: [String: String]
        public let cgroupGlobs: [String]
    }

    public let services: [Service]
    private let byID: [UInt32: Int]

    public init(services: [Service]) {
        self.services = services
        var ids: [UInt32: Int] = [:]
        for (i, s) in services.enumerated() where s.id != 0 { ids[s.id] = i }
        self.byID = ids
    }

    public func service(id: UInt32) -> Service? {
        guard id != 0, let i = byID[id] else { return nil }
        return services[i]
    }

    /// The first service whose selector matches a pod's labels and namespace.
    public func service(podLabels: [String: String], namespace: String) -> Service? {
        services.first { s in
            !s.selector.isEmpty && (s.namespace == nil || s.namespace == namespace)
                && s.selector.allSatisfy { podLabels[$0.key] == $0.value }
        }
    }

    /// The first service with a cgroup glob matching `path`.
    public func service(cgroupPath path: String) -> Service? {
        services.first { s in s.cgroupGlobs.contains { Glob.matches($0, path) } }
    }

    /// Parses `services.yaml` (schemas/metadata-v1.md).
    public static func parse(yaml text: String, file: String) throws(MetadataError) -> ServiceMap {
        let root = try YAMLNode.load(text, file: file)
        try root.requireKeys(in: ["version", "services"])
        try checkVersion(root)
        var out: [Service] = []
        var names: Set<String> = [], ids: [UInt32: String] = [:]
        for n in try root.required("services").sequence() {
            try n.requireKeys(in: ["name", "id", "namespace", "selector", "cgroups"])
            let nameNode = try n.required("name")
            let name = try nameNode.string()
            guard !name.isEmpty, name != "unknown" else {
                throw nameNode.fail("a service name must be non-empty and not 'unknown' (reserved)")
            }
            guard names.insert(name).inserted else { throw nameNode.fail("service '\(name)' is defined twice") }
            var id: UInt32 = 0
            if let idNode = n["id"] {
                let v = try idNode.int()
                guard (1...Int(UInt32.max)).contains(v) else { throw idNode.fail("id must be in 1...\(UInt32.max)") }
                id = UInt32(v)
                if let other = ids[id] { throw idNode.fail("id \(id) is already used by '\(other)'") }
                ids[id] = name
            }
            var selector: [String: String] = [:]
            if let sel = n["selector"] {
                for (k, v) in try sel.mapping() { selector[k] = try v.string() }
            }
            let globs = try n["cgroups"]?.sequence().map { (g: YAMLNode) throws(MetadataError) in try g.string() } ?? []
            guard !selector.isEmpty || !globs.isEmpty || id != 0 else {
                throw n.fail("service '\(name)' has no id, selector or cgroups: nothing can match it")
            }
            out.append(Service(name: name, id: id, namespace: try n["namespace"]?.string(),
                               selector: selector, cgroupGlobs: globs))
        }
        return ServiceMap(services: out)
    }
}

/// Shell-style globs (`*`, `?`) over whole strings; `*` also crosses `/`.
public enum Glob {
    public static func matches(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.utf8), t = Array(text.utf8)
        var pi = 0, ti = 0, star = -1, mark = 0
        while ti < t.count {
            if pi < p.count && (p[pi] == UInt8(ascii: "?") || p[pi] == t[ti]) {
                pi += 1; ti += 1
            } else if pi < p.count && p[pi] == UInt8(ascii: "*") {
                star = pi; mark = ti; pi += 1
            } else if star >= 0 {
                pi = star + 1; mark += 1; ti = mark
            } else {
                return false
            }
        }
        while pi < p.count && p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }
}
