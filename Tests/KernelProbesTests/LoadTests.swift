import CRedlineABI
import DevSupport
import KernelProbes
import Testing
import TestSupport

@Suite("Loading (root, BPF)", .requiresRootBPF)
struct LoadTests {
    @Test("rootBPF: every program of redline.bpf.o loads on this kernel")
    func rootBPFAllProgramsLoad() throws {
        let dp = try DataPlane(objectPath: Package.redlineObject)
        for p in DataPlane.ProgramName.allCases {
            #expect(try dp.program(p).fd >= 0, "\(p.rawValue)")
        }
    }

    @Test("rootBPF: the ELF lists its programs and maps before loading")
    func rootBPFSpecListsProgramsAndMaps() throws {
        let spec = try ObjectSpec(path: Package.redlineObject)
        #expect(Set(spec.programNames) == Set(DataPlane.ProgramName.allCases.map(\.rawValue)))
        for m in ["rl_config", "rl_ruleset", "rl_events", "rl_sk_state", "rl_udp_flows", "rl_kstats"] {
            #expect(spec.mapNames.contains(m), "\(m)")
        }
    }

    @Test("rootBPF: a program the verifier rejects surfaces the verifier log in a typed error")
    func rootBPFRejectedProgramCarriesVerifierLog() throws {
        let spec = try ObjectSpec(path: Package.rejectObject)
        do {
            _ = try spec.load()
            Issue.record("the verifier accepted an unchecked packet read")
        } catch let KernelProbeError.loadFailed(program, errno, verifierLog, _) {
            #expect(program == "rl_reject")
            #expect(errno == 13)  // EACCES: verifier rejection
            #expect(verifierLog.contains("invalid access to packet"), "\(verifierLog)")
        }
    }

    @Test("an object that does not exist is a typed open error")
    func missingObjectIsTypedError() throws {
        #expect(throws: KernelProbeError.self) { try ObjectSpec(path: "/nonexistent/x.bpf.o") }
    }

    @Test("rootBPF: config map round-trips; a wrong key size is a typed error")
    func rootBPFConfigRoundTrip() throws {
        let dp = try DataPlane(objectPath: Package.redlineObject, programs: [.tcProbe])
        try dp.set(RL_CFG_FLUSH_INTERVAL_NS, 123_456)
        #expect(try dp.get(RL_CFG_FLUSH_INTERVAL_NS) == 123_456)
        #expect(throws: KernelProbeError.self) { try dp.config.lookup(key: [1, 2]) }
        #expect(try dp.cgroupService.lookup(key: bytes(of: UInt64(42))) == nil)
        try dp.setService(cgroupID: 42, serviceID: 7)
        #expect(try dp.cgroupService.lookup(key: bytes(of: UInt64(42))) == bytes(of: UInt32(7)))
        #expect(try dp.cgroupService.delete(key: bytes(of: UInt64(42))))
        #expect(try !dp.cgroupService.delete(key: bytes(of: UInt64(42))))
    }
}

@Suite("Packet parsing (root, BPF)", .requiresRootBPF)
struct ParseTests {
    let dp: DataPlane
    init() throws { dp = try DataPlane(objectPath: Package.redlineObject, programs: [.tcProbe]) }

    @Test("rootBPF: IPv4/IPv6 × TCP/UDP parse, with and without payload")
    func rootBPFHeaderKinds() throws {
        #expect(try dp.probe(Frame.tcp4([])).parse == ProbeResult.v4TCP)
        #expect(try dp.probe(Frame.tcp4([])).hasPayload == false)
        #expect(try dp.probe(Frame.tcp4([1, 2, 3])).hasPayload)
        #expect(try dp.probe(Frame.udp4([9])).parse == ProbeResult.v4UDP)
        #expect(try dp.probe(Frame.ipv6(6, Frame.tcp(sport: 1, dport: 2, payload: [1]))).parse == ProbeResult.v6TCP)
        #expect(try dp.probe(Frame.ipv6(17, Frame.udp(sport: 1, dport: 2, payload: [1]))).parse == ProbeResult.v6UDP)
        #expect(try dp.probe(Frame.ipv4(1, [8, 0, 0, 0, 0, 0, 0, 0])).parse == ProbeResult.v4Other)  // ICMP
        #expect(try dp.probe(Frame.ipv6(58, [128, 0, 0, 0])).parse == ProbeResult.v6Other)
        #expect(try dp.probe(Frame.ethernet(0x0806) + [UInt8](repeating: 0, count: 28)).parse == ProbeResult.notIP)
        // A non-first IPv4 fragment has no L4 header.
        #expect(try dp.probe(Frame.ipv4(17, Frame.udp(sport: 1, dport: 2), fragOffset: 10)).parse == ProbeResult.v4Other)
    }

    @Test("rootBPF: truncated and bogus headers are rejected, never read past the end")
    func rootBPFTruncatedAndBogus() throws {
        let good = Frame.tcp4([1, 2, 3, 4])
        // The kernel itself refuses to run a frame too short for its IPv4 header
        // (such a frame never reaches tc); every shorter TCP header is bogus.
        for cut in 14..<34 {
            #expect(throws: KernelProbeError.testRunFailed(program: "rl_tc_probe", errno: 22)) {
                try dp.probe(Array(good.prefix(cut)))
            }
        }
        for cut in 34..<54 {
            #expect(try dp.probe(Array(good.prefix(cut))).parse == ProbeResult.bogus, "cut at \(cut)")
        }
        var badIHL = Frame.tcp4([1])
        badIHL[14] = 0x44  // IHL 4 < 5
        #expect(try dp.probe(badIHL).parse == ProbeResult.bogus)
        var badVersion = Frame.tcp4([1])
        badVersion[14] = 0x55
        #expect(try dp.probe(badVersion).parse == ProbeResult.bogus)
        var longTotal = Frame.tcp4([1])
        longTotal[16] = 0x10  // tot_len 4096 > frame
        #expect(try dp.probe(longTotal).parse == ProbeResult.bogus)
        var badDoff = Frame.tcp4([1, 2])
        badDoff[14 + 20 + 12] = 0xf0  // data offset 60 > segment
        #expect(try dp.probe(badDoff).parse == ProbeResult.bogus)
        var badUDPLen = Frame.udp4([1, 2, 3])
        badUDPLen[14 + 20 + 4] = 0x01  // UDP length 256+ > datagram
        #expect(try dp.probe(badUDPLen).parse == ProbeResult.bogus)
        let v6 = Frame.ipv6(6, Frame.tcp(sport: 1, dport: 2, payload: [1]))
        #expect(throws: KernelProbeError.self) { try dp.probe(Array(v6.prefix(14 + 39))) }
        #expect(try dp.probe(Array(v6.prefix(14 + 40 + 19))).parse == ProbeResult.bogus)
    }

    @Test("rootBPF: random frames never crash the parser and are classified into a known kind")
    func rootBPFRandomFrames() throws {
        var rng = SplitMix64(seed: 11)
        for _ in 0..<2000 {
            let n = 15 + Int(rng.next() % 120)
            var f = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if rng.next() % 2 == 0 { f[12] = 0x08; f[13] = 0x00; f[14] = 0x45 }
            let tooShortForIP = f[12] == 0x08 && f[13] == 0x00 && n < 34
                || f[12] == 0x86 && f[13] == 0xdd && n < 54
            do {
                let r = try dp.probe(f)
                #expect(r.parse <= ProbeResult.bogus)
                #expect(!tooShortForIP)
            } catch KernelProbeError.testRunFailed(_, 22) {
                #expect(tooShortForIP, "kernel refused a frame of \(n) bytes")
            }
        }
    }
}
