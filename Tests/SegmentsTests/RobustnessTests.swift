import DevSupport
import Testing
@testable import Segments

@Suite("Never crash on any input")
struct RobustnessTests {
    @Test("random corruption, truncation and extension of a real segment: typed errors, sound prefixes")
    func randomDamage() throws {
        let original = try sampleSegmentBytes(records: 120, blockRawBytes: 512)
        let whole = decode(original)
        #expect(whole.ending == .sealed)
        var rng = SplitMix64(seed: 2024)
        for round in 0..<3000 {
            var bytes = original
            var firstDamage = bytes.count
            switch round % 3 {
            case 0: // overwrite a few random bytes
                for _ in 0..<(1 + Int(rng.below(4))) {
                    let at = Int(rng.below(UInt64(bytes.count)))
                    let value = UInt8(truncatingIfNeeded: rng.next())
                    if bytes[at] != value { firstDamage = min(firstDamage, at) }
                    bytes[at] = value
                }
            case 1: // cut, then append garbage
                let cut = Int(rng.below(UInt64(bytes.count)))
                bytes = Array(bytes[..<cut]) + (0..<Int(rng.below(300))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                firstDamage = cut
            default: // splice a chunk of the file onto another place (plausible-looking structure)
                let from = Int(rng.below(UInt64(bytes.count - 64)))
                let to = Int(rng.below(UInt64(bytes.count - 64)))
                let length = 8 + Int(rng.below(56))
                let chunk = Array(bytes[from..<(from + length)])
                if Array(bytes[to..<(to + length)]) != chunk { firstDamage = to }
                bytes.replaceSubrange(to..<(to + length), with: chunk)
            }
            var chunks: [Int] = []
            for _ in 0..<Int(rng.below(20)) { chunks.append(1 + Int(rng.below(200))) }
            let d = decode(bytes, chunks: chunks)
            if bytes == original {
                #expect(d == whole)
                continue
            }
            // Whatever was returned before the first damaged byte is exactly the original.
            for (i, b) in d.blocks.enumerated() where b.offset + b.encodedLength <= UInt64(firstDamage) {
                #expect(b == whole.blocks[i], "round \(round)")
                #expect(d.records[i] == whole.records[i], "round \(round)")
            }
            // Damage that leaves a full, valid-looking file is impossible to miss: something fails.
            if round % 3 == 0 && firstDamage < bytes.count {
                #expect(d.error != nil, "round \(round): corruption at \(firstDamage) undetected")
            }
        }
    }

    @Test("random bytes behind a valid magic never crash the decoder")
    func randomBytes() {
        var rng = SplitMix64(seed: 5)
        let magic: [UInt8] = [0x89, 0x52, 0x4C, 0x53, 0x0D, 0x0A, 0x1A, 0x0A, 1, 0]
        for _ in 0..<2000 {
            let bytes = magic + (0..<Int(rng.below(400))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let d = decode(bytes, chunks: [Int(rng.below(50)) + 1])
            #expect(d.error != nil)
            #expect(d.blocks.isEmpty)
        }
    }
}
