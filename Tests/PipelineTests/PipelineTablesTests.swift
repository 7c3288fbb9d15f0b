import Foundation
import Parquet
@testable import Pipeline
import Testing

@Suite("Pipeline tables: declaration, schemas/tables/*.json and *.md, and written files agree")
struct PipelineTablesTests {
    let dir = packageRoot.appendingPathComponent("schemas/tables")
    static let tables = PipelineTables.everySchema

    @Test("each table's JSON schema equals its Swift declaration", arguments: tables.map(\.name))
    func jsonMatchesDeclaration(_ name: String) throws {
        let table = Self.tables.first { $0.name == name }!
        let loaded = try TableSchema(json: Data(contentsOf: dir.appendingPathComponent("\(name).json")))
        #expect(table.differences(from: loaded).isEmpty, "\(table.differences(from: loaded)) — regenerate with redline-dev table-schemas")
    }

    @Test("each table's prose spec names every column", arguments: PipelineTables.all.map(\.name))
    func markdownNamesEveryColumn(_ name: String) throws {
        let md = try String(contentsOf: dir.appendingPathComponent("\(name).md"), encoding: .utf8)
        let table = PipelineTables.all.first { $0.name == name }!
        // The md may group shared columns ("as red_service"): each column must appear literally
        // in this file or in red_service.md, which the others refer to.
        let shared = try String(contentsOf: dir.appendingPathComponent("red_service.md"), encoding: .utf8)
        for c in table.columns {
            #expect(md.contains("`\(c.name)`") || shared.contains("`\(c.name)`"), "\(name).md does not name `\(c.name)`")
        }
    }

    @Test("files a run writes carry exactly the declared schema and table metadata")
    func writtenFilesMatchTheDeclaration() throws {
        let s = try HourlyRunTests.Scratch()
        defer { s.remove() }
        let m = try s.run().manifest
        for f in m.tables {
            let r = try ParquetFileReader(path: s.out + "/" + f.path)
            let table = PipelineTables.all.first { $0.name == f.table }!
            #expect(r.schema == table.parquetSchema, "\(f.path)")
            let kv = Dictionary(r.keyValueMetadata.map { ($0.key, $0.value ?? "") }, uniquingKeysWith: { a, _ in a })
            #expect(kv["redline.table"] == table.name)
            #expect(kv["redline.schema_version"] == String(table.version))
            #expect(kv["redline.partition"] == HourlyRunTests.partition.path)
        }
    }
}
