import CLibBPF
import CRedlineABI
import Glibc

/// A record (or kernel-only sample) read from `rl_events`.
public enum KernelRecord {
    case flowDelta(rl_flow_delta)
    /// A call; `prefix` holds the request bytes the rule asked to capture
    /// (RL_KSAMPLE_CALL_WITH_PREFIX), for the collector to parse.
    case call(rl_l7_call, prefix: [UInt8]?)
    case tcpEvent(rl_tcp_event)
    /// A sample of a type this build does not know, or too short for its type.
    case unknown(type: UInt16, bytes: Int)

    /// Decodes one ring sample; never traps on any input.
    public init(_ s: RingSample) {
        switch Int(s.type) {
        case Int(RL_REC_FLOW_DELTA.rawValue):
            if let d = load(rl_flow_delta.self, from: s.record) { self = .flowDelta(d); return }
        case Int(RL_REC_L7_CALL.rawValue):
            if let c = load(rl_l7_call.self, from: s.record) { self = .call(c, prefix: nil); return }
        case Int(RL_KSAMPLE_CALL_WITH_PREFIX.rawValue):
            let callSize = MemoryLayout<rl_l7_call>.size
            if let c = load(rl_l7_call.self, from: s.record),
                let len = load(UInt16.self, from: s.record, offset: callSize)
            {
                let start = callSize + 8
                let n = min(Int(len), Int(RL_CAPTURE_MAX), max(0, s.record.count - start))
                self = .call(c, prefix: Array(s.record[start..<start + n]))
                return
            }
        case Int(RL_REC_TCP_EVENT.rawValue):
            if let e = load(rl_tcp_event.self, from: s.record) { self = .tcpEvent(e); return }
        default:
            break
        }
        self = .unknown(type: s.type, bytes: s.record.count)
    }
}

/// Kernel counters summed over CPUs (`struct rl_kstats`). Running totals
/// since load; the collector turns differences into `rl_stats` records.
public struct KernelStats: Sendable, Equatable {
    public var emitted = [UInt64](repeating: 0, count: Int(RL_KSTAT_TYPES))
    public var ringbufDropped = [UInt64](repeating: 0, count: Int(RL_KSTAT_TYPES))
    public var rateCapped = [UInt64](repeating: 0, count: Int(RL_KSTAT_TYPES))
    public var unpairedRequest = [UInt64](repeating: 0, count: Int(RL_KSTAT_PROTOS))
    public var unpairedResponse = [UInt64](repeating: 0, count: Int(RL_KSTAT_PROTOS))
    public var idOptionMissing: UInt64 = 0
    public var idOptionSeen: UInt64 = 0
    public var parseErrors: UInt64 = 0
    public var filtered: UInt64 = 0
    /// TCP payload segments wholly retransmitted: skipped by classification and message walking.
    public var retransmitsSkipped: UInt64 = 0
    /// Message walks that lost sync (messages uncounted until a segment starts one).
    public var streamLost: UInt64 = 0

    public init() {}
}

/// Redline's kernel data plane: `redline.bpf.o` loaded, configured through
/// its maps, attached where the caller says. The layer `redline collect`
/// and the lab use. Not thread-safe for configuration; map reads are.
public final class DataPlane {
    /// The programs of redline.bpf.o.
    public enum ProgramName: String, CaseIterable, Sendable {
        case tcEgress = "rl_tc_egress", tcIngress = "rl_tc_ingress", tcProbe = "rl_tc_probe"
        case sockops = "rl_sockops"
        case retransmit = "rl_tp_retransmit", sendReset = "rl_tp_send_reset"
        case receiveReset = "rl_tp_receive_reset", kfreeSkb = "rl_tp_kfree_skb"
        /// iter/tcp: the identity option on listeners older than the collector (bpf/src/rl_listeners.h).
        case existingListeners = "rl_iter_listeners"
    }

    public let object: LoadedObject
    public let config: Map
    public let ruleset: Map
    public let ruleHits: Map
    public let kstats: Map
    public let events: Map
    public let cgroupService: Map
    public let filterCIDR: Map
    public let filterPort: Map
    public let filterClassid: Map
    public let udpFlows: Map
    public let loss: Map
    public let scope: Map

    /// Ring-buffer sizes the collector accepts, bytes: powers of two from 256 KiB to 1 GiB
    /// (the kernel wants a power-of-two multiple of the page size; 4 KiB and 64 KiB pages
    /// both divide 256 KiB). The ring is allocated once, in the kernel, at load.
    public static let ringBufferBytesRange = (256 << 10)...(1 << 30)
    /// The size redline.bpf.o declares (rl_maps.h).
    public static let defaultRingBufferBytes = 4 << 20

