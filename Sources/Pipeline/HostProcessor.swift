import Aggregates
import CRedlineABI
import Enrichment
import Segments
import Timebase

/// What one host's run counted, for the manifest: nothing is dropped silently.
public struct HostCounters: Sendable, Equatable, Codable {
    public var files = 0
    public var damagedFiles = 0
    public var openFiles = 0
    public var blocks = 0
    public var records: UInt64 = 0
    /// Calls, flow deltas and TCP events that landed in the partition.
    public var aggregated: UInt64 = 0
    /// Records whose corrected time lies in another partition (they belong to its run).
    public var otherPartition: UInt64 = 0
    /// Records whose time could not be corrected (no anchors, or beyond the extrapolation limit).
    public var uncorrectable: UInt64 = 0
    /// Aggregated records whose local / remote service resolved to `unknown`.
    public var unknownLocal: UInt64 = 0
    public var unknownRemote: UInt64 = 0
    /// Anchors the timebase rejected.
    public var rejectedAnchors = 0
    /// The time-correction error bound of the host's aggregated records (schemas/time.md,
    /// "uncertainty"): the largest `CorrectedTime.uncertaintyNanos` of any of them, so every
    /// event this host put in a bucket of the partition lies within this many ns of its
    /// corrected time. Nil when nothing was aggregated.
    public var maxTimeUncertaintyNanos: UInt64?
}

/// The read → correct-time → enrich → aggregate stages for one host and one
/// partition. Two passes over the host's segments: the first gathers clock
/// anchors and cgroup mappings (few records), the second aggregates; memory is
/// bounded by one block and the number of groups, never by the input size.
public struct HostProcessor {
    public let host: String
    /// The host's segment files, sorted, absolute.
    public let files: [String]
    public let partition: Partition
    public let bucketNanos: Int64
    public let histogramScale: Int
    public let readerOptions: ReaderOptions
    public let timebaseOptions: TimebaseOptions
    public let metadata: Metadata
    /// Tables the pipeline writes: red_edge, traffic_matrix, tcp_health and tcp_drops are only
    /// aggregated when listed (red_service always is: the run's summary is built from it).
    public var tables: Set<String> = Set(PipelineTables.hourly.map { $0.name })
    /// Names kept per service in red_route / dns_names (pipeline `aggregate.route_cap`).
    public var routeCap = 200

    public init(host: String, files: [String], partition: Partition, bucketSeconds: Int, histogramScale: Int,
                maxBlockBytes: Int, maxExtrapolationSeconds: Int, metadata: Metadata) {
        self.host = host
        self.files = files
        self.partition = partition
        self.bucketNanos = Int64(bucketSeconds) * 1_000_000_000
        self.histogramScale = histogramScale
        var ro = ReaderOptions()
        ro.maxBlockRawBytes = maxBlockBytes
        self.readerOptions = ro
        var to = TimebaseOptions()
        to.maxExtrapolationNanos = UInt64(maxExtrapolationSeconds) * 1_000_000_000
        self.timebaseOptions = to
        self.metadata = metadata
    }

    public struct Outcome: Sendable {
        public var aggregates: PartitionAggregates
        public var counters: HostCounters
        public var warnings: [String]
        /// Latest corrected event time aggregated (UTC ns), nil if none.
        public var watermark: Int64?
    }

    /// Local identity of a cgroup, from the collector's mapping records.
    struct CgroupInfo {
        var podUID: String
        var containerID: String
        var path: String
        var serviceID: UInt32
    }

    /// Runs both passes. Pass 1 decompresses only clock-anchor and cgroup-mapping blocks; every
    /// other block is still fully checked (header fields, lengths, CRC32C of the compressed
    /// payload) but not LZ4-decoded. A block that passes those checks yet fails to decompress is
    /// only found by pass 2; if that happens (pass 2 reads fewer valid blocks of a file than pass
    /// 1 did), the host is run again with full decompression in pass 1, so anchors, cgroups,
    /// warnings and rows are exactly those of decoding every block in both passes.
    public func run(names: inout NamePool) -> Outcome {
        let before = names
        if let outcome = run(names: &names, lazyPass1: true) { return outcome }
        names = before
        return run(names: &names, lazyPass1: false)!
    }

