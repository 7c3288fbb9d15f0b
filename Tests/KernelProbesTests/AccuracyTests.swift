import KernelProbes
import Testing
import YAMLConfig
import TestSupport
import RedlineBase

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
                throw ConfigError(file: Package.corpus, "corpus line malformed: \(line.prefix(60))")
            }
            let h = Array(f[4].utf8)
            var bytes: [UInt8] = []
            var i = 0
            while i + 1 < h.count {
                guard let b = UInt8(String(decoding: h[i...i + 1], as: UTF8.self), radix: 16) else {
                    throw ConfigError(file: Package.corpus, "corpus hex malformed")
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
    /// Labels of the protocols the shipped rules are for; every other label
    /// but "none" is a neighbour protocol that must come out unknown.
    static let known = ["http1", "redis", "dns", "tls", "mysql", "kafka", "thrift"]

    @Test("rootBPF: known protocols ≥ 99.5 % precision and ≥ 99 % recall; ≥ 10 neighbour protocols and random bytes come out unknown")
    func rootBPFCorpusAccuracy() throws {
        let samples = try CorpusSample.load()
        #expect(samples.count > 2000)
        let rules = try RuleSet(yaml: try Package.read(Package.defaultRules))
        let dp = try DataPlane.withDefaultRules(programs: [.tcProbe])
        #expect(Set(Self.known) == Set(L7Protocol.nameable))
        let protoOfRule = Dictionary(uniqueKeysWithValues: rules.rules.map { ($0.id, L7Protocol.knownName(UInt8($0.protocolID)) ?? "?") })
        let roleOfRule = Dictionary(uniqueKeysWithValues: rules.rules.map { ($0.id, $0.role.rawValue) })

        var tp: [String: Int] = [:], fp: [String: Int] = [:], fn: [String: Int] = [:], n: [String: Int] = [:]
        var confusion: [String: [String: Int]] = [:]  // true label -> predicted -> count
        var roleWrong = 0
        var kernelVsSpec = 0
        for s in samples {
            let r = try dp.probe(Frame.payload(for: s.transport, s.payload))
            // The kernel decides exactly what the spec's reference matcher decides.
            if r.ruleID != (rules.classify(s.payload, transport: s.transport)?.id ?? 0) { kernelVsSpec += 1 }
            let predicted = r.ruleID == 0 ? "none" : protoOfRule[r.ruleID] ?? "?"
            let expected = Self.known.contains(s.label) ? s.label : "none"
            n[s.label, default: 0] += 1
            confusion[s.label, default: [:]][predicted, default: 0] += 1
            if predicted == expected {
                if expected != "none" {
                    tp[expected, default: 0] += 1
                    if roleOfRule[r.ruleID] != s.role { roleWrong += 1 }
                }
            } else {
                if predicted != "none" { fp[predicted, default: 0] += 1 }
                if expected != "none" { fn[expected, default: 0] += 1 }
            }
        }
        #expect(kernelVsSpec == 0)
        #expect(roleWrong == 0)

        let neighbours = n.keys.filter { !Self.known.contains($0) && $0 != "none" }.sorted()
        print("L7 accuracy (\(samples.count) payloads: \(n["none"] ?? 0) random, "
              + "\(neighbours.reduce(0) { $0 + (n[$1] ?? 0) }) from \(neighbours.count) protocols without rules):")
        print("| protocol | samples | TP | FP | FN | precision | recall |")
        print("|---|---|---|---|---|---|---|")
        for proto in Self.known {
            let t = tp[proto] ?? 0, f = fp[proto] ?? 0, m = fn[proto] ?? 0
            let precision = t + f == 0 ? 1.0 : Double(t) / Double(t + f)
            let recall = t + m == 0 ? 1.0 : Double(t) / Double(t + m)
            print("| \(proto) | \(n[proto] ?? 0) | \(t) | \(f) | \(m) | \(percent(precision)) % | \(percent(recall)) % |")
            #expect((n[proto] ?? 0) > 0, "no samples of \(proto)")
            #expect(precision >= 0.995, "\(proto) precision \(precision)")
            #expect(recall >= 0.99, "\(proto) recall \(recall)")
        }

        print("Protocols without rules (each must come out unknown):")
        print("| protocol | samples | labelled as a known protocol |")
        print("|---|---|---|")
        for proto in neighbours + ["none"] {
            let wrong = (confusion[proto] ?? [:]).filter { $0.key != "none" }
            let detail = wrong.isEmpty ? "0" : wrong.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            print("| \(proto == "none" ? "random bytes" : proto) | \(n[proto] ?? 0) | \(detail) |")
            #expect(wrong.isEmpty, "\(proto) labelled as \(wrong)")
        }
        #expect(neighbours.count >= 10, "only \(neighbours.count) protocols without rules in the corpus")

        let columns = Self.known + ["none"]
        print("Confusion matrix (rows: corpus label, columns: kernel's protocol):")
        print("| label | " + columns.joined(separator: " | ") + " |")
        print("|---|" + String(repeating: "---|", count: columns.count))
        for label in Self.known + neighbours + ["none"] {
            let row = columns.map { String(confusion[label]?[$0] ?? 0) }
            print("| \(label) | " + row.joined(separator: " | ") + " |")
        }
    }

    private func percent(_ x: Double) -> String {
        let perMille = Int((x * 1000).rounded())
        return "\(perMille / 10).\(perMille % 10)"
    }
}
