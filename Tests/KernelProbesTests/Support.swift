import CRedlineABI
import Glibc
import KernelProbes

/// Paths inside the package, derived from this file's location.
enum Package {
    static let root: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Tests/KernelProbesTests/Support.swift
        return parts.joined(separator: "/")
    }()
    static var redlineObject: String { root + "/bpf/build/redline.bpf.o" }
    static var lossyObject: String { root + "/bpf/build/rl_lossy.bpf.o" }
    static var rejectObject: String { root + "/bpf/build/rl_reject.bpf.o" }
    static var stripObject: String { root + "/bpf/build/rl_strip_option.bpf.o" }
    static var defaultRules: String { root + "/pipelines/rules/default.yaml" }
    static var corpus: String { root + "/tools/lab/corpus/l7-corpus.tsv" }

    static func read(_ path: String) throws -> String {
        guard let f = fopen(path, "r") else { throw KernelProbeError.fileOpen(path: path, errno: errno) }
        defer { fclose(f) }
        var out = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Crafted frames for BPF_PROG_TEST_RUN: Ethernet + IPv4/IPv6 + TCP/UDP.
/// Checksums are left zero: tc programs do not verify them.
enum Frame {
    static let v4a: [UInt8] = [198, 18, 0, 1]
    static let v4b: [UInt8] = [198, 18, 0, 2]
    static let v6a: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1]
    static let v6b: [UInt8] = [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [2]

    static func be16(_ v: Int) -> [UInt8] { [UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }

    static func ethernet(_ type: Int) -> [UInt8] {
        [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1] + be16(type)
    }

    static func tcp(sport: Int, dport: Int, flags: UInt8 = 0x18, payload: [UInt8] = []) -> [UInt8] {
        be16(sport) + be16(dport) + [0, 0, 0, 1, 0, 0, 0, 1, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0] + payload
    }

    static func udp(sport: Int, dport: Int, payload: [UInt8] = []) -> [UInt8] {
        be16(sport) + be16(dport) + be16(8 + payload.count) + [0, 0] + payload
    }

    static func ipv4(_ proto: UInt8, _ l4: [UInt8], src: [UInt8] = v4a, dst: [UInt8] = v4b,
                     fragOffset: Int = 0, ihl: UInt8 = 5) -> [UInt8]
    {
        let header: [UInt8] = [0x40 | ihl, 0] + be16(20 + l4.count) + [0, 1] + be16(fragOffset) + [64, proto, 0, 0]
            + src + dst
        return ethernet(0x0800) + header + l4
    }

    static func ipv6(_ next: UInt8, _ l4: [UInt8], src: [UInt8] = v6a, dst: [UInt8] = v6b) -> [UInt8] {
        ethernet(0x86dd) + [0x60, 0, 0, 0] + be16(l4.count) + [next, 64] + src + dst + l4
    }

    static func tcp4(_ payload: [UInt8], sport: Int = 40000, dport: Int = 80) -> [UInt8] {
        ipv4(6, tcp(sport: sport, dport: dport, payload: payload))
    }

    static func udp4(_ payload: [UInt8], sport: Int = 40000, dport: Int = 53, src: [UInt8] = v4a,
                     dst: [UInt8] = v4b) -> [UInt8]
    {
        ipv4(17, udp(sport: sport, dport: dport, payload: payload), src: src, dst: dst)
    }

    static func payload(for transport: L7Rule.Transport, _ bytes: [UInt8]) -> [UInt8] {
        transport == .tcp ? tcp4(bytes) : udp4(bytes)
    }
}

/// The result bits rl_tc_probe returns (see redline.bpf.c).
struct ProbeResult: Equatable, CustomStringConvertible {
    var raw: UInt32
    var parse: UInt32 { raw & 0xf }
    var denied: Bool { raw & (1 << 4) != 0 }
    var hasPayload: Bool { raw & (1 << 5) != 0 }
    var statusCode: Int { Int((raw >> 6) & 0x3ff) }
    var ruleID: Int { Int((raw >> 16) & 0xff) }
    var statusClass: Int { Int((raw >> 24) & 7) }
    var description: String {
        "parse=\(parse) denied=\(denied) payload=\(hasPayload) rule=\(ruleID) status=\(statusCode)/\(statusClass)"
    }

    static let notIP: UInt32 = 0, v4TCP: UInt32 = 1, v4UDP: UInt32 = 2, v6TCP: UInt32 = 3, v6UDP: UInt32 = 4
    static let v4Other: UInt32 = 5, v6Other: UInt32 = 6, bogus: UInt32 = 7
}

extension DataPlane {
    /// Loads redline.bpf.o with the shipped rules installed.
    static func withDefaultRules(programs: Set<ProgramName> = Set(ProgramName.allCases)) throws -> DataPlane {
        let dp = try DataPlane(objectPath: Package.redlineObject, programs: programs)
        try dp.install(try RuleSet(yaml: try Package.read(Package.defaultRules)))
        return dp
    }

    func probe(_ frame: [UInt8]) throws -> ProbeResult {
        ProbeResult(raw: try program(.tcProbe).testRun(packet: frame).retval)
    }
}

/// Collects every ring sample a reader delivers.
final class Collected {
    var records: [KernelRecord] = []
    var flows: [rl_flow_delta] {
        records.compactMap { if case let .flowDelta(d) = $0 { d } else { nil } }
    }
    var calls: [(rl_l7_call, [UInt8]?)] {
        records.compactMap { if case let .call(c, p) = $0 { (c, p) } else { nil } }
    }
    var tcpEvents: [rl_tcp_event] {
        records.compactMap { if case let .tcpEvent(e) = $0 { e } else { nil } }
    }
}

func reader(for dp: DataPlane, into sink: Collected) throws -> RingBufferReader {
    try RingBufferReader(map: dp.events) { sink.records.append(KernelRecord($0)) }
}

/// Bytes of a fixed-size C array member (an imported tuple).
func tupleBytes<T>(_ t: T) -> [UInt8] { withUnsafeBytes(of: t) { Array($0) } }

func ipv4Mapped(_ a: [UInt8]) -> [UInt8] { [UInt8](repeating: 0, count: 10) + [0xff, 0xff] + a }
