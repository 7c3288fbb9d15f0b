import Aggregates
import Enrichment
import Foundation
import Parquet
@testable import Pipeline
import Testing

/// The generic parts of `OutputTable`: a declaration's rows written and read back.
@Suite("OutputTable: rows written through a declaration read back equal")
struct OutputTableTests {
    /// A table of the shape a stage computing from merged tables declares: bucket start, a value
    /// between it and bucket_seconds, a code key, and unmerged values of every kind.
    enum Ranked: OutputTable {
        struct Key: TableKey {
            var bucket: Int64 = 0
            var rank: Int32 = 0
            static func < (a: Self, b: Self) -> Bool { (a.bucket, a.rank) < (b.bucket, b.rank) }
        }
        struct Cell: Mergeable, Equatable {
            var end: Int64 = 0, entity = "", score = 0.0, support: Int64 = 0, hosts: Int32 = 0
            mutating func merge(_ other: Cell) {}
        }
        static let name = "ranked_probe"
        static let version = 1
        static let doc = "A probe."
        static var fields: [OutputField<Key, Cell>] {
            [.bucketStart,
             .int64("bucket_end", \.end, type: .timestampNanos, doc: "End."),
             .bucketSeconds,
             .code("rank", \.rank, doc: "Rank."),
             .text("entity", \.entity, doc: "Entity."),
             .double("score", \.score, doc: "Score."),
             .int64("support", \.support, doc: "Support."),
             .int32("hosts", \.hosts, doc: "Hosts."),
             .completeness]
        }
        static func emptyCell(histogramScale: Int) -> Cell { Cell() }
    }

    @Test("every field kind of a derived table survives a Parquet round trip, rows in key order")
    func roundTrip() throws {
        var rows = Accumulator<Ranked.Key, Row<Ranked.Cell>>()
        for rank in [3, 1, 2] as [Int32] {
            let cell = Ranked.Cell(end: 3_600_000_000_000 * Int64(rank), entity: "svc-\(rank)", score: Double(rank) / 3,
                                   support: Int64(rank) * 1000, hosts: rank + 1)
            rows.merge(Ranked.Key(bucket: 3_600_000_000_000, rank: rank),
                       Row(cell: cell, completeness: Completeness(observed: UInt64(rank), lost: 1, shared: 0)))
        }
        let names = NamePool()
        let columns = Ranked.columns(rows, names: names, ranks: NameRanks(names), bucketSeconds: 60)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("redline-outputtable-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("part-00000.parquet").path
        let w = try Ranked.schema.makeWriter(path: path)
        try w.write(columns)
        try w.close()

        var readNames = NamePool()
        let back = try Ranked.rows(from: PartialColumns(reading: path, as: Ranked.schema, relative: "probe"), names: &readNames)
        #expect(back.map(\.key.rank) == [1, 2, 3])
        for r in back { #expect(rows.cells[r.key] == r.row, "rank \(r.key.rank)") }
        guard case .int32(let seconds) = columns[2].values else { Issue.record("bucket_seconds is not int32"); return }
        #expect(seconds == [60, 60, 60])
    }

    @Test("a file written range by range, the ranges built on several threads, is byte-identical to one written in one batch")
    func columnsRangeByRange() throws {
        var names = NamePool()
        let services = (0..<40).map { names.id("svc-\($0)") }
        var edges = Accumulator<EdgeKey, Row<REDCell>>()
        var traffic = Accumulator<TrafficKey, Row<TrafficCell>>()
        for i in 0..<30_000 {
            let bucket = Int64(i % 60) * 60_000_000_000
            let (a, b) = (services[i % 40], services[(i / 60) % 40])
            var cell = REDCell(scale: 4)
            cell.requests = UInt64(i % 7)
            // Every 5th row without latencies: null min, max and quantiles in the middle of a range.
            if i % 5 != 0 { for d in 0..<UInt64(i % 9 + 1) { cell.latency.record(1000 + d * UInt64(i)) } }
            edges.merge(EdgeKey(bucket: bucket, caller: a, callee: b, callerDC: 0, calleeDC: 0, proto: services[i % 3],
                                observer: Int32(i / 2400), peerSource: 0),
                        Row(cell: cell, completeness: Completeness(observed: UInt64(i), lost: UInt64(i % 3), shared: 0)))
            let payload: UInt64? = i % 11 == 0 ? nil : UInt64(i)
            traffic.merge(TrafficKey(bucket: bucket, srcDC: 0, dstDC: 0, srcService: a, dstService: b, l4: 0,
                                     observer: Int32(i / 2400), peerSource: 0),
                          Row(cell: TrafficCell(bytes: UInt64(i), packets: 1, payloadBytes: payload, flows: 1, calls: 0),
                              completeness: Completeness()))
        }
        #expect(edges.groupCount == 30_000 && traffic.groupCount == 30_000)
        let ranks = NameRanks(names)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("redline-ranges-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        /// The file of `T`'s rows: in one batch (threads 0), else range by range on `threads` threads.
        func file<T: OutputTable>(_ table: T.Type, _ rows: Accumulator<T.Key, Row<T.Cell>>, threads: Int,
                                  rowGroupRows: Int = 1 << 20) throws -> Data {
            let path = dir.appendingPathComponent("\(T.name)-\(threads)-\(rowGroupRows).parquet").path
            var options = ParquetWriterOptions()
            options.rowGroupRows = rowGroupRows
            let w = try ParquetFileWriter(path: path, schema: T.schema.parquetSchema, options: options)
            if threads == 0 {
                try w.write(T.columns(rows, names: names, ranks: ranks, bucketSeconds: 60))
            } else {
                var batches = 0
                try T.columns(rows, names: names, ranks: ranks, bucketSeconds: 60, threads: threads,
                              ranges: { w.batchRanges(rows: $0, preferredRows: 4096 * 2) }) { columns throws(PipelineError) in
                    do { try w.write(columns) } catch { throw .output("\(error)") }
                    batches += 1
                }
                #expect(batches == (rowGroupRows < rows.groupCount ? 1 : 4), "\(T.name): \(batches) batches")
            }
            try w.close()
            return try Data(contentsOf: URL(fileURLWithPath: path))
        }
        for threads in [1, 3] {
            #expect(try file(RedEdge.self, edges, threads: threads) == file(RedEdge.self, edges, threads: 0),
                    "red_edge, \(threads) threads")
            #expect(try file(TrafficMatrix.self, traffic, threads: threads) == file(TrafficMatrix.self, traffic, threads: 0),
                    "traffic_matrix, \(threads) threads")
        }
        // Rows spanning row groups: one range (ranges would shift where the writer cuts its slices).
        #expect(try file(RedEdge.self, edges, threads: 3, rowGroupRows: 10_000)
            == file(RedEdge.self, edges, threads: 0, rowGroupRows: 10_000))
    }

