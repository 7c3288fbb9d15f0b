import CRedlineABI

/// The kinds of record a segment holds; raw values are `enum rl_record_type` of the ABI header.
public enum RecordType: UInt16, CaseIterable, Sendable, CustomStringConvertible {
    case flowDelta = 1
    case l7Call = 2
    case tcpEvent = 3
    case clockAnchor = 4
    case stats = 5
    case cgroupMapping = 6

    /// Size in bytes of one record of this type, from the ABI header.
    public var recordSize: Int { Int(credline_record_size(UInt32(rawValue))) }

    /// The layout version this build writes.
    public var currentVersion: UInt16 { UInt16(credline_record_version(UInt32(rawValue))) }

    public var description: String {
        switch self {
        case .flowDelta: "flow_delta"
        case .l7Call: "l7_call"
        case .tcpEvent: "tcp_event"
        case .clockAnchor: "clock_anchor"
        case .stats: "stats"
        case .cgroupMapping: "cgroup_mapping"
        }
    }
}
