import CRedlineABI
import Foundation
import KernelProbes
import Logging
import Segments
import Timebase

/// Why the collector could not start or had to stop.
public enum CollectorError: Error, CustomStringConvertible {
    case config(String)
    case kernel(String)
    case io(String)

    public var description: String {
        switch self {
        case .config(let s): "configuration: \(s)"
        case .kernel(let s): "kernel: \(s)"
        case .io(let s): "I/O: \(s)"
        }
    }

    /// 3 configuration, 4 kernel (load/attach), 5 I/O.
    public var exitCode: Int32 {
        switch self {
        case .config: 3
        case .kernel: 4
        case .io: 5
        }
    }
}

/// The host collector: loads and configures the kernel programs, attaches
/// them, turns ring-buffer events into segment records, takes clock anchors,
/// writes loss counters and cgroup mappings, enforces the disk budget, and
/// exports its own health. `stop()`/`reload()` are safe to call from a signal
/// watcher; everything else runs on the thread that calls `run`.
public final class CollectorRuntime {
    public private(set) var config: CollectorConfig
    public let configPath: String
    let dataPlane: DataPlane
    let attachments = Attachments()
    let sink: SegmentSink
    let resolver = CgroupResolver()
    var logger: Logger
    private var ring: RingBufferReader?
    private var mappings: [UInt64: rl_cgroup_mapping] = [:]
    private let maxMappings = 65_536

    // Counters (running totals) for stats records and metrics.
    private var lastKernel = KernelStats()
    private var read = [UInt64](repeating: 0, count: Int(RL_REC_TYPE_MAX.rawValue))
    private var userDropped = [UInt64](repeating: 0, count: Int(RL_REC_TYPE_MAX.rawValue))
    private var lastRead = [UInt64](repeating: 0, count: Int(RL_REC_TYPE_MAX.rawValue))
    private var lastUserDropped = [UInt64](repeating: 0, count: Int(RL_REC_TYPE_MAX.rawValue))
    private var prefixesParsed: UInt64 = 0
    private var malformedSamples: UInt64 = 0
    private var deletedSegments: UInt64 = 0
    private var deletedBytes: UInt64 = 0
    private var pendingDeleted: (files: UInt64, bytes: UInt64) = (0, 0)
    private var lastStatsMono: UInt64 = 0
    private var maxPollLagNanos: UInt64 = 0
    private var writeErrors: UInt64 = 0
    private var startedMono: UInt64 = CollectorRuntime.monotonicNow()

    /// Events handled since the resident-memory check; the check runs every 4096 events.
    private var sinceMemoryCheck = 0
    /// True while resident memory is over `memory_cap`: events are shed (counted) until it is not.
    private var shedding = false

    private let stopFlag = Flag()
    private let reloadFlag = Flag()

