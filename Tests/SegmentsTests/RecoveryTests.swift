import CRedlineABI
import DevSupport
import Testing
@testable import Segments

@Suite("Recovery of open and damaged segments")
struct RecoveryTests {
    /// A writer that flushed some blocks and then was dropped, as if the collector died.
    func abandonedSegment(in dir: String) throws -> (path: String, blocks: [BlockInfo]) {
        var options = WriterOptions()
        options.blockRawBytes = 1024
        options.durable = false
        let writer = try SegmentWriter(root: dir, header: testHeader, sequence: 1, options: options)
        var rng = SplitMix64(seed: 3)
        for type in RecordType.allCases {
            let bytes = randomRecords(type, count: 12, rng: &rng)
            try bytes.withBytes { (b) throws(SegmentError) in try writer.appendRaw(type: type, records: b) }
        }
        try writer.flush()
        return (writer.openPath, writer.blocks)
    }

    @Test("an abandoned .rls.open file reads as open with every flushed block")
    func openFileReadsClean() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        let (path, blocks) = try abandonedSegment(in: dir)
        #expect(path.hasSuffix("/host=test-host/date=2026-01-02/hour=03/20260102T030400Z-000001.rls.open"))
        let report = SegmentReport.scan(path: path)
        #expect(report.verdict == .open)
        #expect(report.problem == nil)
        #expect(report.blocks == blocks)
        #expect(report.recordCount == UInt64(12 * RecordType.allCases.count))
    }

    @Test("a torn tail keeps every complete block; recovery seals exactly those")
    func tornTail() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        let (path, blocks) = try abandonedSegment(in: dir)
        var bytes = readFile(path)
        let keep = blocks.count - 3
        let cut = Int(blocks[keep].offset) + 30 // inside block `keep`'s header
        bytes = Array(bytes[..<cut])
        writeFile(path, bytes)

        let report = SegmentReport.scan(path: path)
        #expect(report.verdict == .damaged)
        #expect(report.blocks == Array(blocks.prefix(keep)))
        #expect(report.validEnd == blocks[keep].offset)
        guard case .truncated(_, let offset, .blockHeader, _, 30)? = report.problem else {
            Issue.record("expected a truncated block header, got \(String(describing: report.problem))")
            return
        }
        #expect(offset == blocks[keep].offset)

        let sealed = dir + "/recovered.rls"
        try SegmentRecovery.seal(path: path, to: sealed)
        let again = SegmentReport.scan(path: sealed)
        #expect(again.verdict == .intact)
        #expect(again.blocks == Array(blocks.prefix(keep)))
        #expect(again.footer?.blocks.count == keep)
        // The recovered file holds the original bytes up to the cut, then a fresh footer.
        #expect(Array(readFile(sealed).prefix(Int(blocks[keep].offset))) == Array(bytes.prefix(Int(blocks[keep].offset))))
    }

    @Test("a sealed file whose footer is damaged still yields every block by scanning")
    func damagedFooter() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        var bytes = readFile(goldenPath)
        bytes[1190] ^= 0x10 // inside the footer's record_count
        let path = dir + "/g.rls"
        writeFile(path, bytes)
        let report = SegmentReport.scan(path: path)
        #expect(report.verdict == .damaged)
        #expect(report.blocks.count == 8)
        #expect(report.recordCount == 11)
        #expect(report.problem == .footerChecksumMismatch(path: path, offset: 1176, stored: 0xE31A_9074,
                                                          computed: {
                                                              if case .footerChecksumMismatch(_, _, _, let c)? = report.problem { c } else { 0 }
                                                          }()))
    }

    @Test("a sealed name without its footer is truncated, naming where the footer should start")
    func sealedWithoutFooter() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        let path = dir + "/g.rls"
        writeFile(path, Array(readFile(goldenPath).prefix(1176)))
        let report = SegmentReport.scan(path: path)
        #expect(report.verdict == .damaged)
        #expect(report.blocks.count == 8)
        #expect(report.problem == .truncated(path: path, offset: 1176, region: .footer, needed: 64, available: 0))
    }

    @Test("not a segment, and no such file, are typed errors")
    func notASegment() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        let path = dir + "/text.rls"
        writeFile(path, Array("hello, this is not a segment file at all".utf8))
        #expect(throws: SegmentError.badMagic(path: path, offset: 0, region: .header, found: 0x7420_2C6F_6C6C_6568)) {
            _ = try SegmentReader(path: path)
        }
        let missing = SegmentReport.scan(path: dir + "/missing.rls")
        #expect(missing.problem == .io(path: dir + "/missing.rls", offset: 0, call: "open", errno: 2))
    }
}
