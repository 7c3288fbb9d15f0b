import ArgumentParser
import Foundation
import Pipeline
import Report

/// `redline report`: the traffic-governance page over committed tables.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Render the tables of a partition or range as one self-contained HTML page.",
        discussion: """
            Reads the Parquet tables under --tables (red_service, red_edge, traffic_matrix, \
            tcp_health, tcp_drops, their manifests, and anomaly_candidates when it exists) and \
            writes one HTML file with inline CSS and SVG: the datacenter matrix, top cross-datacenter \
            pairs, DR-drill shares, the service topology, per-service RED, TCP health, drops, \
            anomaly candidates and data completeness, each chart with its numbers in a table. \
            The file needs no network, reads in light and dark mode, prints on A4, and is \
            byte-identical for the same tables. What each section shows: docs/report.md.

            Selections:
              --partition date=D/hour=HH   one hour
              --partition date=D           the daily governance view: traffic_matrix_daily of D \
            against the day before, plus the day's hourly tables
              --from P --to P              every hour from the start of P to the end of P \
            (each an hour or a day partition)

            Examples:
              redline report --tables /var/lib/redline/tables --partition date=2026-11-24/hour=19 --out report.html
              redline report --tables /var/lib/redline/tables --partition date=2026-11-24 --out day.html
              redline report --tables /var/lib/redline/tables --from date=2026-11-01 --to date=2026-11-30 --out november.html

            Exit codes: 0 written, 2 usage error, 3 missing or unreadable tables or partitions, \
            5 the HTML could not be written.
            """
    )

    @Option(help: ArgumentHelp("Table root (the --out of redline run).", valueName: "dir"))
    var tables: String

    @Option(help: ArgumentHelp("One partition: date=YYYY-MM-DD/hour=HH or date=YYYY-MM-DD (daily view).", valueName: "partition"))
    var partition: String?

    @Option(help: ArgumentHelp("First partition of a range (hour or day).", valueName: "partition"))
    var from: String?

    @Option(help: ArgumentHelp("Last partition of a range, inclusive (hour or day).", valueName: "partition"))
    var to: String?

    @Option(help: ArgumentHelp("The HTML file to write (replaced atomically).", valueName: "file.html"))
    var out: String

    @Flag(help: "Print nothing on success.")
    var quiet = false

    func parsed(_ flag: String, _ text: String?) throws -> Partition? {
        guard let text else { return nil }
        guard let p = Partition(text) else {
            throw ValidationError("--\(flag) '\(text)' is not date=YYYY-MM-DD/hour=HH or date=YYYY-MM-DD")
        }
        return p
    }

    func selection() throws -> ReportSelection {
        do {
            return try ReportSelection(partition: try parsed("partition", partition), from: try parsed("from", from), to: try parsed("to", to))
        } catch let e as ReportError {
            throw ValidationError(e.description)
        }
    }

    func validate() throws {
        _ = try selection()
        if out.isEmpty || out.hasSuffix("/") { throw ValidationError("--out must name a file") }
    }

    func run() throws {
        let sel = try selection()
        do {
            let data = try TrafficReport.write(tables: tables, selection: sel, to: out)
            if !quiet {
                let requests = data.services.reduce(Int64(0)) { $0 + $1.total.requests }
                print("report for \(sel.label): \(data.services.count) services, \(data.nodes.count) service instances, \(requests) requests")
                print(out)
            }
        } catch {
            FileHandle.standardError.write(Data("redline report: \(error)\n".utf8))
            throw ExitCode(error.exitCode)
        }
    }
}