    /// Both passes; nil when `lazyPass1` and pass 2 found damage pass 1 could not see.
    private func run(names: inout NamePool, lazyPass1: Bool) -> Outcome? {
        var counters = HostCounters()
        var warnings: [String] = []
        counters.files = files.count

        // Pass 1: anchors by boot, cgroup mappings, and which files end where.
        var anchors: [Timebase.BootID: [rl_clock_anchor]] = [:]
        var cgroups: [UInt64: CgroupInfo] = [:]
        var pass1Blocks = [Int](repeating: 0, count: files.count)
        var pass1Options = readerOptions
        if lazyPass1 { pass1Options.decompressTypes = [.clockAnchor, .cgroupMapping] }
        for (i, file) in files.enumerated() {
            let result = scan(file, options: pass1Options) { info, reader, boot in
                pass1Blocks[i] += 1
                switch info.recordType {
                case .clockAnchor:
                    _ = reader.withRecords(as: rl_clock_anchor.self) { anchors[boot, default: []].append(contentsOf: $0) }
                case .cgroupMapping:
                    _ = reader.withRecords(as: rl_cgroup_mapping.self) { maps in
                        for m in maps {
                            cgroups[m.cgroup_id] = CgroupInfo(podUID: fixedString(m.pod_uid), containerID: fixedString(m.container_id),
                                                              path: fixedString(m.path), serviceID: m.service_id)
                        }
                    }
                default: break
                }
            }
            if let w = result.warning {
                warnings.append(w)
                counters.damagedFiles += 1
            }
            if result.open { counters.openFiles += 1 }
        }
        let timebase = HostTimebase(recordsByBoot: anchors, options: timebaseOptions)
        for (_, t) in timebase.timelines {
            for d in t.dispositions { if case .rejected = d.disposition { counters.rejectedAnchors += 1 } }
        }
        if counters.rejectedAnchors > 0 {
            warnings.append("host \(host): \(counters.rejectedAnchors) clock anchors rejected (see redline inspect --time)")
        }

        // Pass 2: aggregate. All per-record state lives in one struct whose methods run over
        // `inout self`: a closure capturing a dozen locals pays boxing, retains and exclusivity
        // checks per record.
        var state = Aggregation(partition: partition, bucketNanos: bucketNanos, histogramScale: histogramScale,
                                counters: counters, resolver: Resolver(metadata: metadata, cgroups: cgroups),
                                ids: FixedIDs(&names), tables: tables)
        state.l7 = L7Aggregation(tables: tables, routeCap: routeCap, histogramScale: histogramScale, names: &names)
        state.host = host
        for (i, file) in files.enumerated() {
            state.cursor = nil
            var cursorBoot: Timebase.BootID?
            var fileBlocks = 0, fileRecords: UInt64 = 0, lastKernelNs: UInt64?
            let result = scan(file, options: readerOptions) { info, reader, boot in
                fileBlocks += 1
                fileRecords += UInt64(info.recordCount)
                lastKernelNs = max(lastKernelNs ?? 0, info.maxKernelNs)
                state.counters.blocks += 1
                state.counters.records += UInt64(info.recordCount)
                if cursorBoot != boot {
                    state.cursor = timebase.timelines[boot]?.makeCursor()
                    cursorBoot = boot
                }
                switch info.recordType {
                case .l7Call:
                    _ = reader.withRecords(as: rl_l7_call.self) { state.calls($0, names: &names) }
                case .flowDelta:
                    _ = reader.withRecords(as: rl_flow_delta.self) { state.flows($0, names: &names) }
                case .tcpEvent:
                    _ = reader.withRecords(as: rl_tcp_event.self) { state.tcpEvents($0, names: &names) }
                case .stats:
                    _ = reader.withRecords(as: rl_stats.self) { state.stats($0, names: &names) }
                case .loss:
                    _ = reader.withRecords(as: rl_loss.self) { state.losses($0, names: &names) }
                case .clockAnchor, .cgroupMapping:
                    break
                }
            }
            if lazyPass1 && fileBlocks < pass1Blocks[i] { return nil }
            // A damaged file lost what followed the damage: count an estimate (its
            // average block) as lost in the bucket where its valid data ends, of no
            // known kind, so the host's rows there say they are incomplete. The
            // manifest names the file.
            let start = partition.startNanos, end = partition.endNanos, width = bucketNanos
            if result.warning != nil, let last = lastKernelNs, var c = state.cursor,
               case .success(let t) = c.correct(monotonicNanos: last), t.utcNanos >= start, t.utcNanos < end {
                let estimate = fileBlocks > 0 ? max(1, fileRecords / UInt64(fileBlocks)) : 1
                state.losses[LossPattern(bucket: Int((t.utcNanos - start) / width)), default: 0] &+= estimate
            }
        }
        return state.finish(warnings: warnings, names: &names)
    }

