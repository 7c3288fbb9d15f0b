/// A 128-bit trace id (W3C, B3 left-padded, TTHeader), big-endian halves so that
/// ordering by `(high, low)` is ordering by the id's bytes.
public struct TraceID: Hashable, Comparable, Sendable {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// From the 16 raw bytes of a call record; nil when they are all zero (no trace id).
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        var h: UInt64 = 0, l: UInt64 = 0
        for (i, b) in bytes.enumerated() {
            if i < 8 { h = h << 8 | UInt64(b) } else { l = l << 8 | UInt64(b) }
        }
        guard h != 0 || l != 0 else { return nil }
        high = h
        low = l
    }

    /// 32 lower-case hex digits, as W3C writes it.
    public var hex: String { Self.hex16(high) + Self.hex16(low) }

    /// 16 lower-case hex digits of a 64-bit id (a span id, half a trace id), leading zeros kept.
    public static func hex16(_ v: UInt64) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    public static func < (a: TraceID, b: TraceID) -> Bool { (a.high, a.low) < (b.high, b.low) }
}

/// One call as one side saw it: the unit the per-host partials carry to the merge stage,
/// where observations from every host are joined by trace id (`ChainAssembler`).
public struct HopObservation: Sendable, Equatable {
    public enum Side: String, Sendable, Comparable {
        case client, server
        public static func < (a: Side, b: Side) -> Bool { a.rawValue < b.rawValue }
    }

    /// nil: the request carried no trace id (a caller that does not forward trace context).
    public var traceID: TraceID?
    /// The caller's span id from the request (W3C parent-id), 0 if none.
    public var spanID: UInt64
    public var caller: String
    public var callee: String
    public var side: Side
    /// The client end of the connection, `address:port`: both ends of a call see the same one
    /// (no NAT between the lab's hosts; in a cluster the client's source is not rewritten
    /// inside it), so it pairs the two observations of one call even when a side names its
    /// peer wrongly.
    public var clientEndpoint: String
    public var host: String
    public var proto: String
    /// Corrected wall-clock start, ns since the Unix epoch (UTC).
    public var startNanos: Int64
    /// First request byte to first response byte; nil for a request counted without its response.
    public var durationNanos: Int64?
    /// `rl_status_class`: 0 unknown, 1 ok, 2 client error, 3 server error.
    public var statusClass: UInt8
    public var statusCode: UInt16

    public init(traceID: TraceID?, spanID: UInt64, caller: String, callee: String, side: Side, clientEndpoint: String,
                host: String, proto: String, startNanos: Int64, durationNanos: Int64?, statusClass: UInt8, statusCode: UInt16) {
        self.traceID = traceID
        self.spanID = spanID
        self.caller = caller
        self.callee = callee
        self.side = side
        self.clientEndpoint = clientEndpoint
        self.host = host
        self.proto = proto
        self.startNanos = startNanos
        self.durationNanos = durationNanos
        self.statusClass = statusClass
        self.statusCode = statusCode
    }

    /// The order partials are stored and merged in: by trace id first, so a merge of sorted
    /// partials can assemble one trace at a time.
    public static func storageOrder(_ a: HopObservation, _ b: HopObservation) -> Bool {
        switch (a.traceID, b.traceID) {
        case (nil, .some): return false
        case (.some, nil): return true
        case let (x?, y?) where x != y: return x < y
        default: break
        }
        let x = (a.startNanos, a.caller, a.callee, a.side, a.spanID, a.host)
        let y = (b.startNanos, b.caller, b.callee, b.side, b.spanID, b.host)
        return x != y ? x < y : a.clientEndpoint < b.clientEndpoint
    }
}

