import CRedlineABI

/// The kinds of record a segment holds; raw values are `enum rl_record_type` of the ABI header
/// and names the structs' (`struct rl_flow_delta` is "flow_delta"), which a test checks
/// against the header text.
public enum RecordType: UInt16, CaseIterable, Sendable, CustomStringConvertible {
    case flowDelta = 1
    case l7Call = 2
    case tcpEvent = 3
    case clockAnchor = 4
    case stats = 5
    case cgroupMapping = 6
    case loss = 7
    case callDetail = 8

    /// Size in bytes of one record of this type, from the ABI header.
    public var recordSize: Int { Self.sizes[Int(rawValue)] }

    /// The layout version this build writes.
    public var currentVersion: UInt16 { UInt16(credline_record_version(UInt32(rawValue))) }

    /// Size in bytes of one record of this type at layout `version`, nil for a version this
    /// build cannot read. Older layouts it reads: flow_delta version 1 (`RL_FLOW_DELTA_V1_SIZE`
    /// bytes), which the decoder widens to the current layout, and l7_call version 1
    /// (`struct rl_l7_call_v1`), which it splits into slim calls and call details
    /// (`SegmentDecoder`, schemas/records-v2.md).
    public func recordSize(version: UInt16) -> Int? {
        if version == currentVersion { return recordSize }
        if self == .flowDelta && version == 1 { return Int(RL_FLOW_DELTA_V1_SIZE) }
        if self == .l7Call && version == 1 { return MemoryLayout<rl_l7_call_v1>.size }
        return nil
    }

    public var description: String {
        switch self {
        case .flowDelta: "flow_delta"
        case .l7Call: "l7_call"
        case .tcpEvent: "tcp_event"
        case .clockAnchor: "clock_anchor"
        case .stats: "stats"
        case .cgroupMapping: "cgroup_mapping"
        case .loss: "loss"
        case .callDetail: "call_detail"
        }
    }

    /// The name of a raw type value, or "type N" if this build does not know it.
    public static func name(of raw: UInt16) -> String {
        RecordType(rawValue: raw)?.description ?? "type \(raw)"
    }

    /// Record sizes indexed by raw value, read once from the C side so the hot path avoids a call.
    private static let sizes: [Int] = (0..<Int(RL_REC_TYPE_MAX.rawValue)).map { Int(credline_record_size(UInt32($0))) }

    /// The kernel-time span (monotonic ns) one record covers, read from its raw bytes:
    /// flow deltas `start_ns…end_ns`, calls `start_ns…start_ns+duration_ns`, clock anchors
    /// `monotonic_ns`, every other type its `ts_ns`. Blocks and footers store the min/max of these.
    /// A call detail has no time of its own: its span is empty (`low` > `high`, neutral in a
    /// min/max); `SegmentWriter.append(call:detail:)` gives it its call's span instead.
    @inlinable
    public func kernelTimeSpan(of record: UnsafeRawPointer) -> (low: UInt64, high: UInt64) {
        @inline(__always) func u64<T>(_ field: KeyPath<T, UInt64>) -> UInt64 {
            record.loadUnaligned(fromByteOffset: MemoryLayout<T>.offset(of: field)!, as: UInt64.self)
        }
        switch self {
        case .flowDelta:
            return (u64(\rl_flow_delta.start_ns), u64(\rl_flow_delta.end_ns))
        case .l7Call:
            let start = u64(\rl_l7_call.start_ns)
            return (start, start &+ u64(\rl_l7_call.duration_ns))
        case .clockAnchor:
            let t = u64(\rl_clock_anchor.monotonic_ns)
            return (t, t)
        case .loss:
            let end = u64(\rl_loss.ts_ns)
            return (end &- u64(\rl_loss.interval_ns), end)
        case .tcpEvent:
            let t = u64(\rl_tcp_event.ts_ns)
            return (t, t)
        case .stats:
            let t = u64(\rl_stats.ts_ns)
            return (t, t)
        case .cgroupMapping:
            let t = u64(\rl_cgroup_mapping.ts_ns)
            return (t, t)
        case .callDetail:
            return (.max, 0)
        }
    }
}

/// An ABI record struct (imported from `redline_abi.h`) that segments store: its type tag.
/// Conformances are the only place a Swift type is tied to a record type.
public protocol ABIRecord {
    static var recordType: RecordType { get }
}

extension rl_flow_delta: ABIRecord { public static var recordType: RecordType { .flowDelta } }
extension rl_l7_call: ABIRecord { public static var recordType: RecordType { .l7Call } }
extension rl_tcp_event: ABIRecord { public static var recordType: RecordType { .tcpEvent } }
extension rl_clock_anchor: ABIRecord { public static var recordType: RecordType { .clockAnchor } }
extension rl_stats: ABIRecord { public static var recordType: RecordType { .stats } }
extension rl_cgroup_mapping: ABIRecord { public static var recordType: RecordType { .cgroupMapping } }
extension rl_loss: ABIRecord { public static var recordType: RecordType { .loss } }
extension rl_call_detail: ABIRecord { public static var recordType: RecordType { .callDetail } }
/// Only segments that declare l7_call version 1 take it (`SegmentWriter` checks the size).
extension rl_l7_call_v1: ABIRecord { public static var recordType: RecordType { .l7Call } }

/// How the two call layouts relate (schemas/records-v2.md): a version-1 call
/// (`rl_l7_call_v1`) is the version-2 call's first `prefixSize` bytes followed by its detail's
/// bytes from `detailStringsOffset` on (trace id, span id, host, route), so converting either
/// way is two copies.
public enum CallLayout {
    /// Bytes the two call layouts share, start_ns through peer_service.
    public static let prefixSize = MemoryLayout<rl_l7_call>.offset(of: \.detail_seq)!
    /// Where a detail's strings start (after `seq` and `pad`).
    public static let detailStringsOffset = MemoryLayout<rl_call_detail>.offset(of: \.trace_id)!
    /// Bytes of those strings: the version-1 call's tail.
    public static let stringsSize = MemoryLayout<rl_call_detail>.size - detailStringsOffset

    /// Whether the `stringsSize` bytes at `strings` are all zero: a version-1 call without
    /// trace context, host or route, which gets no detail.
    @inlinable
    public static func isEmpty(strings: UnsafeRawPointer) -> Bool {
        var any: UInt64 = 0
        for at in stride(from: 0, to: stringsSize, by: 8) { any |= strings.loadUnaligned(fromByteOffset: at, as: UInt64.self) }
        return any == 0
    }
}
