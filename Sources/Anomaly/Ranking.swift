import Pipeline

/// A ranked anomaly candidate: one entity that alarmed in the partition, with its strongest
/// metric, what it explains, what explains it, and the network evidence around it. One row of
/// `anomaly_candidates` (schemas/tables/anomaly_candidates.md).
public struct Candidate: Sendable, Equatable {
    public var rank: Int
    public var entity: Entity
    /// The strongest alarmed metric (peak score) and its view.
    public var metric: String
    public var observer: String
    public var unit: String
    /// First and last alarmed bucket starts inside the partition.
    public var firstBucket: Int64
    public var lastBucket: Int64
    /// Start of the alarm episode: the first of the consecutive alarmed buckets leading to
    /// `firstBucket`, earlier partitions included.
    public var onset: Int64
    /// At the peak bucket.
    public var observed: Double
    public var baseline: Double
    public var score: Double
    public var support: Int64
    public var completeness: Double
    /// The entity's other metrics alarmed in the peak bucket, `metric=observed/baseline`, by name.
    public var otherMetrics: [String]
    /// Candidates this one explains, and the one(s) that explain it (entity ids `kind:name`).
    public var explains: [Entity]
    public var explainedBy: [Entity]
    /// TCP trouble on the paths, hosts and links around the entity at its peak: `entity metric +delta`.
    public var network: [String]
    /// How many explanation steps below a root (0: nothing explains it).
    public var depth: Int
}

/// Ranks the alarmed entities over the call graph (schemas/pipeline-v1.md, `rank`).
///
/// Explanations, per metric family (errors explain errors, latency explains latency), only
/// between alarms that share a bucket, and only when the cause's excess over its baseline is at
/// least `explainShare` of the symptom's on a common metric (a 2 ms blip downstream does not
/// explain a 50 ms rise upstream):
/// - a service whose server side degraded explains the client side of every edge into it;
/// - an edge whose client side degraded explains its caller's own (server-side) degradation;
/// - an edge whose client side degraded while its callee did not (neither the service nor the
///   edge's own server side accounts for it) is explained by the network candidates on its path
///   that alarmed then: a host running the caller or the callee, the datacenter link between them;
/// - a service whose request rate collapsed explains every alarm on edges into it and TCP resets
///   on the hosts around it (a stopped service refuses connections).
/// Candidates nothing explains are roots; ranking is by depth below a root, then score (higher
/// first), then entity name and kind: deterministic, and a cause ranks above its symptoms.
public struct Ranking: Sendable {
    /// A cause must account for at least this share of its symptom's excess (rank.explain_share).
    public let explainShare: Double

    public init(parameters: PipelineSpec.RankParameters) { explainShare = parameters.explainShare }

