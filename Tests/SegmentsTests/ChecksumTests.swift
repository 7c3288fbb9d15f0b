import DevSupport
import Testing
@testable import Segments

/// CRC32C (`Sources/CCompression`): the hardware path interleaves three streams over long inputs
/// and combines them; it must equal the plain bitwise definition for every length and alignment.
@Suite("CRC32C")
struct ChecksumTests {
    /// The definition, one bit at a time (reflected polynomial 0x82F63B78, init and xorout ~0).
    static func reference(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return ~crc
    }

    @Test("the check value: crc32c(\"123456789\") = 0xE3069283")
    func checkValue() {
        let crc = Array("123456789".utf8).withUnsafeBytes { crc32c(0, $0) }
        #expect(crc == 0xE306_9283)
    }

    @Test("equals the bitwise definition for lengths around every span edge (3 × 256, 3 × 8192), at four alignments, whole and in two pieces")
    func equalsTheDefinition() {
        var rng = SplitMix64(seed: 32)
        let bytes = (0..<(3 * 8192 * 2 + 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        var lengths = [0, 1, 7, 8, 9, 255, 256, 767, 768, 769, 3 * 8192 - 1, 3 * 8192, 3 * 8192 + 1, 3 * 8192 + 3 * 256 + 9, 2 * 3 * 8192]
        for _ in 0..<10 { lengths.append(Int(rng.below(UInt64(2 * 3 * 8192)))) }
        bytes.withUnsafeBytes { all in
            for length in lengths {
                for offset in [0, 1, 3, 7] {
                    let slice = UnsafeRawBufferPointer(rebasing: all[offset..<(offset + length)])
                    let expected = Self.reference(slice)
                    #expect(crc32c(0, slice) == expected, "length \(length) at offset \(offset)")
                    let cut = length / 3
                    let pieces = crc32c(crc32c(0, UnsafeRawBufferPointer(rebasing: slice[0..<cut])),
                                        UnsafeRawBufferPointer(rebasing: slice[cut...]))
                    #expect(pieces == expected, "length \(length) at offset \(offset) cut at \(cut)")
                }
            }
        }
    }
}