    /// Opens and loads `path` (normally `<package>/bpf/build/redline.bpf.o`),
    /// loading only `programs` (default: all), with a ring buffer of `ringBufferBytes`
    /// (nil: the object's own size; otherwise a power of two in `ringBufferBytesRange`).
    /// - Throws: `KernelProbeError.loadFailed` with the verifier log; `mapOperation` (EINVAL)
    ///   for a ring size outside the range or not a power of two, before anything loads
    ///   (libbpf would silently round it up).
    public init(objectPath path: String, programs: Set<ProgramName> = Set(ProgramName.allCases),
                ringBufferBytes: Int? = nil) throws {
        let spec = try ObjectSpec(path: path)
        try spec.loadOnly(Set(programs.map(\.rawValue)))
        if let n = ringBufferBytes {
            guard Self.ringBufferBytesRange.contains(n), n & (n - 1) == 0 else {
                throw KernelProbeError.mapOperation(
                    map: "rl_events", operation: "ring size \(n) bytes (a power of two from 256 KiB to 1 GiB)", errno: EINVAL)
            }
            try spec.setMaxEntries(map: "rl_events", UInt32(n))
        }
        object = try spec.load()
        config = try object.map("rl_config")
        ruleset = try object.map("rl_ruleset")
        ruleHits = try object.map("rl_rule_hits")
        kstats = try object.map("rl_kstats")
        events = try object.map("rl_events")
        cgroupService = try object.map("rl_cgroup_service")
        filterCIDR = try object.map("rl_filter_cidr")
        filterPort = try object.map("rl_filter_port")
        filterClassid = try object.map("rl_filter_classid")
        udpFlows = try object.map("rl_udp_flows")
        loss = try object.map("rl_loss")
        scope = try object.map("rl_scope")
    }

    /// One entry of `rl_loss`: lost events of one owner and kind in one second, summed over CPUs
    /// (a running count; the kernel may still add to it while its second is current).
    public struct LossEntry: Sendable {
        public var key: rl_loss_key
        public var count: UInt64

        public init(key: rl_loss_key, count: UInt64) {
            self.key = key
            self.count = count
        }
    }

    /// Every entry of `rl_loss` with its count summed over CPUs.
    public func lossEntries() throws -> [LossEntry] {
        var out: [LossEntry] = []
        for keyBytes in try loss.keys() {
            guard let key = load(rl_loss_key.self, from: keyBytes), let v = try loss.lookup(key: keyBytes) else { continue }
            var sum: UInt64 = 0
            for cpu in 0..<Map.possibleCPUs { sum &+= load(UInt64.self, from: v, offset: cpu * 8) ?? 0 }
            out.append(LossEntry(key: key, count: sum))
        }
        return out
    }

    /// Removes an `rl_loss` entry whose second is over (its count is final).
    public func deleteLoss(_ key: rl_loss_key) throws {
        try loss.delete(key: bytes(of: key))
    }

    public func program(_ p: ProgramName) throws -> Program { try object.program(p.rawValue) }

    /// Sets one runtime configuration entry (units per key: redline_maps.h).
    public func set(_ key: rl_config_key, _ value: UInt64) throws {
        try config.update(key: bytes(of: UInt32(key.rawValue)), value: bytes(of: value))
    }

    /// Writes `c` to the kernel: the filter maps emptied and refilled, then every `rl_config`
    /// entry of `c.entries` (the filter bits last, so no packet sees them before the entries).
    /// Programs keep running; a packet in flight may see the old settings.
    public func apply(_ c: KernelConfig) throws {
        for m in [filterCIDR, filterPort, filterClassid] {
            for k in try m.keys() { _ = try m.delete(key: k) }
        }
        for f in c.filters {
            switch f {
            case .cidr(let block, let a):
                try addCIDR(block.address, prefixLength: block.prefixLength, action: Self.action(a))
            case .port(let port, let l4, let a):
                for p in l4.map({ [$0] }) ?? [6, 17] { try addPort(port, l4Proto: p, action: Self.action(a)) }
            case .classid(let id, let source, let a):
                try addClassid(id, direction: source ? RL_CLASSID_SOURCE : RL_CLASSID_DESTINATION, action: Self.action(a))
            case .l7Deny:
                break
            }
        }
        for e in c.entries { try set(e.key, e.value) }
    }

    private static func action(_ a: KernelConfig.Filter.Action) -> rl_filter_action {
        a == .allow ? RL_FILTER_ALLOW : RL_FILTER_DENY
    }

