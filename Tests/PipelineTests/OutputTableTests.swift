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

    @Test("columns built on several threads, each a range of the rows, equal the columns built on one")
    func columnsOnSeveralThreads() {
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
        for threads in [2, 3] {
            #expect(RedEdge.columns(edges, names: names, ranks: ranks, bucketSeconds: 60, threads: threads)
                == RedEdge.columns(edges, names: names, ranks: ranks, bucketSeconds: 60), "red_edge, \(threads) threads")
            #expect(TrafficMatrix.columns(traffic, names: names, ranks: ranks, bucketSeconds: 60, threads: threads)
                == TrafficMatrix.columns(traffic, names: names, ranks: ranks, bucketSeconds: 60), "traffic_matrix, \(threads) threads")
        }
    }
}
