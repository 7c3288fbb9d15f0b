import CRedlineABI
import Glibc

/// Everything the kernel programs read at run time from `rl_config` (`enum rl_config_key`,
/// bpf/include/redline_maps.h) and the filter maps, typed, with the kernel's defaults.
/// `DataPlane.apply(_:)` writes every key from it, so a config file reaches the kernel in one
/// place. Two keys are not settings and live elsewhere: `RL_CFG_RULE_GENERATION` (flipped by
/// `DataPlane.install(_:)`) and `RL_CFG_LOSS_SLOT_OFFSET_NS` (derived from the clocks by the
/// collector at every clock anchor).
public struct KernelConfig: Sendable, Equatable {
    /// One value per rate-capped record kind.
    public struct PerRecordKind: Sendable, Equatable {
        public var flowDelta: UInt64
        public var l7Call: UInt64
        public var tcpEvent: UInt64

        public init(flowDelta: UInt64, l7Call: UInt64, tcpEvent: UInt64) {
            self.flowDelta = flowDelta
            self.l7Call = l7Call
            self.tcpEvent = tcpEvent
        }
    }

    /// A filter entry; each names one dimension, as the kernel keeps one map per dimension.
    public enum Filter: Sendable, Equatable {
        public enum Action: String, Sendable { case allow, deny }
        /// Remote address in the block.
        case cidr(CIDR, Action)
        /// Local or remote port; `l4Proto` 6 or 17, nil for both.
        case port(UInt16, l4Proto: UInt8?, Action)
        /// net_cls classid of the sending (`source`) or receiving side.
        case classid(UInt32, source: Bool, Action)
        /// Calls of this L7 protocol are not emitted (deny only).
        case l7Deny(UInt8)
    }

    /// `RL_CFG_FLUSH_INTERVAL_NS`: a flow emits a delta on its first packet after this long
    /// since its last one.
    public var flushIntervalNanos: UInt64 = 1_000_000_000
    /// `RL_CFG_RATE_*`: records per second per CPU; 0 = uncapped.
    public var rateCaps = PerRecordKind(flowDelta: 50_000, l7Call: 100_000, tcpEvent: 20_000)
    /// `RL_CFG_BURST_*`: token-bucket depth in records; 0 = one second of the rate.
    public var rateBursts = PerRecordKind(flowDelta: 0, l7Call: 0, tcpEvent: 0)
    /// `RL_CFG_WAKEUP_EVERY`: records per CPU between forced ring-buffer wakeups.
    public var ringWakeupEvery: UInt64 = 64
    /// `RL_CFG_L4_MASK`: which transports are observed.
    public var observeTCP = true
    public var observeUDP = true
    /// Filter map entries, plus `RL_CFG_FILTERS_ACTIVE`, `RL_CFG_DEFAULT_DENY` and
    /// `RL_CFG_L7_DENY_MASK` derived from them.
    public var filters: [Filter] = []
    /// `RL_CFG_ID_OPTION_EXPECTED`: a connection without the peer's identity option counts
    /// as missing it (set when the sockops program writes the option).
    public var identityOptionExpected = false
    /// `RL_CFG_DROP_REASON_MIN`: `kfree_skb` drops with a reason below this are ignored.
    public var dropReasonMin: UInt64 = 2
    /// `RL_CFG_L7_MAX_MISSES`: payload direction changes without a rule match after which a
    /// flow is no longer classified.
    public var l7MaxMisses: UInt64 = 8
    /// `RL_CFG_NETNS_INO`: tracepoint events only from this network namespace (its inode);
    /// 0 = every namespace.
    public var networkNamespaceInode: UInt64 = 0

    public init() {}

