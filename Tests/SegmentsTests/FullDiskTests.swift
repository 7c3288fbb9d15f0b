import DevSupport
import Foundation
import Testing
import TestSupport
@testable import Segments

/// The writer on a real full filesystem (a tmpfs the test mounts: root): failed writes leave a
/// clean `.rls.open`, and sealing, retried once space returns, gives an intact file.
@Suite("SegmentWriter on a full disk (root: tmpfs)", .serialized, .requiresRootBPF)
struct FullDiskTests {
    @Test("blocks that do not fit fail cleanly; the open file stays whole; the seal retried with space is intact")
    func writeFailsCleanlyAndSealRetries() throws {
        let dir = try makeScratchDirectory("redline-full").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let disk = try Tmpfs(at: dir, size: "64k")
        defer { disk.unmount() }
        var options = WriterOptions()
        options.blockRawBytes = 8 << 10
        let w = try SegmentWriter(finalPath: "\(dir)/s.rls", header: testHeader, options: options)
        var rng = SplitMix64(seed: 7)
        var failures = 0, written = 0
        // Random records compress poorly: the 64 KiB filesystem fills within a few blocks.
        for _ in 0..<64 {
            let records = randomRecords(.flowDelta, count: 64, rng: &rng)
            do {
                try records.withUnsafeBytes { try w.appendRaw(type: .flowDelta, records: $0) }
                try w.flush()
                written += 1
            } catch let e as SegmentError {
                guard case .io(_, _, "write", ENOSPC) = e else { throw e }
                failures += 1
            }
        }
        #expect(failures > 0 && written > 0, "failures \(failures), written \(written)")
        let open = SegmentReport.scan(path: w.openPath)
        #expect(open.verdict == .open, "\(String(describing: open.problem))")
        #expect(UInt64(try FileManager.default.attributesOfItem(atPath: w.openPath)[.size] as! Int) == w.bytesWritten,
                "no partial block left behind")
        #expect(throws: SegmentError.self) { try w.seal() }
        #expect(!FileManager.default.fileExists(atPath: "\(dir)/s.rls"), "no sealed file while the seal cannot complete")
        try disk.resize(to: "4m")
        let footer = try w.seal()
        let sealed = SegmentReport.scan(path: "\(dir)/s.rls")
        #expect(sealed.verdict == .intact, "\(String(describing: sealed.problem))")
        #expect(sealed.blocks.count == footer.blocks.count)
    }
}
