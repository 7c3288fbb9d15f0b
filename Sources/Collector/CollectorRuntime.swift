import CRedlineABI
import Foundation
import KernelProbes
import Logging
import RedlineBase
import Segments
import Timebase
import YAMLConfig

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
    /// The rules installed in the kernel (nil: none), for the rule-hit metrics.
    private(set) var installedRules: RuleSet?
    private var mappings: [UInt64: rl_cgroup_mapping] = [:]
    private let maxMappings = 65_536

    // Counters (running totals) for stats records and metrics.
    private var lastKernel = KernelStats()
    private var read = [UInt64](repeating: 0, count: Int(RL_REC_TYPE_MAX.rawValue))
    private var userDropped = [UInt64](repeating: 0, count: Int(RL_REC_TYPE_MAX.rawValue))
    private var lastRead = [UInt64](repeating: 0, count: Int(RL_REC_TYPE_MAX.rawValue))
    private var prefixesParsed: UInt64 = 0
    private var malformedSamples: UInt64 = 0
    private var deletedSegments: UInt64 = 0
    private var deletedBytes: UInt64 = 0
    /// Outcome of the last existing-listener walk (nil before the first, or without sockops).
    private var listenerWalk: (bothWays: Int, callersOnly: Int, failed: Int)?
    private var pendingDeleted: (files: UInt64, bytes: UInt64) = (0, 0)
    private var lastStatsMono: UInt64 = 0
    private var maxPollLagNanos: UInt64 = 0
    private var writeErrors: UInt64 = 0
    /// Kinds of write error ("call errno") logged since writing last worked: each is logged once.
    private var loggedWriteErrors: Set<String> = []
    private var metrics: MetricsTextfile.Publisher?
    private var startedMono: UInt64 = CollectorRuntime.monotonicNow()
    /// Turns the kernel's loss counters into `rl_loss` records (`LossLedger`).
    private var lossLedger = LossLedger()

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
            dataPlane = try DataPlane(objectPath: objectPath, ringBufferBytes: config.ringBufferBytes)
        } catch {
            // A kernel without iter/tcp setsockopt (before 5.15) refuses only the listener walk:
            // run without it. Listeners older than the collector then never negotiate the
            // identity option until their services restart; their calls are named from metadata.
            let all = error
            do {
                dataPlane = try DataPlane(objectPath: objectPath,
                                          programs: Set(DataPlane.ProgramName.allCases).subtracting([.existingListeners]))
            } catch {
                throw .kernel("loading \(objectPath): \(all)")
            }
            logger.warning("""
                this kernel refused \(DataPlane.ProgramName.existingListeners.rawValue) (iter/tcp with bpf_setsockopt \
                needs 5.15): listeners that existed before the collector carry no identity option until they \
                restart: \(all)
                """)
        }
        let current: BootID?
        do throws(FileError) { current = try BootID.current() } catch { throw .io("cannot read the boot id: \(error)") }
        guard let boot = current else { throw .io("/proc/sys/kernel/random/boot_id holds no UUID") }
        var options = WriterOptions()
        options.fileMode = mode_t(config.fileMode)
        options.directoryMode = mode_t(config.directoryMode)
        sink = SegmentSink(root: config.segmentRoot, host: config.host, bootID: boot, windowSeconds: config.windowSeconds,
                           maxSegmentBytes: config.maxSegmentBytes, sampler: AnchorSampler(sandwiches: config.anchorSamples),
                           writerOptions: options)
        sink.preamble = { [unowned self] in Array(self.mappings.values).sorted { $0.cgroup_id < $1.cgroup_id } }
        sink.onSeal = { [unowned self] path, footer in self.sealed(path: path, footer: footer) }
        sink.onWriteError = { [unowned self] error in self.writeFailed(error) }
        sink.onResume = { [unowned self] in
            self.loggedWriteErrors = []
            self.logger.info("segment writes work again under \(self.config.segmentRoot) (\(self.writeErrors) failed writes so far)")
        }
        metrics = config.metricsFile.map { MetricsTextfile.Publisher(path: $0) }
    }

    /// Pushes the configuration into the maps and attaches every program.
    public func start() throws(CollectorError) {
        try apply(config)
        do {
            for iface in try Self.matchingInterfaces(config) {
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
                // After the attach: a listener created in between gets LISTEN_CB, none is missed.
                enableExistingListeners()
            }
            for p: DataPlane.ProgramName in [.retransmit, .sendReset, .receiveReset, .kfreeSkb] {
                attachments.add(try Link.attach(dataPlane.program(p)))
            }
            ring = try RingBufferReader(map: dataPlane.events) { [unowned self] sample in self.handle(sample) }
            lastKernel = try dataPlane.stats()
            lossLedger = LossLedger(baseline: lastKernel, nowMono: Self.monotonicNow())
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
            try? attachments.detachAll()
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
        if let readyFile {
            do throws(FileError) { try AtomicFile.write(Array("ready\n".utf8), to: readyFile) } catch { throw .io("ready file: \(error)") }
        }
        var nextTick: UInt64 = 0, nextAnchor = startMono + UInt64(config.anchorIntervalSeconds) * 1_000_000_000
        var nextMetrics: UInt64 = 0
        var publishedSuspended = false
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
                    if sink.isSuspended { enforceDiskBudget() }
                    try sink.tick(monotonicNowNanos: now)
                    if let a = sink.lastAnchor, try sink.sampler.offsetMoved(since: a, thresholdNanos: UInt64(config.stepThresholdNanos)) {
                        logger.warning("wall clock moved against the monotonic clock: taking a step anchor")
                        try sink.anchor(reason: .step)
                        try? pushLossSlotOffset()
                    }
                    // Not while suspended: the kernel keeps the per-second entries (and the
                    // ledger what was shed) until a record can hold them.
                    if !sink.isSuspended { try writeLoss(now: now) }
                    if now >= nextAnchor {
                        nextAnchor = now + UInt64(config.anchorIntervalSeconds) * 1_000_000_000
                        try sink.anchor(reason: .periodic)
                    }
                    // Not while suspended: the counters keep accumulating for the next record.
                    if !sink.isSuspended && now - lastStatsMono >= 10_000_000_000 { try writeStats(now: now) }
                } catch {
                    // Counted and logged by `writeFailed` (a write error) or a suspension
                    // still running: the next tick retries.
                }
            }
            // Every 10 s, and at once when writes stop or start working again: health that
            // changes is published when it changes.
            if now >= nextMetrics || sink.isSuspended != publishedSuspended {
                nextMetrics = now + 10_000_000_000
                publishedSuspended = sink.isSuspended
                writeMetrics()
            }
        }
        if stopFlag.peek() { logger.info("stop requested: detaching, sealing the open segment") }
        try shutdown()
    }

    /// Detaches, drains the ring, writes the last stats, seals. Idempotent. Bounded in time
    /// whatever the disk does: the programs are detached first, so the ring stops filling,
    /// the drain reads at most what the ring held, and a write that fails is not retried
    /// (the `.rls.open` file keeps its whole blocks for recovery, and the exit code says 5).
    public func shutdown() throws(CollectorError) {
        var failure: CollectorError?
        do {
            try attachments.detachAll()
        } catch {
            failure = .kernel("detach: \(error)")
        }
        let drainDeadline = Self.monotonicNow() + 1_000_000_000
        while let ring, Self.monotonicNow() < drainDeadline, ((try? ring.drain(upTo: 16_384)) ?? 0) > 0 {}
        ring = nil
        do {
            try writeStats(now: Self.monotonicNow())
            try writeLoss(now: Self.monotonicNow())
        } catch {
            // The stats stay counted in the metrics file; the seal below says what failed.
        }
        do {
            try sink.close()
        } catch {
            failure = .io("sealing the last segment under \(config.segmentRoot): \(error)"
                + (sink.openPath.map { "; \($0) keeps its complete blocks (readers recover them)" } ?? ""))
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
            lossLedger.shed(KernelRecord(sample), sampleType: sample.type)
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
                var detail: rl_call_detail?
                if let prefix, !prefix.isEmpty {
                    detail = CallContext.detail(for: &c, prefix: prefix)
                    prefixesParsed &+= 1
                }
                try sink.append(call: c, detail: detail)
            case .tcpEvent(let e):
                read[Int(RL_REC_TCP_EVENT.rawValue)] &+= 1
                noteCgroup(e.cgroup_id)
                try sink.append(e)
            case .unknown:
                malformedSamples &+= 1
            }
        } catch {
            // Shed while the sink is suspended, or the write that failed (counted in writeFailed).
            userDropped[Self.recordIndex(sample.type)] &+= 1
            lossLedger.shed(KernelRecord(sample), sampleType: sample.type)
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
        // Losses are written as rl_loss records by writeLoss, which says what was lost and when.
        for t in 0..<min(k.emitted.count, Int(RL_REC_TYPE_MAX.rawValue)) {
            try emit(RL_STAT_EVENTS_EMITTED, t, k.emitted[t] &- lastKernel.emitted[t])
        }
        try emit(RL_STAT_ID_OPTION_MISSING, 0, k.idOptionMissing &- lastKernel.idOptionMissing)
        for t in 0..<read.count {
            try emit(RL_STAT_EVENTS_READ, t, read[t] &- lastRead[t])
        }
        try emit(RL_STAT_SEGMENTS_DELETED, 0, pendingDeleted.files)
        try emit(RL_STAT_BYTES_DELETED, 0, pendingDeleted.bytes)
        pendingDeleted = (0, 0)
        lastKernel = k
        lastRead = read
    }

    /// Writes the losses since the last call as `rl_loss` records: the kernel's per-second
    /// entries (finished seconds are deleted from its map), what the kernel could only count
    /// by kind, and what this collector shed.
    private func writeLoss(now: UInt64) throws {
        // Totals first, then the map: the kernel counts a loss in the map before the totals,
        // so this order never reports one twice (LossLedger).
        guard let totals = try? dataPlane.stats(), let entries = try? dataPlane.lossEntries() else { return }
        let out = lossLedger.flush(totals: totals, entries: entries, nowMono: now, slotOffsetNanos: lossSlotOffset)
        for key in out.finished { try? dataPlane.deleteLoss(key) }
        for r in out.records {
            // A cgroup whose every event was lost has no other record to map it to its pod.
            noteCgroup(r.cgroup_id)
            try sink.append(r)
        }
    }

    /// The value of RL_CFG_LOSS_SLOT_OFFSET_NS last pushed.
    private var lossSlotOffset: UInt64 = 0

    /// Aligns the kernel's one-second loss slots on UTC seconds: pushes
    /// (CLOCK_REALTIME − CLOCK_MONOTONIC) mod 1 s. Re-pushed after a clock step.
    private func pushLossSlotOffset() throws {
        var rt = timespec(), mono = timespec()
        clock_gettime(CLOCK_MONOTONIC, &mono)
        clock_gettime(CLOCK_REALTIME, &rt)
        let second: Int64 = 1_000_000_000
        let diff = (Int64(rt.tv_sec) - Int64(mono.tv_sec)) * second + (Int64(rt.tv_nsec) - Int64(mono.tv_nsec))
        lossSlotOffset = UInt64(((diff % second) + second) % second)
        try dataPlane.set(RL_CFG_LOSS_SLOT_OFFSET_NS, lossSlotOffset)
    }

    private func sealed(path: String, footer: SegmentFooter) {
        logger.info("sealed \(path) (\(footer.recordCount) records)")
        enforceDiskBudget()
    }

    /// A failed segment write: counted, and logged once per kind (call and errno) with its path
    /// until writing works again. The sink is suspended meanwhile; events read are shed, counted.
    private func writeFailed(_ error: SegmentError) {
        writeErrors &+= 1
        var kind = "\(error)"
        if case .io(_, _, let call, let e) = error { kind = "\(call) \(e)" }
        if loggedWriteErrors.insert(kind).inserted {
            logger.error("segment write failed, shedding events (counted) and retrying every second: \(error)")
        }
    }

    /// Deletes the oldest sealed segments beyond the budget or below the minimum free space.
    private func enforceDiskBudget() {
        let budget = DiskBudget(root: config.segmentRoot, budgetBytes: config.diskBudgetBytes, minFreeBytes: config.minFreeBytes)
        guard budget.isActive else { return }
        let r = budget.enforce()
        if !r.deletedFiles.isEmpty {
            deletedSegments += UInt64(r.deletedFiles.count)
            deletedBytes += UInt64(r.deletedBytes)
            pendingDeleted.files += UInt64(r.deletedFiles.count)
            pendingDeleted.bytes += UInt64(r.deletedBytes)
            logger.warning("disk budget: deleted \(r.deletedFiles.count) oldest sealed segments (\(r.deletedBytes) bytes)")
        }
    }

    /// Writes the metrics textfile (`metrics_file`), if one is configured.
    func writeMetrics() {
        guard let metrics else { return }
        let health = CollectorHealth(
            kernel: (try? dataPlane.stats()) ?? lastKernel, read: read, userDropped: userDropped, listenerWalk: listenerWalk,
            sealedSegments: sink.sealedCount, sealedBytes: sink.sealedBytes, deletedSegments: deletedSegments,
            writeErrors: writeErrors, writesSuspended: sink.isSuspended, maxPollLagNanos: maxPollLagNanos,
            cpuSeconds: Self.cpuSeconds(), residentBytes: Self.residentBytes(),
            ruleHits: (try? dataPlane.ruleHitCounts()) ?? [:], rules: installedRules)
        maxPollLagNanos = 0
        do {
            try metrics.write(health.samples)
        } catch {
            logger.error("metrics file: \(error)")
        }
    }

    // MARK: - Configuration

    /// Pushes the kernel config (every `rl_config` key, the filter maps), rules and service
    /// ids into the kernel.
    func apply(_ c: CollectorConfig) throws(CollectorError) {
        var kernel = c.kernel
        // Tracepoints see every namespace; this collector reports its own.
        kernel.networkNamespaceInode = Self.networkNamespaceInode()
        do {
            try dataPlane.apply(kernel)
            try pushLossSlotOffset()
        } catch {
            throw .kernel("config and filter maps: \(error)")
        }
        if c.ringBufferBytes != config.ringBufferBytes {
            logger.warning("ring_buffer_size changes take effect at the next start (the ring is sized before the programs load); keeping \(config.ringBufferBytes) bytes")
        }
        if let rulesFile = c.rulesFile {
            guard let data = FileManager.default.contents(atPath: rulesFile), let text = String(data: data, encoding: .utf8) else {
                let why = access(rulesFile, R_OK) == 0 ? "not UTF-8 text" : String(cString: strerror(errno))
                throw .config("\(c.position(of: "rules")): rules file \(rulesFile): \(why)")
            }
            do {
                let rules = try RuleSet(yaml: text, file: rulesFile)
                try dataPlane.install(rules)
                installedRules = rules
            } catch let e as ConfigError {
                throw .config(e.description)
            } catch {
                throw .kernel("installing the rules of \(rulesFile): \(error)")
            }
        }
        for s in c.services {
            guard let id = resolver.id(forPath: s.cgroup) else {
                logger.warning("services: cgroup \(s.cgroup) does not exist (yet); its service id applies once it does and the collector reloads")
                continue
            }
            do { try dataPlane.setService(cgroupID: id, serviceID: s.id) } catch { throw .kernel("service map: \(error)") }
        }
    }

    /// Gives listeners older than the collector (in its network namespace and its sockops
    /// cgroup subtree) the identity option, as `TCP_LISTEN_CB` gives new ones; logs what it
    /// did. Never fails the collector: a listener left without the option is named from
    /// metadata offline (and its connections count as missing the option).
    func enableExistingListeners() {
        guard let cg = config.sockopsCgroup else { return }
        let rel = cg.hasPrefix("/") ? cg : "/" + cg
        guard dataPlane.object.hasProgram(DataPlane.ProgramName.existingListeners.rawValue) else { return }
        guard let id = resolver.id(forPath: rel) else {
            logger.warning("existing listeners: sockops cgroup \(rel) not found")
            return
        }
        let level = UInt32(rel.split(separator: "/").count)
        do {
            let reports = try dataPlane.enableExistingListeners(cgroupID: id, cgroupLevel: level)
            let full = reports.filter { $0.save_syn_err == 0 && $0.cb_flags_err == 0 }.count
            let synOnly = reports.filter { $0.save_syn_err == 0 && $0.cb_flags_err != 0 }
            let failed = reports.filter { $0.save_syn_err != 0 }
            listenerWalk = (full, synOnly.count, failed.count)
            logger.info("existing listeners: \(reports.count) in scope, \(full) now exchange the identity option both ways")
            if let r = synOnly.first {
                logger.warning("""
                    existing listeners: \(synOnly.count) read their callers' option but cannot send their own \
                    (setting the sockops callback flags from iter/tcp failed: \(String(cString: strerror(-r.cb_flags_err))); needs 6.12)
                    """)
            }
            if let r = failed.first {
                logger.warning("existing listeners: \(failed.count) could not save SYNs (\(String(cString: strerror(-r.save_syn_err))), e.g. port \(r.port))")
            }
        } catch {
            logger.warning("existing listeners: \(error); they negotiate the identity option only after a restart")
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
            config.kernel = next.kernel
            config.services = next.services
            // Service ids may have changed, and listeners may have appeared in cgroups the
            // sockops program could not see before (a service cgroup created late).
            enableExistingListeners()
            logger.info("reloaded \(configPath): rules, filters, rate caps and service ids applied")
        } catch {
            logger.error("reload of \(configPath) failed, keeping the running configuration: \(error)")
            try? apply(config)
        }
    }

    /// Removes Redline tc filters a killed collector left on `iface`: they keep their
    /// programs alive and would count every packet a second time beside ours. Found by
    /// program name through rtnetlink (`TCAttachment.removeFilters`); nothing else is touched.
    func removeStaleFilters(on iface: String) {
        let ours: Set = [DataPlane.ProgramName.tcIngress.rawValue, DataPlane.ProgramName.tcEgress.rawValue]
        for direction in [TCDirection.ingress, .egress] {
            do {
                for f in try TCAttachment.removeFilters(ofProgramsNamed: ours, interface: iface, direction: direction) {
                    logger.warning("removed a stale Redline filter on \(iface) \(direction) (pref \(f.priority), program \(f.programName) id \(f.programID)), left by a collector that did not stop cleanly")
                }
            } catch {
                logger.warning("stale filters on \(iface) \(direction): \(error)")
            }
        }
    }

    /// Interfaces of this network namespace matching the config's names or globs; an error
    /// names the pattern's file and line.
    static func matchingInterfaces(_ config: CollectorConfig) throws(CollectorError) -> [String] {
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
        for (i, pattern) in config.interfaces.enumerated() {
            let hits = names.filter { Self.glob(pattern, $0) }
            if hits.isEmpty {
                throw .config("\(config.position(of: "interfaces[\(i)]")): '\(pattern)' matches no interface here (have: \(names.sorted().joined(separator: ", ")))")
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