/// One hop of an assembled chain: a call joined from its client and server observations.
public struct ChainHop: Sendable, Equatable {
    public var traceID: TraceID?
    public var spanID: UInt64
    /// Index of the hop in its trace, ordered by start (then caller, callee); 0 for untraced hops.
    public var position: Int
    /// 1 for a hop whose caller no traced hop called (the chain's entry), parent's depth + 1 below; 0 untraced.
    public var depth: Int
    /// Position of the hop that called the caller; nil for entry hops and untraced hops.
    public var parentPosition: Int?
    public var caller: String
    public var callee: String
    public var proto: String
    public var startNanos: Int64
    public var durationNanos: Int64?
    public var statusClass: UInt8
    public var statusCode: UInt16
    /// `client`, `server` or `client,server`: who saw the hop.
    public var observers: String
    /// Hosts whose collectors saw it, sorted, comma-separated.
    public var observerHosts: String
    /// The connection's client end, `address:port`.
    public var clientEndpoint: String
}

/// One assembled chain: the calls an entry service made in one trace (its root hops) and every
/// traced hop below them.
public struct AssembledChain: Sendable, Equatable {
    public var traceID: TraceID
    public var entryService: String
    /// The services of the chain as a tree: `a>b>(c,d>e)` (`ChainAssembler.path`).
    public var path: String
    public var startNanos: Int64
    /// From the entry's first root hop's start to its last one's end; nil when one was counted
    /// without its response.
    public var durationNanos: Int64?
    /// A hop of the chain ended in a server error.
    public var failed: Bool
    public var hops: Int

    public init(traceID: TraceID, entryService: String, path: String, startNanos: Int64, durationNanos: Int64?,
                failed: Bool, hops: Int) {
        self.traceID = traceID
        self.entryService = entryService
        self.path = path
        self.startNanos = startNanos
        self.durationNanos = durationNanos
        self.failed = failed
        self.hops = hops
    }
}

/// Joins hop observations from every host into chains. Contract:
/// - observations with the same trace id, span id and client endpoint are the same calls seen
///   from both ends: the k-th client observation (by start) pairs with the k-th server one.
///   Each end names its own service (from its cgroup) more reliably than its peer's, so a
///   joined hop takes its caller from the client side and its callee from the server side;
/// - a hop's parent is a hop of the same trace whose callee is the hop's caller and that
///   started no later (within `clockSlackNanos`); among several, the one whose time span
///   contains the hop's start, else the latest started. Parents always come earlier in the
///   trace's order, so a trace assembles into a forest, never a cycle;
/// - calls without a trace id are paired the same way (span id 0) but never linked to
///   anything (no time-containment guess): they come out as untraced hops, and are counted.
///
/// Memory is one trace's observations at a time when the input is in `storageOrder`
/// (per-host partials are written that way and merged by trace id); the caller holds the
/// rows it keeps. Depth and path length are bounded (`maxDepth`, `maxPathBytes`).
public struct ChainAssembler: Sendable {
    public var clockSlackNanos: Int64
    public static let maxDepth = 64
    public static let maxPathBytes = 512

    public init(clockSlackNanos: Int64 = 1_000_000) {
        self.clockSlackNanos = clockSlackNanos
    }

