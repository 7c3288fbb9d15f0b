import Aggregates

/// What the detectors judge: a merged row of `red_service` (`caller` nil) or `red_edge`, protocols
/// and identity sources kept apart as in the table (the detectors sum them).
public struct REDObservation: Sendable {
    public var bucket: Int64
    public var caller: String?
    public var callee: String
    public var callerDC: String
    public var calleeDC: String
    /// `server` (the callee's sockets) or `client` (the caller's).
    public var observer: String
    public var requests: Int64
    public var errors: Int64
    public var latency: ExponentialHistogram
    public var completeness: Double
    /// The host whose partial holds the row; nil for merged rows.
    public var host: String?

    public init(bucket: Int64, caller: String? = nil, callee: String, callerDC: String = "unknown", calleeDC: String = "unknown",
                observer: String, requests: Int64, errors: Int64, latency: ExponentialHistogram, completeness: Double = 1,
                host: String? = nil) {
        self.bucket = bucket
        self.caller = caller
        self.callee = callee
        self.callerDC = callerDC
        self.calleeDC = calleeDC
        self.observer = observer
        self.requests = requests
        self.errors = errors
        self.latency = latency
        self.completeness = completeness
        self.host = host
    }
}

/// A `tcp_health` row: TCP trouble counted on the host of `service`, with `peer` at the other end.
public struct TCPObservation: Sendable {
    public var bucket: Int64
    public var service: String
    public var peer: String
    public var retransmits: Int64
    public var resets: Int64
    /// Network-class drops plus policy-class drops (a host's own filter losing packets is, to the
    /// calls crossing it, a bad path); teardown and other drops are not trouble.
    public var drops: Int64
    public var completeness: Double
    /// The host whose partial holds the row; nil for merged rows.
    public var host: String?

    public init(bucket: Int64, service: String, peer: String, retransmits: Int64 = 0, resets: Int64 = 0, drops: Int64 = 0,
                completeness: Double = 1, host: String? = nil) {
        self.bucket = bucket
        self.service = service
        self.peer = peer
        self.retransmits = retransmits
        self.resets = resets
        self.drops = drops
        self.completeness = completeness
        self.host = host
    }
}

/// A `tcp_drops` row of one host's partial: drops by the kernel's reason.
public struct DropObservation: Sendable {
    public var bucket: Int64
    public var host: String
    public var reason: String
    public var dropClass: String
    public var drops: Int64
    public var completeness: Double

    public init(bucket: Int64, host: String, reason: String, dropClass: String, drops: Int64, completeness: Double = 1) {
        self.bucket = bucket
        self.host = host
        self.reason = reason
        self.dropClass = dropClass
        self.drops = drops
        self.completeness = completeness
    }
}

/// Everything the detectors read for one partition and its trailing window: merged RED and TCP
/// rows, and (when the hourly runs kept them) the per-host partials that say which host saw what.
public struct Observations: Sendable {
    public var bucketSeconds: Int
    public var red: [REDObservation] = []
    public var tcp: [TCPObservation] = []
    /// Per-host `tcp_health` and `red_edge` partial rows (`host` set): host-level TCP series
    /// and which services run on which host.
    public var hostTCP: [TCPObservation] = []
    public var hostRED: [REDObservation] = []
    public var hostDrops: [DropObservation] = []
    /// The partition's watermark (its latest event, from the hourly manifest): the bucket holding it
    /// was seen only up to it, so its rates are per covered second (a capture that stopped mid-bucket
    /// is not a service that lost its load).
    public var watermark: Int64?

    public init(bucketSeconds: Int) { self.bucketSeconds = bucketSeconds }

    /// Seconds of bucket `b` that the data covers.
    func coveredSeconds(_ b: Int64) -> Double {
        let width = Double(bucketSeconds)
        guard let w = watermark, w >= b, w < b + Int64(bucketSeconds) * 1_000_000_000 else { return width }
        return min(width, max(1, Double(w - b) / 1e9))
    }

    /// Every bucket any table has a row for, ascending: the grid on which absent rows mean zero
    /// (no requests, no retransmits), while buckets no table has (collectors down) are skipped.
    var grid: [Int64] {
        var s = Set<Int64>()
        for r in red { s.insert(r.bucket) }
        for r in tcp { s.insert(r.bucket) }
        for r in hostTCP { s.insert(r.bucket) }
        for r in hostDrops { s.insert(r.bucket) }
        return s.sorted()
    }

    /// A service's datacenter when the edges name exactly one; nil when unknown or several.
    var datacenters: [String: String] {
        var seen: [String: Set<String>] = [:]
        for r in red where r.caller != nil {
            if r.calleeDC != "unknown" { seen[r.callee, default: []].insert(r.calleeDC) }
            if let c = r.caller, r.callerDC != "unknown" { seen[c, default: []].insert(r.callerDC) }
        }
        return seen.compactMapValues { $0.count == 1 ? $0.first : nil }
    }

    /// Which hosts serve or call each service (from the partials; empty without them).
    var hostsOfService: [String: Set<String>] {
        var out: [String: Set<String>] = [:]
        for r in hostRED {
            guard let h = r.host else { continue }
            if r.observer == "server" { out[r.callee, default: []].insert(h) }
            if r.observer == "client", let c = r.caller { out[c, default: []].insert(h) }
        }
        for r in hostTCP {
            if let h = r.host, r.service != "unknown" { out[r.service, default: []].insert(h) }
        }
        return out
    }
}
