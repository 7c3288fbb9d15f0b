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

    public mutating func add(_ o: HostCounters) {
        files += o.files; damagedFiles += o.damagedFiles; openFiles += o.openFiles; blocks += o.blocks
        records += o.records; aggregated += o.aggregated; otherPartition += o.otherPartition
        uncorrectable += o.uncorrectable; unknownLocal += o.unknownLocal; unknownRemote += o.unknownRemote
        rejectedAnchors += o.rejectedAnchors
    }
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

    public func run(names: inout NamePool) -> Outcome {
        var counters = HostCounters()
        var warnings: [String] = []
        counters.files = files.count

        // Pass 1: anchors by boot, cgroup mappings, and which files end where.
        var anchors: [Timebase.BootID: [rl_clock_anchor]] = [:]
        var cgroups: [UInt64: CgroupInfo] = [:]
        for file in files {
            let result = scan(file) { info, reader, boot in
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

        // Pass 2: aggregate.
        var agg = PartitionAggregates()
        var resolver = Resolver(metadata: metadata, cgroups: cgroups)
        let ids = FixedIDs(&names)
        var watermark: Int64?
        let start = partition.startNanos, end = partition.endNanos, width = bucketNanos, scale = histogramScale

        for file in files {
            var cursor: Timeline.Cursor?
            var cursorBoot: Timebase.BootID?
            var fileBlocks = 0, fileRecords: UInt64 = 0, lastKernelNs: UInt64?
            let result = scan(file) { info, reader, boot in
                fileBlocks += 1
                fileRecords += UInt64(info.recordCount)
                lastKernelNs = max(lastKernelNs ?? 0, info.maxKernelNs)
                counters.blocks += 1
                counters.records += UInt64(info.recordCount)
                if cursorBoot != boot {
                    cursor = timebase.timelines[boot]?.makeCursor()
                    cursorBoot = boot
                }
                /// Corrects a monotonic time and returns its bucket, or nil (counted).
                func bucket(_ mono: UInt64) -> Int64? {
                    guard var c = cursor else { counters.uncorrectable += 1; return nil }
                    let r = c.correct(monotonicNanos: mono)
                    cursor = c
                    guard case .success(let t) = r else { counters.uncorrectable += 1; return nil }
                    let u = t.utcNanos
                    guard u >= start && u < end else { counters.otherPartition += 1; return nil }
                    if u > (watermark ?? .min) { watermark = u }
                    return start + ((u - start) / width) * width
                }
                /// Both ends' services and datacenters (unknowns counted).
                func endpoints(cgroup: UInt64, localService: UInt32, peerService: UInt32, laddr: NetworkAddress,
                               raddr: NetworkAddress) -> (Int32, Int32, Int32, Int32) {
                    let local = resolver.local(cgroup: cgroup, serviceID: localService, names: &names)
                    let remote = resolver.remote(peerServiceID: peerService, address: raddr, names: &names)
                    if local == NamePool.unknown { counters.unknownLocal += 1 }
                    if remote == NamePool.unknown { counters.unknownRemote += 1 }
                    return (local, remote, resolver.datacenter(laddr, names: &names), resolver.datacenter(raddr, names: &names))
                }
                switch info.recordType {
                case .l7Call:
                    _ = reader.withRecords(as: rl_l7_call.self) { calls in
                        for c in calls {
                            guard let b = bucket(c.start_ns) else { continue }
                            counters.aggregated += 1
                            agg.completeness[b, default: Completeness()].observed += 1
                            let (local, remote, localDC, remoteDC) = endpoints(
                                cgroup: c.cgroup_id, localService: c.local_service, peerService: c.peer_service,
                                laddr: address(c.laddr), raddr: address(c.raddr))
                            let isServer = c.side == UInt8(RL_SIDE_SERVER.rawValue)
                            let caller = isServer ? remote : local, callee = isServer ? local : remote
                            let callerDC = isServer ? remoteDC : localDC, calleeDC = isServer ? localDC : remoteDC
                            let proto = resolver.protocolID(c.l7_proto, names: &names)
                            let observer = isServer ? ids.server : ids.client
                            let isError = c.status_class == UInt8(RL_STATUS_SERVER_ERROR.rawValue)
                            let isClientError = c.status_class == UInt8(RL_STATUS_CLIENT_ERROR.rawValue)
                            func fill(_ cell: inout REDCell) {
                                cell.requests &+= 1
                                if isError { cell.errors &+= 1 }
                                if isClientError { cell.clientErrors &+= 1 }
                                cell.requestBytes &+= UInt64(c.req_bytes)
                                cell.responseBytes &+= UInt64(c.resp_bytes)
                                cell.latency.record(c.duration_ns)
                            }
                            agg.redService.update(ServiceKey(bucket: b, service: callee, proto: proto, observer: observer),
                                                  make: { REDCell(scale: scale) }, fill)
                            agg.redEdge.update(EdgeKey(bucket: b, caller: caller, callee: callee, callerDC: callerDC,
                                                       calleeDC: calleeDC, proto: proto, observer: observer),
                                               make: { REDCell(scale: scale) }, fill)
                            let l4 = c.l4_proto == 17 ? ids.udp : ids.tcp
                            agg.traffic.update(TrafficKey(bucket: b, srcDC: callerDC, dstDC: calleeDC, srcService: caller,
                                                          dstService: callee, l4: l4,
                                                          observer: isServer ? ids.destination : ids.source),
                                               make: { TrafficCell() }) { $0.calls &+= 1 }
                        }
                    }
                case .flowDelta:
                    _ = reader.withRecords(as: rl_flow_delta.self) { flows in
                        for f in flows {
                            guard let b = bucket(f.end_ns) else { continue }
                            counters.aggregated += 1
                            agg.completeness[b, default: Completeness()].observed += 1
                            let (local, remote, localDC, remoteDC) = endpoints(
                                cgroup: f.cgroup_id, localService: f.local_service, peerService: f.peer_service,
                                laddr: address(f.laddr), raddr: address(f.raddr))
                            let l4 = f.l4_proto == 17 ? ids.udp : ids.tcp
                            if f.tx_bytes > 0 || f.tx_packets > 0 {
                                agg.traffic.update(TrafficKey(bucket: b, srcDC: localDC, dstDC: remoteDC, srcService: local,
                                                              dstService: remote, l4: l4, observer: ids.source),
                                                   make: { TrafficCell() }) {
                                    $0.bytes &+= f.tx_bytes; $0.packets &+= f.tx_packets; $0.flows &+= 1
                                }
                            }
                            if f.rx_bytes > 0 || f.rx_packets > 0 {
                                agg.traffic.update(TrafficKey(bucket: b, srcDC: remoteDC, dstDC: localDC, srcService: remote,
                                                              dstService: local, l4: l4, observer: ids.destination),
                                                   make: { TrafficCell() }) {
                                    $0.bytes &+= f.rx_bytes; $0.packets &+= f.rx_packets; $0.flows &+= 1
                                }
                            }
                            let missing = UInt32(RL_FLOW_ID_OPTION_MISSING.rawValue), opened = UInt32(RL_FLOW_OPENED.rawValue)
                            if f.flags & missing != 0 && f.flags & opened != 0 {
                                agg.health.update(HealthKey(bucket: b, service: local, peer: remote), make: { TCPHealthCell() }) {
                                    $0.idOptionMissing &+= 1
                                }
                            }
                        }
                    }
                case .tcpEvent:
                    _ = reader.withRecords(as: rl_tcp_event.self) { events in
                        for e in events {
                            guard let b = bucket(e.ts_ns) else { continue }
                            counters.aggregated += 1
                            agg.completeness[b, default: Completeness()].observed += 1
                            let local = resolver.local(cgroup: e.cgroup_id, serviceID: e.local_service, names: &names)
                            let remote = resolver.remote(peerServiceID: e.peer_service, address: address(e.raddr), names: &names)
                            let n = UInt64(max(e.count, 1))
                            agg.health.update(HealthKey(bucket: b, service: local, peer: remote), make: { TCPHealthCell() }) { h in
                                switch UInt32(e.kind) {
                                case RL_TCP_RETRANSMIT.rawValue: h.retransmits &+= n
                                case RL_TCP_RESET_SENT.rawValue: h.resetsSent &+= n
                                case RL_TCP_RESET_RECEIVED.rawValue: h.resetsReceived &+= n
                                case RL_TCP_DROP.rawValue: h.drops &+= n
                                default: break
                                }
                            }
                            if UInt32(e.kind) == RL_TCP_DROP.rawValue {
                                agg.drops.update(DropKey(bucket: b, service: local, reason: Int32(bitPattern: e.drop_reason)),
                                                 make: { Count() }) { $0.value &+= n }
                            }
                        }
                    }
                case .stats:
                    _ = reader.withRecords(as: rl_stats.self) { stats in
                        for s in stats where Self.lossCounters.contains(s.counter) && s.value > 0 {
                            guard let b = bucket(s.ts_ns) else { continue }
                            agg.completeness[b, default: Completeness()].lost &+= s.value
                        }
                    }
                case .clockAnchor, .cgroupMapping:
                    break
                }
            }
            // A damaged file lost what followed the damage: count an estimate (its
            // average block) as lost in the bucket where its valid data ends, so the
            // rows there say they are incomplete. The manifest names the file.
            if result.warning != nil, let last = lastKernelNs, var c = cursor,
               case .success(let t) = c.correct(monotonicNanos: last), t.utcNanos >= start, t.utcNanos < end {
                let b = start + ((t.utcNanos - start) / width) * width
                let estimate = fileBlocks > 0 ? max(1, fileRecords / UInt64(fileBlocks)) : 1
                agg.completeness[b, default: Completeness()].lost &+= estimate
            }
        }
        return Outcome(aggregates: agg, counters: counters, warnings: warnings, watermark: watermark)
    }

    /// Stats counters that mean events were lost before the pipeline saw them.
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
    private func scan(_ file: String, _ body: (BlockInfo, SegmentReader, Timebase.BootID) -> Void) -> ScanResult {
        let open = file.hasSuffix(SegmentFormat.openSuffix)
        do {
            let reader = try SegmentReader(path: file, options: readerOptions, allowUnsealed: true)
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
    init(_ names: inout NamePool) {
        server = names.id("server")
        client = names.id("client")
        source = names.id("source")
        destination = names.id("destination")
        tcp = names.id("tcp")
        udp = names.id("udp")
    }
}

/// Enrichment with caches: records repeat the same few cgroups, peers and addresses.
struct Resolver {
    let metadata: Metadata
    let cgroups: [UInt64: HostProcessor.CgroupInfo]
    var localCache: [LocalKey: Int32] = [:]
    var remoteCache: [RemoteKey: Int32] = [:]
    var dcCache: [NetworkAddress: Int32] = [:]
    var protoCache: [UInt8: Int32] = [:]

    struct LocalKey: Hashable { var cgroup: UInt64; var service: UInt32 }
    struct RemoteKey: Hashable { var service: UInt32; var address: NetworkAddress }

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

    mutating func remote(peerServiceID: UInt32, address: NetworkAddress, names: inout NamePool) -> Int32 {
        let key = RemoteKey(service: peerServiceID, address: address)
        if let id = remoteCache[key] { return id }
        let id = metadata.remoteService(peerServiceID: peerServiceID, address: address).map { names.id($0) } ?? NamePool.unknown
        remoteCache[key] = id
        return id
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