    /// The hops and chains of one trace's observations (all with that trace id).
    public func assemble(trace: [HopObservation]) -> (hops: [ChainHop], chains: [AssembledChain]) {
        guard let id = trace.first?.traceID else { return ([], []) }
        var hops = join(trace)
        // Every field in the order, so equal starts still sort the same way on every run.
        hops.sort {
            ($0.startNanos, $0.caller, $0.callee, $0.spanID, $0.durationNanos ?? -1, $0.observerHosts)
                < ($1.startNanos, $1.caller, $1.callee, $1.spanID, $1.durationNanos ?? -1, $1.observerHosts)
        }
        var children: [[Int]] = Array(repeating: [], count: hops.count)
        var roots: [Int] = []
        for i in hops.indices {
            hops[i].position = i
            let h = hops[i]
            var best: Int?
            var bestContains = false
            for j in 0..<i where hops[j].callee == h.caller && hops[j].startNanos <= h.startNanos + clockSlackNanos
                && hops[j].depth < Self.maxDepth {
                let p = hops[j]
                let end = p.startNanos + (p.durationNanos ?? 0)
                let contains = p.durationNanos != nil && h.startNanos <= end + clockSlackNanos
                // Hops come in start order: the last candidate is the latest started.
                if contains { best = j; bestContains = true } else if !bestContains { best = j }
            }
            if let p = best {
                hops[i].parentPosition = p
                hops[i].depth = hops[p].depth + 1
                children[p].append(i)
            } else {
                hops[i].depth = 1
                roots.append(i)
            }
        }
        // One chain per entry service of the trace: its root hops are the calls its request made
        // (the request itself carried no trace id, so it is not a hop).
        var entries: [(service: String, roots: [Int])] = []
        for r in roots {
            if let e = entries.firstIndex(where: { $0.service == hops[r].caller }) { entries[e].roots.append(r) }
            else { entries.append((hops[r].caller, [r])) }
        }
        var chains: [AssembledChain] = []
        for (entry, rootHops) in entries {
            var failed = false, count = 0
            var stack = rootHops
            while let i = stack.popLast() {
                count += 1
                if hops[i].statusClass == 3 { failed = true }
                stack += children[i]
            }
            let below = Set(rootHops.map { subtree($0, hops, children) }).sorted()
            var path = entry + ">" + (below.count == 1 ? below[0] : "(" + below.joined(separator: ",") + ")")
            if path.utf8.count > Self.maxPathBytes {
                path = String(decoding: path.utf8.prefix(Self.maxPathBytes), as: UTF8.self) + RouteTemplate.truncated
            }
            // From the first call the entry made to the end of its last: the chain as its entry saw it.
            let start = rootHops.map { hops[$0].startNanos }.min()!
            let ends = rootHops.map { r in hops[r].durationNanos.map { hops[r].startNanos + $0 } }
            let duration = ends.contains { $0 == nil } ? nil : ends.compactMap { $0 }.max()! - start
            chains.append(AssembledChain(traceID: id, entryService: entry, path: path, startNanos: start,
                                         durationNanos: duration, failed: failed, hops: count))
        }
        return (hops, chains)
    }

    /// `callee` of hop `i`, then its children's subtrees: one child as `>child`, several as
    /// `>(a,b)` with identical subtrees written once and sorted, so a chain's path names its
    /// shape (which services call which), not how often a loop ran.
    func subtree(_ i: Int, _ hops: [ChainHop], _ children: [[Int]]) -> String {
        let below = Set(children[i].map { subtree($0, hops, children) }).sorted()
        switch below.count {
        case 0: return hops[i].callee
        case 1: return hops[i].callee + ">" + below[0]
        default: return hops[i].callee + ">(" + below.joined(separator: ",") + ")"
        }
    }

    /// Pairs observations of calls (one trace's, or the untraced ones) into hops: the same span
    /// id (0 when untraced) and client endpoint are one connection's calls seen from both ends;
    /// the k-th client observation by start pairs with the k-th server one (HTTP/1 and framed
    /// Thrift answer a connection's requests in order). Hops come out unordered and unlinked.
    public func join(_ observations: [HopObservation]) -> [ChainHop] {
        // Pair client and server observations of the same hop.
        struct Ident: Hashable { var span: UInt64, client: String }
        var groups: [Ident: (client: [HopObservation], server: [HopObservation])] = [:]
        for o in observations {
            let k = Ident(span: o.spanID, client: o.clientEndpoint)
            if o.side == .client { groups[k, default: ([], [])].client.append(o) } else { groups[k, default: ([], [])].server.append(o) }
        }
        var hops: [ChainHop] = []
        for (_, g) in groups.sorted(by: { ($0.key.client, $0.key.span) < ($1.key.client, $1.key.span) }) {
            let c = g.client.sorted { $0.startNanos < $1.startNanos }
            let s = g.server.sorted { $0.startNanos < $1.startNanos }
            for i in 0..<max(c.count, s.count) {
                let cl = i < c.count ? c[i] : nil, sv = i < s.count ? s[i] : nil
                // The caller's view is the call as the chain experiences it.
                let main = cl ?? sv!
                let observers = [cl.map { _ in "client" }, sv.map { _ in "server" }].compactMap { $0 }.joined(separator: ",")
                let hosts = Set([cl?.host, sv?.host].compactMap { $0 }).sorted().joined(separator: ",")
                hops.append(ChainHop(traceID: main.traceID, spanID: main.spanID, position: 0, depth: 0, parentPosition: nil,
                                     caller: main.caller, callee: sv?.callee ?? main.callee, proto: main.proto,
                                     startNanos: main.startNanos, durationNanos: main.durationNanos ?? sv?.durationNanos,
                                     statusClass: main.statusClass, statusCode: main.statusCode,
                                     observers: observers, observerHosts: hosts, clientEndpoint: main.clientEndpoint))
            }
        }
        return hops
    }
}

