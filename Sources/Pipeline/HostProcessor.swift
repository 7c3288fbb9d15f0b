import Aggregates
import CRedlineABI
import Enrichment
import RedlineBase
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
    public var tables = AggregatedTables(redEdge: true, trafficMatrix: true, tcpHealth: true, tcpDrops: true)
    /// Tables filled from calls outside Sources/Aggregates (`CallAggregator`), if any.
    public var callAggregator: (any CallAggregator)?
    /// Whether pass 1 reads a sealed file's clock-anchor and cgroup-mapping blocks through its
    /// footer index (positioned reads of those blocks only) instead of front to back. The output
    /// is the same either way (`run(names:)` says why); off only to compare the two.
    public var pass1UsesFooterIndex = true

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
        /// `callAggregator` after the run, holding its rows.
        public var callAggregator: (any CallAggregator)?
        /// CRC32C and size of each file (in `files` order) from the bytes pass 2 read, for the
        /// manifest; nil for a file that could not be opened.
        public var checksums: [(crc: UInt32, bytes: UInt64)?] = []
        /// Files whose pass 1 went through the footer index (the rest were read front to back).
        public var pass1IndexedFiles = 0
    }

    /// Runs both passes. Pass 1 needs only the clock-anchor and cgroup-mapping blocks. Of a sealed
    /// file whose trailer and footer verify, it reads just those, through the footer's block
    /// index (`IndexedSegmentReader`), so each file is read once in full, by pass 2. Of any other
    /// file (open, torn, damaged at the end) it reads every block front to back, decompressing
    /// only those two types; every other block is still fully checked (header fields, lengths,
    /// CRC32C of the compressed payload) but not LZ4-decoded. Damage that pass 1 could not see
    /// (a block it skipped, or one that passes its CRC yet fails to decompress) is found by pass 2:
    /// if pass 2 reads fewer valid blocks of a file than pass 1 counted, or finds damage in a file
    /// pass 1 read through its index, the host is run again with pass 1 reading and decoding every
    /// block front to back, so anchors, cgroups, warnings and rows are exactly those of decoding
    /// every block in both passes.
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
        var anchors: [BootID: [rl_clock_anchor]] = [:]
        var cgroups: [UInt64: EnrichmentCache.CgroupIdentity] = [:]
        var pass1Blocks = [Int](repeating: 0, count: files.count)
        var pass1Indexed = [Bool](repeating: false, count: files.count)
        var pass1Options = readerOptions
        if lazyPass1 { pass1Options.decompressTypes = [.clockAnchor, .cgroupMapping] }
        func addMappings(_ maps: UnsafeBufferPointer<rl_cgroup_mapping>, to cgroups: inout [UInt64: EnrichmentCache.CgroupIdentity]) {
            for m in maps {
                cgroups[m.cgroup_id] = .init(podUID: fixedString(m.pod_uid), containerID: fixedString(m.container_id),
                                             path: fixedString(m.path), serviceID: m.service_id)
            }
        }
        for (i, file) in files.enumerated() {
            if lazyPass1 && pass1UsesFooterIndex && !file.hasSuffix(SegmentFormat.openSuffix),
               let indexed = try? IndexedSegmentReader(path: file, options: pass1Options) {
                // Taken only if every block it needs verifies; otherwise the file is read front to
                // back below, which names the damage.
                var fileAnchors: [rl_clock_anchor] = [], fileCgroups = cgroups
                let read: Void? = try? indexed.forEachBlock(of: [.clockAnchor, .cgroupMapping]) { info in
                    if info.recordType == .clockAnchor {
                        _ = indexed.withRecords(as: rl_clock_anchor.self) { fileAnchors.append(contentsOf: $0) }
                    } else {
                        _ = indexed.withRecords(as: rl_cgroup_mapping.self) { addMappings($0, to: &fileCgroups) }
                    }
                }
                if read != nil {
                    if !fileAnchors.isEmpty { anchors[indexed.header.bootID, default: []].append(contentsOf: fileAnchors) }
                    cgroups = fileCgroups
                    pass1Blocks[i] = indexed.footer.blocks.count
                    pass1Indexed[i] = true
                    continue
                }
            }
            let result = scan(file, options: pass1Options) { info, reader, boot in
                pass1Blocks[i] += 1
                switch info.recordType {
                case .clockAnchor:
                    _ = reader.withRecords(as: rl_clock_anchor.self) { anchors[boot, default: []].append(contentsOf: $0) }
                case .cgroupMapping:
                    _ = reader.withRecords(as: rl_cgroup_mapping.self) { addMappings($0, to: &cgroups) }
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

        // Pass 2: aggregate (Sources/Aggregates/HostAggregation.swift). Call details are only
        // read when a table needs names; otherwise their blocks are checked, not decompressed.
        let enrichment = EnrichmentCache(metadata: metadata, cgroups: cgroups, names: &names)
        var state = HostAggregation(startNanos: partition.startNanos, endNanos: partition.endNanos, bucketNanos: bucketNanos,
                                    histogramScale: histogramScale, enrichment: enrichment, tables: tables, names: &names)
        var pass2Options = readerOptions
        var join: CallDetailJoin?
        if var l7 = callAggregator as? L7Aggregation {
            join = CallDetailJoin()
            l7.details = join
            state.callAggregator = l7
        } else {
            state.callAggregator = callAggregator
            // Undecoded in pass 1 too when it is lazy; a full pass 1 (the rerun) needs a full
            // pass 2, so both stop at the same block whatever is damaged.
            if lazyPass1 { pass2Options.decompressTypes = Set(RecordType.allCases).subtracting([.callDetail]) }
        }
        // Call blocks waiting for details they name (records-v2.md, "Joining a call to its
        // detail"), in file order, each with the largest `detail_seq` it holds.
        var held: [(calls: [rl_l7_call], lastSeq: UInt32)] = []
        func release(all: Bool) {
            guard let join else { return }
            while let first = held.first, all || first.lastSeq <= join.highestSeq {
                first.calls.withUnsafeBufferPointer { state.calls($0, names: &names) }
                join.forget(through: first.lastSeq)
                held.removeFirst()
            }
        }
        var checksums: [(crc: UInt32, bytes: UInt64)?] = []
        for (i, file) in files.enumerated() {
            state.cursor = nil
            var cursorBoot: BootID?
            var fileBlocks = 0, fileRecords: UInt64 = 0, lastKernelNs: UInt64?
            let result = scan(file, options: pass2Options, checksum: true) { info, reader, boot in
                fileBlocks += 1
                fileRecords += UInt64(info.recordCount)
                lastKernelNs = max(lastKernelNs ?? 0, info.maxKernelNs)
                counters.blocks += 1
                counters.records += UInt64(info.recordCount)
                if cursorBoot != boot {
                    state.cursor = timebase.timelines[boot]?.makeCursor()
                    cursorBoot = boot
                }
                switch info.recordType {
                case .l7Call:
                    guard let join else {
                        _ = reader.withRecords(as: rl_l7_call.self) { state.calls($0, names: &names) }
                        break
                    }
                    // A version-1 block brings its calls' details along.
                    _ = reader.withCallDetails { join.add($0) }
                    _ = reader.withRecords(as: rl_l7_call.self) { calls in
                        let lastSeq = calls.reduce(0) { max($0, $1.detail_seq) }
                        if held.isEmpty && lastSeq <= join.highestSeq {
                            state.calls(calls, names: &names)
                            join.forget(through: lastSeq)
                        } else {
                            held.append((Array(calls), lastSeq))
                        }
                    }
                case .callDetail:
                    if let join {
                        _ = reader.withCallDetails { join.add($0) }
                        release(all: false)
                    }
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
            // The segment ended (sealed, open or damaged): calls whose details never came are
            // counted without names; numbering starts afresh in the next segment.
            release(all: true)
            join?.reset()
            if lazyPass1 && (fileBlocks < pass1Blocks[i] || (pass1Indexed[i] && result.warning != nil)) { return nil }
            checksums.append(result.checksum)
            // A damaged file lost what followed the damage: an estimate (its average block)
            // counts as lost where its valid data ends. The manifest names the file.
            if result.warning != nil, let last = lastKernelNs {
                state.chargeDamage(fileBlocks > 0 ? max(1, fileRecords / UInt64(fileBlocks)) : 1, lastMonotonicNanos: last)
            }
        }
        let (aggregates, a, watermark) = state.finish(names: &names)
        counters.aggregated = a.aggregated
        counters.otherPartition = a.otherPartition
        counters.uncorrectable = a.uncorrectable
        counters.unknownLocal = a.unknownLocal
        counters.unknownRemote = a.unknownRemote
        counters.maxTimeUncertaintyNanos = a.maxTimeUncertaintyNanos
        return Outcome(aggregates: aggregates, counters: counters, warnings: warnings, watermark: watermark,
                       callAggregator: state.callAggregator, checksums: checksums,
                       pass1IndexedFiles: pass1Indexed.filter { $0 }.count)
    }

    struct ScanResult {
        var warning: String?
        var open: Bool
        /// The whole file's CRC32C and size, when asked for and the file could be read.
        var checksum: (crc: UInt32, bytes: UInt64)?
    }

    /// Reads a segment block by block; a damaged file yields its valid blocks
    /// and a warning naming the damage (the same blocks on every pass). With `checksum`, the
    /// whole file's CRC32C comes from the same reads (the rest of a damaged file read on).
    private func scan(_ file: String, options: ReaderOptions, checksum: Bool = false,
                      _ body: (BlockInfo, SegmentReader, BootID) -> Void) -> ScanResult {
        let open = file.hasSuffix(SegmentFormat.openSuffix)
        let reader: SegmentReader
        do {
            reader = try SegmentReader(path: file, options: options, allowUnsealed: true)
        } catch {
            return ScanResult(warning: "unreadable segment skipped: \(error)", open: open)
        }
        var result = ScanResult(warning: nil, open: open)
        let boot = reader.header.bootID
        do {
            while let info = try reader.nextBlock() { body(info, reader, boot) }
            if reader.ending == .unsealed && !open {
                result.warning = "segment \(file) has no footer; its \(reader.blocksRead.count) complete blocks were used"
            }
        } catch {
            result.warning = "damaged segment, \(reader.blocksRead.count) valid blocks used: \(error)"
        }
        if checksum { result.checksum = try? reader.wholeFileChecksum() }
        return result
    }
}

/// A NUL-padded fixed char field as a String.
func fixedString<T>(_ field: T) -> String {
    withUnsafeBytes(of: field) { b in
        let end = b.firstIndex(of: 0) ?? b.count
        return String(decoding: b[..<end], as: UTF8.self)
    }
}

