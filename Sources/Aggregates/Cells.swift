import CRedlineABI

/// RED for one group: rate (requests), errors, duration (a histogram).
public struct REDCell: Mergeable, Equatable {
    public var requests: UInt64 = 0
    /// Calls whose status class is server error (HTTP 5xx, RESP -ERR, DNS SERVFAIL...).
    public var errors: UInt64 = 0
    /// Calls whose status class is client error (HTTP 4xx, DNS NXDOMAIN...).
    public var clientErrors: UInt64 = 0
    public var requestBytes: UInt64 = 0
    public var responseBytes: UInt64 = 0
    /// Latency in nanoseconds.
    public var latency: ExponentialHistogram

    public init(scale: Int) { latency = ExponentialHistogram(scale: scale) }

    /// Counts one call: a request, its status class, its bytes, and its duration unless it is
    /// unpaired (a request counted without its response carries no latency).
    @inline(__always)
    public mutating func add(call c: rl_l7_call) {
        add(call: c, latencyIndex: c.duration_ns == 0 ? 0 : latency.index(of: c.duration_ns))
    }

    /// `add(call:)` with the bucket index of the call's duration given (`latency.index(of:)`,
    /// ignored for 0 and for an unpaired call): computed once for a call added to several cells
    /// whose histograms share a scale.
    @inline(__always)
    mutating func add(call c: rl_l7_call, latencyIndex: Int) {
        requests &+= 1
        if c.status_class == UInt8(RL_STATUS_SERVER_ERROR.rawValue) { errors &+= 1 }
        if c.status_class == UInt8(RL_STATUS_CLIENT_ERROR.rawValue) { clientErrors &+= 1 }
        requestBytes &+= UInt64(c.req_bytes)
        responseBytes &+= UInt64(c.resp_bytes)
        if c.flags & UInt8(RL_CALL_UNPAIRED.rawValue) == 0 { latency.record(c.duration_ns, index: latencyIndex) }
    }

    public mutating func merge(_ o: REDCell) {
        requests &+= o.requests
        errors &+= o.errors
        clientErrors &+= o.clientErrors
        requestBytes &+= o.requestBytes
        responseBytes &+= o.responseBytes
        latency.merge(o.latency)
    }
}

/// Traffic between two places in one bucket.
public struct TrafficCell: Mergeable, Equatable {
    /// Link bytes: L3 bytes of every wire segment (a GSO/GRO packet's headers counted per segment).
    public var bytes: UInt64 = 0
    /// Wire segments.
    public var packets: UInt64 = 0
    /// L4 payload bytes; nil once any contribution did not know its payload (a version-1 flow
    /// record): nil absorbs in `merge`, so a partial sum is never shown as the total.
    public var payloadBytes: UInt64? = 0
    /// Distinct flows that carried traffic in the bucket (per observing host).
    public var flows: UInt64 = 0
    public var calls: UInt64 = 0

    public init(bytes: UInt64 = 0, packets: UInt64 = 0, payloadBytes: UInt64? = 0, flows: UInt64 = 0, calls: UInt64 = 0) {
        self.bytes = bytes
        self.packets = packets
        self.payloadBytes = payloadBytes
        self.flows = flows
        self.calls = calls
    }

    public mutating func merge(_ o: TrafficCell) {
        bytes &+= o.bytes
        packets &+= o.packets
        if let a = payloadBytes, let b = o.payloadBytes { payloadBytes = a &+ b } else { payloadBytes = nil }
        flows &+= o.flows
        calls &+= o.calls
    }
}

/// TCP health counters for one service (and peer) in one bucket.
public struct TCPHealthCell: Mergeable, Equatable {
    public var retransmits: UInt64 = 0
    public var resetsSent: UInt64 = 0
    public var resetsReceived: UInt64 = 0
    /// Packets lost on the network path (drop class `network`); the other classes apart.
    public var drops: UInt64 = 0
    /// Packets dropped by a host's own policy (filters, tc, XDP, BPF): class `policy`.
    public var dropsPolicy: UInt64 = 0
    /// Packets freed because their connection was closing or gone: class `teardown`.
    public var dropsTeardown: UInt64 = 0
    /// Every other drop reason: class `other`.
    public var dropsOther: UInt64 = 0
    /// Connections where the identity TCP option was expected and missing.
    public var idOptionMissing: UInt64 = 0

    public init() {}

    public mutating func merge(_ o: TCPHealthCell) {
        retransmits &+= o.retransmits
        resetsSent &+= o.resetsSent
        resetsReceived &+= o.resetsReceived
        drops &+= o.drops
        dropsPolicy &+= o.dropsPolicy
        dropsTeardown &+= o.dropsTeardown
        dropsOther &+= o.dropsOther
        idOptionMissing &+= o.idOptionMissing
    }
}

/// What a row's numbers stand on: its own events, and the events of the same kind lost in its
/// bucket, charged to it in proportion (schemas/tables/README.md, "Completeness"). All three
/// sum when rows merge, so `completeness` of a merged row is computed the same way in Swift and SQL.
public struct Completeness: Mergeable, Equatable {
    /// The row's events (calls, flow deltas or TCP events) read by the collectors.
    public var observed: UInt64 = 0
    /// Events lost (ring buffer full, rate caps, unpaired messages, shed by the collector) charged
    /// to the row.
    public var lost: UInt64 = 0
    /// The part of `lost` that is a share of losses whose owner (service, protocol or side) the
    /// kernel could not tell, spread over the host's rows of that kind.
    public var shared: UInt64 = 0

    public init(observed: UInt64 = 0, lost: UInt64 = 0, shared: UInt64 = 0) {
        self.observed = observed
        self.lost = lost
        self.shared = shared
    }

    /// Share of events not lost, 1 when nothing was lost (or nothing happened).
    public var ratio: Double {
        let total = observed &+ lost
        return total == 0 ? 1 : Double(observed) / Double(total)
    }

    public mutating func merge(_ o: Completeness) {
        observed &+= o.observed
        lost &+= o.lost
        shared &+= o.shared
    }
}

/// A row's numbers and its completeness: the form every table row takes. In a partial each row
/// carries its own events and the losses charged to it; the merge adds them, so a merged row's
/// completeness covers exactly the hosts that contributed to it (the same rule as the merge SQL:
/// SUM over partials).
public struct Row<Cell: Mergeable & Equatable>: Mergeable, Equatable {
    public var cell: Cell
    public var completeness: Completeness

    public init(cell: Cell, completeness: Completeness = Completeness()) {
        self.cell = cell
        self.completeness = completeness
    }

    public mutating func merge(_ o: Row) {
        cell.merge(o.cell)
        completeness.merge(o.completeness)
    }
}

/// A simple count, mergeable.
public struct Count: Mergeable, Equatable {
    public var value: UInt64 = 0
    public init(_ v: UInt64 = 0) { value = v }
    public mutating func merge(_ other: Count) { value &+= other.value }
}
