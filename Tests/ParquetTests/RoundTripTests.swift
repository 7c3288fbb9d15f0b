import Foundation
import Testing
import TestSupport
@testable import Parquet

@Suite("Swift writer → Swift reader")
struct RoundTripTests {
    @Test("every corpus file reads back equal, with the row groups and footer the writer promised")
    func corpusRoundTrip() throws {
        let dir = try makeScratchDirectory("redline-parquet-roundtrip")
        defer { try? FileManager.default.removeItem(at: dir) }
        for file in corpus() {
            let path = try file.write(to: dir)
            let r = try ParquetFileReader(path: path)
            #expect(r.schema == file.schema, "\(file.name)")
            #expect(r.createdBy == ParquetFileWriter.createdBy)
            #expect(r.keyValueMetadata.first?.key == "redline.writer_version")
            let rows = file.batches.reduce(0) { $0 + ($1.first?.rowCount ?? 0) }
            #expect(r.numRows == Int64(rows), "\(file.name)")
            for c in file.schema.fields.indices {
                let got = try r.readColumn(c)
                let want = file.expected(c)
                #expect(got == want, "\(file.name).\(file.schema.fields[c].name)")
            }
            if file.name == "many_row_groups" { #expect(r.rowGroupCount == Int(ceil(3000.0 / 97))) }
            if file.name == "row_groups_by_bytes" { #expect(r.rowGroupCount > 1) }
            if file.name == "empty_table" { #expect(r.rowGroupCount == 0) }
        }
    }

    @Test("every corpus file is byte-identical whatever the number of threads encoding its columns")
    func threadsDoNotChangeBytes() throws {
        let dir = try makeScratchDirectory("redline-parquet-threads")
        defer { try? FileManager.default.removeItem(at: dir) }
        for file in corpus() {
            var bytes: [Data] = []
            for threads in [1, 2, 5] {
                var f = file
                f.options.threads = threads
                f.name = "\(file.name)-\(threads)"
                // The key-value metadata names the file: the same name for every thread count.
                let path = try f.write(to: dir, table: file.name)
                bytes.append(try Data(contentsOf: URL(fileURLWithPath: path)))
            }
            #expect(bytes[0].count > 0 && bytes[1] == bytes[0] && bytes[2] == bytes[0], "\(file.name)")
        }
    }

    @Test("dictionary falls back to PLAIN once the dictionary passes its limit")
    func dictionaryFallback() throws {
        let dir = try makeScratchDirectory("redline-parquet-fallback")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = corpus().first { $0.name == "dictionary_fallback" }!
        let path = try file.write(to: dir)
        let r = try ParquetFileReader(path: path)
        let bytes = try readWholeFile(path, limit: 1 << 30)
        let meta = try bytes.withUnsafeBytes { b in
            try FileMetaData.decode(UnsafeRawBufferPointer(rebasing: b[(b.count - 8 - Int(b.loadUnaligned(fromByteOffset: b.count - 8, as: UInt32.self)))..<(b.count - 8)]))
        }
        let hi = meta.rowGroups[0].columns[0].metaData
        #expect(hi.encodings.contains(.rleDictionary) && hi.encodings.contains(.plain))
        #expect(hi.dictionaryPageOffset != nil)
        let lo = meta.rowGroups[0].columns[2].metaData
        #expect(lo.encodings.contains(.rleDictionary))
        #expect(try r.readColumn(0) == file.expected(0))
    }

    @Test("a dictionary of mostly distinct values falls back early; a low-cardinality one stays")
    func dictionaryThatDoesNotPay() throws {
        let dir = try makeScratchDirectory("redline-parquet-nopay")
        defer { try? FileManager.default.removeItem(at: dir) }
        let n = 3 * ColumnChunkWriter.dictionaryProbeValues
        let schema = ParquetSchema([ParquetField("unique", .int64), ParquetField("few", .int64)])
        let path = dir.appendingPathComponent("p.parquet").path
        let w = try ParquetFileWriter(path: path, schema: schema)
        let data = [ColumnData(.int64((0..<n).map { Int64($0) * 7919 })), ColumnData(.int64((0..<n).map { Int64($0 % 10) }))]
        try w.write(data)
        try w.close()
        let bytes = try readWholeFile(path, limit: 1 << 30)
        let meta = try bytes.withUnsafeBytes { b in
            try FileMetaData.decode(UnsafeRawBufferPointer(rebasing: b[(b.count - 8 - Int(b.loadUnaligned(fromByteOffset: b.count - 8, as: UInt32.self)))..<(b.count - 8)]))
        }
        let unique = meta.rowGroups[0].columns[0].metaData, few = meta.rowGroups[0].columns[1].metaData
        // The dictionary stopped near the probe point, far below the 1 MiB limit.
        let dictBytes = unique.dataPageOffset - (unique.dictionaryPageOffset ?? unique.dataPageOffset)
        #expect(unique.encodings.contains(.plain) && unique.encodings.contains(.rleDictionary))
        #expect(dictBytes > 0 && dictBytes < 64 << 10)
        #expect(few.encodings.contains(.rleDictionary))
        let r = try ParquetFileReader(path: path)
        #expect(try r.readAll() == data)
    }

    @Test("statistics: signed vs unsigned order, byte-wise strings, NaN skipped, ±0, null counts")
    func statisticsOrder() throws {
        let dir = try makeScratchDirectory("redline-parquet-stats")
        defer { try? FileManager.default.removeItem(at: dir) }
        let schema = ParquetSchema([ParquetField("i", .int32), ParquetField("u", .uint32), ParquetField("u64", .uint64),
                                    ParquetField("d", .double, .optional), ParquetField("s", .string)])
        let path = dir.appendingPathComponent("s.parquet").path
        let w = try ParquetFileWriter(path: path, schema: schema)
        try w.write([ColumnData(.int32([-5, 3, Int32.min, 7])),
                     ColumnData(.int32([-1, 3, 0, 7])),
                     ColumnData(.int64([-1, 1, Int64.min, 0])),
                     ColumnData(.double([.nan, 0.0, 2.5]), validity: [true, false, true, true]),
                     ColumnData(.byteArray(ByteArrays(strings: ["b", "é", "a", "Z"])))])
        try w.close()
        let r = try ParquetFileReader(path: path)
        func le<T>(_ v: T) -> [UInt8] { withUnsafeBytes(of: v) { Array($0) } }
        #expect(r.statistics(column: 0, rowGroup: 0) == ColumnChunkStatistics(nullCount: 0, min: le(Int32.min), max: le(Int32(7))))
        #expect(r.statistics(column: 1, rowGroup: 0) == ColumnChunkStatistics(nullCount: 0, min: le(Int32(0)), max: le(Int32(-1))))
        #expect(r.statistics(column: 2, rowGroup: 0) == ColumnChunkStatistics(nullCount: 0, min: le(Int64(0)), max: le(Int64(-1))))
        #expect(r.statistics(column: 3, rowGroup: 0) == ColumnChunkStatistics(nullCount: 1, min: le(-0.0), max: le(2.5)))
        #expect(r.statistics(column: 4, rowGroup: 0) == ColumnChunkStatistics(nullCount: 0, min: Array("Z".utf8), max: Array("é".utf8)))
    }
}
