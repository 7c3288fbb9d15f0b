import Foundation

/// Keeps the sealed segments under a segment root within a byte budget by
/// deleting the oldest first. Open segments (`.rls.open`) are never touched:
/// they are being written, or await recovery. What was deleted is returned so
/// the collector records it (stats records and metrics): no loss is silent.
public struct DiskBudget: Sendable {
    public let root: String
    public let budgetBytes: Int

    public struct Enforcement: Equatable, Sendable {
        public var deletedFiles: [String] = []
        public var deletedBytes: Int = 0
        /// Total bytes of sealed segments after enforcement.
        public var remainingBytes: Int = 0
    }

    public init(root: String, budgetBytes: Int) {
        self.root = root
        self.budgetBytes = budgetBytes
    }

    /// Deletes the oldest sealed segments (by modification time, then path)
    /// until the sealed total fits the budget. A budget of 0 means none.
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
        if budgetBytes > 0 && total > budgetBytes {
            files.sort { ($0.mtime, $0.path) < ($1.mtime, $1.path) }
            for f in files where total > budgetBytes {
                if unlink(f.path) == 0 {
                    total -= f.size
                    out.deletedFiles.append(f.path)
                    out.deletedBytes += f.size
                    removeEmptyParents(of: f.path)
                }
            }
        }
        out.remainingBytes = total
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