    /// Reads one runtime configuration entry.
    public func get(_ key: rl_config_key) throws -> UInt64 {
        guard let v = try config.lookup(key: bytes(of: UInt32(key.rawValue))) else { return 0 }
        return load(UInt64.self, from: v) ?? 0
    }

    /// Installs `rules` without reloading any program: writes the inactive
    /// generation, then flips RL_CFG_RULE_GENERATION to it. Packets in flight
    /// finish against the generation they started with.
    public func install(_ rules: RuleSet) throws {
        let compiled = try rules.compile()
        let next = (try get(RL_CFG_RULE_GENERATION) & 1) ^ 1
        try ruleset.update(key: bytes(of: UInt32(next)), value: bytes(of: compiled))
        try set(RL_CFG_RULE_GENERATION, next)
    }

    /// Payloads each rule id matched, summed over CPUs (ids with zero hits omitted).
    public func ruleHitCounts() throws -> [Int: UInt64] {
        var out: [Int: UInt64] = [:]
        for id in 1..<Int(RL_MAX_RULE_ID) {
            guard let v = try ruleHits.lookup(key: bytes(of: UInt32(id))) else { continue }
            var sum: UInt64 = 0
            for cpu in 0..<Map.possibleCPUs { sum &+= load(UInt64.self, from: v, offset: cpu * 8) ?? 0 }
            if sum > 0 { out[id] = sum }
        }
        return out
    }