    public func rank(_ findings: [Finding], observations: Observations, partition: Partition) -> [Candidate] {
        let grid = observations.grid
        let inPartition = { (b: Int64) in b >= partition.startNanos && b < partition.endNanos }
        var alarmed: [SeriesKey: [Int64]] = [:]
        var byKey: [SeriesKey: Finding] = [:]
        for f in findings {
            byKey[f.key] = f
            let a = f.buckets.filter { $0.value.alarm && inPartition($0.key) }.keys.sorted()
            if !a.isEmpty { alarmed[f.key] = a }
        }
        /// Alarmed buckets of an entity's series in one family (one view, or its candidate view).
        func buckets(_ e: Entity, _ family: MetricFamily, observer: String? = nil) -> Set<Int64> {
            var out = Set<Int64>()
            for (k, b) in alarmed where k.entity == e && k.family == family
                && (observer.map { k.observer == $0 } ?? Self.isCandidateView(k)) { out.formUnion(b) }
            return out
        }
        /// Whether `cause` (in view `causeObserver`) accounts for `effect` in `family`: both alarmed in
        /// a common bucket on one metric, with the cause's excess over its baseline at least
        /// `explainShare` of the effect's (latency in ns, errors in calls).
        func accounts(_ cause: Entity, causeObserver: String, for effect: Entity, effectObserver: String, _ family: MetricFamily,
                      metric: String? = nil) -> Bool {
            for (k, effectBuckets) in alarmed where k.entity == effect && k.observer == effectObserver && k.family == family
                && (metric.map { k.metric == $0 } ?? true) {
                let ck = SeriesKey(entity: cause, metric: k.metric, observer: causeObserver)
                guard let causeBuckets = alarmed[ck] else { continue }
                for b in Set(effectBuckets).intersection(causeBuckets) {
                    if let c = byKey[ck]?.buckets[b], let x = byKey[k]?.buckets[b],
                       Self.excess(c, family) >= explainShare * Self.excess(x, family) { return true }
                }
            }
            return false
        }

        // Per entity: its alarmed series (the service's own view, the edge's client view, TCP).
        var families: [Entity: Set<MetricFamily>] = [:]
        for k in alarmed.keys where Self.isCandidateView(k) { families[k.entity, default: []].insert(k.family) }

        let hostsOf = observations.hostsOfService
        let dcs = observations.datacenters
        var explainedBy: [Entity: Set<Entity>] = [:]
        for (e, fams) in families {
            switch e.kind {
            case .edge:
                guard let (caller, callee) = e.edgeEnds else { continue }
                let calleeEntity = Entity(.service, callee)
                let mine = fams.reduce(into: Set<Int64>()) { $0.formUnion(buckets(e, $1)) }
                if !buckets(calleeEntity, .rate).isDisjoint(with: mine) {
                    explainedBy[e, default: []].insert(calleeEntity)
                }
                for f in fams where f == .errors || f == .latency {
                    if accounts(calleeEntity, causeObserver: "server", for: e, effectObserver: "client", f) {
                        explainedBy[e, default: []].insert(calleeEntity)
                    } else if !accounts(e, causeObserver: "server", for: e, effectObserver: "client", f) {
                        // The callee did not see it: the network between them, if it is in trouble then.
                        for n in networkCandidates(caller, callee, hostsOf: hostsOf, dcs: dcs)
                        where !buckets(n, .network).isDisjoint(with: buckets(e, f)) {
                            explainedBy[e, default: []].insert(n)
                        }
                    }
                }
            case .service:
                for other in families.keys where other.kind == .edge && other.edgeEnds?.caller == e.name {
                    for f in fams where f == .errors || f == .latency {
                        if accounts(other, causeObserver: "client", for: e, effectObserver: "server", f) {
                            explainedBy[e, default: []].insert(other)
                        }
                    }
                }
                // A collapse of its rate while its host or a link to its peers loses packets is the
                // network throttling it (closed-loop callers wait), not the service stopping.
                if fams.contains(.rate) {
                    // Calls flow downstream: a callee cannot get the calls a collapsed caller no
                    // longer makes (a stopped service's callees go quiet with it).
                    for caller in Set(observations.red.compactMap { $0.callee == e.name ? $0.caller : nil }) {
                        let c = Entity(.service, caller)
                        if !buckets(c, .rate).isDisjoint(with: buckets(e, .rate)) { explainedBy[e, default: []].insert(c) }
                    }
                    let peers = Set(observations.red.flatMap { r -> [String] in
                        r.caller == e.name ? [r.callee] : r.callee == e.name ? r.caller.map { [$0] } ?? [] : []
                    })
                    var around = (hostsOf[e.name] ?? []).map { Entity(.host, $0) }
                    if let mine = dcs[e.name] { around += peers.compactMap { dcs[$0] }.filter { $0 != mine }.map { Entity.link(mine, $0) } }
                    for n in Set(around) {
                        let lossy = alarmed.filter { $0.key.entity == n && $0.key.metric != "resets" }.values.flatMap { $0 }
                        if !buckets(e, .rate).isDisjoint(with: lossy) { explainedBy[e, default: []].insert(n) }
                    }
                }
                // A callee that stopped answering leaves no calls on the edge to it (refused
                // connections pair no request with a response): its collapse explains the caller.
                let symptoms = buckets(e, .errors).union(buckets(e, .latency))
                for callee in Set(observations.red.compactMap { $0.caller == e.name ? $0.callee : nil }) {
                    let s = Entity(.service, callee)
                    if !buckets(s, .rate).isDisjoint(with: symptoms) { explainedBy[e, default: []].insert(s) }
                }
            case .host, .dcLink:
                // A host whose every TCP alarm the link its connections cross accounts for is that
                // link's symptom (a host's own trouble, say drops by its filter, has a metric the
                // link lacks).
                if e.kind == .host {
                    let services = hostsOf.filter { $0.value.contains(e.name) }.keys
                    var links = Set<Entity>()
                    for r in observations.red where r.caller.map(services.contains) == true || services.contains(r.callee) {
                        if let c = r.caller, let a = dcs[c], let b = dcs[r.callee], a != b { links.insert(.link(a, b)) }
                    }
                    let metrics = alarmed.keys.filter { $0.entity == e }
                    for l in links.sorted() where families[l] != nil {
                        if metrics.allSatisfy({ k in
                            accounts(l, causeObserver: "", for: e, effectObserver: "", .network, metric: k.metric)
                        }) { explainedBy[e, default: []].insert(l) }
                    }
                }
                // Resets around a service that stopped are the refusals, not the network's fault.
                let resets = alarmed.filter { $0.key.entity == e && $0.key.metric == "resets" }.values.flatMap { $0 }
                guard !resets.isEmpty else { continue }
                for (s, sf) in families where s.kind == .service && sf.contains(.rate) && !buckets(s, .rate).isDisjoint(with: resets) {
                    let callers = Set(observations.red.compactMap { $0.callee == s.name ? $0.caller : nil })
                    let around = e.kind == .host
                        ? (hostsOf[s.name] ?? []).union(callers.flatMap { hostsOf[$0] ?? [] }).map { Entity(.host, $0) }
                        : callers.compactMap { c in dcs[c].flatMap { a in dcs[s.name].map { b in Entity.link(a, b) } } }
                    if around.contains(e) { explainedBy[e, default: []].insert(s) }
                }
            case .path:
                continue
            }
            explainedBy[e]?.remove(e)
        }

        // Depth below a root: breadth-first from the roots; an entity reached only through a
        // cycle of explanations becomes a root itself (the highest-scored one first).
        var depth: [Entity: Int] = [:]
        var explains: [Entity: Set<Entity>] = [:]
        for (e, by) in explainedBy { for b in by { explains[b, default: []].insert(e) } }
        func peakScore(_ e: Entity) -> Double {
            alarmed.keys.filter { $0.entity == e && Self.isCandidateView($0) }
                .compactMap { k in alarmed[k]!.compactMap { byKey[k]!.buckets[$0]?.score }.max() }.max() ?? 0
        }
        var pending = Set(families.keys)
        var frontier = families.keys.filter { (explainedBy[$0] ?? []).isEmpty }
        var level = 0
        while !pending.isEmpty {
            if frontier.isEmpty {
                frontier = [pending.max { a, b in peakScore(a) != peakScore(b) ? peakScore(a) < peakScore(b) : b < a }!]
            }
            var next: [Entity] = []
            for e in frontier where pending.contains(e) {
                depth[e] = level
                pending.remove(e)
            }
            for e in frontier { next += (explains[e] ?? []).filter { pending.contains($0) } }
            frontier = Array(Set(next)).sorted()
            level += 1
        }

        var out: [Candidate] = []
        for (e, _) in families {
            let keys = alarmed.keys.filter { $0.entity == e && Self.isCandidateView($0) }.sorted()
            var best: (key: SeriesKey, bucket: Int64, j: Judgement)?
            for k in keys {
                for b in alarmed[k]! {
                    let j = byKey[k]!.buckets[b]!
                    if best == nil || j.score > best!.j.score || (j.score == best!.j.score && b < best!.bucket) { best = (k, b, j) }
                }
            }
            guard let best else { continue }
            let all = keys.flatMap { alarmed[$0]! }
            let first = all.min()!, last = all.max()!
            var onset = first
            if var i = grid.firstIndex(of: first) {
                while i > 0, keys.contains(where: { byKey[$0]!.buckets[grid[i - 1]]?.alarm == true }) {
                    i -= 1
                    onset = grid[i]
                }
            }
            let others = keys.filter { $0 != best.key }.compactMap { k -> String? in
                guard let j = byKey[k]!.buckets[best.bucket], j.alarm else { return nil }
                return "\(k.metric)=\(Self.format(j.value, unit: k.unit))/\(Self.format(j.baseline, unit: k.unit))"
            }
            out.append(Candidate(
                rank: 0, entity: e, metric: best.key.metric, observer: best.key.observer, unit: best.key.unit,
                firstBucket: first, lastBucket: last, onset: onset, observed: best.j.value, baseline: best.j.baseline,
                score: best.j.score, support: best.j.support, completeness: best.j.completeness, otherMetrics: others,
                explains: (explains[e] ?? []).sorted(), explainedBy: (explainedBy[e] ?? []).sorted(),
                network: networkEvidence(e, at: best.bucket, findings: byKey, hostsOf: hostsOf, dcs: dcs, observations: observations),
                depth: depth[e] ?? 0))
        }
        out.sort { a, b in
            if a.depth != b.depth { return a.depth < b.depth }
            if a.score != b.score { return a.score > b.score }
            return a.entity < b.entity
        }
        for i in out.indices { out[i].rank = i + 1 }
        return out
    }

