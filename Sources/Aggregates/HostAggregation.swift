import CRedlineABI
import Enrichment
import Timebase

/// Name ids every run uses.
struct FixedIDs {
    let server, client, source, destination, tcp, udp: Int32
    init(_ names: inout NamePool) {
        server = names.id("server")
        client = names.id("client")
        source = names.id("source")
        destination = names.id("destination")
        tcp = names.id("tcp")
        udp = names.id("udp")
    }

}

/// A record's 16-byte address field as a `NetworkAddress`.
@inline(__always)
func address<T>(_ field: T) -> NetworkAddress {
    withUnsafeBytes(of: field) { b in
        NetworkAddress(high: UInt64(bigEndian: b.loadUnaligned(as: UInt64.self)),
                       low: UInt64(bigEndian: b.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
    }
}

/// A call's resolved ends (`NamePool` ids) and where it fell, as `CallAggregator`s see it.
public struct CallEnds: Sendable {
    public var caller, callee, proto: Int32
    /// `server` or `client` name id: whose socket saw the call.
    public var observer: Int32
    /// The service owning the observing socket (the callee on the server side, the caller on
    /// the client side): with `proto` and `observer`, the loss class of the call.
    public var local: Int32
    public var isServer: Bool
    /// Start of the call's bucket and its corrected start time, UTC ns.
    public var bucketStart, utcNanos: Int64
}

/// Cells of tables declared outside this module that are filled from calls (`HostAggregation`
/// calls `add` for every call that lands in the partition, after the built-in tables, and
/// `finish` once with the completeness of a row of calls: its weight in calls, the class of its
/// calls, its bucket start). The caller reads its rows back from `HostAggregation.callAggregator`.
public protocol CallAggregator: Sendable {
    mutating func add(_ call: rl_l7_call, _ ends: CallEnds, names: inout NamePool)
    mutating func finish(names: inout NamePool,
                         completeness: (_ weight: UInt64, _ ends: CallEnds, _ bucketStart: Int64) -> Completeness)
}

/// What one host's aggregation counted (the manifest's per-host counters hold them).
public struct AggregationCounters: Sendable, Equatable {
    /// Calls, flow deltas and TCP events that landed in the partition.
    public var aggregated: UInt64 = 0
    /// Records whose corrected time lies in another partition (they belong to its run).
    public var otherPartition: UInt64 = 0
    /// Records whose time could not be corrected (no anchors, or beyond the extrapolation limit).
    public var uncorrectable: UInt64 = 0
    /// Aggregated records whose local / remote service resolved to `unknown`.
    public var unknownLocal: UInt64 = 0
    public var unknownRemote: UInt64 = 0
    /// The largest time-correction error bound of an aggregated record (ns); nil when none was.
    public var maxTimeUncertaintyNanos: UInt64?
}

/// The tables a run writes besides red_service (always aggregated: the run's summary reads it).
public struct AggregatedTables: Sendable {
    public var redEdge, trafficMatrix, tcpHealth, tcpDrops: Bool

    public init(redEdge: Bool, trafficMatrix: Bool, tcpHealth: Bool, tcpDrops: Bool) {
        self.redEdge = redEdge
        self.trafficMatrix = trafficMatrix
        self.tcpHealth = tcpHealth
        self.tcpDrops = tcpDrops
    }
}

/// Pass 2's per-record work for one host and one partition: time correction, enrichment and
/// aggregation into every table's cells, with each row's completeness. Feed it the host's
/// records block by block (`calls`, `flows`, `tcpEvents`, `stats`, `losses`), setting `cursor`
/// to the timeline of each segment's boot, then `finish`. Memory is bounded by the number of
/// groups. All per-record state lives in this one struct whose methods run over `inout self`: a
/// closure capturing a dozen locals pays boxing, retains and exclusivity checks per record.
public struct HostAggregation {
    var agg = PartitionAggregates()
    public private(set) var counters = AggregationCounters()
    var resolver: EnrichmentCache
    /// Latest corrected event time aggregated (UTC ns).
    var watermark: Int64?
    /// Largest time-correction error bound of a record aggregated (ns); meaningful once
    /// `watermark` is set.
    var maxUncertainty: UInt64 = 0
    /// The current file's cursor on its boot's timeline; nil when that boot has no anchors.
    public var cursor: Timeline.Cursor?
    /// The corrected time of the record `bucket` placed last (UTC ns).
    var lastUTC: Int64 = 0
    /// Tables filled from calls by another module, told of every call of the partition.
    public var callAggregator: (any CallAggregator)?
    let start, end, width: Int64
    let scale: Int
    let ids: FixedIDs
    /// Optional tables are only aggregated when written (red_service always: the run's summary reads it).
    let wantEdge, wantTraffic, wantHealth, wantDrops: Bool
    /// Losses placed in buckets, as precisely as their records could say whose they were;
    /// charged to classes and rows by `finish`.
    var losses: [LossPattern: UInt64] = [:]
    /// Observed events and charged losses per class and bucket (calls' observed counts are
    /// taken from their cells by `finish`).
    var ledger = ClassLedger()
    /// red_service cells by bucket and dense group id (`serviceGroups`); folded into
    /// `agg.redService` by `finish`. Cells with no request are padding.
    var serviceCells: BucketCells<REDCell>
    let bucketCount: Int
    var serviceGroups = GroupTable<ServiceGroup>()
    /// Calls' red_edge cells and traffic_matrix call counts, as `serviceCells` (by `edgeGroups`
    /// / `trafficGroups` id), only for the tables written; folded into `agg` by `finish`.
    var edgeCells: BucketCells<REDCell>
    var edgeGroups = GroupTable<EdgeKey>()
    var trafficCalls: BucketCells<UInt64>
    var trafficGroups = GroupTable<TrafficKey>()
    /// Direct-mapped cache of resolved call shapes (see `CallShape`): a slot holds 1 + the
    /// index of its entry in `shapeEntries` (0: empty), so the table a call hashes into stays
    /// small enough for the cache and the entries, a few thousand, lie together.
    var shapes: [Int32]
    var shapeEntries: [ShapeEntry] = []
    /// Each shape's entry: a shape evicted from its slot by another comes back to its entry.
    var shapeIndex: [CallShape: Int32] = [:]

    /// Aggregates events in [`startNanos`, `endNanos`) UTC into buckets of `bucketNanos`
    /// aligned on `startNanos`, latencies into histograms of `histogramScale`.
    public init(startNanos: Int64, endNanos: Int64, bucketNanos: Int64, histogramScale: Int, enrichment: EnrichmentCache,
                tables: AggregatedTables, names: inout NamePool) {
        ids = FixedIDs(&names)
        resolver = enrichment
        start = startNanos
        end = endNanos
        width = bucketNanos
        scale = histogramScale
        wantEdge = tables.redEdge
        wantTraffic = tables.trafficMatrix
        wantHealth = tables.tcpHealth
        wantDrops = tables.tcpDrops
        bucketCount = Int((end - start + width - 1) / width)
        serviceCells = BucketCells(buckets: bucketCount, empty: REDCell(scale: histogramScale))
        edgeCells = BucketCells(buckets: bucketCount, empty: REDCell(scale: histogramScale))
        trafficCalls = BucketCells(buckets: bucketCount, empty: 0)
        shapes = [Int32](repeating: 0, count: CallShape.slots)
    }

    /// Corrects a monotonic time and returns its bucket number in the partition, or nil (counted).
    @inline(__always)
    mutating func bucket(_ mono: UInt64) -> Int? {
        // In place: copying the cursor would retain and release its timeline's arrays per record.
        guard case .success(let t)? = cursor?.correct(monotonicNanos: mono) else {
            counters.uncorrectable += 1
            return nil
        }
        let u = t.utcNanos
        guard u >= start && u < end else { counters.otherPartition += 1; return nil }
        if u > (watermark ?? .min) { watermark = u }
        lastUTC = u
        maxUncertainty = max(maxUncertainty, t.uncertaintyNanos)
        return Int((u - start) / width)
    }

    @inline(__always)
    func bucketStart(_ i: Int) -> Int64 { start + Int64(i) * width }

    /// Both ends' services and datacenters, and where the remote service came from (name ids),
    /// unknowns not counted.
    mutating func resolve(cgroup: UInt64, localService: UInt32, peerService: UInt32, laddr: NetworkAddress,
                          raddr: NetworkAddress, names: inout NamePool) -> Endpoints {
        let local = resolver.local(cgroup: cgroup, serviceID: localService, names: &names)
        let remote = resolver.remote(peerServiceID: peerService, address: raddr, names: &names)
        return Endpoints(local: local, remote: remote.service, localDC: resolver.datacenter(laddr, names: &names),
                         remoteDC: resolver.datacenter(raddr, names: &names), peerSource: remote.source)
    }

    /// Both ends' services and datacenters (unknowns counted).
    mutating func endpoints(cgroup: UInt64, localService: UInt32, peerService: UInt32, laddr: NetworkAddress,
                            raddr: NetworkAddress, names: inout NamePool) -> Endpoints {
        let r = resolve(cgroup: cgroup, localService: localService, peerService: peerService, laddr: laddr,
                        raddr: raddr, names: &names)
        countUnknowns(local: r.local, remote: r.remote)
        return r
    }

    @inline(__always)
    mutating func countUnknowns(local: Int32, remote: Int32) {
        if local == NamePool.unknown { counters.unknownLocal += 1 }
        if remote == NamePool.unknown { counters.unknownRemote += 1 }
    }

    /// The entry (index in `shapeEntries`) of a call's shape: from its cache slot, or
    /// resolved and cached on a miss (out of line, so the per-call path stays small).
    @inline(__always)
    mutating func shapeEntry(_ call: UnsafePointer<rl_l7_call>, names: inout NamePool) -> Int {
        let shape = CallShape(call)
        let entry = Int(shapes[shape.slot]) &- 1
        if entry >= 0 && shapeEntries[entry].shape == shape { return entry }
        return missedShape(call, names: &names)
    }

    /// `shapeEntry` on a miss: the shape's entry if it was evicted from its slot, else a new
    /// entry with its enrichment resolved and a group id in each call table.
    @inline(never)
    mutating func missedShape(_ call: UnsafePointer<rl_l7_call>, names: inout NamePool) -> Int {
        let shape = CallShape(call), slot = shape.slot, c = call.pointee
        if let known = shapeIndex[shape] {
            shapes[slot] = known + 1
            return Int(known)
        }
        let e = resolve(cgroup: c.cgroup_id, localService: c.local_service, peerService: c.peer_service,
                        laddr: address(c.laddr), raddr: address(c.raddr), names: &names)
        let (local, remote, localDC, remoteDC, src) = (e.local, e.remote, e.localDC, e.remoteDC, e.peerSource)
        let proto = resolver.protocolID(c.l7_proto, names: &names)
        let l4 = c.l4_proto == 17 ? ids.udp : ids.tcp
        // Group keys with bucket 0; the bucket is added when the cells are folded.
        let r = ResolvedShape(
            local: local, remote: remote, localDC: localDC, remoteDC: remoteDC, proto: proto,
            serverGroup: serviceGroups.id(ServiceGroup(service: local, proto: proto, observer: ids.server, local: local)),
            clientGroup: serviceGroups.id(ServiceGroup(service: remote, proto: proto, observer: ids.client, local: local)),
            serverEdge: edgeGroups.id(EdgeKey(bucket: 0, caller: remote, callee: local, callerDC: remoteDC,
                                              calleeDC: localDC, proto: proto, observer: ids.server, peerSource: src)),
            clientEdge: edgeGroups.id(EdgeKey(bucket: 0, caller: local, callee: remote, callerDC: localDC,
                                              calleeDC: remoteDC, proto: proto, observer: ids.client, peerSource: src)),
            serverTraffic: trafficGroups.id(TrafficKey(bucket: 0, srcDC: remoteDC, dstDC: localDC, srcService: remote,
                                                       dstService: local, l4: l4, observer: ids.destination,
                                                       peerSource: src)),
            clientTraffic: trafficGroups.id(TrafficKey(bucket: 0, srcDC: localDC, dstDC: remoteDC, srcService: local,
                                                       dstService: remote, l4: l4, observer: ids.source,
                                                       peerSource: src)))
        let entry = shapeEntries.count
        shapeIndex[shape] = Int32(entry)
        shapes[slot] = Int32(entry + 1)
        shapeEntries.append(ShapeEntry(shape: shape, resolved: r))
        // Every group's cells exist from its first call on: the per-call path only indexes.
        serviceCells.reserve(groups: serviceGroups.keys.count)
        if wantEdge { edgeCells.reserve(groups: edgeGroups.keys.count) }
        if wantTraffic { trafficCalls.reserve(groups: trafficGroups.keys.count) }
        return entry
    }

    /// One block of calls. Where the cursor gives the block one offset
    /// (`Timeline.Cursor.blockCorrection`), each call's time is corrected by one addition and
    /// the block's largest uncertainty taken from two of its calls; otherwise its two halves are
    /// taken in turn the same way, and a few calls without one offset call by call. All give
    /// the same results.
    public mutating func calls(_ calls: UnsafeBufferPointer<rl_l7_call>, names: inout NamePool) {
        guard !calls.isEmpty else { return }
        // Checked once per block: comparing the existential with nil per call copies it.
        let aggregateCalls = callAggregator != nil
        var first = UInt64.max, last: UInt64 = 0
        for c in calls {
            first = min(first, c.start_ns)
            last = max(last, c.start_ns)
        }
        // Calls are read in place: a copy of the 96-byte record per call costs more than its use.
        let base = calls.baseAddress!
        guard let block = cursor?.blockCorrection(first: first, last: last) else {
            // A block an anchor falls into straddles two pieces of the timeline: calls are
            // written in about time order, so its halves mostly have one offset each (one in
            // twelve blocks of the pipeline benchmark, corrected call by call before).
            if calls.count > Self.fewCalls {
                let half = calls.count / 2
                self.calls(UnsafeBufferPointer(rebasing: calls[..<half]), names: &names)
                self.calls(UnsafeBufferPointer(rebasing: calls[half...]), names: &names)
                return
            }
            for i in 0..<calls.count {
                guard let bi = bucket(base[i].start_ns) else { continue }
                counters.aggregated &+= 1
                add(base + i, bucket: bi, aggregateCalls: aggregateCalls, names: &names)
            }
            return
        }
        let (below, above, latest) = self.calls(base, count: calls.count, offset: block.offsetNanos, peak: block.peakNanos,
                                                aggregateCalls: aggregateCalls, names: &names)
        guard latest > .min else { return }
        if latest > (watermark ?? .min) { watermark = latest }
        maxUncertainty = max(maxUncertainty, block.maxUncertaintyNanos(highestAtOrBelowPeak: below > 0 ? below : nil,
                                                                       lowestAbovePeak: above < .max ? above : nil))
    }

    /// The calls of a block with one offset (`calls(_:names:)`), in a function of their own:
    /// small enough a caller for `add` to be inlined into its loop. Returns, of the calls in
    /// the partition, the highest time at or below `peak` and the lowest above it (0 and .max:
    /// none; the block's times are above 0 and below 2^62), and the latest corrected time.
    mutating func calls(_ base: UnsafePointer<rl_l7_call>, count: Int, offset: Int64, peak: UInt64, aggregateCalls: Bool,
                        names: inout NamePool) -> (below: UInt64, above: UInt64, latest: Int64) {
        var below: UInt64 = 0, above = UInt64.max, latest = Int64.min
        // The bucket of the call before and its bounds: a block's calls mostly share one, so
        // most calls find theirs by two comparisons instead of a division.
        var bi = 0, bucketLow = Int64.max, bucketHigh = Int64.min
        var added: UInt64 = 0
        for i in 0..<count {
            let t = base[i].start_ns
            let u = Int64(bitPattern: t) &+ offset
            guard u >= start && u < end else { counters.otherPartition += 1; continue }
            if t <= peak { below = max(below, t) } else { above = min(above, t) }
            latest = max(latest, u)
            lastUTC = u
            if u < bucketLow || u >= bucketHigh {
                bi = Int((u - start) / width)
                bucketLow = bucketStart(bi)
                bucketHigh = bucketLow + width
            }
            added &+= 1
            add(base + i, bucket: bi, aggregateCalls: aggregateCalls, names: &names)
        }
        counters.aggregated &+= added
        return (below, above, latest)
    }

    /// Calls that a block without one offset corrects one by one rather than by halves.
    static let fewCalls = 32

    /// Adds one call of the partition, corrected into bucket `bi` (its UTC time in `lastUTC`;
    /// the caller counts it in `counters.aggregated`).
    @inline(__always)
    mutating func add(_ call: UnsafePointer<rl_l7_call>, bucket bi: Int, aggregateCalls: Bool, names: inout NamePool) {
        let r = shapeEntries[shapeEntry(call, names: &names)].resolved
        countUnknowns(local: r.local, remote: r.remote)
        let isServer = call.pointee.side == UInt8(RL_SIDE_SERVER.rawValue)
        let g = Int(isServer ? r.serverGroup : r.clientGroup)
        if wantEdge {
            // The call's latency bucket found once for both tables' histograms (one scale).
            let duration = call.pointee.duration_ns
            let latencyIndex = duration == 0 ? 0 : serviceCells.empty.latency.index(of: duration)
            serviceCells.cells[serviceCells.index(group: g, bucket: bi)].add(call: call.pointee, latencyIndex: latencyIndex)
            edgeCells.cells[edgeCells.index(group: Int(isServer ? r.serverEdge : r.clientEdge), bucket: bi)]
                .add(call: call.pointee, latencyIndex: latencyIndex)
        } else {
            serviceCells.cells[serviceCells.index(group: g, bucket: bi)].add(call: call.pointee)
        }
        if wantTraffic {
            trafficCalls.cells[trafficCalls.index(group: Int(isServer ? r.serverTraffic : r.clientTraffic), bucket: bi)] &+= 1
        }
        if aggregateCalls {
            let ends = CallEnds(caller: isServer ? r.remote : r.local, callee: isServer ? r.local : r.remote, proto: r.proto,
                                observer: isServer ? ids.server : ids.client, local: r.local, isServer: isServer,
                                bucketStart: bucketStart(bi), utcNanos: lastUTC)
            callAggregator!.add(call.pointee, ends, names: &names)
        }
    }

    public mutating func flows(_ flows: UnsafeBufferPointer<rl_flow_delta>, names: inout NamePool) {
        for f in flows {
            guard let bi = bucket(f.end_ns) else { continue }
            counters.aggregated += 1
            let e = endpoints(cgroup: f.cgroup_id, localService: f.local_service, peerService: f.peer_service,
                              laddr: address(f.laddr), raddr: address(f.raddr), names: &names)
            let (local, remote, localDC, remoteDC) = (e.local, e.remote, e.localDC, e.remoteDC)
            ledger.observed[.init(cls: Self.flowClass(local), bucket: bi), default: 0] &+= 1
            let b = bucketStart(bi)
            let l4 = f.l4_proto == 17 ? ids.udp : ids.tcp
            // A version-1 record (widened by the segment reader) does not know its payload.
            let layoutV1 = f.flags & UInt32(RL_FLOW_LAYOUT_V1.rawValue) != 0
            if wantTraffic && (f.tx_bytes > 0 || f.tx_packets > 0) {
                agg.traffic.update(TrafficKey(bucket: b, srcDC: localDC, dstDC: remoteDC, srcService: local,
                                              dstService: remote, l4: l4, observer: ids.source, peerSource: e.peerSource),
                                   make: { Row(cell: TrafficCell()) }) {
                    $0.cell.bytes &+= f.tx_bytes; $0.cell.packets &+= f.tx_packets; $0.cell.flows &+= 1
                    $0.cell.payloadBytes = layoutV1 ? nil : $0.cell.payloadBytes.map { $0 &+ f.tx_payload_bytes }
                }
            }
            if wantTraffic && (f.rx_bytes > 0 || f.rx_packets > 0) {
                agg.traffic.update(TrafficKey(bucket: b, srcDC: remoteDC, dstDC: localDC, srcService: remote,
                                              dstService: local, l4: l4, observer: ids.destination,
                                              peerSource: e.peerSource),
                                   make: { Row(cell: TrafficCell()) }) {
                    $0.cell.bytes &+= f.rx_bytes; $0.cell.packets &+= f.rx_packets; $0.cell.flows &+= 1
                    $0.cell.payloadBytes = layoutV1 ? nil : $0.cell.payloadBytes.map { $0 &+ f.rx_payload_bytes }
                }
            }
            let missing = UInt32(RL_FLOW_ID_OPTION_MISSING.rawValue), opened = UInt32(RL_FLOW_OPENED.rawValue)
            if wantHealth && f.flags & missing != 0 && f.flags & opened != 0 {
                agg.health.update(HealthKey(bucket: b, service: local, peer: remote, peerSource: e.peerSource),
                                  make: { Row(cell: TCPHealthCell()) }) {
                    $0.cell.idOptionMissing &+= 1
                }
            }
        }
    }

    public mutating func tcpEvents(_ events: UnsafeBufferPointer<rl_tcp_event>, names: inout NamePool) {
        for e in events {
            guard let bi = bucket(e.ts_ns) else { continue }
            counters.aggregated += 1
            let local = resolver.local(cgroup: e.cgroup_id, serviceID: e.local_service, names: &names)
            ledger.observed[.init(cls: Self.tcpClass(local), bucket: bi), default: 0] &+= 1
            let remote = resolver.remote(peerServiceID: e.peer_service, address: address(e.raddr), names: &names)
            let b = bucketStart(bi)
            let n = UInt64(max(e.count, 1))
            if wantHealth {
                agg.health.update(HealthKey(bucket: b, service: local, peer: remote.service, peerSource: remote.source),
                                  make: { Row(cell: TCPHealthCell()) }) { row in
                    switch UInt32(e.kind) {
                    case RL_TCP_RETRANSMIT.rawValue: row.cell.retransmits &+= n
                    case RL_TCP_RESET_SENT.rawValue: row.cell.resetsSent &+= n
                    case RL_TCP_RESET_RECEIVED.rawValue: row.cell.resetsReceived &+= n
                    case RL_TCP_DROP.rawValue:
                        switch DropReasons.dropClass(Int32(bitPattern: e.drop_reason)) {
                        case .network: row.cell.drops &+= n
                        case .policy: row.cell.dropsPolicy &+= n
                        case .teardown: row.cell.dropsTeardown &+= n
                        case .other: row.cell.dropsOther &+= n
                        }
                    default: break
                    }
                }
            }
            if wantDrops && UInt32(e.kind) == RL_TCP_DROP.rawValue {
                agg.drops.update(DropKey(bucket: b, service: local, reason: Int32(bitPattern: e.drop_reason)),
                                 make: { Row(cell: Count()) }) { $0.cell.value &+= n }
            }
        }
    }

    /// Stats counters that mean events were lost before the pipeline saw them (segments written
    /// before the loss record; newer ones carry losses as `rl_loss` records only).
    static let lossCounters: Set<UInt32> = [
        RL_STAT_RINGBUF_DROPPED.rawValue, RL_STAT_RATE_CAPPED.rawValue, RL_STAT_UNPAIRED_REQUEST.rawValue,
        RL_STAT_UNPAIRED_RESPONSE.rawValue, RL_STAT_USER_DROPPED.rawValue,
    ]

    static let callType = UInt8(RL_REC_L7_CALL.rawValue)
    static let flowType = UInt8(RL_REC_FLOW_DELTA.rawValue)
    static let tcpType = UInt8(RL_REC_TCP_EVENT.rawValue)
    static func callClass(proto: Int32, observer: Int32, local: Int32) -> LossClass {
        LossClass(recordType: callType, proto: proto, observer: observer, service: local)
    }
    static func flowClass(_ local: Int32) -> LossClass {
        LossClass(recordType: flowType, proto: LossClass.notApplicable, observer: LossClass.notApplicable, service: local)
    }
    static func tcpClass(_ local: Int32) -> LossClass {
        LossClass(recordType: tcpType, proto: LossClass.notApplicable, observer: LossClass.notApplicable, service: local)
    }

    /// Losses from segments written before the loss record: by record type or protocol only.
    public mutating func stats(_ stats: UnsafeBufferPointer<rl_stats>, names: inout NamePool) {
        for s in stats where Self.lossCounters.contains(s.counter) && s.value > 0 {
            var p = LossPattern(bucket: 0)
            if s.counter == RL_STAT_UNPAIRED_REQUEST.rawValue || s.counter == RL_STAT_UNPAIRED_RESPONSE.rawValue {
                p.recordType = Self.callType
                if s.subject != 0 && s.subject < 256 { p.proto = resolver.protocolID(UInt8(s.subject), names: &names) }
            } else if [UInt32(Self.flowType), UInt32(Self.callType), UInt32(Self.tcpType)].contains(s.subject) {
                p.recordType = UInt8(s.subject)
            }
            place(s.value, from: s.ts_ns &- s.interval_ns, to: s.ts_ns, p)
        }
    }

    /// `rl_loss` records: what was lost, whose, and when.
    public mutating func losses(_ records: UnsafeBufferPointer<rl_loss>, names: inout NamePool) {
        for r in records where r.value > 0 {
            var p = LossPattern(bucket: 0)
            if [Self.flowType, Self.callType, Self.tcpType].contains(r.record_type) { p.recordType = r.record_type }
            if r.cgroup_id != 0 {
                let local = resolver.local(cgroup: r.cgroup_id, serviceID: 0, names: &names)
                if local != NamePool.unknown { p.service = local }
            }
            if r.record_type == Self.callType {
                if r.l7_proto != 0 { p.proto = resolver.protocolID(r.l7_proto, names: &names) }
                if r.side == UInt8(RL_SIDE_SERVER.rawValue) { p.observer = ids.server }
                if r.side == UInt8(RL_SIDE_CLIENT.rawValue) { p.observer = ids.client }
            } else if p.recordType != nil {
                p.proto = LossClass.notApplicable
                p.observer = LossClass.notApplicable
            }
            place(r.value, from: r.ts_ns &- r.interval_ns, to: r.ts_ns, p)
        }
    }

    /// Places `value` events lost in the monotonic interval (`from`, `to`] in the buckets it
    /// overlaps, pro rata by overlap after time correction (largest remainder, so the parts
    /// add up to `value`); parts outside the partition belong to another partition's run.
    mutating func place(_ value: UInt64, from: UInt64, to: UInt64, _ pattern: LossPattern) {
        guard case .success(let a)? = cursor?.correct(monotonicNanos: from),
              case .success(let b)? = cursor?.correct(monotonicNanos: to) else {
            counters.uncorrectable += 1
            return
        }
        let lo = a.utcNanos, hi = max(b.utcNanos, a.utcNanos)
        var p = pattern
        guard hi > lo else {
            // An instant: the bucket holding it (an interval's end belongs to the bucket it closes).
            guard hi > start && hi <= end else { return }
            p.bucket = Int((hi - 1 - start) / width)
            losses[p, default: 0] &+= value
            return
        }
        // Buckets are aligned on `start`; walk those the interval overlaps.
        var parts: [(bucket: Int64, whole: UInt64, remainder: UInt64)] = []
        let span = UInt64(hi - lo)
        let offset = lo - start
        var b0 = start + (offset >= 0 ? offset / width : -((width - 1 - offset) / width)) * width
        var given: UInt64 = 0
        while b0 < hi {
            let overlap = UInt64(min(hi, b0 + width) - max(lo, b0))
            let (q, r) = span.dividingFullWidth(value.multipliedFullWidth(by: overlap))
            parts.append((b0, q, r))
            given &+= q
            b0 += width
        }
        var extra = value &- given
        for i in parts.indices.sorted(by: { parts[$0].remainder != parts[$1].remainder ? parts[$0].remainder > parts[$1].remainder : $0 < $1 })
        where extra > 0 {
            parts[i].whole &+= 1
            extra -= 1
        }
        for part in parts where part.whole > 0 {
            guard part.bucket >= start && part.bucket < end else { continue }
            p.bucket = Int((part.bucket - start) / width)
            losses[p, default: 0] &+= part.whole
        }
    }

    /// A damaged file lost what followed its damage: `estimate` events of no known kind, charged
    /// to the bucket where its valid data ends (`lastMonotonicNanos`, on `cursor`'s boot), so the
    /// host's rows there say they are incomplete. Nothing when that time is not in the partition.
    public mutating func chargeDamage(_ estimate: UInt64, lastMonotonicNanos last: UInt64) {
        guard var c = cursor, case .success(let t) = c.correct(monotonicNanos: last), t.utcNanos >= start, t.utcNanos < end
        else { return }
        losses[LossPattern(bucket: Int((t.utcNanos - start) / width)), default: 0] &+= estimate
    }

    /// Folds the dense per-bucket state into the aggregates and gives every row its completeness:
    /// its own events, and its class's losses in proportion (LossAttribution.swift). Returns the
    /// rows, the counters and the latest corrected event time aggregated (UTC ns, nil if none).
    public mutating func finish(names: inout NamePool)
        -> (aggregates: PartitionAggregates, counters: AggregationCounters, watermark: Int64?) {
        let groups = serviceGroups.keys.count
        for bi in 0..<bucketCount {
            for g in 0..<groups where serviceCells[g, bi].requests > 0 {
                let k = serviceGroups.keys[g], cell = serviceCells[g, bi]
                ledger.observed[.init(cls: Self.callClass(proto: k.proto, observer: k.observer, local: k.local), bucket: bi),
                                default: 0] &+= cell.requests
            }
        }
        ledger.charge(losses)
        losses = [:]
        for bi in 0..<bucketCount {
            for g in 0..<groups where serviceCells[g, bi].requests > 0 {
                let k = serviceGroups.keys[g], cell = serviceCells[g, bi]
                let key = ServiceKey(bucket: bucketStart(bi), service: k.service, proto: k.proto, observer: k.observer)
                let c = ledger.completeness(weight: cell.requests,
                                            Self.callClass(proto: k.proto, observer: k.observer, local: k.local), bucket: bi)
                agg.redService.merge(key, Row(cell: cell, completeness: c))
            }
        }
        serviceCells = BucketCells(buckets: 0, empty: serviceCells.empty)
        // Room for every red_edge row at once (one per cell with calls: a group is a row's key
        // without its bucket): growing a dictionary of thousands of rows step by step rehashes
        // it a dozen times. Not for red_service, whose client rows gather several groups (the
        // cells would overstate its rows several times over, and the memory with them).
        if wantEdge { agg.redEdge.reserveCapacity(agg.redEdge.groupCount + edgeCells.cells.count { $0.requests > 0 }) }
        for bi in 0..<bucketCount {
            for g in 0..<(wantEdge ? edgeGroups.keys.count : 0) where edgeCells[g, bi].requests > 0 {
                let cell = edgeCells[g, bi]
                var k = edgeGroups.keys[g]
                k.bucket = bucketStart(bi)
                let local = k.observer == ids.server ? k.callee : k.caller
                let c = ledger.completeness(weight: cell.requests, Self.callClass(proto: k.proto, observer: k.observer, local: local),
                                            bucket: bi)
                agg.redEdge.merge(k, Row(cell: cell, completeness: c))
            }
        }
        edgeCells = BucketCells(buckets: 0, empty: edgeCells.empty)
        // Flow deltas may have filled the same traffic rows; calls add to them.
        for bi in 0..<bucketCount {
            for g in 0..<(wantTraffic ? trafficGroups.keys.count : 0) where trafficCalls[g, bi] > 0 {
                let calls = trafficCalls[g, bi]
                var k = trafficGroups.keys[g]
                k.bucket = bucketStart(bi)
                agg.traffic.update(k, make: { Row(cell: TrafficCell()) }) { $0.cell.calls &+= calls }
            }
        }
        trafficCalls = BucketCells(buckets: 0, empty: 0)
        // Locals: the closures below run while `agg` is being changed.
        let ledger = self.ledger, ids = self.ids, start = self.start, width = self.width
        func index(_ bucket: Int64) -> Int { Int((bucket - start) / width) }
        agg.traffic.updateEach { k, row in
            let local = k.observer == ids.source ? k.srcService : k.dstService
            row.completeness = ledger.completeness(weight: row.cell.flows, Self.flowClass(local), bucket: index(k.bucket))
        }
        agg.health.updateEach { k, row in
            let events = row.cell.retransmits &+ row.cell.resetsSent &+ row.cell.resetsReceived &+ row.cell.drops
            row.completeness = ledger.completeness(weight: events, Self.tcpClass(k.service), bucket: index(k.bucket))
        }
        agg.drops.updateEach { k, row in
            row.completeness = ledger.completeness(weight: row.cell.value, Self.tcpClass(k.service), bucket: index(k.bucket))
        }
        addLossOnlyRows()
        if var a = callAggregator {
            a.finish(names: &names) { weight, ends, bucketStart in
                ledger.completeness(weight: weight, Self.callClass(proto: ends.proto, observer: ends.observer, local: ends.local),
                                    bucket: Int((bucketStart - start) / width))
            }
            callAggregator = a
        }
        counters.maxTimeUncertaintyNanos = watermark == nil ? nil : maxUncertainty
        return (agg, counters, watermark)
    }

    /// Rows for classes that lost events in a bucket where none of theirs were seen (a service
    /// whose every call was lost): requests 0, completeness 0. Calls get a red_service row (and a
    /// red_edge row) whose unknown end is `unknown`; TCP events a tcp_health row with peer
    /// `unknown`. Flow deltas have no such row: traffic_matrix has no row without an address.
    mutating func addLossOnlyRows() {
        for k in ledger.unobserved {
            let c = k.cls
            let completeness = ledger.completeness(weight: 0, c, bucket: k.bucket)
            let b = bucketStart(k.bucket)
            switch c.recordType {
            case Self.callType:
                let client = c.observer == ids.client
                let key = ServiceKey(bucket: b, service: client ? NamePool.unknown : c.service, proto: c.proto, observer: c.observer)
                agg.redService.merge(key, Row(cell: REDCell(scale: scale), completeness: completeness))
                if wantEdge {
                    let e = EdgeKey(bucket: b, caller: client ? c.service : NamePool.unknown, callee: client ? NamePool.unknown : c.service,
                                    callerDC: NamePool.unknown, calleeDC: NamePool.unknown, proto: c.proto, observer: c.observer,
                                    peerSource: NamePool.unknown)
                    agg.redEdge.merge(e, Row(cell: REDCell(scale: scale), completeness: completeness))
                }
            case Self.tcpType where wantHealth:
                let key = HealthKey(bucket: b, service: c.service, peer: NamePool.unknown, peerSource: NamePool.unknown)
                agg.health.update(key, make: { Row(cell: TCPHealthCell()) }) { $0.completeness.merge(completeness) }
            default:
                break
            }
        }
    }
}

/// The fields of a call its enrichment depends on: calls repeat a few thousand shapes, so
/// enrichment is resolved once per shape instead of by five dictionary lookups per call. The
/// fields are words loaded from the record as they lie (addresses not byte-swapped): a shape
/// is only compared and hashed.
struct CallShape: Hashable {
    var cgroup: UInt64
    /// The local and the remote address, 16 bytes each.
    var laddrHigh, laddrLow, raddrHigh, raddrLow: UInt64
    /// The local and the peer service id.
    var services: UInt64
    /// The L4 and the L7 protocol.
    var protocols: UInt16

    @inline(__always)
    init(_ call: UnsafePointer<rl_l7_call>) {
        let raw = UnsafeRawPointer(call)
        func word(_ offset: Int?) -> UInt64 { raw.loadUnaligned(fromByteOffset: offset!, as: UInt64.self) }
        cgroup = call.pointee.cgroup_id
        laddrHigh = word(MemoryLayout<rl_l7_call>.offset(of: \.laddr))
        laddrLow = word(MemoryLayout<rl_l7_call>.offset(of: \.laddr)! + 8)
        raddrHigh = word(MemoryLayout<rl_l7_call>.offset(of: \.raddr))
        raddrLow = word(MemoryLayout<rl_l7_call>.offset(of: \.raddr)! + 8)
        services = UInt64(call.pointee.local_service) | UInt64(call.pointee.peer_service) << 32
        protocols = UInt16(call.pointee.l4_proto) | UInt16(call.pointee.l7_proto) << 8
    }

    /// Every field compared without a branch per field: shapes in a slot mostly match.
    @inline(__always)
    static func == (a: Self, b: Self) -> Bool {
        let ids = (a.cgroup ^ b.cgroup) | (a.services ^ b.services) | UInt64(a.protocols ^ b.protocols)
        let addresses = (a.laddrHigh ^ b.laddrHigh) | (a.laddrLow ^ b.laddrLow) | (a.raddrHigh ^ b.raddrHigh) | (a.raddrLow ^ b.raddrLow)
        return ids | addresses == 0
    }

    /// Cache slots (a power of two); a collision only costs a re-resolution.
    static let slots = 1 << 14

    /// A multiplicative mix of the fields, top 14 bits: far cheaper than SipHash, and the cache
    /// compares the whole shape, so a weak hash cannot give a wrong answer.
    @inline(__always) var slot: Int {
        let h = (cgroup ^ raddrLow) &* 0x9E37_79B9_7F4A_7C15 ^ (services ^ laddrLow) &* 0xC2B2_AE3D_27D4_EB4F
            ^ (raddrHigh ^ laddrHigh &* 31 ^ UInt64(protocols)) &* 0x1656_67B1_9E37_79F9
        return Int(truncatingIfNeeded: ((h ^ h >> 29) &* 0x9E37_79B9_7F4A_7C15) >> 50)
    }
}

/// One record's ends, resolved to name ids.
struct Endpoints {
    var local, remote, localDC, remoteDC: Int32
    /// The name id of the `PeerIdentitySource` that named `remote`.
    var peerSource: Int32
}

/// A call shape's enrichment (name ids) and its group ids in each call table.
struct ResolvedShape {
    var local, remote, localDC, remoteDC, proto: Int32
    /// red_service / red_edge / traffic_matrix group of a call of this shape observed on the
    /// server / client side.
    var serverGroup, clientGroup: Int32
    var serverEdge, clientEdge: Int32
    var serverTraffic, clientTraffic: Int32
}

/// One table's cells of one host by bucket and dense group id, a bucket's cells together: a
/// block's calls mostly share a bucket, so they touch few cache lines. Room for a new group is
/// made when its id is given (`reserve`), so adding a call only indexes.
struct BucketCells<Cell> {
    var cells: [Cell] = []
    /// Cells per bucket (group ids below it have their cells).
    private(set) var groups = 0
    let buckets: Int
    let empty: Cell

    init(buckets: Int, empty: Cell) {
        self.buckets = buckets
        self.empty = empty
    }

    @inline(__always)
    func index(group: Int, bucket: Int) -> Int { bucket * groups + group }

    subscript(group: Int, bucket: Int) -> Cell { cells[index(group: group, bucket: bucket)] }

    /// Makes room for group ids below `count`, a quarter more beyond, so a host's groups are
    /// laid out anew a few times only.
    mutating func reserve(groups count: Int) {
        guard count > groups else { return }
        let room = max(count, groups + groups / 4, 16)
        var grown: [Cell] = []
        grown.reserveCapacity(room * buckets)
        for b in 0..<buckets {
            grown.append(contentsOf: cells[b * groups..<(b + 1) * groups])
            grown.append(contentsOf: repeatElement(empty, count: room - groups))
        }
        cells = grown
        groups = room
    }
}

/// Dense ids for group keys, in first-seen order.
struct GroupTable<Key: Hashable> {
    private var index: [Key: Int32] = [:]
    private(set) var keys: [Key] = []

    mutating func id(_ key: Key) -> Int32 {
        if let i = index[key] { return i }
        keys.append(key)
        index[key] = Int32(keys.count - 1)
        return Int32(keys.count - 1)
    }
}

struct ShapeEntry {
    var shape: CallShape
    var resolved: ResolvedShape
}

/// A red_service group without its bucket, and the local service of its calls (the callee on
/// the server side, the caller on the client side): rows of several callers share a client
/// row but not a loss class.
struct ServiceGroup: Hashable {
    var service, proto, observer: Int32
    var local: Int32
}
