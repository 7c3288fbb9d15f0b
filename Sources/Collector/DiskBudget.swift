import Foundation

/// Keeps the sealed segments under a segment root within a byte budget, and the
/// filesystem holding them above a minimum of free space, by deleting the oldest
/// sealed segments first. Open segments (`.rls.open`) are never touched: they are
/// being written, or await recovery. The newest sealed segment is never deleted
/// either: it is the freshest data the pipeline has not read yet, and a budget that
/// ate it would leave the host with nothing. What was deleted is returned so the
/// collector records it (stats records and metrics): no loss is silent.
public struct DiskBudget: Sendable {
    public let root: String
    public let budgetBytes: Int
    /// Free space (`statvfs`: blocks available to unprivileged users) the filesystem must keep; 0 = none.
    public let minFreeBytes: Int

    public struct Enforcement: Equatable, Sendable {
        public var deletedFiles: [String] = []
        public var deletedBytes: Int = 0
        /// Total bytes of sealed segments after enforcement.
        public var remainingBytes: Int = 0
        /// Free bytes on the filesystem after enforcement (nil if `statvfs` failed).
        public var freeBytes: Int?
    }

    public init(root: String, budgetBytes: Int, minFreeBytes: Int = 0) {
        self.root = root
        self.budgetBytes = budgetBytes
        self.minFreeBytes = minFreeBytes
    }

    /// Whether there is anything to enforce.
    public var isActive: Bool { budgetBytes > 0 || minFreeBytes > 0 }

    /// Bytes available on the filesystem holding `path`, nil if `statvfs(3)` fails.
    public static func freeBytes(at path: String) -> Int? {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return nil }
        return Int(s.f_bavail) * Int(s.f_frsize)
    }

    /// Deletes the oldest sealed segments (by modification time, then path) until the sealed
    /// total fits the budget and the filesystem has `minFreeBytes` free, keeping the newest.
    /// A budget of 0 means none.
    public func enforce() -> Enforcement {
        var out = Enforcement()
        var files: [(path: String, size: Int, mtime: Date)] = []
        let fm = FileManager.default
        guard let e = fm.enumerator(at: URL(fileURLWithPath: root),
                                    includingPropertiesForKeys: [.fileSizeKey, .contentModificationDateKey, .isRegularFileKey])
        else { return out }
        for case let url as URL in e where url.lastPathComponent.hasSuffix(".rls") {
            guard let v = try? url.resourceValues(forKeys: [.fileSizeKey, .contentModificationDateKey, .isRegularFileKey]),
                  v.isRegularFile == true else { continue }
            files.append((url.path, v.fileSize ?? 0, v.contentModificationDate ?? .distantPast))
        }
        var total = files.reduce(0) { $0 + $1.size }
        var free = Self.freeBytes(at: root)
        func overLimit() -> Bool {
            (budgetBytes > 0 && total > budgetBytes) || (minFreeBytes > 0 && (free ?? Int.max) < minFreeBytes)
        }
        if overLimit() {
            files.sort { ($0.mtime, $0.path) < ($1.mtime, $1.path) }
            for f in files.dropLast() where overLimit() {
                if unlink(f.path) == 0 {
                    total -= f.size
                    out.deletedFiles.append(f.path)
                    out.deletedBytes += f.size
                    removeEmptyParents(of: f.path)
                    free = Self.freeBytes(at: root)
                }
            }
        }
        out.remainingBytes = total
        out.freeBytes = free
        return out
    }

    /// Removes now-empty partition folders up to (not including) the root.
    private func removeEmptyParents(of path: String) {
        var dir = (path as NSString).deletingLastPathComponent
        let stop = URL(fileURLWithPath: root).standardized.path
        while dir.count > stop.count, dir.hasPrefix(stop), rmdir(dir) == 0 {
            dir = (dir as NSString).deletingLastPathComponent
        }
    }
}
