import CCompression
import Foundation
import RedlineBase

/// Publishes a run's partition folders so that a reader globbing any table's partition folder
/// sees all of the old files or all of the new ones, whatever the moment of a crash.
///
/// Each table's partition folder (`<table>/date=…/hour=…`, and `partials/<table>/date=…/hour=…`
/// with its `host=` folders) is staged whole under `<tables>/.staging/`, with the run id in
/// `_redline_run`. The commit then, folder by folder, swaps the staged folder with the
/// published one in one `renameat2(RENAME_EXCHANGE)` (a plain rename the first time), and
/// removes the old folder, now in staging where no reader looks. The manifest, carrying the
/// run id, is renamed into place last. A journal written before the first swap lets the next
/// run finish a commit a crash interrupted; every step can be repeated.
struct PartitionCommit {
    static let markerName = "_redline_run"

    let tableRoot: String
    let staging: String
    /// Partition folders the run publishes, relative to the table root.
    let folders: [String]
    /// Partition folders of the previous commit that this run no longer writes (a table
    /// dropped from the pipeline), relative to the table root.
    let removals: [String]
    let fileMode: mode_t
    let folderMode: mode_t

    /// Fills in the table files' CRC32C and the run id, writes the markers and the staged
    /// manifest, and commits. Returns the manifest as published.
    func publish(_ manifest: Manifest, at manifestPath: String) throws(PipelineError) -> Manifest {
        var m = manifest
        for i in m.tables.indices {
            m.tables[i].crc32c = try Self.crc32c(ofFile: "\(staging)/\(m.tables[i].path)")
        }
        m.runID = m.computedRunID()
        for f in folders {
            try output(POSIXFile.makeDirectories("\(staging)/\(f)", mode: folderMode))
            try writeAtomically(Data("\(m.runID)\n".utf8), to: "\(staging)/\(f)/\(Self.markerName)", mode: fileMode, folderMode: folderMode)
        }
        let stagedManifest = "\(staging)/manifest.json"
        try writeAtomically(m.encoded(), to: stagedManifest, mode: fileMode, folderMode: folderMode)
        let journal = CommitJournal(runID: m.runID,
                                    swaps: folders.map { .init(from: "\(staging)/\($0)", to: "\(tableRoot)/\($0)") },
                                    removals: removals.map { "\(tableRoot)/\($0)" },
                                    manifest: .init(from: stagedManifest, to: manifestPath), staging: staging,
                                    folderMode: UInt32(folderMode))
        let journalPath = CommitJournal.path(tableRoot: tableRoot)
        let je = JSONEncoder()
        je.outputFormatting = [.sortedKeys]
        guard let jdata = try? je.encode(journal) else { throw .output("cannot encode the commit journal") }
        FaultPoint.reach("staged")
        try writeAtomically(jdata, to: journalPath, mode: fileMode, folderMode: folderMode)
        FaultPoint.reach("journal written")
        try journal.apply()
        unlink(journalPath)
        FaultPoint.reach("journal removed")
        return m
    }

    /// CRC32C of a whole file, hex.
    static func crc32c(ofFile path: String) throws(PipelineError) -> String {
        String(format: "%08x", try SegmentInputs.checksum(ofFile: path).crc)
    }

    /// The run id a published (or staged) partition folder holds, nil if none.
    static func runID(ofFolder dir: String) -> String? {
        guard let d = FileManager.default.contents(atPath: "\(dir)/\(markerName)") else { return nil }
        return String(decoding: d, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// The steps that publish a partition, written before the first of them (format 2). If a run
/// dies mid-commit, the next run on the same table root finds the journal and finishes it.
struct CommitJournal: Codable, Equatable {
    var journalVersion = 2
    var runID: String
    /// Staged partition folder → published partition folder.
    var swaps: [Rename]
    /// Published partition folders to remove (tables the run no longer writes).
    var removals: [String]
    /// Published last: the manifest's staged path and final path.
    var manifest: Rename
    var staging: String
    /// Mode of the parent folders the commit creates (`<table>/date=…`).
    var folderMode: UInt32

    struct Rename: Codable, Equatable {
        var from: String
        var to: String
    }

    static func path(tableRoot: String) -> String { "\(tableRoot)/_manifests/.commit-journal.json" }

    /// Applies the journal. Idempotent: a folder whose published marker already shows the run
    /// id is done; a staged folder still showing it is swapped in; what a swap moved out is old
    /// data sitting in staging, removed.
    func apply() throws(PipelineError) {
        for s in swaps {
            let staged = PartitionCommit.runID(ofFolder: s.from)
            if staged == runID && PartitionCommit.runID(ofFolder: s.to) != runID {
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: s.to, isDirectory: &isDir) {
                    guard isDir.boolValue else { throw .output("\(s.to) is not a folder; cannot publish the partition there") }
                    try output(POSIXFile.exchange(s.from, s.to))
                } else {
                    try makeParent(s.to, mode: mode_t(folderMode))
                    try output(POSIXFile.rename(s.from, s.to))
                }
                try output(POSIXFile.fsyncDirectory(POSIXFile.directory(of: s.to)))
                FaultPoint.reach("published \(s.to)")
            } else if PartitionCommit.runID(ofFolder: s.to) != runID {
                throw .output("commit journal names \(s.from), which is gone, and \(s.to) does not hold run \(runID)")
            }
            if FileManager.default.fileExists(atPath: s.from) {
                try? FileManager.default.removeItem(atPath: s.from)
                FaultPoint.reach("old folder removed for \(s.to)")
            }
        }
        for r in removals where FileManager.default.fileExists(atPath: r) {
            try? FileManager.default.removeItem(atPath: r)
            removeEmptyParents(POSIXFile.directory(of: r))
            FaultPoint.reach("removed \(r)")
        }
        if FileManager.default.fileExists(atPath: manifest.from) {
            try makeParent(manifest.to, mode: mode_t(folderMode))
            try output(POSIXFile.rename(manifest.from, manifest.to))
            try output(POSIXFile.fsyncDirectory(POSIXFile.directory(of: manifest.to)))
            FaultPoint.reach("manifest published")
        } else if !FileManager.default.fileExists(atPath: manifest.to) {
            throw .output("commit journal names \(manifest.from), which is gone, and \(manifest.to) was never published")
        }
        try? FileManager.default.removeItem(atPath: staging)
    }
}

/// Named points in the commit where a test can kill the run: with `REDLINE_FAULT_COMMIT_STEP=N`
/// in the environment, the N-th point reached (1-based) prints its name to stderr and raises
/// SIGKILL, as a crash or `kill -9` would. Without the variable every point is a no-op.
enum FaultPoint {
    nonisolated(unsafe) private static var reached = 0
    private static let target: Int? = ProcessInfo.processInfo.environment["REDLINE_FAULT_COMMIT_STEP"].flatMap { Int($0) }

    static func reach(_ name: String) {
        guard let target else { return }
        reached += 1
        guard reached == target else { return }
        let line = "fault point: killed at commit step \(reached) (\(name))\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
        raise(SIGKILL)
    }
}
