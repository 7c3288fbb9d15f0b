import Anomaly
import ArgumentParser
import Foundation
import Pipeline

/// `redline explain`: a partition's anomaly candidates as sentences, best first.
struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a partition's anomaly candidates (anomaly_candidates) as sentences, most likely cause first.",
        discussion: """
            Reads <tables>/anomaly_candidates/date=D/hour=HH/ as `redline run pipelines/anomaly.yaml` \
            committed it. Each line: rank, score, and what moved, from what baseline, since when, \
            what it explains (callers' symptoms) or what explains it, and the network evidence.

            Exit codes: 0 printed (also when nothing alarmed), 2 usage error, 3 no such table root, \
            partition or table, or a damaged table file.
            """
    )

    @Option(help: "Table root (the pipelines' output.tables).")
    var tables: String

    @Option(help: "The hour partition: date=YYYY-MM-DD/hour=HH.")
    var partition: String

    @Option(help: "How many candidates to print.")
    var top: Int = 5

    func validate() throws {
        guard let p = Partition(partition), p.hour != nil else {
            throw ValidationError("--partition '\(partition)' is not date=YYYY-MM-DD/hour=HH")
        }
        guard top > 0 else { throw ValidationError("--top must be at least 1") }
    }

    func run() throws {
        let root = tables.hasPrefix("/") ? tables : FileManager.default.currentDirectoryPath + "/" + tables
        let p = Partition(partition)!
        let rows: [CandidateRow]
        do {
            rows = try AnomalyTable.read(tableRoot: root, partition: p)
        } catch {
            FileHandle.standardError.write(Data("redline explain: \(error)\n".utf8))
            throw ExitCode(error.exitCode)
        }
        guard !rows.isEmpty else {
            print("\(p): no anomaly candidates (nothing alarmed)")
            return
        }
        print("\(p): \(rows.count) anomaly candidate\(rows.count == 1 ? "" : "s"), most likely cause first")
        for r in rows.prefix(top) {
            print("\(r.rank). \(r.evidence)")
        }
        if rows.count > top { print("(\(rows.count - top) more: --top \(rows.count))") }
    }
}
