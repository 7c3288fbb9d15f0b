import DevSupport
import Testing
@testable import Aggregates

@Suite struct CallChainsTests {
    static let trace = TraceID(high: 0x0AF7_6519_16CD_43DD, low: 0x8448_EB21_1C80_319C)

    /// Both sides of one hop, as two hosts' collectors record it.
    static func hop(_ caller: String, _ callee: String, span: UInt64, start: Int64, duration: Int64,
                    status: UInt8 = 1, trace: TraceID? = trace, sides: [HopObservation.Side] = [.client, .server]) -> [HopObservation] {
        sides.map { side in
            // The server sees the request a little later and answers a little sooner.
            let skew: Int64 = side == .server ? 50_000 : 0
            return HopObservation(traceID: trace, spanID: span, caller: caller, callee: callee, side: side,
                                  clientEndpoint: "198.18.1.\(caller.utf8.count):\(40000 + start / 1000 % 20000)",
                                  host: side == .client ? "host-\(caller)" : "host-\(callee)", proto: "http1",
                                  startNanos: start + skew, durationNanos: duration - 2 * skew,
                                  statusClass: status, statusCode: status == 3 ? 503 : 200)
        }
    }

    @Test func joinsBothSidesAndBuildsTheTree() {
        let ms: Int64 = 1_000_000
        var obs = Self.hop("client", "frontend", span: 1, start: 0, duration: 50 * ms)
        obs += Self.hop("frontend", "api", span: 2, start: 1 * ms, duration: 30 * ms)
        obs += Self.hop("api", "db", span: 3, start: 2 * ms, duration: 10 * ms, status: 3)
        obs += Self.hop("api", "cache", span: 3, start: 15 * ms, duration: 5 * ms)
        obs += Self.hop("frontend", "cache", span: 2, start: 35 * ms, duration: 5 * ms, sides: [.server])
        let (hops, chains) = ChainAssembler().assemble(trace: obs.shuffled())
        #expect(hops.count == 5)
        #expect(hops.map(\.callee) == ["frontend", "api", "db", "cache", "cache"])
        #expect(hops.map(\.depth) == [1, 2, 3, 3, 2])
        #expect(hops.map(\.parentPosition) == [nil, 0, 1, 1, 0])
        #expect(hops[0].observers == "client,server")
        #expect(hops[0].observerHosts == "host-client,host-frontend")
        #expect(hops[4].observers == "server")
        #expect(hops[0].startNanos == 0 && hops[0].durationNanos == 50 * ms, "the caller's view wins")
        #expect(chains.count == 1)
        #expect(chains[0].entryService == "client")
        #expect(chains[0].path == "client>frontend>(api>(cache,db),cache)")
        #expect(chains[0].failed)
        #expect(chains[0].hops == 5)
        #expect(chains[0].durationNanos == 50 * ms)
    }

    @Test func anEntryCallingTwoServicesIsOneChain() {
        let ms: Int64 = 1_000_000
        var obs = Self.hop("web", "checkout", span: 1, start: 0, duration: 10 * ms)
        obs += Self.hop("web", "search", span: 1, start: 12 * ms, duration: 5 * ms)
        obs += Self.hop("search", "inventory", span: 2, start: 13 * ms, duration: 2 * ms)
        let (hops, chains) = ChainAssembler().assemble(trace: obs)
        #expect(hops.map(\.depth) == [1, 1, 2])
        #expect(chains.count == 1)
        #expect(chains.first?.path == "web>(checkout,search>inventory)")
        #expect(chains.first?.durationNanos == 17 * ms, "first call's start to the last one's end")
        #expect(chains.first?.hops == 3)
    }

    @Test func aServiceCalledTwiceChildrenGoToTheCallThatContainsThem() {
        let ms: Int64 = 1_000_000
        var obs = Self.hop("client", "a", span: 1, start: 0, duration: 100 * ms)
        obs += Self.hop("a", "b", span: 2, start: 1 * ms, duration: 10 * ms)
        obs += Self.hop("a", "b", span: 2, start: 20 * ms, duration: 30 * ms)
        obs += Self.hop("b", "c", span: 3, start: 25 * ms, duration: 5 * ms)
        let (hops, _) = ChainAssembler().assemble(trace: obs)
        #expect(hops.count == 4, "two calls a>b with the same span id stay two hops")
        #expect(hops[3].callee == "c" && hops[3].parentPosition == 2)
    }