    /// Stats counters that mean events were lost before the pipeline saw them (segments written
    /// before the loss record; newer ones carry losses as `rl_loss` records only).
    static let lossCounters: Set<UInt32> = [
        RL_STAT_RINGBUF_DROPPED.rawValue, RL_STAT_RATE_CAPPED.rawValue, RL_STAT_UNPAIRED_REQUEST.rawValue,
        RL_STAT_UNPAIRED_RESPONSE.rawValue, RL_STAT_USER_DROPPED.rawValue,
    ]

    struct ScanResult {
        var warning: String?
        var open: Bool
    }

    /// Reads a segment block by block; a damaged file yields its valid blocks
    /// and a warning naming the damage (the same blocks on every pass).
    private func scan(_ file: String, options: ReaderOptions,
                      _ body: (BlockInfo, SegmentReader, Timebase.BootID) -> Void) -> ScanResult {
        let open = file.hasSuffix(SegmentFormat.openSuffix)
        do {
            let reader = try SegmentReader(path: file, options: options, allowUnsealed: true)
            let boot = Timebase.BootID(uuidBytes: reader.header.bootID.bytes)
            do {
                while let info = try reader.nextBlock() { body(info, reader, boot) }
            } catch {
                return ScanResult(warning: "damaged segment, \(reader.blocksRead.count) valid blocks used: \(error)", open: open)
            }
            if reader.ending == .unsealed && !open {
                return ScanResult(warning: "segment \(file) has no footer; its \(reader.blocksRead.count) complete blocks were used", open: open)
            }
            return ScanResult(warning: nil, open: open)
        } catch {
            return ScanResult(warning: "unreadable segment skipped: \(error)", open: open)
        }
    }
}

/// Name ids every run uses.
struct FixedIDs {
    let server, client, source, destination, tcp, udp: Int32
    /// `PeerIdentitySource` names (`unknown` is `NamePool.unknown`).
    let tcpOption, metadata: Int32
    init(_ names: inout NamePool) {
        server = names.id("server")
        client = names.id("client")
        source = names.id("source")
        destination = names.id("destination")
        tcp = names.id("tcp")
        udp = names.id("udp")
        tcpOption = names.id(PeerIdentitySource.tcpOption.rawValue)
        metadata = names.id(PeerIdentitySource.metadata.rawValue)
    }

    func id(_ s: PeerIdentitySource) -> Int32 {
        switch s {
        case .tcpOption: tcpOption
        case .metadata: metadata
        case .unknown: NamePool.unknown
        }
    }
}

/// Enrichment with caches: records repeat the same few cgroups, peers and addresses.
struct Resolver {
    let metadata: Metadata
    let cgroups: [UInt64: HostProcessor.CgroupInfo]
    var localCache: [LocalKey: Int32] = [:]
    var remoteCache: [RemoteKey: RemoteIdentity] = [:]
    var dcCache: [NetworkAddress: Int32] = [:]
    var protoCache: [UInt8: Int32] = [:]

