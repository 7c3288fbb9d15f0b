import KernelProbes
import RedlineBase

extension MetricsTextfile {
    /// `redline_rule_hits_total`: payloads each rule matched in the kernel
    /// since the programs were loaded (`rl_rule_hits`, summed over CPUs), one
    /// series per installed rule, zeros included, labelled with the rule's
    /// name, id, protocol and role. A rule that starts matching traffic it was
    /// not written for (a false protocol label) shows as a rising series.
    /// Hits of ids the installed rules no longer have (a rules file replaced by
    /// a reload) keep their own series, named `rule-<id>`, with empty protocol
    /// and role: counters are kept per id, not per rule text.
    public static func ruleHitSamples(hits: [Int: UInt64], rules: RuleSet?) -> [Sample] {
        let help = "Payloads each L7 rule matched in the kernel since the programs were loaded."
        var out: [Sample] = []
        var seen = Set<Int>()
        for r in rules?.rules ?? [] {
            seen.insert(r.id)
            out.append(.init("redline_rule_hits_total", .counter, help: help,
                             labels: [("rule", r.name), ("id", String(r.id)),
                                      ("protocol", L7Protocol.knownName(UInt8(r.protocolID)) ?? String(r.protocolID)),
                                      ("role", r.role.rawValue)],
                             value: Double(hits[r.id] ?? 0)))
        }
        for (id, n) in hits.sorted(by: { $0.key < $1.key }) where !seen.contains(id) {
            out.append(.init("redline_rule_hits_total", .counter, help: help,
                             labels: [("rule", "rule-\(id)"), ("id", String(id)), ("protocol", ""), ("role", "")],
                             value: Double(n)))
        }
        return out
    }
}