    @Test("rows ordered through one packed integer each come in the order of comparing their sort words, ties by row")
    func packedOrderIsWordOrder() {
        var rng = SystemRandomNumberGenerator()
        // Word columns like a file's: bucket starts in ns (multiples of a width), name ranks,
        // codes in text order (negative ones far below), a constant column; and columns too wide
        // to pack, where the answer is nil.
        let columns: [() -> Int64] = [
            { 1_767_322_800_000_000_000 + Int64.random(in: 0..<60, using: &rng) * 60_000_000_000 },
            { Int64.random(in: 0..<40, using: &rng) },
            { OutputField<Ranked.Key, Ranked.Cell>.textOrder(Int32.random(in: -5...300, using: &rng)) },
            { 7 },
            { Int64.random(in: 0...3, using: &rng) },
        ]
        for width in 1...columns.count {
            for count in [0, 1, 2, 3, 100, 5000] {
                var words: [Int64] = []
                for _ in 0..<count { for j in 0..<width { words.append(columns[j]()) } }
                let expected = (0..<count).sorted { a, b in
                    for j in 0..<width where words[a * width + j] != words[b * width + j] {
                        return words[a * width + j] < words[b * width + j]
                    }
                    return a < b
                }
                #expect(FileRows<Ranked.Key, Ranked.Cell>.packedOrder(words, width: width, count: count) == expected,
                        "width \(width), \(count) rows")
            }
        }
        let wide = (0..<40).map { _ in Int64.random(in: .min ... .max, using: &rng) }
        #expect(FileRows<Ranked.Key, Ranked.Cell>.packedOrder(wide, width: 2, count: 20) == nil)
    }
}