    struct LocalKey: Hashable { var cgroup: UInt64; var service: UInt32 }
    struct RemoteKey: Hashable { var service: UInt32; var address: NetworkAddress }
    /// A peer's service name id and the name id of its `PeerIdentitySource`.
    struct RemoteIdentity { var service: Int32; var source: Int32 }

    init(metadata: Metadata, cgroups: [UInt64: HostProcessor.CgroupInfo]) {
        self.metadata = metadata
        self.cgroups = cgroups
    }

    mutating func local(cgroup: UInt64, serviceID: UInt32, names: inout NamePool) -> Int32 {
        let key = LocalKey(cgroup: cgroup, service: serviceID)
        if let id = localCache[key] { return id }
        let info = cgroups[cgroup]
        let name = metadata.localService(serviceID: serviceID != 0 ? serviceID : info?.serviceID ?? 0,
                                         podUID: info?.podUID, containerID: info?.containerID, cgroupPath: info?.path)
        let id = name.map { names.id($0) } ?? NamePool.unknown
        localCache[key] = id
        return id
    }

    mutating func remote(peerServiceID: UInt32, address: NetworkAddress, ids: FixedIDs,
                         names: inout NamePool) -> RemoteIdentity {
        let key = RemoteKey(service: peerServiceID, address: address)
        if let r = remoteCache[key] { return r }
        let (name, source) = metadata.remoteIdentity(peerServiceID: peerServiceID, address: address)
        let r = RemoteIdentity(service: name.map { names.id($0) } ?? NamePool.unknown, source: ids.id(source))
        remoteCache[key] = r
        return r
    }

    mutating func datacenter(_ a: NetworkAddress, names: inout NamePool) -> Int32 {
        if let id = dcCache[a] { return id }
        let id = metadata.datacenters.placement(of: a).map { names.id($0.datacenter) } ?? NamePool.unknown
        dcCache[a] = id
        return id
    }