    @Test func aBrokenChainIsTwoChainsNeverOne() {
        // frontend -> legacy carries the id; legacy -> worker does not; worker starts a new trace.
        let ms: Int64 = 1_000_000
        let other = TraceID(high: 7, low: 7)
        var first = Self.hop("client", "frontend", span: 1, start: 0, duration: 40 * ms)
        first += Self.hop("frontend", "legacy", span: 2, start: 1 * ms, duration: 30 * ms)
        let untraced = Self.hop("legacy", "worker", span: 0, start: 2 * ms, duration: 20 * ms, trace: nil)
        let second = Self.hop("worker", "db", span: 9, start: 3 * ms, duration: 5 * ms, trace: other)
        let a = ChainAssembler().assemble(trace: first)
        let b = ChainAssembler().assemble(trace: second)
        #expect(a.chains.map(\.path) == ["client>frontend>legacy"])
        #expect(b.chains.map(\.path) == ["worker>db"])
        #expect(ChainAssembler().assemble(trace: untraced).hops.isEmpty, "untraced hops are never assembled")
        let u = ChainAssembler().join(untraced)
        #expect(u.count == 1 && u[0].observers == "client,server", "both ends of the untraced call pair by their connection")
        #expect(u.allSatisfy { $0.traceID == nil && $0.depth == 0 && $0.parentPosition == nil })
    }

    @Test func storageOrderGroupsTracesAndPutsUntracedLast() {
        var rng = SplitMix64(seed: 11)
        var obs: [HopObservation] = []
        for i in 0..<200 {
            let t: TraceID? = i % 7 == 0 ? nil : TraceID(high: rng.next() % 5, low: rng.next() % 3 + 1)
            obs += Self.hop("a", "b", span: UInt64(i), start: Int64(rng.next() % 1000), duration: 10, trace: t)
        }
        let sorted = obs.sorted(by: HopObservation.storageOrder)
        var seen = Set<TraceID?>()
        var previous: TraceID?? = .none
        for o in sorted {
            if previous != .some(o.traceID) {
                #expect(!seen.contains(o.traceID), "one run per trace id")
                seen.insert(o.traceID)
            }
            previous = .some(o.traceID)
        }
        #expect(sorted.last?.traceID == nil)
    }

    @Test func traceIDsReadFromRecordBytes() {
        let bytes: [UInt8] = [0x0A, 0xF7, 0x65, 0x19, 0x16, 0xCD, 0x43, 0xDD, 0x84, 0x48, 0xEB, 0x21, 0x1C, 0x80, 0x31, 0x9C]
        #expect(TraceID(bytes: bytes) == Self.trace)
        #expect(Self.trace.hex == "0af7651916cd43dd8448eb211c80319c")
        #expect(TraceID(bytes: [UInt8](repeating: 0, count: 16)) == nil)
        #expect(TraceID(bytes: [UInt8](repeating: 1, count: 15)) == nil)
    }
}

@Suite struct ChainMergeTests {
    @Test func theMergeOfSortedHostsEqualsAssemblingEachTraceWhole() {
        var rng = SplitMix64(seed: 3)
        var byTrace: [TraceID: [HopObservation]] = [:]
        var untraced: [HopObservation] = []
        for i in 0..<300 {
            let t = TraceID(high: 0, low: rng.next() % 40 + 1)
            let start = Int64(rng.next() % 1_000_000_000)
            let services = ["a", "b", "c", "d"]
            let caller = services[Int(rng.next() % 3)]
            let callee = services[services.firstIndex(of: caller)! + 1]
            let hop = CallChainsTests.hop(caller, callee, span: rng.next() % 4, start: start, duration: 1_000_000, trace: i % 10 == 0 ? nil : t)
            if i % 10 == 0 { untraced += hop } else { byTrace[t, default: []] += hop }
        }
        // Scatter the observations over three hosts, each sorted as partials are written.
        var hosts = [[HopObservation]](repeating: [], count: 3)
        for o in byTrace.values.joined() + untraced { hosts[Int(rng.next() % 3)].append(o) }
        hosts = hosts.map { $0.sorted(by: HopObservation.storageOrder) }
        var merged: [ChainHop] = [], chains: [AssembledChain] = []
        ChainAssembler().merge(hosts: hosts) { merged += $0; chains += $1 }
        var expected: [ChainHop] = [], expectedChains: [AssembledChain] = []
        for t in byTrace.keys.sorted() {
            let r = ChainAssembler().assemble(trace: byTrace[t]!)
            expected += r.hops
            expectedChains += r.chains
        }
        #expect(merged.filter { $0.traceID != nil } == expected)
        #expect(chains == expectedChains)
        #expect(merged.filter { $0.traceID == nil } == ChainAssembler().join(untraced).sorted { ($0.startNanos, $0.clientEndpoint) < ($1.startNanos, $1.clientEndpoint) })
        var cell = ChainPathCell(scale: 4)
        for c in chains { cell.add(c) }
        #expect(cell.chains == UInt64(chains.count))
        #expect(cell.hops == UInt64(expected.count))
    }
}