/// Chains of one shape (entry service, path) in one bucket: `chain_paths`' cell.
public struct ChainPathCell: Mergeable, Equatable {
    public var chains: UInt64 = 0
    /// Chains with a hop in status class server error.
    public var failedChains: UInt64 = 0
    public var hops: UInt64 = 0
    /// The entry hop's duration (ns).
    public var latency: ExponentialHistogram

    public init(scale: Int) { latency = ExponentialHistogram(scale: scale) }

    public mutating func add(_ c: AssembledChain) {
        chains &+= 1
        if c.failed { failedChains &+= 1 }
        hops &+= UInt64(c.hops)
        if let d = c.durationNanos { latency.record(UInt64(max(0, d))) }
    }

    public var errorRatio: Double { chains == 0 ? 0 : Double(failedChains) / Double(chains) }

    public mutating func merge(_ o: ChainPathCell) {
        chains &+= o.chains
        failedChains &+= o.failedChains
        hops &+= o.hops
        latency.merge(o.latency)
    }
}

extension ChainAssembler {
    /// Joins the observations of every host, each array in `HopObservation.storageOrder`,
    /// one trace id at a time (a k-way merge: only the current trace's observations are held
    /// besides the output), and hands each trace's hops and chains to `emit`. Untraced
    /// observations (they sort last) are paired among themselves and come out last, with no chain.
    public func merge(hosts: [[HopObservation]], emit: ([ChainHop], [AssembledChain]) -> Void) {
        var heads = [Int](repeating: 0, count: hosts.count)
        while true {
            var next: TraceID?
            var anyUntraced = false
            for (h, obs) in hosts.enumerated() where heads[h] < obs.count {
                if let t = obs[heads[h]].traceID { next = next.map { min($0, t) } ?? t } else { anyUntraced = true }
            }
            guard let id = next else {
                if anyUntraced {
                    let rest = hosts.enumerated().flatMap { h, obs in obs[heads[h]...] }
                    emit(join(rest).sorted { ($0.startNanos, $0.clientEndpoint) < ($1.startNanos, $1.clientEndpoint) }, [])
                }
                return
            }
            var trace: [HopObservation] = []
            for (h, obs) in hosts.enumerated() {
                while heads[h] < obs.count, obs[heads[h]].traceID == id {
                    trace.append(obs[heads[h]])
                    heads[h] += 1
                }
            }
            let (hops, chains) = assemble(trace: trace)
            emit(hops, chains)
        }
    }
}

extension TraceID {
    /// From 32 hex digits (either case); nil otherwise or when all zero.
    public init?(hex: String) {
        let u = Array(hex.utf8)
        guard u.count == 32, let h = UInt64(String(decoding: u[0..<16], as: UTF8.self), radix: 16),
              let l = UInt64(String(decoding: u[16..<32], as: UTF8.self), radix: 16), h != 0 || l != 0 else { return nil }
        self.init(high: h, low: l)
    }
}
