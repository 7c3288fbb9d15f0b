import DevSupport
import Foundation
import Testing
import TestSupport
@testable import Parquet

@Suite("Table schemas: Swift declarations agree with schemas/tables/*.json")
struct TableSchemaTests {
    let tablesDir = URL(fileURLWithPath: Prerequisites.packageRoot + "/schemas/tables")

    @Test("every table the Parquet module declares matches its JSON file (the pipeline's tables are checked by PipelineTablesTests)")
    func declarationsMatchJSON() throws {
        let declared = Set(TableCatalog.all.map(\.name))
        let files = try FileManager.default.contentsOfDirectory(atPath: tablesDir.path).filter { $0.hasSuffix(".json") }
        #expect(declared.isSubset(of: Set(files.map { String($0.dropLast(5)) })))
        for table in TableCatalog.all {
            let data = try Data(contentsOf: tablesDir.appendingPathComponent("\(table.name).json"))
            let loaded = try TableSchema(json: data)
            #expect(table.differences(from: loaded).isEmpty, "\(table.name): \(table.differences(from: loaded))")
            #expect(loaded == table)
        }
    }

    @Test("JSON form round-trips and a changed column is reported")
    func jsonRoundTripAndDiff() throws {
        let t = CallSampleTable.schema
        #expect(try TableSchema(json: t.json()) == t)
        var changed = t
        changed.columns[1].type = .uint64
        #expect(t.differences(from: changed) == ["call_id: type int64 vs uint64"])
        #expect(throws: TableSchemaError.self) {
            try TableSchema(json: Data(#"{"table":"x","version":1,"doc":"","columns":[{"name":"a","type":"int128","nullable":false,"doc":""}]}"#.utf8))
        }
    }

    @Test("a file written from a declaration carries the table name and schema version, and pyarrow sees its types", .requiresPythonVenv)
    func writerFromDeclaration() throws {
        let dir = try makeScratchDirectory("redline-parquet-table")
        defer { try? FileManager.default.removeItem(at: dir) }
        let t = CallSampleTable.schema
        let path = dir.appendingPathComponent("call_sample.parquet").path
        let w = try t.makeWriter(path: path)
        var rng = SplitMix64(seed: 3)
        try w.write(t.parquetSchema.fields.map { makeColumn($0, rows: 50, &rng) })
        try w.close()
        let r = try ParquetFileReader(path: path)
        #expect(r.schema == t.parquetSchema)
        let kv = Dictionary(uniqueKeysWithValues: r.keyValueMetadata.map { ($0.key, $0.value ?? "") })
        #expect(kv["redline.table"] == "call_sample")
        #expect(kv["redline.schema_version"] == "1")
        let run = try runValidator("parquet_check.py", [path])
        let report = try JSONDecoder().decode([String: ReaderReport].self, from: run.out)
        let arrow = try #require(report[path]?.pyarrow).schema
        #expect(arrow == t.parquetSchema.fields.map(expectedArrowField))
    }
}