    /// How far above its baseline a judged bucket is, in the family's own terms: calls for the
    /// error ratio (ratio excess × requests), the value's own unit otherwise.
    static func excess(_ j: Judgement, _ family: MetricFamily) -> Double {
        family == .errors ? (j.value - j.baseline) * Double(j.support) : j.value - j.baseline
    }

    /// The views a candidate is made of: a service's server side, an edge's client side, TCP series
    /// of hosts and links. An edge's server side and a path's TCP series are evidence only.
    static func isCandidateView(_ k: SeriesKey) -> Bool {
        switch k.entity.kind {
        case .service: k.observer == "server"
        case .edge: k.observer == "client"
        case .host, .dcLink: true
        case .path: false
        }
    }

    /// The network entities a call from `caller` to `callee` crosses.
    func networkCandidates(_ caller: String, _ callee: String, hostsOf: [String: Set<String>], dcs: [String: String]) -> [Entity] {
        var out = (hostsOf[caller] ?? []).union(hostsOf[callee] ?? []).sorted().map { Entity(.host, $0) }
        if let a = dcs[caller], let b = dcs[callee], a != b { out.append(.link(a, b)) }
        return out
    }

    /// TCP deltas (observed − baseline, per second) at `bucket` on the paths, hosts and links
    /// around `e`, largest first; only positive deltas.
    func networkEvidence(_ e: Entity, at bucket: Int64, findings: [SeriesKey: Finding], hostsOf: [String: Set<String>],
                         dcs: [String: String], observations: Observations) -> [String] {
        var around: [Entity] = []
        switch e.kind {
        case .edge:
            if let (caller, callee) = e.edgeEnds {
                around = [.path(caller, callee)] + networkCandidates(caller, callee, hostsOf: hostsOf, dcs: dcs)
            }
        case .service:
            let callers = Set(observations.red.compactMap { $0.callee == e.name ? $0.caller : nil }).sorted()
            around = callers.map { Entity.path($0, e.name) } + (hostsOf[e.name] ?? []).sorted().map { Entity(.host, $0) }
        case .host, .dcLink:
            around = [e]
        case .path:
            around = []
        }
        var deltas: [(String, Double)] = []
        for a in around {
            for (k, f) in findings where k.entity == a && k.family == .network {
                guard let j = f.buckets[bucket], j.value > j.baseline, j.support > 0 else { continue }
                deltas.append(("\(a) \(k.metric) +\(Self.format(j.value - j.baseline, unit: k.unit))", j.value - j.baseline))
            }
        }
        return deltas.sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }.map(\.0)
    }

    /// A value in its unit for people: `4.9 %`, `52.3 ms`, `120.0/s`.
    public static func format(_ v: Double, unit: String) -> String {
        switch unit {
        case "ratio": decimal(v * 100, 1) + " %"
        case "ns": v >= 1e6 ? decimal(v / 1e6, 1) + " ms" : decimal(v / 1e3, 0) + " µs"
        default: decimal(v, 1) + "/s"
        }
    }

    /// `v` with exactly `digits` decimals (locale-free, deterministic).
    public static func decimal(_ v: Double, _ digits: Int) -> String {
        let m = pow10(digits)
        var s = String((v * m).rounded() / m)
        if let dot = s.firstIndex(of: ".") {
            let decimals = s.distance(from: s.index(after: dot), to: s.endIndex)
            if digits == 0 { s = String(s[..<dot]) } else if decimals < digits { s += String(repeating: "0", count: digits - decimals) }
        } else if digits > 0 { s += "." + String(repeating: "0", count: digits) }
        return s
    }

    private static func pow10(_ n: Int) -> Double { (0..<n).reduce(1.0) { r, _ in r * 10 } }
}
