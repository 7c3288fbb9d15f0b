import ArgumentParser
import DevSupport
import Foundation
import Pipeline
import Segments

/// `redline-dev`: developer tools — generators of committed test data and benchmark inputs, and
/// in-process benchmarks. A separate executable so none of it ships in the product (`tools/package`
/// packs `redline` only).
@main
struct RedlineDev: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "redline-dev",
        abstract: "Redline developer tools (fixture and sample generators, benchmarks).",
        subcommands: [WriteSamples.self, WriteGolden.self, BenchSegments.self, BenchPipelineCommand.self, BenchReport.self, TableSchemas.self,
                      RecodeSegments.self]
    )
}

/// `redline-dev write-samples --out DIR`: the synthetic demo segments (tools/lab/samples/segments).
struct WriteSamples: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "write-samples",
        abstract: "Write the deterministic synthetic sample segments under DIR (which must not hold them already)."
    )

    @Option(help: "Root directory of the sample segment store.")
    var out: String

    func run() throws {
        let paths = try SyntheticSegments.writeSamples(root: out)
        for p in paths { print(p) }
    }
}

/// `redline-dev write-golden --out FILE`: the golden fixture schemas/segment-v1.md documents.
struct WriteGolden: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "write-golden",
        abstract: "Write the golden fixture segment to FILE (must end in .rls and not exist)."
    )

    @Option(help: "Path of the fixture to write.")
    var out: String

    func run() throws {
        try SyntheticSegments.writeGolden(to: out)
        print(out)
    }
}

/// `redline-dev table-schemas --out schemas/tables`: the machine-readable schema of every
/// table the pipeline writes, from its one declaration (Sources/Pipeline/Tables, listed in PipelineTables.swift).
struct TableSchemas: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "table-schemas",
        abstract: "Write schemas/tables/<table>.json for every pipeline table (and, with --sql, their merge SQL)."
    )

    @Option(help: "Folder to write the JSON files into.")
    var out: String

    @Option(help: "Folder to write the merge SQL into (pipelines/spark): merge_<table>.sql and the shared fragment_*.sql, run by Spark and by DuckDB alike.")
    var sql: String?

    func run() throws {
        for t in PipelineTables.everySchema {
            let path = "\(out)/\(t.name).json"
            try t.json().write(to: URL(fileURLWithPath: path), options: .atomic)
            print(path)
        }
        if let sql {
            for (name, text) in MergeSQL.files().sorted(by: { $0.key < $1.key }) {
                try Data(text.utf8).write(to: URL(fileURLWithPath: "\(sql)/\(name)"), options: .atomic)
                print("\(sql)/\(name)")
            }
        }
    }
}