    final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        func set() { lock.lock(); value = true; lock.unlock() }
        func take() -> Bool { lock.lock(); defer { value = false; lock.unlock() }; return value }
        func peek() -> Bool { lock.lock(); defer { lock.unlock() }; return value }
    }

    /// Loads the programs from `objectPath` and prepares the segment sink.
    /// Nothing is attached until `start()`.
    public init(config: CollectorConfig, configPath: String, objectPath: String, logger: Logger) throws(CollectorError) {
        self.config = config
        self.configPath = configPath
        self.logger = logger
        do {
            dataPlane = try DataPlane(objectPath: objectPath)
        } catch {
            throw .kernel("loading \(objectPath): \(error)")
        }
        guard let boot = Segments.BootID.current() else { throw .io("cannot read /proc/sys/kernel/random/boot_id") }
        sink = SegmentSink(root: config.segmentRoot, host: config.host, bootID: boot, windowSeconds: config.windowSeconds,
                           maxSegmentBytes: config.maxSegmentBytes, sampler: AnchorSampler(sandwiches: config.anchorSamples))
        sink.preamble = { [unowned self] in Array(self.mappings.values).sorted { $0.cgroup_id < $1.cgroup_id } }
        sink.onSeal = { [unowned self] path, footer in self.sealed(path: path, footer: footer) }
    }

    /// Pushes the configuration into the maps and attaches every program.
    public func start() throws(CollectorError) {
        try apply(config)
        do {
            for iface in try matchingInterfaces(config.interfaces) {
                removeStaleFilters(on: iface)
                // Egress first, then ingress: detach runs in reverse so the qdisc goes last.
                attachments.add(try TCAttachment(program: dataPlane.program(.tcEgress), interface: iface, direction: .egress))
                attachments.add(try TCAttachment(program: dataPlane.program(.tcIngress), interface: iface, direction: .ingress))
                logger.info("attached tc ingress+egress on \(iface)")
            }
            if let cg = config.sockopsCgroup {
                let path = resolver.mountPoint + (cg.hasPrefix("/") ? cg : "/" + cg)
                attachments.add(try Link.attachCgroup(dataPlane.program(.sockops), cgroupPath: path))
                logger.info("attached sockops on \(path)")
            }
            for p: DataPlane.ProgramName in [.retransmit, .sendReset, .receiveReset, .kfreeSkb] {
                attachments.add(try Link.attach(dataPlane.program(p)))
            }
            ring = try RingBufferReader(map: dataPlane.events) { [unowned self] sample in self.handle(sample) }
            lastKernel = try dataPlane.stats()
        } catch let e as CollectorError {
            try? attachments.detachAll()
            throw e
        } catch {
            try? attachments.detachAll()
            throw .kernel("\(error)")
        }
        do {
            try sink.anchor(reason: .start)
        } catch {
            throw .io("opening the first segment under \(config.segmentRoot): \(error)")
        }
        lastStatsMono = Self.monotonicNow()
    }

    /// Asks `run` to seal and return. Async-signal-context safe enough: takes a lock, no allocation.
    public func stop() { stopFlag.set() }
    /// Asks `run` to re-read the config file and push rules, filters, caps and service ids.
    public func reload() { reloadFlag.set() }

    /// Polls until `stop()` or `duration` elapses, then seals the open segment
    /// and detaches everything. Returns normally unless sealing fails.
    public func run(duration: Double?, readyFile: String?) throws(CollectorError) {
        let startMono = Self.monotonicNow()
        let deadline = duration.map { startMono + UInt64($0 * 1e9) }
        if let readyFile { FileManager.default.createFile(atPath: readyFile, contents: Data("ready\n".utf8)) }
        var nextTick: UInt64 = 0, nextAnchor = startMono + UInt64(config.anchorIntervalSeconds) * 1_000_000_000
        var nextMetrics: UInt64 = 0
        while !stopFlag.peek() {
            if let deadline, Self.monotonicNow() >= deadline { break }
            do {
                _ = try ring?.poll(timeoutMilliseconds: 100)
            } catch {
                logger.error("ring buffer: \(error)")
            }
            let now = Self.monotonicNow()
            if reloadFlag.take() { reloadConfig() }
            if now >= nextTick {
                nextTick = now + 1_000_000_000
                do {
                    try sink.tick(monotonicNowNanos: now)
                    if let a = sink.lastAnchor, try sink.sampler.offsetMoved(since: a, thresholdNanos: UInt64(config.stepThresholdNanos)) {
                        logger.warning("wall clock moved against the monotonic clock: taking a step anchor")
                        try sink.anchor(reason: .step)
                    }
                    if now >= nextAnchor {
                        nextAnchor = now + UInt64(config.anchorIntervalSeconds) * 1_000_000_000
                        try sink.anchor(reason: .periodic)
                    }
                    if now - lastStatsMono >= 10_000_000_000 { try writeStats(now: now) }
                } catch {
                    writeErrors += 1
                    logger.error("segment write: \(error)")
                }
            }
            if now >= nextMetrics {
                nextMetrics = now + 10_000_000_000
                writeMetrics()
            }
        }
        try shutdown()
    }

    /// Drains the ring, writes the last stats, seals, detaches. Idempotent.
    public func shutdown() throws(CollectorError) {
        _ = try? ring?.drain()
        ring = nil
        var failure: CollectorError?
        do {
            try writeStats(now: Self.monotonicNow())
            try sink.close()
        } catch {
            failure = .io("sealing the last segment: \(error)")
        }
        do {
            try attachments.detachAll()
        } catch {
            failure = failure ?? .kernel("detach: \(error)")
        }
        writeMetrics()
        if let failure { throw failure }
        let events = read.reduce(0, &+)
        let elapsed = Double(Self.monotonicNow() - startedMono) / 1e9
        let cpu = Self.cpuSeconds()
        logger.info("sealed \(sink.sealedCount) segments, detached; \(events) events in \(String(format: "%.1f", elapsed)) s using \(String(format: "%.2f", cpu)) s CPU (\(String(format: "%.1f", elapsed > 0 ? cpu / elapsed * 100 : 0)) % of one core)")
    }

    // MARK: - Events

    private func handle(_ sample: RingSample) {
        sinceMemoryCheck += 1
        if sinceMemoryCheck >= 4096 {
            sinceMemoryCheck = 0
            let over = Self.residentBytes() > UInt64(config.memoryCapBytes)
            if over != shedding {
                shedding = over
                if over { logger.error("resident memory over memory_cap (\(config.memoryCapBytes) bytes): shedding events, counted as dropped") }
                else { logger.info("resident memory back under memory_cap: no longer shedding") }
            }
        }
        if shedding {
            userDropped[Self.recordIndex(sample.type)] &+= 1
            return
        }
        let pollNow = Self.monotonicNow()
        do {
            switch KernelRecord(sample) {
            case .flowDelta(let f):
                read[Int(RL_REC_FLOW_DELTA.rawValue)] &+= 1
                noteCgroup(f.cgroup_id)
                if pollNow > f.end_ns { maxPollLagNanos = max(maxPollLagNanos, pollNow - f.end_ns) }
                try sink.append(f)
            case .call(var c, let prefix):
                read[Int(RL_REC_L7_CALL.rawValue)] &+= 1
                noteCgroup(c.cgroup_id)
                if let prefix, !prefix.isEmpty {
                    CallContext.fill(&c, prefix: prefix)
                    prefixesParsed &+= 1
                }
                try sink.append(c)
            case .tcpEvent(let e):
                read[Int(RL_REC_TCP_EVENT.rawValue)] &+= 1
                noteCgroup(e.cgroup_id)
                try sink.append(e)
            case .unknown:
                malformedSamples &+= 1
            }
        } catch {
            writeErrors &+= 1
            userDropped[Self.recordIndex(sample.type)] &+= 1
        }
    }

    /// The record type a ring sample becomes (a call with a prefix is a call); 0 if none.
    static func recordIndex(_ sampleType: UInt16) -> Int {
        if UInt32(sampleType) == RL_KSAMPLE_CALL_WITH_PREFIX.rawValue { return Int(RL_REC_L7_CALL.rawValue) }
        return Int(sampleType) < Int(RL_REC_TYPE_MAX.rawValue) ? Int(sampleType) : 0
    }

    /// Resolves a cgroup the first time it is seen and records the mapping.
    private func noteCgroup(_ id: UInt64) {
        guard id != 0, mappings[id] == nil, mappings.count < maxMappings else { return }
        var m = rl_cgroup_mapping()
        m.ts_ns = Self.monotonicNow()
        m.cgroup_id = id
        let path = resolver.path(forID: id) ?? ""
        m.service_id = config.services.first { $0.cgroup == path }?.id ?? 0
        let ident = CgroupResolver.identity(fromPath: path)
        var truncated = false
        truncated = Self.copy(ident.podUID ?? "", into: &m.pod_uid) || truncated
        truncated = Self.copy(ident.containerID ?? "", into: &m.container_id) || truncated
        truncated = Self.copy(path, into: &m.path) || truncated
        m.flags = truncated ? 1 : 0
        mappings[id] = m
        try? sink.append(m)
    }

    /// Copies a string into a NUL-padded fixed field; true if it had to be cut.
    static func copy<T>(_ s: String, into field: inout T) -> Bool {
        withUnsafeMutableBytes(of: &field) { buf in
            buf.initializeMemory(as: UInt8.self, repeating: 0)
            let bytes = Array(s.utf8)
            let n = min(bytes.count, buf.count - 1)
            for i in 0..<n { buf[i] = bytes[i] }
            return bytes.count > n
        }
    }

    // MARK: - Stats, metrics, disk budget

    private func writeStats(now: UInt64) throws {
        let interval = now - lastStatsMono
        lastStatsMono = now
        let k = (try? dataPlane.stats()) ?? lastKernel
        func emit(_ counter: rl_stats_counter, _ subject: Int, _ value: UInt64) throws {
            guard value > 0 else { return }
            try sink.append(rl_stats(ts_ns: now, interval_ns: interval, counter: UInt32(counter.rawValue),
                                     subject: UInt32(subject), value: value))
        }
        for t in 0..<min(k.emitted.count, Int(RL_REC_TYPE_MAX.rawValue)) {
            try emit(RL_STAT_EVENTS_EMITTED, t, k.emitted[t] &- lastKernel.emitted[t])
            try emit(RL_STAT_RINGBUF_DROPPED, t, k.ringbufDropped[t] &- lastKernel.ringbufDropped[t])
            try emit(RL_STAT_RATE_CAPPED, t, k.rateCapped[t] &- lastKernel.rateCapped[t])
        }
        for p in 0..<k.unpairedRequest.count {
            try emit(RL_STAT_UNPAIRED_REQUEST, p, k.unpairedRequest[p] &- lastKernel.unpairedRequest[p])
            try emit(RL_STAT_UNPAIRED_RESPONSE, p, k.unpairedResponse[p] &- lastKernel.unpairedResponse[p])
        }
        try emit(RL_STAT_ID_OPTION_MISSING, 0, k.idOptionMissing &- lastKernel.idOptionMissing)
        for t in 0..<read.count {
            try emit(RL_STAT_EVENTS_READ, t, read[t] &- lastRead[t])
            try emit(RL_STAT_USER_DROPPED, t, userDropped[t] &- lastUserDropped[t])
        }
        try emit(RL_STAT_SEGMENTS_DELETED, 0, pendingDeleted.files)
        try emit(RL_STAT_BYTES_DELETED, 0, pendingDeleted.bytes)
        pendingDeleted = (0, 0)
        lastKernel = k
        lastRead = read
        lastUserDropped = userDropped
    }

    private func sealed(path: String, footer: SegmentFooter) {
        logger.info("sealed \(path) (\(footer.recordCount) records)")
        guard config.diskBudgetBytes > 0 else { return }
        let r = DiskBudget(root: config.segmentRoot, budgetBytes: config.diskBudgetBytes).enforce()
        if !r.deletedFiles.isEmpty {
            deletedSegments += UInt64(r.deletedFiles.count)
            deletedBytes += UInt64(r.deletedBytes)
            pendingDeleted.files += UInt64(r.deletedFiles.count)
            pendingDeleted.bytes += UInt64(r.deletedBytes)
            logger.warning("disk budget: deleted \(r.deletedFiles.count) oldest sealed segments (\(r.deletedBytes) bytes)")
        }
    }

    private func writeMetrics() {
        guard let path = config.metricsFile else { return }
        let names = ["", "flow_delta", "l7_call", "tcp_event", "clock_anchor", "stats", "cgroup_mapping"]
        var samples: [MetricsTextfile.Sample] = []
        let k = (try? dataPlane.stats()) ?? lastKernel
        for t in 1..<min(names.count, Int(RL_REC_TYPE_MAX.rawValue)) {
            let kind = [("kind", names[t])]
            samples.append(.init("redline_events_read_total", .counter, help: "Events the collector read from the ring buffer.",
                                 labels: kind, value: Double(read[t])))
            if t < k.emitted.count {
                samples.append(.init("redline_kernel_events_emitted_total", .counter, help: "Events the kernel put in the ring buffer.",
                                     labels: kind, value: Double(k.emitted[t])))
                samples.append(.init("redline_events_dropped_total", .counter,
                                     help: "Events lost before the collector: ring buffer full, rate cap, or shed by the collector.",
                                     labels: kind + [("reason", "ringbuf_full")], value: Double(k.ringbufDropped[t])))
                samples.append(.init("redline_events_dropped_total", .counter,
                                     help: "Events lost before the collector: ring buffer full, rate cap, or shed by the collector.",
                                     labels: kind + [("reason", "rate_cap")], value: Double(k.rateCapped[t])))
            }
            samples.append(.init("redline_events_dropped_total", .counter,
                                 help: "Events lost before the collector: ring buffer full, rate cap, or shed by the collector.",
                                 labels: kind + [("reason", "collector")], value: Double(userDropped[t])))
        }
        samples.append(.init("redline_unpaired_messages_total", .counter, help: "L7 requests or responses that formed no call.",
                             labels: [("role", "request")], value: Double(k.unpairedRequest.reduce(0, &+))))
        samples.append(.init("redline_unpaired_messages_total", .counter, help: "L7 requests or responses that formed no call.",
                             labels: [("role", "response")], value: Double(k.unpairedResponse.reduce(0, &+))))
        samples.append(.init("redline_filtered_packets_total", .counter, help: "Packets the filters excluded from reporting.",
                             value: Double(k.filtered)))
        samples.append(.init("redline_retransmits_skipped_total", .counter,
                             help: "TCP payload segments seen again (retransmitted): not classified, walked or counted twice.",
                             value: Double(k.retransmitsSkipped)))
        samples.append(.init("redline_stream_lost_total", .counter,
                             help: "HTTP/1.x or RESP message walks that lost sync; their messages went uncounted until the next one a segment starts with.",
                             value: Double(k.streamLost)))
        samples.append(.init("redline_identity_option_missing_total", .counter,
                             help: "Connections whose peer's identity TCP option was expected and missing.", value: Double(k.idOptionMissing)))
        samples.append(.init("redline_segments_sealed_total", .counter, help: "Segments sealed.", value: Double(sink.sealedCount)))
        samples.append(.init("redline_segment_bytes_written_total", .counter, help: "Bytes of sealed segments written.",
                             value: Double(sink.sealedBytes)))
        samples.append(.init("redline_segments_deleted_total", .counter, help: "Sealed segments deleted by the disk budget.",
                             value: Double(deletedSegments)))
        samples.append(.init("redline_write_errors_total", .counter, help: "Failed segment writes (their events are counted as dropped).",
                             value: Double(writeErrors)))
        samples.append(.init("redline_poll_lag_seconds", .gauge,
                             help: "Largest delay seen between a flow delta's last packet and the collector reading it.",
                             value: Double(maxPollLagNanos) / 1e9))
        samples.append(.init("redline_cpu_seconds_total", .counter, help: "CPU time the collector has used (user + system).",
                             value: Self.cpuSeconds()))
        samples.append(.init("redline_resident_memory_bytes", .gauge, help: "The collector's resident memory.",
                             value: Double(Self.residentBytes())))
        maxPollLagNanos = 0
        do {
            try MetricsTextfile.write(samples, to: path)
        } catch {
            logger.error("metrics file: \(error)")
        }
    }

    // MARK: - Configuration

    /// Pushes rate caps, rules, filters and service ids into the kernel maps.
    func apply(_ c: CollectorConfig) throws(CollectorError) {
        do {
            try dataPlane.set(RL_CFG_RATE_FLOW, UInt64(c.rateCaps.flowDelta))
            try dataPlane.set(RL_CFG_RATE_CALL, UInt64(c.rateCaps.l7Call))
            try dataPlane.set(RL_CFG_RATE_TCP_EVENT, UInt64(c.rateCaps.tcpEvent))
            try dataPlane.set(RL_CFG_ID_OPTION_EXPECTED, c.sockopsCgroup == nil ? 0 : 1)
            // Tracepoints see every namespace; this collector reports its own.
            try dataPlane.set(RL_CFG_NETNS_INO, Self.networkNamespaceInode())
        } catch {
            throw .kernel("config map: \(error)")
        }
        if let rulesFile = c.rulesFile {
            guard let text = try? String(contentsOfFile: rulesFile, encoding: .utf8) else {
                throw .config("rules file \(rulesFile) not readable")
            }
            do {
                try dataPlane.install(try RuleSet(yaml: text))
            } catch {
                throw .config("\(rulesFile): \(error)")
            }
        }
        try applyFilters(c.filters)
        for s in c.services {
            guard let id = resolver.id(forPath: s.cgroup) else {
                logger.warning("services: cgroup \(s.cgroup) does not exist (yet); its service id applies once it does and the collector reloads")
                continue
            }
            do { try dataPlane.setService(cgroupID: id, serviceID: s.id) } catch { throw .kernel("service map: \(error)") }
        }
    }

    private func applyFilters(_ filters: [CollectorConfig.FilterRule]) throws(CollectorError) {
        var active: UInt64 = 0, allowList: UInt64 = 0, l7Deny: UInt64 = 0
        do {
            for m in [dataPlane.filterCIDR, dataPlane.filterPort, dataPlane.filterClassid] {
                for k in try m.keys() { _ = try m.delete(key: k) }
            }
            for f in filters {
                let action = f.action == .allow ? RL_FILTER_ALLOW : RL_FILTER_DENY
                if let cidr = f.cidr {
                    let parts = cidr.split(separator: "/")
                    var a4 = in_addr(), a6 = in6_addr()
                    let text = String(parts[0])
                    let bytes: [UInt8]
                    if inet_pton(AF_INET, text, &a4) == 1 {
                        bytes = withUnsafeBytes(of: a4) { Array($0) }
                    } else if inet_pton(AF_INET6, text, &a6) == 1 {
                        bytes = withUnsafeBytes(of: a6) { Array($0) }
                    } else {
                        throw CollectorError.config("filter cidr \(cidr)")
                    }
                    try dataPlane.addCIDR(bytes, prefixLength: Int(parts[1])!, action: action)
                    active |= UInt64(RL_FILTER_CIDR.rawValue)
                    if f.action == .allow { allowList |= UInt64(RL_FILTER_CIDR.rawValue) }
                } else if let port = f.port {
                    let protos: [UInt8] = f.l4Protocol == "udp" ? [17] : f.l4Protocol == "tcp" ? [6] : [6, 17]
                    for p in protos { try dataPlane.addPort(UInt16(port), l4Proto: p, action: action) }
                    active |= UInt64(RL_FILTER_PORT.rawValue)
                    if f.action == .allow { allowList |= UInt64(RL_FILTER_PORT.rawValue) }
                } else if let cls = f.sourceClassID ?? f.destinationClassID {
                    try dataPlane.addClassid(cls, direction: f.sourceClassID != nil ? RL_CLASSID_SOURCE : RL_CLASSID_DESTINATION,
                                             action: action)
                    active |= UInt64(RL_FILTER_CLASSID.rawValue)
                    if f.action == .allow { allowList |= UInt64(RL_FILTER_CLASSID.rawValue) }
                } else if let l7 = f.l7Protocol, let id = CollectorConfig.l7Names[l7] {
                    l7Deny |= 1 << UInt64(id)
                }
            }
            try dataPlane.set(RL_CFG_FILTERS_ACTIVE, active)
            try dataPlane.set(RL_CFG_DEFAULT_DENY, allowList)
            try dataPlane.set(RL_CFG_L7_DENY_MASK, l7Deny)
        } catch let e as CollectorError {
            throw e
        } catch {
            throw .kernel("filter maps: \(error)")
        }
    }

    /// SIGHUP: a valid new file replaces rules, filters, caps and service ids;
    /// an invalid one is reported and the running configuration kept.
    private func reloadConfig() {
        do {
            try sink.flush()
        } catch {
            logger.error("flushing before reload: \(error)")
        }
        do {
            let next = try CollectorConfig.load(path: configPath)
            try apply(next)
            config.rulesFile = next.rulesFile
            config.filters = next.filters
            config.rateCaps = next.rateCaps
            config.services = next.services
            logger.info("reloaded \(configPath): rules, filters, rate caps and service ids applied")
        } catch {
            logger.error("reload of \(configPath) failed, keeping the running configuration: \(error)")
            try? apply(config)
        }
    }

    /// Removes Redline tc filters a killed collector left on `iface`: they keep their
    /// programs alive and would count every packet a second time beside ours. Found by
    /// program name with iproute2's `tc` (the filters are ours by name; nothing else is touched).
    func removeStaleFilters(on iface: String) {
        for dir in ["ingress", "egress"] {
            guard let listing = Self.run(["tc", "filter", "show", "dev", iface, dir]) else { continue }
            for line in listing.split(separator: "\n") where line.contains("rl_tc_ingress") || line.contains("rl_tc_egress") {
                let f = line.split(separator: " ").map(String.init)
                guard let p = f.firstIndex(of: "pref"), p + 1 < f.count, let h = f.firstIndex(of: "handle"), h + 1 < f.count else { continue }
                if Self.run(["tc", "filter", "del", "dev", iface, dir, "pref", f[p + 1], "handle", f[h + 1], "bpf"]) != nil {
                    logger.warning("removed a stale Redline filter on \(iface) \(dir) (pref \(f[p + 1])), left by a collector that did not stop cleanly")
                }
            }
        }
    }

    /// Runs a command and returns its standard output, nil if it failed.
    static func run(_ args: [String]) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return p.terminationStatus == 0 ? String(decoding: data, as: UTF8.self) : nil
    }

    /// Interfaces of this network namespace matching the names or globs.
    func matchingInterfaces(_ patterns: [String]) throws(CollectorError) -> [String] {
        var names: [String] = []
        if let list = if_nameindex() {
            var p = list
            while p.pointee.if_index != 0 {
                names.append(String(cString: p.pointee.if_name))
                p += 1
            }
            if_freenameindex(list)
        }
        var out: [String] = []
        for pattern in patterns {
            let hits = names.filter { Self.glob(pattern, $0) }
            if hits.isEmpty {
                throw .config("interfaces: '\(pattern)' matches no interface here (have: \(names.sorted().joined(separator: ", ")))")
            }
            for h in hits where !out.contains(h) { out.append(h) }
        }
        return out
    }

    static func glob(_ pattern: String, _ text: String) -> Bool {
        fnmatch(pattern, text, 0) == 0
    }

    /// The inode of this process's network namespace (what `ls -L -i /proc/self/ns/net` shows).
    static func networkNamespaceInode() -> UInt64 {
        var st = stat()
        return stat("/proc/self/ns/net", &st) == 0 ? UInt64(st.st_ino) : 0
    }

    static func monotonicNow() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    static func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + Double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6
    }

    static func residentBytes() -> UInt64 {
        guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let f = s.split(separator: " ")
        guard f.count > 1, let pages = UInt64(f[1]) else { return 0 }
        return pages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
    }
}