    /// The kernel's counters summed over CPUs.
    public func stats() throws -> KernelStats {
        var s = KernelStats()
        guard let v = try kstats.lookup(key: bytes(of: UInt32(0))) else { return s }
        let slot = (MemoryLayout<rl_kstats>.size + 7) / 8 * 8
        for cpu in 0..<Map.possibleCPUs {
            guard let k = load(rl_kstats.self, from: v, offset: cpu * slot) else { continue }
            func add(_ dst: inout [UInt64], _ tuple: some Any) {
                withUnsafeBytes(of: tuple) { raw in
                    for i in 0..<dst.count { dst[i] &+= raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self) }
                }
            }
            add(&s.emitted, k.emitted)
            add(&s.ringbufDropped, k.ringbuf_dropped)
            add(&s.rateCapped, k.rate_capped)
            add(&s.unpairedRequest, k.unpaired_request)
            add(&s.unpairedResponse, k.unpaired_response)
            s.idOptionMissing &+= k.id_option_missing
            s.idOptionSeen &+= k.id_option_seen
            s.parseErrors &+= k.parse_errors
            s.filtered &+= k.filtered
            s.retransmitsSkipped &+= k.retransmits_skipped
            s.streamLost &+= k.stream_lost
        }
        return s
    }

    /// Flushes UDP flows idle for at least `idleNanoseconds`: their unreported
    /// counters (summed over CPUs) become one closing `rl_flow_delta` each, and
    /// the entries are deleted, so a quiet UDP flow is reported without waiting
    /// for a packet that may never come. `now` is CLOCK_MONOTONIC_COARSE ns,
    /// the clock the kernel stamps UDP flows with. Flows the kernel's filters
    /// denied are deleted without a record. A packet racing the delete may be
    /// lost from the counts (it starts a new entry otherwise).
    public func sweepIdleUDPFlows(idleNanoseconds: UInt64, now: UInt64 = DataPlane.coarseNow()) throws -> [rl_flow_delta] {
        var out: [rl_flow_delta] = []
        let slot = (MemoryLayout<rl_udp_flow>.size + 7) / 8 * 8
        for keyBytes in try udpFlows.keys() {
            guard let key = load(rl_udp_key.self, from: keyBytes),
                let values = try udpFlows.lookup(key: keyBytes)
            else { continue }
            var d = rl_flow_delta()
            var last: UInt64 = 0
            var first = UInt64.max
            var opened = false
            var denied = false
            for cpu in 0..<Map.possibleCPUs {
                guard let f = load(rl_udp_flow.self, from: values, offset: cpu * slot) else { continue }
                last = max(last, f.last_ns)
                if f.first_ns != 0 { first = min(first, f.first_ns) }
                if f.opened_sent != 0 { opened = true }
                if f.verdict == UInt8(RL_FILTER_DENY.rawValue) { denied = true }
                if d.l7_proto == 0 { d.l7_proto = f.l7_proto }
                d.tx_bytes &+= f.tx_bytes
                d.rx_bytes &+= f.rx_bytes
                d.tx_packets &+= UInt64(f.tx_packets)
                d.rx_packets &+= UInt64(f.rx_packets)
                d.tx_payload_bytes &+= f.tx_payload_bytes
                d.rx_payload_bytes &+= f.rx_payload_bytes
            }
            guard last &+ idleNanoseconds <= now else { continue }
            try udpFlows.delete(key: keyBytes)
            guard !denied, d.tx_packets + d.rx_packets > 0 else { continue }
            d.start_ns = first == .max ? last : first
            d.end_ns = last
            withUnsafeMutableBytes(of: &d.laddr) { dst in withUnsafeBytes(of: key.laddr) { dst.copyMemory(from: $0) } }
            withUnsafeMutableBytes(of: &d.raddr) { dst in withUnsafeBytes(of: key.raddr) { dst.copyMemory(from: $0) } }
            d.lport = key.lport
            d.rport = key.rport
            d.family = key.family
            d.l4_proto = 17
            d.flags = UInt32(RL_FLOW_CLOSED.rawValue) | (opened ? 0 : UInt32(RL_FLOW_OPENED.rawValue))
            out.append(d)
        }
        return out
    }

    /// CLOCK_MONOTONIC_COARSE in ns (the kernel's `bpf_ktime_get_coarse_ns`).
    public static func coarseNow() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC_COARSE, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Gives listening sockets that existed before the sockops program was attached what
    /// `TCP_LISTEN_CB` gives new ones (saved SYNs, the header-option callback, their service
    /// for the SYN-ACK), by running `rl_iter_listeners` over one network namespace: the one at
    /// `netns` (a path such as /run/netns/NAME), or the calling thread's. Only listeners whose
    /// cgroup is `cgroupID` (at depth `cgroupLevel` below the v2 root) or below it are touched.
    /// Idempotent. Returns one report per listener touched.
    public func enableExistingListeners(cgroupID: UInt64, cgroupLevel: UInt32, netns: String? = nil) throws -> [rl_listener_report] {
        try scope.update(key: bytes(of: UInt32(0)), value: bytes(of: rl_scope(cgroup_id: cgroupID, cgroup_level: cgroupLevel, pad: 0)))
        let walker = try program(.existingListeners)
        let out: [UInt8]
        if let netns {
            // An iterator walks the namespace of the thread that opens it.
            final class Walk {
                let program: Program
                var result: Result<[UInt8], any Error> = .success([])
                init(_ p: Program) { program = p }
            }
            let walk = Walk(walker)
            let rc = clibbpf_in_netns(netns, { ctx in
                let w = Unmanaged<Walk>.fromOpaque(ctx!).takeUnretainedValue()
                w.result = Result { try w.program.runIterator() }
                return 0
            }, Unmanaged.passUnretained(walk).toOpaque())
            guard rc == 0 else { throw KernelProbeError.fileOpen(path: netns, errno: -rc) }
            out = try walk.result.get()
        } else {
            out = try walker.runIterator()
        }
        let size = MemoryLayout<rl_listener_report>.size
        return stride(from: 0, to: out.count - size + 1, by: size).compactMap { load(rl_listener_report.self, from: out, offset: $0) }
    }

    /// Maps a cgroup v2 id (the inode number of its directory) to a service id.
    public func setService(cgroupID: UInt64, serviceID: UInt32) throws {
        try cgroupService.update(key: bytes(of: cgroupID), value: bytes(of: serviceID))
    }

    /// Adds a remote-address prefix filter entry. `address` is 4 or 16 bytes;
    /// `prefixLength` counts bits of that address.
    public func addCIDR(_ address: [UInt8], prefixLength: Int, action: rl_filter_action) throws {
        var key = rl_cidr_key()
        var mapped = address
        var bits = prefixLength
        if address.count == 4 {
            mapped = [UInt8](repeating: 0, count: 10) + [0xff, 0xff] + address
            bits += 96
        }
        key.prefixlen = UInt32(bits)
        withUnsafeMutableBytes(of: &key.addr) { a in for (i, b) in mapped.prefix(16).enumerated() { a[i] = b } }
        try filterCIDR.update(key: bytes(of: key), value: bytes(of: UInt32(action.rawValue)))
    }

    /// Adds a port filter entry (matches the local or the remote port).
    public func addPort(_ port: UInt16, l4Proto: UInt8, action: rl_filter_action) throws {
        let key = rl_port_key(port: port, l4_proto: l4Proto, pad: 0)
        try filterPort.update(key: bytes(of: key), value: bytes(of: UInt32(action.rawValue)))
    }

    /// Adds a classid filter entry.
    public func addClassid(_ classid: UInt32, direction: rl_classid_dir, action: rl_filter_action) throws {
        let key = rl_classid_key(classid: classid, dir: UInt32(direction.rawValue))
        try filterClassid.update(key: bytes(of: key), value: bytes(of: UInt32(action.rawValue)))
    }
}
