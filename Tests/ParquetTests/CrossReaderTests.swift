import Foundation
import Testing
import TestSupport
@testable import Parquet

struct ReaderReport: Decodable {
    struct Stats: Decodable, Equatable {
        var null_count: Int64?
        var min: Cell?
        var max: Cell?
    }
    struct Group: Decodable, Equatable {
        var num_rows: Int64
        var columns: [Stats?]
    }
    struct Field: Decodable, Equatable {
        var name: String
        var type: String
        var nullable: Bool
    }
    struct PyArrow: Decodable {
        var schema: [Field]
        var num_rows: Int64
        var num_row_groups: Int
        var created_by: String?
        var key_value_metadata: [String: String]
        var values: [String: [Cell]]
        var statistics: [Group]
    }
    struct DuckDB: Decodable {
        var num_rows: Int64
        var values: [String: [Cell]]
    }
    var warnings: [String]
    var errors: [String]
    var pyarrow: PyArrow?
    var pyarrow_rewrite_statistics: [Group]?
    var duckdb: DuckDB?
}

/// Compares one reader's cells with the expected ones; returns a short message per mismatch.
/// The Arrow type pyarrow should infer for a field (its `str(type)`), and whether it is nullable.
func expectedArrowField(_ f: ParquetField) -> ReaderReport.Field {
    let t: String
    switch f.type {
    case .boolean: t = "bool"
    case .int8: t = "int8"
    case .int16: t = "int16"
    case .int32: t = "int32"
    case .int64: t = "int64"
    case .uint8: t = "uint8"
    case .uint16: t = "uint16"
    case .uint32: t = "uint32"
    case .uint64: t = "uint64"
    case .double: t = "double"
    case .string: t = "string"
    case .binary: t = "binary"
    case .fixedBinary(let n): t = "fixed_size_binary[\(n)]"
    case .timestampNanos: t = "timestamp[ns, tz=UTC]"
    }
    switch f.shape {
    case .required: return .init(name: f.name, type: t, nullable: false)
    case .optional: return .init(name: f.name, type: t, nullable: true)
    case let .list(nullable, elementNullable):
        return .init(name: f.name, type: "list<element: \(t)\(elementNullable ? "" : " not null")>", nullable: nullable)
    }
}

/// `microsecondTimestamps`: the reader narrows TIMESTAMP(NANOS, UTC) to µs (DuckDB 1.4 reads it as
/// TIMESTAMPTZ, for pyarrow's files too), so expected timestamps are truncated to whole µs.
func compareValues(_ file: CorpusFile, _ got: [String: [Cell]], reader: String,
                   microsecondTimestamps: Bool = false) -> [String] {
    var problems: [String] = []
    for (c, f) in file.schema.fields.enumerated() {
        var want = expectedCells(f, file.expected(c))
        if microsecondTimestamps && f.type == .timestampNanos { want = want.map(truncatedToMicros) }
        guard let have = got[f.name] else { problems.append("\(reader) \(file.name).\(f.name): column missing"); continue }
        if have != want {
            let i = zip(have, want).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(have.count, want.count)
            problems.append("\(reader) \(file.name).\(f.name): \(have.count) vs \(want.count) rows, first difference at \(i): "
                + "\(i < have.count ? have[i].description : "-") vs \(i < want.count ? want[i].description : "-")")
        }
    }
    return problems
}

func truncatedToMicros(_ c: Cell) -> Cell {
    switch c {
    case .text(let s): return .text(String(Int64(s)! / 1000 * 1000))
    case .list(let l): return .list(l.map(truncatedToMicros))
    default: return c
    }
}

@Suite("Parquet files read by pyarrow and DuckDB", .requiresPythonVenv)
struct CrossReaderTests {
    @Test("every corpus file: pyarrow and DuckDB values, statistics equal pyarrow's, metadata visible; Swift reads pyarrow's copy")
    func pyarrowAndDuckDB() throws {
        let dir = try makeScratchDirectory("redline-parquet-xread")
        defer { try? FileManager.default.removeItem(at: dir) }
        let files = corpus()
        let paths = try files.map { try $0.write(to: dir) }
        let rewrites = dir.appendingPathComponent("pyarrow")
        try FileManager.default.createDirectory(at: rewrites, withIntermediateDirectories: true)
        let run = try runValidator("parquet_check.py", ["--keep-rewrites", rewrites.path] + paths)
        #expect(run.status == 0, "parquet_check.py failed: \(run.err)")
        let report = try JSONDecoder().decode([String: ReaderReport].self, from: run.out)
        #expect(run.err.isEmpty, "readers wrote to stderr: \(run.err.prefix(2000))")
        for (file, path) in zip(files, paths) {
            let r = try #require(report[path])
            #expect(r.errors.isEmpty, "\(file.name): \(r.errors)")
            #expect(r.warnings.isEmpty, "\(file.name): \(r.warnings)")
            let pa = try #require(r.pyarrow, "\(file.name): pyarrow did not read it")
            let rows = file.batches.reduce(0) { $0 + ($1.first?.rowCount ?? 0) }
            #expect(pa.num_rows == Int64(rows))
            #expect(pa.created_by == ParquetFileWriter.createdBy)
            #expect(pa.key_value_metadata["redline.writer_version"] == ParquetFileWriter.writerVersion)
            #expect(pa.key_value_metadata["redline.table"] == file.name)
            #expect(pa.key_value_metadata["redline.schema_version"] == "1")
            #expect(pa.schema == file.schema.fields.map(expectedArrowField), "\(file.name): Arrow schema")
            let problems = compareValues(file, pa.values, reader: "pyarrow")
            #expect(problems.isEmpty, "\(problems)")
            let duck = try #require(r.duckdb, "\(file.name): DuckDB did not read it")
            #expect(duck.num_rows == Int64(rows))
            let duckProblems = compareValues(file, duck.values, reader: "duckdb", microsecondTimestamps: true)
            #expect(duckProblems.isEmpty, "\(duckProblems)")
            // Redline's reader also reads pyarrow's own file of the same rows (foreign footer fields skipped).
            let theirFile = try ParquetFileReader(path: rewrites.appendingPathComponent("\(file.name).parquet").path)
            #expect(theirFile.schema == file.schema, "\(file.name): schema of pyarrow's file")
            for c in file.schema.fields.indices {
                #expect(try theirFile.readColumn(c) == file.expected(c), "\(file.name).\(file.schema.fields[c].name) from pyarrow's file")
            }
            // Statistics: what Redline wrote, as pyarrow decodes it, equals what pyarrow writes.
            let theirs = try #require(r.pyarrow_rewrite_statistics)
            #expect(pa.statistics.count == theirs.count, "\(file.name): row group count")
            for (g, (ours, ref)) in zip(pa.statistics, theirs).enumerated() {
                for (c, (a, b)) in zip(ours.columns, ref.columns).enumerated() where a != b {
                    Issue.record("\(file.name) row group \(g) column \(file.schema.fields[c].name): statistics \(String(describing: a)) vs pyarrow \(String(describing: b))")
                }
            }
        }
    }
}
