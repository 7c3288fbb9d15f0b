import Foundation
import KernelProbes
import Testing
import TestSupport

/// The lab's option-stripping middlebox (bpf/test/rl_strip_option.bpf.c, tools/lab/strip) on
/// crafted frames: it must remove exactly Redline's option and leave a valid TCP checksum, or
/// the lab's "expected, missing" would measure a broken middlebox instead of a stripping one.
@Suite("Option-stripping middlebox (root, BPF)", .requiresRootBPF)
struct StripOptionTests {
    static let ours: [UInt8] = [254, 8, 0x52, 0x4C, 0, 0, 0, 101]

    /// An IPv4 TCP frame with `options` (padded to 4 bytes) and a correct checksum.
    static func frame(flags: UInt8, options: [UInt8]) -> [UInt8] {
        let opts = options + [UInt8](repeating: 0, count: (4 - options.count % 4) % 4)
        var tcp = Frame.be16(40000) + Frame.be16(80) + [0, 0, 0, 1, 0, 0, 0, 0]
            + [UInt8((5 + opts.count / 4) << 4), flags, 0xff, 0xff, 0, 0, 0, 0] + opts
        let sum = checksum(tcp)
        tcp[16] = UInt8(sum >> 8)
        tcp[17] = UInt8(sum & 0xff)
        return Frame.ipv4(6, tcp)
    }

    /// The TCP checksum over the IPv4 pseudo-header (Frame's addresses) and `segment`.
    static func checksum(_ segment: [UInt8]) -> UInt16 {
        let bytes = Frame.v4a + Frame.v4b + [0, 6] + Frame.be16(segment.count) + segment + (segment.count % 2 == 1 ? [0] : [])
        var s: UInt32 = 0
        for i in stride(from: 0, to: bytes.count, by: 2) { s += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1]) }
        while s > 0xffff { s = (s & 0xffff) + (s >> 16) }
        return ~UInt16(s)
    }

    func run(_ frame: [UInt8]) throws -> [UInt8] {
        let spec = try ObjectSpec(path: Package.stripObject)
        let obj = try spec.load()
        let out = try obj.program("rl_lab_strip").testRun(packet: frame)
        #expect(out.retval == UInt32(bitPattern: -1), "TC_ACT_UNSPEC: later filters still run")
        return Array(out.dataOut.prefix(frame.count))
    }

    @Test("rootBPF: a SYN's identity option becomes NOPs, everything else stays, the checksum still verifies")
    func stripsOurOption() throws {
        let mss: [UInt8] = [2, 4, 0x05, 0xb4], sack: [UInt8] = [4, 2, 1, 1]
        for flags: UInt8 in [0x02, 0x12] {  // SYN, SYN-ACK
            let before = Self.frame(flags: flags, options: mss + sack + Self.ours)
            let after = try run(before)
            let tcpStart = 14 + 20, optStart = tcpStart + 20 + 8
            #expect(Array(after[optStart..<optStart + 8]) == [UInt8](repeating: 1, count: 8))
            #expect(Array(after[..<optStart]).enumerated().allSatisfy { $0.offset == tcpStart + 16 || $0.offset == tcpStart + 17 || $0.element == before[$0.offset] })
            #expect(after[(optStart + 8)...] == before[(optStart + 8)...])
            #expect(Self.checksum(Array(after[tcpStart...])) == 0, "checksum verifies after the rewrite")
        }
    }

    @Test("rootBPF: another experiment's kind 254 option, and non-SYN segments, pass unchanged")
    func leavesOthersAlone() throws {
        let other = Self.frame(flags: 0x02, options: [254, 8, 0x12, 0x34, 0, 0, 0, 101])
        #expect(try run(other) == other)
        let ack = Self.frame(flags: 0x10, options: Self.ours)
        #expect(try run(ack) == ack)
    }
}