    mutating func protocolID(_ p: UInt8, names: inout NamePool) -> Int32 {
        if let id = protoCache[p] { return id }
        let id = names.id(L7ProtocolName.name(p))
        protoCache[p] = id
        return id
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

/// A NUL-padded fixed char field as a String.
func fixedString<T>(_ field: T) -> String {
    withUnsafeBytes(of: field) { b in
        let end = b.firstIndex(of: 0) ?? b.count
        return String(decoding: b[..<end], as: UTF8.self)
    }
}

/// Pass 2's per-record work for one host: time correction, enrichment and aggregation.
struct Aggregation {
    var agg = PartitionAggregates()
    var counters: HostCounters
    var resolver: Resolver
    /// Latest corrected event time aggregated (UTC ns).
    var watermark: Int64?
    /// Largest time-correction error bound of a record aggregated (ns); meaningful once
    /// `watermark` is set.
    var maxUncertainty: UInt64 = 0
    /// The current file's cursor on its boot's timeline; nil when that boot has no anchors.
    var cursor: Timeline.Cursor?
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
    /// red_service cells per bucket, indexed by a dense group id (`serviceGroups`); folded into
    /// `agg.redService` by `finish`. Cells with no request are padding.
    var serviceCells: [[REDCell]]
    var serviceGroups = GroupTable<ServiceGroup>()
    /// Calls' red_edge cells and traffic_matrix call counts, keyed by `cellKey(group, bucket)`
    /// (one word to hash instead of a seven-field key); folded into `agg` by `finish`.
    var edgeCells: [UInt64: REDCell] = [:]
    var edgeGroups = GroupTable<RedEdge.Key>()
    var trafficCalls: [UInt64: UInt64] = [:]
    var trafficGroups = GroupTable<TrafficMatrix.Key>()
    /// Direct-mapped cache of resolved call shapes (see `CallShape`).
    var shapes: [ShapeEntry?]
    /// red_route, dns_names and call_chains (set by `HostProcessor.run`).
    var l7: L7Aggregation?
    var host = ""
    /// The corrected time of the record `bucket` last placed (UTC ns).
    var lastUTC: Int64 = 0

    init(partition: Partition, bucketNanos: Int64, histogramScale: Int, counters: HostCounters, resolver: Resolver,
         ids: FixedIDs, tables: Set<String>) {
        self.counters = counters
        self.resolver = resolver
        self.ids = ids
        start = partition.startNanos
        end = partition.endNanos
        width = bucketNanos
        scale = histogramScale
        wantEdge = tables.contains("red_edge")
        wantTraffic = tables.contains("traffic_matrix")
        wantHealth = tables.contains("tcp_health")
        wantDrops = tables.contains("tcp_drops")
        let buckets = Int((end - start + width - 1) / width)
        serviceCells = [[REDCell]](repeating: [], count: buckets)
        shapes = [ShapeEntry?](repeating: nil, count: CallShape.slots)
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
        let remote = resolver.remote(peerServiceID: peerService, address: raddr, ids: ids, names: &names)
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

    @inline(__always)
    func cellKey(_ group: Int32, _ bucket: Int) -> UInt64 { UInt64(UInt32(bitPattern: group)) << 32 | UInt64(bucket) }

    /// A call's enrichment, from the shape cache or resolved (and cached) on a miss.
    @inline(__always)
    mutating func resolved(_ c: rl_l7_call, laddr: NetworkAddress, raddr: NetworkAddress,
                           names: inout NamePool) -> ResolvedShape {
        let shape = CallShape(cgroup: c.cgroup_id, localService: c.local_service, peerService: c.peer_service,
                              raddr: raddr, laddr: laddr, l7: c.l7_proto, l4: c.l4_proto)
        let slot = shape.slot
        if let hit = shapes[slot], hit.shape == shape { return hit.resolved }
        let e = resolve(cgroup: c.cgroup_id, localService: c.local_service, peerService: c.peer_service,
                        laddr: laddr, raddr: raddr, names: &names)
        let (local, remote, localDC, remoteDC, src) = (e.local, e.remote, e.localDC, e.remoteDC, e.peerSource)
        let proto = resolver.protocolID(c.l7_proto, names: &names)
        let l4 = c.l4_proto == 17 ? ids.udp : ids.tcp
        // Group keys with bucket 0; the bucket is added when the cells are folded.
        let r = ResolvedShape(
            local: local, remote: remote, localDC: localDC, remoteDC: remoteDC, proto: proto,
            serverGroup: serviceGroups.id(ServiceGroup(service: local, proto: proto, observer: ids.server, local: local)),
            clientGroup: serviceGroups.id(ServiceGroup(service: remote, proto: proto, observer: ids.client, local: local)),
            serverEdge: edgeGroups.id(RedEdge.Key(bucket: 0, caller: remote, callee: local, callerDC: remoteDC,
                                              calleeDC: localDC, proto: proto, observer: ids.server, peerSource: src)),
            clientEdge: edgeGroups.id(RedEdge.Key(bucket: 0, caller: local, callee: remote, callerDC: localDC,
                                              calleeDC: remoteDC, proto: proto, observer: ids.client, peerSource: src)),
            serverTraffic: trafficGroups.id(TrafficMatrix.Key(bucket: 0, srcDC: remoteDC, dstDC: localDC, srcService: remote,
                                                       dstService: local, l4: l4, observer: ids.destination,
                                                       peerSource: src)),
            clientTraffic: trafficGroups.id(TrafficMatrix.Key(bucket: 0, srcDC: localDC, dstDC: remoteDC, srcService: local,
                                                       dstService: remote, l4: l4, observer: ids.source,
                                                       peerSource: src)))
        shapes[slot] = ShapeEntry(shape: shape, resolved: r)
        return r
    }

    mutating func calls(_ calls: UnsafeBufferPointer<rl_l7_call>, names: inout NamePool) {
        let server = UInt8(RL_SIDE_SERVER.rawValue)
        let serverError = UInt8(RL_STATUS_SERVER_ERROR.rawValue), clientError = UInt8(RL_STATUS_CLIENT_ERROR.rawValue)
        for c in calls {
            guard let bi = bucket(c.start_ns) else { continue }
            counters.aggregated += 1
            let laddr = address(c.laddr), raddr = address(c.raddr)
            let r = resolved(c, laddr: laddr, raddr: raddr, names: &names)
            countUnknowns(local: r.local, remote: r.remote)
            let isServer = c.side == server
            let isError = c.status_class == serverError, isClientError = c.status_class == clientError
            // A request counted without its response carries no latency.
            let unpaired = c.flags & UInt8(RL_CALL_UNPAIRED.rawValue) != 0
            func fill(_ cell: inout REDCell) {
                cell.requests &+= 1
                if isError { cell.errors &+= 1 }
                if isClientError { cell.clientErrors &+= 1 }
                cell.requestBytes &+= UInt64(c.req_bytes)
                cell.responseBytes &+= UInt64(c.resp_bytes)
                if !unpaired { cell.latency.record(c.duration_ns) }
            }
            let g = Int(isServer ? r.serverGroup : r.clientGroup)
            if serviceCells[bi].count <= g {
                serviceCells[bi].append(contentsOf: repeatElement(REDCell(scale: scale), count: g + 1 - serviceCells[bi].count))
            }
            fill(&serviceCells[bi][g])
            if wantEdge {
                fill(&edgeCells[cellKey(isServer ? r.serverEdge : r.clientEdge, bi), default: REDCell(scale: scale)])
            }
            if wantTraffic {
                trafficCalls[cellKey(isServer ? r.serverTraffic : r.clientTraffic, bi), default: 0] &+= 1
            }
            if l7?.isActive == true {
                l7!.add(c, caller: isServer ? r.remote : r.local, callee: isServer ? r.local : r.remote, proto: r.proto,
                        observer: isServer ? ids.server : ids.client, isServer: isServer, bucket: bucketStart(bi),
                        utcStart: lastUTC, host: host, names: &names, fill: fill)
            }
        }
    }

    mutating func flows(_ flows: UnsafeBufferPointer<rl_flow_delta>, names: inout NamePool) {
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
                agg.traffic.update(TrafficMatrix.Key(bucket: b, srcDC: localDC, dstDC: remoteDC, srcService: local,
                                              dstService: remote, l4: l4, observer: ids.source, peerSource: e.peerSource),
                                   make: { TrafficCell() }) {
                    $0.bytes &+= f.tx_bytes; $0.packets &+= f.tx_packets; $0.flows &+= 1
                    $0.payloadBytes = layoutV1 ? nil : $0.payloadBytes.map { $0 &+ f.tx_payload_bytes }
                }
            }
            if wantTraffic && (f.rx_bytes > 0 || f.rx_packets > 0) {
                agg.traffic.update(TrafficMatrix.Key(bucket: b, srcDC: remoteDC, dstDC: localDC, srcService: remote,
                                              dstService: local, l4: l4, observer: ids.destination,
                                              peerSource: e.peerSource),
                                   make: { TrafficCell() }) {
                    $0.bytes &+= f.rx_bytes; $0.packets &+= f.rx_packets; $0.flows &+= 1
                    $0.payloadBytes = layoutV1 ? nil : $0.payloadBytes.map { $0 &+ f.rx_payload_bytes }
                }
            }
            let missing = UInt32(RL_FLOW_ID_OPTION_MISSING.rawValue), opened = UInt32(RL_FLOW_OPENED.rawValue)
            if wantHealth && f.flags & missing != 0 && f.flags & opened != 0 {
                agg.health.update(TCPHealth.Key(bucket: b, service: local, peer: remote, peerSource: e.peerSource),
                                  make: { TCPHealthCell() }) {
                    $0.idOptionMissing &+= 1
                }
            }
        }
    }

    mutating func tcpEvents(_ events: UnsafeBufferPointer<rl_tcp_event>, names: inout NamePool) {
        for e in events {
            guard let bi = bucket(e.ts_ns) else { continue }
            counters.aggregated += 1
            let local = resolver.local(cgroup: e.cgroup_id, serviceID: e.local_service, names: &names)
            ledger.observed[.init(cls: Self.tcpClass(local), bucket: bi), default: 0] &+= 1
            let remote = resolver.remote(peerServiceID: e.peer_service, address: address(e.raddr), ids: ids, names: &names)
            let b = bucketStart(bi)
            let n = UInt64(max(e.count, 1))
            if wantHealth {
                agg.health.update(TCPHealth.Key(bucket: b, service: local, peer: remote.service, peerSource: remote.source),
                                  make: { TCPHealthCell() }) { h in
                    switch UInt32(e.kind) {
                    case RL_TCP_RETRANSMIT.rawValue: h.retransmits &+= n
                    case RL_TCP_RESET_SENT.rawValue: h.resetsSent &+= n
                    case RL_TCP_RESET_RECEIVED.rawValue: h.resetsReceived &+= n
                    case RL_TCP_DROP.rawValue:
                        switch DropReasons.dropClass(Int32(bitPattern: e.drop_reason)) {
                        case .network: h.drops &+= n
                        case .policy: h.dropsPolicy &+= n
                        case .teardown: h.dropsTeardown &+= n
                        case .other: h.dropsOther &+= n
                        }
                    default: break
                    }
                }
            }
            if wantDrops && UInt32(e.kind) == RL_TCP_DROP.rawValue {
                agg.drops.update(TCPDrops.Key(bucket: b, service: local, reason: Int32(bitPattern: e.drop_reason)),
                                 make: { Count() }) { $0.value &+= n }
            }
        }
    }

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
    mutating func stats(_ stats: UnsafeBufferPointer<rl_stats>, names: inout NamePool) {
        for s in stats where HostProcessor.lossCounters.contains(s.counter) && s.value > 0 {
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
    mutating func losses(_ records: UnsafeBufferPointer<rl_loss>, names: inout NamePool) {
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

    /// Folds the dense per-bucket state into the aggregates and gives every row its completeness:
    /// its own events, and its class's losses in proportion (LossAttribution.swift).
    mutating func finish(warnings: [String], names: inout NamePool) -> HostProcessor.Outcome {
        for (bi, cells) in serviceCells.enumerated() {
            for (g, cell) in cells.enumerated() where cell.requests > 0 {
                let k = serviceGroups.keys[g]
                ledger.observed[.init(cls: Self.callClass(proto: k.proto, observer: k.observer, local: k.local), bucket: bi),
                                default: 0] &+= cell.requests
            }
        }
        ledger.charge(losses)
        losses = [:]
        for (bi, cells) in serviceCells.enumerated() {
            for (g, cell) in cells.enumerated() where cell.requests > 0 {
                let k = serviceGroups.keys[g]
                let key = RedService.Key(bucket: bucketStart(bi), service: k.service, proto: k.proto, observer: k.observer)
                agg.redService.merge(key, cell)
                let c = ledger.completeness(weight: cell.requests,
                                            Self.callClass(proto: k.proto, observer: k.observer, local: k.local), bucket: bi)
                agg.redServiceCompleteness[key, default: Completeness()].merge(c)
            }
        }
        serviceCells = []
        for (key, cell) in edgeCells {
            var k = edgeGroups.keys[Int(key >> 32)]
            let bi = Int(key & 0xFFFF_FFFF)
            k.bucket = bucketStart(bi)
            agg.redEdge.merge(k, cell)
            let local = k.observer == ids.server ? k.callee : k.caller
            agg.redEdgeCompleteness[k, default: Completeness()].merge(
                ledger.completeness(weight: cell.requests, Self.callClass(proto: k.proto, observer: k.observer, local: local), bucket: bi))
        }
        edgeCells = [:]
        // Flow deltas may have filled the same traffic rows; calls add to them.
        for (key, calls) in trafficCalls {
            var k = trafficGroups.keys[Int(key >> 32)]
            k.bucket = bucketStart(Int(key & 0xFFFF_FFFF))
            agg.traffic.update(k, make: { TrafficCell() }) { $0.calls &+= calls }
        }
        trafficCalls = [:]
        func index(_ bucket: Int64) -> Int { Int((bucket - start) / width) }
        for (k, cell) in agg.traffic.cells {
            let local = k.observer == ids.source ? k.srcService : k.dstService
            agg.trafficCompleteness[k] = ledger.completeness(weight: cell.flows, Self.flowClass(local), bucket: index(k.bucket))
        }
        for (k, cell) in agg.health.cells {
            let events = cell.retransmits &+ cell.resetsSent &+ cell.resetsReceived &+ cell.drops
            agg.healthCompleteness[k] = ledger.completeness(weight: events, Self.tcpClass(k.service), bucket: index(k.bucket))
        }
        for (k, cell) in agg.drops.cells {
            agg.dropsCompleteness[k] = ledger.completeness(weight: cell.value, Self.tcpClass(k.service), bucket: index(k.bucket))
        }
        addLossOnlyRows()
        if var l = l7 {
            l7 = nil
            let ledger = self.ledger, start = self.start, width = self.width
            l.finish(into: &agg, names: &names) { weight, proto, observer, local, bucket in
                ledger.completeness(weight: weight, Self.callClass(proto: proto, observer: observer, local: local),
                                    bucket: Int((bucket - start) / width))
            }
        }
        counters.maxTimeUncertaintyNanos = watermark == nil ? nil : maxUncertainty
        return HostProcessor.Outcome(aggregates: agg, counters: counters, warnings: warnings, watermark: watermark)
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
                let key = RedService.Key(bucket: b, service: client ? NamePool.unknown : c.service, proto: c.proto, observer: c.observer)
                agg.redService.merge(key, REDCell(scale: scale))
                agg.redServiceCompleteness[key, default: Completeness()].merge(completeness)
                if wantEdge {
                    let e = RedEdge.Key(bucket: b, caller: client ? c.service : NamePool.unknown, callee: client ? NamePool.unknown : c.service,
                                    callerDC: NamePool.unknown, calleeDC: NamePool.unknown, proto: c.proto, observer: c.observer,
                                    peerSource: NamePool.unknown)
                    agg.redEdge.merge(e, REDCell(scale: scale))
                    agg.redEdgeCompleteness[e, default: Completeness()].merge(completeness)
                }
            case Self.tcpType where wantHealth:
                let key = TCPHealth.Key(bucket: b, service: c.service, peer: NamePool.unknown, peerSource: NamePool.unknown)
                agg.health.update(key, make: { TCPHealthCell() }) { _ in }
                agg.healthCompleteness[key, default: Completeness()].merge(completeness)
            default:
                break
            }
        }
    }
}

/// The fields of a call its enrichment depends on: calls repeat a few thousand shapes, so
/// enrichment is resolved once per shape instead of by five dictionary lookups per call.
struct CallShape: Equatable {
    var cgroup: UInt64
    var localService: UInt32
    var peerService: UInt32
    var raddr: NetworkAddress
    var laddr: NetworkAddress
    var l7: UInt8
    var l4: UInt8

    /// Cache slots (a power of two); a collision only costs a re-resolution.
    static let slots = 1 << 14

    /// A multiplicative mix of the fields, top 14 bits: far cheaper than SipHash, and the cache
    /// compares the whole shape, so a weak hash cannot give a wrong answer.
    @inline(__always) var slot: Int {
        var h = cgroup &* 0x9E37_79B9_7F4A_7C15
        h ^= (UInt64(localService) << 32 | UInt64(peerService)) &* 0xC2B2_AE3D_27D4_EB4F
        h ^= (raddr.low ^ raddr.high &* 31) &* 0x1656_67B1_9E37_79F9
        h ^= (laddr.low ^ laddr.high &* 31 ^ UInt64(l7) << 56 ^ UInt64(l4) << 48) &* 0x27D4_EB2F_1656_67C5
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
