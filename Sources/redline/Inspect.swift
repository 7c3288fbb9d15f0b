import ArgumentParser
import Foundation
import CRedlineABI
import Segments
import Timebase

/// `redline inspect <file|dir>`: integrity and contents of segment files.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check segment files and summarise them: header, blocks, counts, time range, verdict.",
        discussion: """
            A directory is searched recursively for *.rls and *.rls.open files.
            Verdicts: intact (sealed, every checksum and the footer verified); open (a .rls.open file \
            ending cleanly after a block: still being written, nothing lost); damaged (the first \
            problem is named with its byte offset, and the complete blocks before it are reported \
            as recoverable).

            Exit codes: 0 every file intact or open; 1 at least one file damaged; 2 usage error.
            """
    )

    @Argument(help: "A segment file, or a directory to search for segments.")
    var path: String

    @Flag(help: "Print each block (sequence, offset, type, records, raw and stored bytes, kernel time range).")
    var blocks = false

    @Flag(help: "Print every record as a JSON line on stdout (summaries go to stderr).")
    var records = false

    @Flag(help: "Print one JSON summary per file instead of text.")
    var json = false

    @Flag(help: "Show each file's clock anchors, detected clock steps and suspends, and the time-correction uncertainty (schemas/time.md).")
    var time = false

    func validate() throws {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw ValidationError("no such file or directory: \(path)")
        }
        var st = stat()
        if stat(path, &st) == 0, !isDir.boolValue, (st.st_mode & S_IFMT) != S_IFREG {
            throw ValidationError("\(path) is not a regular file (a FIFO, device or socket); segments are regular files")
        }
        if records && json {
            throw ValidationError("--records and --json both use stdout; pick one")
        }
        if time && (records || json) {
            throw ValidationError("--time prints text; it does not combine with --records or --json")
        }
    }

    func run() throws {
        let files = try segmentFiles()
        if files.isEmpty {
            throw ValidationError("no .rls or .rls.open files under \(path)")
        }
        var out = Output(toStderr: records)
        var damaged = 0
        var totals = (intact: 0, open: 0, records: UInt64(0), blocks: 0, recoverableRecords: UInt64(0))
        for file in files {
            var anchors: [rl_clock_anchor] = []
            let report = SegmentReport.scan(path: file, onBlock: records || time ? { info, reader in
                if records { printRecords(reader) }
                if time, info.recordType == .clockAnchor {
                    _ = reader.withRecords(as: rl_clock_anchor.self) { anchors.append(contentsOf: $0) }
                }
            } : nil)
            switch report.verdict {
            case .intact: totals.intact += 1
            case .open: totals.open += 1
            case .damaged: damaged += 1
            }
            totals.blocks += report.blocks.count
            totals.records += report.recordCount
            if json {
                print(Summary.json(report))
            } else {
                Summary.text(report, blocks: blocks, into: &out)
            }
            if time, let header = report.header {
                let timeReport = TimeReport(bootID: header.bootID, records: anchors)
                out.line(timeReport.render())
            }
        }
        if files.count > 1 && !json {
            out.line("total: \(files.count) files — \(totals.intact) intact, \(totals.open) open, \(damaged) damaged; "
                + "\(totals.blocks) verified blocks, \(totals.records) records")
        }
        if damaged > 0 { throw ExitCode(1) }
    }

    private func printRecords(_ reader: SegmentReader) {
        var text = ""
        text.reserveCapacity(reader.currentRawRecords.count * 3)
        for line in RecordJSON.renderCurrentBlock(of: reader) {
            text += line
            text += "\n"
        }
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// The segment files `path` names, sorted; a file is taken as given.
    private func segmentFiles() throws -> [String] {
        var isDir: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
        if !isDir.boolValue { return [path] }
        guard let walker = FileManager.default.enumerator(atPath: path) else { return [] }
        var found: [String] = []
        // Non-regular files with a segment's name are listed too: scanning refuses them at once, as damaged.
        for case let relative as String in walker
        where relative.hasSuffix(".rls") || relative.hasSuffix(".rls.open") {
            found.append((path as NSString).appendingPathComponent(relative))
        }
        return found.sorted()
    }
}

/// Where summary text goes: stdout, or stderr when stdout carries records.
struct Output {
    var toStderr: Bool
    mutating func line(_ s: String) {
        if toStderr {
            FileHandle.standardError.write(Data((s + "\n").utf8))
        } else {
            print(s)
        }
    }
}
