/// Group keys of the output tables. Ids are `NamePool` ids; `bucket` is the
/// bucket start in UTC ns. Comparison orders by bucket first, then ids: the
/// writer re-sorts by names for output, so files do not depend on id order.

public struct ServiceKey: Hashable, Comparable, Sendable {
    public var bucket: Int64
    public var service: Int32
    public var proto: Int32
    public var observer: Int32

    public static func < (a: Self, b: Self) -> Bool {
        (a.bucket, a.service, a.proto, a.observer) < (b.bucket, b.service, b.proto, b.observer)
    }

    /// Two packed words instead of four fields: fewer SipHash rounds per lookup.
    public func hash(into h: inout Hasher) {
        h.combine(bucket)
        h.combine(packed(service, proto) ^ UInt64(UInt32(bitPattern: observer)) &* 0x9E37_79B9_7F4A_7C15)
    }
}

public struct EdgeKey: Hashable, Comparable, Sendable {
    public var bucket: Int64
    public var caller: Int32
    public var callee: Int32
    public var callerDC: Int32
    public var calleeDC: Int32
    public var proto: Int32
    public var observer: Int32
    /// Where the observer's peer (the caller for `server`, the callee for `client`) was
    /// named from: the id of a `PeerIdentitySource` name.
    public var peerSource: Int32

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

public struct TrafficKey: Hashable, Comparable, Sendable {
    public var bucket: Int64
    public var srcDC: Int32
    public var dstDC: Int32
    public var srcService: Int32
    public var dstService: Int32
    public var l4: Int32
    public var observer: Int32
    /// Where the observer's peer (dst for `source`, src for `destination`) was named from:
    /// the id of a `PeerIdentitySource` name.
    public var peerSource: Int32

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

public struct HealthKey: Hashable, Comparable, Sendable {
    public var bucket: Int64
    public var service: Int32
    public var peer: Int32
    /// Where `peer` was named from: the id of a `PeerIdentitySource` name.
    public var peerSource: Int32

    public static func < (a: Self, b: Self) -> Bool {
        (a.bucket, a.service, a.peer, a.peerSource) < (b.bucket, b.service, b.peer, b.peerSource)
    }
}

public struct DropKey: Hashable, Comparable, Sendable {
    public var bucket: Int64
    public var service: Int32
    public var reason: Int32

    public static func < (a: Self, b: Self) -> Bool { (a.bucket, a.service, a.reason) < (b.bucket, b.service, b.reason) }
}

/// A simple count, mergeable.
public struct Count: Sendable, Equatable {
    public var value: UInt64 = 0
    public init(_ v: UInt64 = 0) { value = v }
}

/// Two ids in one word, for hashing (equality still compares every field).
@inline(__always)
func packed(_ a: Int32, _ b: Int32) -> UInt64 {
    UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
}
