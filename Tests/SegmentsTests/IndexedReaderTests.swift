import CRedlineABI
import DevSupport
import Foundation
import Testing
@testable import Segments

/// `IndexedSegmentReader`: chosen blocks through the footer's index, verified as a front-to-back
/// read verifies them (schemas/segment-v1.md, "Reading through the index").
@Suite("Indexed segment reader")
struct IndexedReaderTests {
    /// One block as a reader returned it: its info, raw records and (version-1 calls) details.
    struct Block: Equatable {
        var info: BlockInfo
        var records: [UInt8]
        var details: [UInt32]
    }

    static func frontToBack(_ path: String) throws -> [Block] {
        let r = try SegmentReader(path: path)
        var out: [Block] = []
        while let info = try r.nextBlock() {
            out.append(Block(info: info, records: Array(r.currentRawRecords),
                             details: r.withCallDetails { $0.map(\.seq) } ?? []))
        }
        return out
    }

    static func indexed(_ path: String, _ types: Set<RecordType>) throws -> [Block] {
        let r = try IndexedSegmentReader(path: path)
        var out: [Block] = []
        try r.forEachBlock(of: types) { info in
            out.append(Block(info: info, records: Array(r.currentRawRecords),
                             details: r.withCallDetails { $0.map(\.seq) } ?? []))
        }
        return out
    }

    /// Every sealed segment shipped with the repository: the demo samples, the lab capture (both
    /// records v1) and the golden fixture.
    static var shippedSegments: [String] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
        var out = [goldenPath]
        for dir in ["tools/lab/samples/segments", "tools/lab/samples/capture/segments"] {
            let e = FileManager.default.enumerator(atPath: root + "/" + dir)!
            for case let p as String in e where p.hasSuffix(".rls") { out.append(root + "/" + dir + "/" + p) }
        }
        return out.sorted()
    }

    @Test("every block of the chosen types equals the front-to-back read's, records and v1 call details included")
    func sameBlocksAsFrontToBack() throws {
        let files = Self.shippedSegments
        #expect(files.count >= 8)
        var anchorBlocks = 0
        for file in files {
            let all = try Self.frontToBack(file)
            #expect(try Self.indexed(file, Set(RecordType.allCases)) == all, "\(file)")
            for types: Set<RecordType> in [[.clockAnchor, .cgroupMapping], [.l7Call], [.flowDelta, .stats]] {
                let chosen = try Self.indexed(file, types)
                #expect(chosen == all.filter { types.contains($0.info.recordType) }, "\(file) \(types)")
                if types.contains(.clockAnchor) { anchorBlocks += chosen.count }
            }
        }
        // Version-1 call details are numbered by the calls before them in the segment, also in
        // blocks the indexed read skipped: a call-only read above compares them.
        #expect(anchorBlocks > files.count)
    }

    @Test("damage in what it reads is refused with the error naming it; damage in a skipped block is not its to see")
    func damage() throws {
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        let source = try #require(Self.shippedSegments.first { $0.contains("host=web-1.dc1") })
        let original = readFile(source)
        let blocks = try Self.frontToBack(source)
        let reader = try SegmentReader(path: source)
        while try reader.nextBlock() != nil {}
        let footerAt = Int(try #require(reader.footer).offset)
        let anchor = try #require(blocks.first { $0.info.recordType == .clockAnchor && $0.info.sequence > 0 }).info
        let call = try #require(blocks.first { $0.info.recordType == .l7Call }).info
        let path = dir + "/s.rls"
        func attempt(_ bytes: [UInt8]) -> Error? {
            writeFile(path, bytes)
            do { _ = try Self.indexed(path, [.clockAnchor]); return nil } catch { return error }
        }
        func flipped(_ at: Int) -> [UInt8] { var b = original; b[at] ^= 0x40; return b }

        // An anchor block's payload: its CRC32C.
        #expect(Self.isChecksum(attempt(flipped(Int(anchor.offset) + SegmentFormat.blockHeaderLength + 2)), at: anchor.offset))
        // The footer: its CRC32C (in the trailer).
        #expect(Self.kind(attempt(flipped(footerAt + 8))) == "footerChecksumMismatch")
        // A torn end, trailing bytes, no footer at all (a writer that died): no trailer.
        #expect(Self.kind(attempt(Array(original.dropLast(5)))) == "badMagic")
        #expect(Self.kind(attempt(original + [0, 0, 0, 0, 0, 0, 0, 0])) == "badMagic")
        #expect(Self.kind(attempt(Array(original[..<footerAt]))) == "badMagic")
        // A call block is not read for anchors: its damage is left to the full read.
        #expect(attempt(flipped(Int(call.offset) + SegmentFormat.blockHeaderLength + 2)) == nil)
        // Unchanged bytes read cleanly.
        #expect(attempt(original) == nil)
    }

    static func kind(_ error: Error?) -> String? {
        guard let error else { return nil }
        return String(describing: Mirror(reflecting: error).children.first?.label ?? "\(error)")
    }

    static func isChecksum(_ error: Error?, at offset: UInt64) -> Bool {
        if case .blockChecksumMismatch(_, let at, _, _, _)? = error as? SegmentError { return at == offset }
        return false
    }

    @Test("random corruption, truncation and splices: typed errors, and every block returned is the original's")
    func randomDamage() throws {
        let original = try sampleSegmentBytes(records: 120, blockRawBytes: 512)
        let dir = scratchDirectory()
        defer { removeTree(dir) }
        let path = dir + "/s.rls"
        writeFile(path, original)
        let whole = try Self.frontToBack(path)
        #expect(whole.count > 10)
        var rng = SplitMix64(seed: 4242)
        var refused = 0, returned = 0
        for round in 0..<1500 {
            var bytes = original
            switch round % 3 {
            case 0:
                for _ in 0..<(1 + Int(rng.below(4))) {
                    bytes[Int(rng.below(UInt64(bytes.count)))] = UInt8(truncatingIfNeeded: rng.next())
                }
            case 1:
                let cut = Int(rng.below(UInt64(bytes.count)))
                bytes = Array(bytes[..<cut]) + (0..<Int(rng.below(300))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            default:
                let from = Int(rng.below(UInt64(bytes.count - 64))), to = Int(rng.below(UInt64(bytes.count - 64)))
                let length = 8 + Int(rng.below(56))
                bytes.replaceSubrange(to..<(to + length), with: Array(bytes[from..<(from + length)]))
            }
            writeFile(path, bytes)
            var got: [Block] = []
            do {
                let r = try IndexedSegmentReader(path: path)
                try r.forEachBlock(of: Set(RecordType.allCases)) { info in
                    got.append(Block(info: info, records: Array(r.currentRawRecords),
                                     details: r.withCallDetails { $0.map(\.seq) } ?? []))
                }
            } catch {
                #expect(error is SegmentError, "round \(round): \(error)")
                refused += 1
            }
            // Whatever it returned before refusing (or all of it) is exactly the original's blocks.
            for b in got {
                #expect(Int(b.info.sequence) < whole.count && b == whole[Int(b.info.sequence)], "round \(round)")
            }
            returned += got.count
        }
        #expect(refused > 1000 && returned > 0)
    }
}
