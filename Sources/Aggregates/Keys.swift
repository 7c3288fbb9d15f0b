/// Group keys of the output tables (declared in Sources/Pipeline/Tables). Ids are `NamePool`
/// ids; `bucket` is the bucket start in UTC ns. Comparison orders by bucket first, then ids: the
/// writer re-sorts by names for output, so files do not depend on id order.

/// A table's group key: a bucket and name ids or codes. `init()` is the all-zero key that
/// reading a table file fills field by field.
public protocol TableKey: Hashable, Comparable, Sendable {
    init()
    /// Bucket start, UTC ns.
    var bucket: Int64 { get set }
}

/// The key of red_service.
public struct ServiceKey: TableKey {
    public var bucket: Int64 = 0
    public var service: Int32 = 0
    public var proto: Int32 = 0
    public var observer: Int32 = 0

    public init() {}

    public init(bucket: Int64, service: Int32, proto: Int32, observer: Int32) {
        self.bucket = bucket
        self.service = service
        self.proto = proto
        self.observer = observer
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.bucket, a.service, a.proto, a.observer) < (b.bucket, b.service, b.proto, b.observer)
    }

    /// Two packed words instead of four fields: fewer SipHash rounds per lookup.
    public func hash(into h: inout Hasher) {
        h.combine(bucket)
        h.combine(packed(service, proto) ^ UInt64(UInt32(bitPattern: observer)) &* 0x9E37_79B9_7F4A_7C15)
    }
}

/// The key of red_edge.
public struct EdgeKey: TableKey {
    public var bucket: Int64 = 0
    public var caller: Int32 = 0
    public var callee: Int32 = 0
    public var callerDC: Int32 = 0
    public var calleeDC: Int32 = 0
    public var proto: Int32 = 0
    public var observer: Int32 = 0
    /// Where the observer's peer (the caller for `server`, the callee for `client`) was
    /// named from: the id of a `PeerIdentitySource` name.
    public var peerSource: Int32 = 0

    public init() {}

    public init(bucket: Int64, caller: Int32, callee: Int32, callerDC: Int32, calleeDC: Int32, proto: Int32,
                observer: Int32, peerSource: Int32) {
        self.bucket = bucket
        self.caller = caller
        self.callee = callee
        self.callerDC = callerDC
        self.calleeDC = calleeDC
        self.proto = proto
        self.observer = observer
        self.peerSource = peerSource
    }

    public static func < (a: Self, b: Self) -> Bool {
        let x = (a.bucket, a.caller, a.callee, a.callerDC, a.calleeDC, a.proto)
        let y = (b.bucket, b.caller, b.callee, b.callerDC, b.calleeDC, b.proto)
        return x != y ? x < y : (a.observer, a.peerSource) < (b.observer, b.peerSource)
    }

    /// Three packed words instead of eight fields: fewer SipHash rounds per lookup.
    public func hash(into h: inout Hasher) {
        h.combine(bucket)
        h.combine(packed(caller, callee) ^ UInt64(UInt32(bitPattern: peerSource)) &* 0xC2B2_AE3D_27D4_EB4F)
        h.combine(packed(callerDC, calleeDC) ^ packed(proto, observer) &* 0x9E37_79B9_7F4A_7C15)
    }
}

/// The key of traffic_matrix.
public struct TrafficKey: TableKey {
    public var bucket: Int64 = 0
    public var srcDC: Int32 = 0
    public var dstDC: Int32 = 0
    public var srcService: Int32 = 0
    public var dstService: Int32 = 0
    public var l4: Int32 = 0
    public var observer: Int32 = 0
    /// Where the observer's peer (dst for `source`, src for `destination`) was named from:
    /// the id of a `PeerIdentitySource` name.
    public var peerSource: Int32 = 0

    public init() {}

    public init(bucket: Int64, srcDC: Int32, dstDC: Int32, srcService: Int32, dstService: Int32, l4: Int32,
                observer: Int32, peerSource: Int32) {
        self.bucket = bucket
        self.srcDC = srcDC
        self.dstDC = dstDC
        self.srcService = srcService
        self.dstService = dstService
        self.l4 = l4
        self.observer = observer
        self.peerSource = peerSource
    }

    public static func < (a: Self, b: Self) -> Bool {
        let x = (a.bucket, a.srcDC, a.dstDC, a.srcService, a.dstService, a.l4)
        let y = (b.bucket, b.srcDC, b.dstDC, b.srcService, b.dstService, b.l4)
        return x != y ? x < y : (a.observer, a.peerSource) < (b.observer, b.peerSource)
    }

    /// Three packed words instead of eight fields: fewer SipHash rounds per lookup.
    public func hash(into h: inout Hasher) {
        h.combine(bucket)
        h.combine(packed(srcService, dstService) ^ UInt64(UInt32(bitPattern: peerSource)) &* 0xC2B2_AE3D_27D4_EB4F)
        h.combine(packed(srcDC, dstDC) ^ packed(l4, observer) &* 0x9E37_79B9_7F4A_7C15)
    }
}

/// The key of tcp_health.
public struct HealthKey: TableKey {
    public var bucket: Int64 = 0
    public var service: Int32 = 0
    public var peer: Int32 = 0
    /// Where `peer` was named from: the id of a `PeerIdentitySource` name.
    public var peerSource: Int32 = 0

    public init() {}

    public init(bucket: Int64, service: Int32, peer: Int32, peerSource: Int32) {
        self.bucket = bucket
        self.service = service
        self.peer = peer
        self.peerSource = peerSource
    }

    public static func < (a: Self, b: Self) -> Bool {
        (a.bucket, a.service, a.peer, a.peerSource) < (b.bucket, b.service, b.peer, b.peerSource)
    }
}

/// The key of tcp_drops.
public struct DropKey: TableKey {
    public var bucket: Int64 = 0
    public var service: Int32 = 0
    /// The kernel's `enum skb_drop_reason` value.
    public var reason: Int32 = 0

    public init() {}

    public init(bucket: Int64, service: Int32, reason: Int32) {
        self.bucket = bucket
        self.service = service
        self.reason = reason
    }

    public static func < (a: Self, b: Self) -> Bool { (a.bucket, a.service, a.reason) < (b.bucket, b.service, b.reason) }
}

/// Two ids in one word, for hashing (equality still compares every field).
@inline(__always)
func packed(_ a: Int32, _ b: Int32) -> UInt64 {
    UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
}
