import Aggregates
import Enrichment
import Foundation
@testable import Pipeline
import Segments
import Testing

/// Pass 1 through the footer index (`HostProcessor.pass1UsesFooterIndex`): the same outcome as
/// reading every file front to back, on sound segments and on every kind of damage, because
/// damage pass 1 skipped makes pass 2 run the host again front to back.
@Suite("Pass 1 through the footer index")
struct Pass1IndexTests {
    /// Everything a host's run produces that reaches a table, the manifest or a warning.
    struct Result: Equatable {
        var counters: HostCounters
        var warnings: [String]
        var checksums: [String]
        var watermark: Int64?
        var redService: [ServiceKey: Row<REDCell>]
        var redEdge: [EdgeKey: Row<REDCell>]
        var traffic: [TrafficKey: Row<TrafficCell>]
        var health: [HealthKey: Row<TCPHealthCell>]
        var names: [String]
    }

    static func run(_ segments: String, metadata: String, index: Bool) throws -> (results: [String: Result], indexedFiles: Int) {
        let partition = HourlyRunTests.partition
        let byHost = try SegmentInputs.discover(root: segments, hostGlobs: ["*"], partition: partition)
        let meta = try Metadata.load(directory: metadata)
        var out: [String: Result] = [:]
        var indexedFiles = 0
        for (host, files) in byHost {
            var names = NamePool()
            var p = HostProcessor(host: host, files: files, partition: partition, bucketSeconds: 60, histogramScale: 4,
                                  maxBlockBytes: 16 << 20, maxExtrapolationSeconds: 600, metadata: meta)
            p.pass1UsesFooterIndex = index
            let o = p.run(names: &names)
            indexedFiles += o.pass1IndexedFiles
            out[host] = Result(counters: o.counters, warnings: o.warnings, checksums: o.checksums.map { "\(String(describing: $0))" },
                               watermark: o.watermark, redService: o.aggregates.redService.cells, redEdge: o.aggregates.redEdge.cells,
                               traffic: o.aggregates.traffic.cells, health: o.aggregates.health.cells, names: names.names)
        }
        return (out, indexedFiles)
    }

    /// Expects the two runs equal, host by host, naming what differs (not dumping every cell).
    static func expectEqual(_ a: [String: Result], _ b: [String: Result]) {
        #expect(a.keys.sorted() == b.keys.sorted())
        for (host, x) in a {
            guard let y = b[host] else { continue }
            #expect(x.counters == y.counters, "host \(host)")
            #expect(x.warnings == y.warnings, "host \(host)")
            #expect(x.checksums == y.checksums, "host \(host)")
            let sameCells = x.redService == y.redService && x.redEdge == y.redEdge && x.traffic == y.traffic
                && x.health == y.health && x.names == y.names && x.watermark == y.watermark
            #expect(sameCells, "host \(host): the aggregated cells differ")
        }
    }

    static func sealedFiles(_ segments: String) -> [String] {
        let e = FileManager.default.enumerator(atPath: segments)!
        return e.compactMap { $0 as? String }.filter { $0.hasSuffix(".rls") }.map { segments + "/" + $0 }.sorted()
    }

    /// Flips one bit of the byte at `offset`.
    static func flip(_ path: String, at offset: UInt64) throws {
        let h = try FileHandle(forUpdating: URL(fileURLWithPath: path))
        defer { try? h.close() }
        try h.seek(toOffset: offset)
        var b = try h.read(upToCount: 1)!
        b[0] ^= 0x10
        try h.seek(toOffset: offset)
        try h.write(contentsOf: b)
    }

    @Test("sound samples: every sealed file read through its index, the outcome equal to front to back")
    func soundSamples() throws {
        let s = try HourlyRunTests.Scratch()
        defer { s.remove() }
        let sealed = Self.sealedFiles(s.segments)
        #expect(sealed.count >= 4)
        let indexed = try Self.run(s.segments, metadata: s.metadata, index: true)
        let frontToBack = try Self.run(s.segments, metadata: s.metadata, index: false)
        #expect(indexed.indexedFiles == sealed.count)
        #expect(frontToBack.indexedFiles == 0)
        Self.expectEqual(indexed.results, frontToBack.results)
        #expect(indexed.results.values.contains { !$0.redService.isEmpty })
    }

    @Test("damage pass 1 skips (a call block), damage it reads (an anchor block, the footer) and a torn file: outcomes equal to front to back, damage reported")
    func damagedSamples() throws {
        let s = try HourlyRunTests.Scratch()
        defer { s.remove() }
        let sealed = Self.sealedFiles(s.segments)
        try #require(sealed.count >= 4)
        func blocks(_ path: String) throws -> (blocks: [BlockInfo], footer: SegmentFooter) {
            let r = try SegmentReader(path: path)
            while try r.nextBlock() != nil {}
            return (r.blocksRead, r.footer!)
        }
        // A call block in the middle of the first file: only pass 2 reads it.
        let a = try blocks(sealed[0])
        let call = try #require(a.blocks.dropFirst(a.blocks.count / 2).first { $0.recordType == .l7Call })
        try Self.flip(sealed[0], at: call.offset + 60)
        // An anchor block of the second: pass 1 reads it through the index, refuses it, and reads
        // the file front to back.
        let b = try blocks(sealed[1])
        let anchor = try #require(b.blocks.first { $0.recordType == .clockAnchor })
        try Self.flip(sealed[1], at: anchor.offset + 50)
        // The third's footer.
        let c = try blocks(sealed[2])
        try Self.flip(sealed[2], at: c.footer.offset + 12)
        // The fourth torn inside its last block.
        let d = try blocks(sealed[3])
        let fd = open(sealed[3], O_WRONLY)
        #expect(ftruncate(fd, off_t(d.blocks.last!.offset + 20)) == 0)
        close(fd)

        let indexed = try Self.run(s.segments, metadata: s.metadata, index: true)
        let frontToBack = try Self.run(s.segments, metadata: s.metadata, index: false)
        Self.expectEqual(indexed.results, frontToBack.results)
        let warnings = indexed.results.values.flatMap(\.warnings)
        for file in sealed.prefix(4) {
            #expect(warnings.contains { $0.contains(file) }, "no warning names \(file): \(warnings)")
        }
        #expect(indexed.results.values.map(\.counters.damagedFiles).reduce(0, +) == 4)
    }
}
