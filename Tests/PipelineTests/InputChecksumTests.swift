import Foundation
@testable import Pipeline
import Testing

/// The manifest's input checksums come from the bytes pass 2 reads (each segment is read once for
/// them), and must equal a separate whole-file read: for intact files, a damaged file (whose rest
/// the reader reads on) and a file with garbage in the middle.
@Suite("Input checksums from the run's own reads")
struct InputChecksumTests {
    @Test("every input's CRC32C and size equal a separate read of the file, damaged files included; --if-changed agrees")
    func checksumsEqualASeparateRead() throws {
        let s = try HourlyRunTests.Scratch()
        defer { s.remove() }
        let dir = s.segments + "/host=redis-1.dc2/date=2026-01-02/hour=03"
        let truncated = dir + "/20260102T030500Z-000000.rls"
        let size = try FileManager.default.attributesOfItem(atPath: truncated)[.size] as! Int
        let h = FileHandle(forWritingAtPath: truncated)!
        try h.truncate(atOffset: UInt64(size * 2 / 3))
        try h.close()
        // Another file: a flipped byte in its middle stops the reader there; the checksum still covers it all.
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".rls") }.sorted()
        let flipped = dir + "/" + files.first { dir + "/" + $0 != truncated }!
        var bytes = try Data(contentsOf: URL(fileURLWithPath: flipped))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: flipped))

        let m = try s.run().manifest
        #expect(m.hosts["redis-1.dc2"]?.damagedFiles == 2)
        #expect(m.inputs.count == 5)
        for input in m.inputs {
            let (crc, total) = try SegmentInputs.checksum(ofFile: s.segments + "/" + input.path)
            #expect(input.crc32c == String(format: "%08x", crc) && input.bytes == total, "\(input.path)")
        }
        // The --if-changed path reads the checksums before the run: the same inputs, so it skips.
        #expect(try s.run(ifChanged: true).skipped)
    }
}
