import Foundation
import Segments

/// What a committed partition is made of: written last, atomically, at
/// `<tables>/_manifests/<pipeline>/<partition path>.json`. It holds no
/// wall-clock time, so re-running a partition over the same inputs rewrites it
/// byte for byte.
public struct Manifest: Codable, Equatable, Sendable {
    public static let formatVersion = 1

    public var manifestVersion: Int
    public var pipeline: String
    /// SHA-free fingerprint of the pipeline definition's parameters (CRC32C, hex):
    /// a changed definition re-runs partitions under `--if-changed`.
    public var definition: String
    public var partition: String
    public var redlineVersion: String
    /// Latest corrected event time aggregated, UTC ns (null if no events).
    public var watermarkUTCNanos: Int64?
    public var inputs: [InputSegment]
    public var tables: [TableFile]
    public var hosts: [String: HostCounters]
    public var warnings: [String]

    public struct TableFile: Codable, Equatable, Sendable, Comparable {
        public var table: String
        /// Path below the table root.
        public var path: String
        public var rows: Int
        /// "merged" or the host of a partial.
        public var scope: String

        public static func < (a: Self, b: Self) -> Bool { (a.table, a.scope, a.path) < (b.table, b.scope, b.path) }
    }

    public func encoded() -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var d = (try? e.encode(self)) ?? Data()
        d.append(0x0A)
        return d
    }

    public static func path(tableRoot: String, pipeline: String, partition: Partition) -> String {
        "\(tableRoot)/_manifests/\(pipeline)/\(partition.path).json"
    }

    /// Where a partials-only run over `hostGlobs` keeps its manifest: one per host
    /// selection, so disjoint selections share a table root without touching each other.
    public static func partialsPath(tableRoot: String, pipeline: String, partition: Partition, hostGlobs: [String]) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-,*?")
        let label = hostGlobs.joined(separator: ",").utf8.map { b -> String in
            let c = Character(UnicodeScalar(b))
            return b < 0x80 && allowed.contains(c) ? String(c) : String(format: "%%%02X", b)
        }.joined()
        return "\(tableRoot)/_manifests/\(pipeline)/partials/\(partition.path)/hosts=\(label).json"
    }

    public static func load(_ path: String) -> Manifest? {
        guard let d = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(Manifest.self, from: d)
    }
}

/// The renames that publish a partition, written before the first rename.
/// If a run dies mid-commit, the next run on the same table root finds the
/// journal and finishes it (every staged file still exists until renamed), so
/// readers end up with the whole new partition, never a mix of two.
struct CommitJournal: Codable, Equatable {
    var renames: [Rename]
    var deletes: [String]
    /// Published last: the manifest's staged path and final path.
    var manifest: Rename
    var staging: String

    struct Rename: Codable, Equatable {
        var from: String
        var to: String
    }

    static func path(tableRoot: String) -> String { "\(tableRoot)/_manifests/.commit-journal.json" }

    /// Applies the journal: idempotent, so a crash during it is repaired by applying it again.
    func apply() throws(PipelineError) {
        for r in renames + [manifest] {
            if FileManager.default.fileExists(atPath: r.from) {
                try makeParent(r.to)
                guard rename(r.from, r.to) == 0 else {
                    throw .output("rename \(r.from) -> \(r.to): \(String(cString: strerror(errno)))")
                }
                syncDirectory((r.to as NSString).deletingLastPathComponent)
            } else if !FileManager.default.fileExists(atPath: r.to) {
                throw .output("commit journal names \(r.from), which is gone, and \(r.to) was never published")
            }
        }
        for d in deletes where FileManager.default.fileExists(atPath: d) {
            unlink(d)
            removeEmptyParents((d as NSString).deletingLastPathComponent)
        }
        try? FileManager.default.removeItem(atPath: staging)
    }
}

func makeParent(_ path: String) throws(PipelineError) {
    let dir = (path as NSString).deletingLastPathComponent
    do {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    } catch {
        throw .output("cannot create \(dir): \(error.localizedDescription)")
    }
}

func syncDirectory(_ dir: String) {
    let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if fd >= 0 {
        fsync(fd)
        close(fd)
    }
}

/// Removes empty folders upward (a stale host partition), stopping at the first non-empty one.
func removeEmptyParents(_ dir: String) {
    var d = dir
    while d.count > 1, rmdir(d) == 0 { d = (d as NSString).deletingLastPathComponent }
}

/// Writes bytes to `path` atomically (Segments.AtomicFile: temp file, fsync, rename,
/// fsync of the folder), creating the folder first.
func writeAtomically(_ data: Data, to path: String) throws(PipelineError) {
    try makeParent(path)
    do {
        try AtomicFile.write(data, to: path)
    } catch {
        throw .output(error.description)
    }
}
