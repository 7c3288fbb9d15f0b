import KernelProbes
import Testing
import TestSupport

/// One labelled corpus payload (tools/lab/corpus/l7-corpus.tsv).
struct CorpusSample {
    var label: String  // protocol name or "none"
    var role: String
    var transport: L7Rule.Transport
    var source: String
    var payload: [UInt8]

    static func load() throws -> [CorpusSample] {
        try Package.read(Package.corpus).split(separator: "\n").compactMap { line in
            if line.hasPrefix("#") { return nil }
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count == 5, let t = L7Rule.Transport(rawValue: String(f[2])) else {
                throw RuleError.yaml("corpus line malformed: \(line.prefix(60))")
            }
            let h = Array(f[4].utf8)
            var bytes: [UInt8] = []
            var i = 0
            while i + 1 < h.count {
                guard let b = UInt8(String(decoding: h[i...i + 1], as: UTF8.self), radix: 16) else {
                    throw RuleError.yaml("corpus hex malformed")
                }
                bytes.append(b)
                i += 2
            }
            return CorpusSample(label: String(f[0]), role: String(f[1]), transport: t, source: String(f[3]), payload: bytes)
        }
    }
}

@Suite("L7 accuracy on the labelled corpus (root, BPF)", .requiresRootBPF)
struct AccuracyTests {
    @Test("rootBPF: per-protocol precision ≥ 99 % and recall ≥ 97 % on real-client payloads + random bytes")
    func rootBPFCorpusAccuracy() throws {
        let samples = try CorpusSample.load()
        #expect(samples.count > 2000)
        let rules = try RuleSet(yaml: try Package.read(Package.defaultRules))
        let dp = try DataPlane.withDefaultRules(programs: [.tcProbe])
        let nameOf = Dictionary(uniqueKeysWithValues: l7ProtocolNames.map { ($0.value, $0.key) })
        let protoOfRule = Dictionary(uniqueKeysWithValues: rules.rules.map { ($0.id, nameOf[$0.protocolID] ?? "?") })
        let roleOfRule = Dictionary(uniqueKeysWithValues: rules.rules.map { ($0.id, $0.role.rawValue) })

        var tp: [String: Int] = [:], fp: [String: Int] = [:], fn: [String: Int] = [:], n: [String: Int] = [:]
        var roleWrong = 0
        var kernelVsSpec = 0
        for s in samples {
            let r = try dp.probe(Frame.payload(for: s.transport, s.payload))
            // The kernel decides exactly what the spec's reference matcher decides.
            if r.ruleID != (rules.classify(s.payload, transport: s.transport)?.id ?? 0) { kernelVsSpec += 1 }
            let predicted = r.ruleID == 0 ? "none" : protoOfRule[r.ruleID] ?? "?"
            n[s.label, default: 0] += 1
            if predicted == s.label {
                if s.label != "none" {
                    tp[s.label, default: 0] += 1
                    if roleOfRule[r.ruleID] != s.role { roleWrong += 1 }
                }
            } else {
                if predicted != "none" { fp[predicted, default: 0] += 1 }
                if s.label != "none" { fn[s.label, default: 0] += 1 }
            }
        }
        #expect(kernelVsSpec == 0)
        #expect(roleWrong == 0)

        print("L7 accuracy (\(samples.count) payloads; \(n["none"] ?? 0) random):")
        print("| protocol | samples | TP | FP | FN | precision | recall |")
        print("|---|---|---|---|---|---|---|")
        for proto in ["http1", "redis", "dns", "tls", "mysql", "kafka", "thrift"] {
            let t = tp[proto] ?? 0, f = fp[proto] ?? 0, m = fn[proto] ?? 0
            let precision = t + f == 0 ? 1.0 : Double(t) / Double(t + f)
            let recall = t + m == 0 ? 1.0 : Double(t) / Double(t + m)
            func pct(_ x: Double) -> String { String(Int((x * 1000).rounded())) .withDecimal }
            print("| \(proto) | \(n[proto] ?? 0) | \(t) | \(f) | \(m) | \(pct(precision)) % | \(pct(recall)) % |")
            #expect((n[proto] ?? 0) > 0, "no samples of \(proto)")
            #expect(precision >= 0.99, "\(proto) precision \(precision)")
            #expect(recall >= 0.97, "\(proto) recall \(recall)")
        }
    }
}

private extension String {
    /// "1000" (per mille) -> "100.0".
    var withDecimal: String {
        let v = Int(self) ?? 0
        return "\(v / 10).\(v % 10)"
    }
}
