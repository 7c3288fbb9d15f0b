import Foundation

/// Kubernetes identity read off a cgroup v2 path.
public struct CgroupIdentity: Equatable, Sendable {
    /// Pod UID with dashes (`0b6f3c1e-8a52-…`), nil outside Kubernetes.
    public var podUID: String?
    /// Container id (64 hex), nil if the path is not a container's.
    public var containerID: String?
}

/// Resolves cgroup ids (what BPF sees) to cgroup paths and Kubernetes identities.
///
/// On cgroup v2 a cgroup's id is the inode number of its directory, so the
/// resolver walks the unified hierarchy once and refreshes on a miss (cgroups
/// come and go with containers). The walk is bounded in depth and entries.
public final class CgroupResolver: @unchecked Sendable {
    public let mountPoint: String
    private let maxEntries: Int
    private let lock = NSLock()
    private var byID: [UInt64: String] = [:]
    private var lastWalkEntries = 0

    /// - Parameter mountPoint: the cgroup v2 mount (found with `findUnifiedMount()` by default).
    public init(mountPoint: String? = nil, maxEntries: Int = 200_000) {
        self.mountPoint = mountPoint ?? CgroupResolver.findUnifiedMount() ?? "/sys/fs/cgroup"
        self.maxEntries = maxEntries
    }

    /// The cgroup v2 mount point from /proc/self/mountinfo, nil if there is none.
    public static func findUnifiedMount() -> String? {
        guard let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            // fields: id parent maj:min root mountpoint opts [optional...] - fstype source superopts
            let f = line.split(separator: " ")
            guard let dash = f.firstIndex(of: "-"), dash + 1 < f.count, f[dash + 1] == "cgroup2", f.count > 4 else { continue }
            return String(f[4])
        }
        return nil
    }

    /// The path below the mount (e.g. `/kubepods.slice/…`), walking again once on a miss.
    public func path(forID id: UInt64) -> String? {
        lock.lock()
        defer { lock.unlock() }
        if let p = byID[id] { return p }
        walk()
        return byID[id]
    }

    /// The cgroup id of a path below the mount (its directory's inode), nil if absent.
    public func id(forPath path: String) -> UInt64? {
        var st = stat()
        guard stat(mountPoint + path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { return nil }
        return UInt64(st.st_ino)
    }

    private func walk() {
        var map: [UInt64: String] = [:]
        var stack: [(String, Int)] = [("", 0)]
        while let (rel, depth) = stack.popLast(), map.count < maxEntries {
            var st = stat()
            let full = mountPoint + rel
            guard lstat(full, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { continue }
            map[UInt64(st.st_ino)] = rel.isEmpty ? "/" : rel
            guard depth < 32, let dir = opendir(full) else { continue }
            while let e = readdir(dir) {
                guard e.pointee.d_type == UInt8(DT_DIR) else { continue }
                let name = withUnsafePointer(to: e.pointee.d_name) {
                    $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
                }
                if name == "." || name == ".." { continue }
                stack.append((rel + "/" + name, depth + 1))
            }
            closedir(dir)
        }
        byID = map
        lastWalkEntries = map.count
    }

    /// Pod UID and container id from a Kubernetes cgroup path, for both cgroup
    /// drivers:
    /// - systemd: `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_with_underscores>.slice/cri-containerd-<id>.scope`
    ///   (also `docker-<id>.scope`, `crio-<id>.scope`)
    /// - cgroupfs: `/kubepods/burstable/pod<uid>/<id>`
    public static func identity(fromPath path: String) -> CgroupIdentity {
        var out = CgroupIdentity()
        for component in path.split(separator: "/") {
            var c = Substring(component)
            if c.hasSuffix(".slice") { c = c.dropLast(6) }
            if c.hasSuffix(".scope") { c = c.dropLast(6) }
            if let r = c.range(of: "pod", options: .backwards) {
                let before = c[..<r.lowerBound]
                let candidate = c[r.upperBound...].replacingOccurrences(of: "_", with: "-")
                if (before.isEmpty || before.hasSuffix("-")), isUUID(candidate) {
                    out.podUID = candidate.lowercased()
                    continue
                }
            }
            // The container id is the last 64-hex run of a component (after a runtime prefix).
            let tail = c.split(separator: "-").last.map(String.init) ?? String(c)
            if tail.utf8.count == 64, tail.utf8.allSatisfy(isHex), out.podUID != nil || c.contains("-") || path.contains("kubepods") {
                out.containerID = tail.lowercased()
            }
        }
        return out
    }

    private static func isHex(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70)
    }

    private static func isUUID(_ s: String) -> Bool {
        let u = Array(s.utf8)
        guard u.count == 36 else { return false }
        for (i, c) in u.enumerated() {
            if [8, 13, 18, 23].contains(i) { if c != UInt8(ascii: "-") { return false } } else if !isHex(c) { return false }
        }
        return true
    }
}