    /// The `rl_config` entries this config sets, in key order: every key but the rule
    /// generation and the loss-slot offset.
    public var entries: [(key: rl_config_key, value: UInt64)] {
        var active: UInt64 = 0, allowList: UInt64 = 0, l7Deny: UInt64 = 0
        for f in filters {
            let bit: rl_filter_active
            let action: Filter.Action
            switch f {
            case .cidr(_, let a): (bit, action) = (RL_FILTER_CIDR, a)
            case .port(_, _, let a): (bit, action) = (RL_FILTER_PORT, a)
            case .classid(_, _, let a): (bit, action) = (RL_FILTER_CLASSID, a)
            case .l7Deny(let id):
                l7Deny |= 1 << UInt64(id & 31)
                continue
            }
            active |= UInt64(bit.rawValue)
            if action == .allow { allowList |= UInt64(bit.rawValue) }
        }
        return [
            (RL_CFG_FLUSH_INTERVAL_NS, flushIntervalNanos),
            (RL_CFG_RATE_FLOW, rateCaps.flowDelta),
            (RL_CFG_RATE_CALL, rateCaps.l7Call),
            (RL_CFG_RATE_TCP_EVENT, rateCaps.tcpEvent),
            (RL_CFG_BURST_FLOW, rateBursts.flowDelta),
            (RL_CFG_BURST_CALL, rateBursts.l7Call),
            (RL_CFG_BURST_TCP_EVENT, rateBursts.tcpEvent),
            (RL_CFG_WAKEUP_EVERY, ringWakeupEvery),
            (RL_CFG_L4_MASK, (observeTCP ? 1 : 0) | (observeUDP ? 2 : 0)),
            (RL_CFG_FILTERS_ACTIVE, active),
            (RL_CFG_DEFAULT_DENY, allowList),
            (RL_CFG_L7_DENY_MASK, l7Deny),
            (RL_CFG_ID_OPTION_EXPECTED, identityOptionExpected ? 1 : 0),
            (RL_CFG_DROP_REASON_MIN, dropReasonMin),
            (RL_CFG_L7_MAX_MISSES, l7MaxMisses),
            (RL_CFG_NETNS_INO, networkNamespaceInode),
        ]
    }

    /// The keys `entries` leaves to others.
    public static let keysSetElsewhere: [rl_config_key] = [RL_CFG_RULE_GENERATION, RL_CFG_LOSS_SLOT_OFFSET_NS]
}

/// An address block, parsed once: `198.18.0.0/15`, `2001:db8::/32`.
public struct CIDR: Sendable, Equatable, CustomStringConvertible {
    /// 4 bytes (IPv4) or 16 (IPv6), network order.
    public let address: [UInt8]
    /// Bits of `address` that name the block.
    public let prefixLength: Int

    /// Parses `ADDRESS/LENGTH`; nil unless both parts are valid for the address family.
    public init?(_ text: String) {
        let p = text.split(separator: "/", omittingEmptySubsequences: false)
        guard p.count == 2, let len = Int(p[1]) else { return nil }
        var a4 = in_addr(), a6 = in6_addr()
        if inet_pton(AF_INET, String(p[0]), &a4) == 1, (0...32).contains(len) {
            address = withUnsafeBytes(of: a4) { Array($0) }
        } else if inet_pton(AF_INET6, String(p[0]), &a6) == 1, (0...128).contains(len) {
            address = withUnsafeBytes(of: a6) { Array($0) }
        } else {
            return nil
        }
        prefixLength = len
    }

    private init(address: [UInt8], prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    /// The block with its host bits cleared (`198.19.210.1/24` → `198.19.210.0/24`).
    public var network: CIDR {
        var bytes = address
        for i in bytes.indices {
            let keep = max(0, min(8, prefixLength - i * 8))
            bytes[i] &= keep == 0 ? 0 : UInt8(truncatingIfNeeded: 0xFF << (8 - keep))
        }
        return CIDR(address: bytes, prefixLength: prefixLength)
    }

    /// Whether bits past the prefix are set (the text names an address, not a block).
    public var hasHostBits: Bool { network != self }

    public var description: String {
        var out = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family = address.count == 4 ? AF_INET : AF_INET6
        _ = address.withUnsafeBytes { inet_ntop(family, $0.baseAddress, &out, socklen_t(out.count)) }
        return out.withUnsafeBufferPointer { String(cString: $0.baseAddress!) } + "/\(prefixLength)"
    }
}
