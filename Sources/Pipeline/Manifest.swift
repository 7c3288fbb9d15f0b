import Foundation
import Segments

/// What a committed partition is made of: written last, atomically, at
/// `<tables>/_manifests/<pipeline>/<partition path>.json`. It holds no
/// wall-clock time, so re-running a partition over the same inputs rewrites it
/// byte for byte.
public struct Manifest: Codable, Equatable, Sendable {
    public static let formatVersion = 3

    public var manifestVersion: Int
    public var pipeline: String
    /// SHA-free fingerprint of the pipeline definition's parameters (CRC32C, hex):
    /// a changed definition re-runs partitions under `--if-changed`.
    public var definition: String
    public var partition: String
    public var redlineVersion: String
    /// Identifies this commit's content: FNV-1a 64 (hex) of this manifest with `runID` empty.
    /// Every table folder the run published holds it in `_redline_run`; a reader needing
    /// every table of one run compares them (schemas/pipeline-v1.md, "Reading a partition").
    public var runID: String = ""
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
        /// CRC32C of the whole file, hex.
        public var crc32c: String = ""

        public static func < (a: Self, b: Self) -> Bool { (a.table, a.scope, a.path) < (b.table, b.scope, b.path) }
    }

    /// The run id of this content (see `runID`).
    public func computedRunID() -> String {
        var m = self
        m.runID = ""
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in m.encoded() { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        return String(format: "%016llx", h)
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

/// Creates the folder of `path` and its missing parents; each folder it creates gets exactly
/// `mode` (chmod after mkdir, so the caller's umask does not decide who can read the tables).
func makeParent(_ path: String, mode: mode_t = 0o750) throws(PipelineError) {
    try makeFolder((path as NSString).deletingLastPathComponent, mode: mode)
}

/// `mkdir -p` with an explicit mode for the folders it creates; errors name the folder and errno.
func makeFolder(_ dir: String, mode: mode_t = 0o750) throws(PipelineError) {
    var st = stat()
    if stat(dir, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR { return }
    var prefix = dir.hasPrefix("/") ? "/" : ""
    for part in dir.split(separator: "/") {
        prefix += part
        if mkdir(prefix, mode) == 0 {
            if chmod(prefix, mode) != 0 { throw .output("chmod \(prefix): \(String(cString: strerror(errno)))") }
        } else if errno != EEXIST {
            throw .output("cannot create folder \(prefix): mkdir: \(String(cString: strerror(errno)))")
        }
        prefix += "/"
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
func writeAtomically(_ data: Data, to path: String, mode: mode_t = 0o640, folderMode: mode_t = 0o750) throws(PipelineError) {
    try makeParent(path, mode: folderMode)
    do {
        try AtomicFile.write(data, to: path, mode: mode)
    } catch {
        throw .output(error.description)
    }
}
