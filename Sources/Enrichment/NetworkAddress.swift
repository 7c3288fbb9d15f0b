/// An IP address as Redline records carry it: 16 bytes in network order, IPv4
/// as IPv4-mapped IPv6 (`::ffff:a.b.c.d`). Value type, hashable, cheap to copy.
public struct NetworkAddress: Hashable, Sendable, CustomStringConvertible {
    public var high: UInt64 // bytes 0..<8, big-endian
    public var low: UInt64  // bytes 8..<16, big-endian

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// From the 16 raw bytes of a record field.
    public init<C: Collection>(bytes: C) where C.Element == UInt8 {
        precondition(bytes.count == 16)
        var h: UInt64 = 0, l: UInt64 = 0
        for (i, b) in bytes.enumerated() {
            if i < 8 { h = h << 8 | UInt64(b) } else { l = l << 8 | UInt64(b) }
        }
        self.init(high: h, low: l)
    }

    /// An IPv4 address, mapped.
    public init(ipv4 a: UInt32) { self.init(high: 0, low: 0xFFFF_0000_0000 | UInt64(a)) }

    public var isIPv4: Bool { high == 0 && low >> 32 == 0xFFFF }
    public var ipv4: UInt32? { isIPv4 ? UInt32(truncatingIfNeeded: low) : nil }

    /// Parses dotted IPv4 or RFC 4291 IPv6 text (with `::`, and an embedded IPv4 tail).
    public init?(_ text: some StringProtocol) {
        if let v4 = Self.parseIPv4(Substring(text)) {
            self.init(ipv4: v4)
            return
        }
        guard let groups = Self.parseIPv6(Substring(text)) else { return nil }
        var h: UInt64 = 0, l: UInt64 = 0
        for (i, g) in groups.enumerated() {
            if i < 4 { h = h << 16 | UInt64(g) } else { l = l << 16 | UInt64(g) }
        }
        self.init(high: h, low: l)
    }

    private static func parseIPv4(_ s: Substring) -> UInt32? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard (1...3).contains(p.count), p.allSatisfy(\.isASCII), let n = UInt32(p), n <= 255 else { return nil }
            v = v << 8 | n
        }
        return v
    }

    private static func parseIPv6(_ s: Substring) -> [UInt16]? {
        guard s.contains(":") else { return nil }
        let halves = s.split(separator: "::", maxSplits: 1, omittingEmptySubsequences: false)
        guard halves.count <= 2, !(halves.count == 2 && halves[1].contains("::")) else { return nil }
        func groups(_ part: Substring) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            for (i, f) in fields.enumerated() {
                if i == fields.count - 1, f.contains("."), let v4 = parseIPv4(f) {
                    out.append(UInt16(v4 >> 16))
                    out.append(UInt16(v4 & 0xFFFF))
                } else {
                    guard (1...4).contains(f.count), let g = UInt16(f, radix: 16) else { return nil }
                    out.append(g)
                }
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        if halves.count == 1 { return head.count == 8 ? head : nil }
        guard let tail = groups(halves[1]), head.count + tail.count < 8 else { return nil }
        return head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
    }

    public var description: String {
        if let v4 = ipv4 {
            return "\(v4 >> 24).\(v4 >> 16 & 0xFF).\(v4 >> 8 & 0xFF).\(v4 & 0xFF)"
        }
        let g = (0..<8).map { i -> UInt16 in
            let word = i < 4 ? high : low
            return UInt16(truncatingIfNeeded: word >> (48 - 16 * UInt64(i % 4)))
        }
        // Compress the longest run (≥ 2) of zero groups, as RFC 5952 asks.
        var bestStart = -1, bestLen = 0, i = 0
        while i < 8 {
            if g[i] == 0 {
                var j = i
                while j < 8 && g[j] == 0 { j += 1 }
                if j - i > bestLen { bestStart = i; bestLen = j - i }
                i = j
            } else { i += 1 }
        }
        let hex = g.map { String($0, radix: 16) }
        if bestLen < 2 { return hex.joined(separator: ":") }
        let head = hex[0..<bestStart].joined(separator: ":")
        let tail = hex[(bestStart + bestLen)...].joined(separator: ":")
        return head + "::" + tail
    }
}

/// A CIDR block: an address and a prefix length counted on the 128-bit form
/// (an IPv4 /24 is stored as /120 of its mapped address).
public struct CIDR: Hashable, Sendable, CustomStringConvertible {
    public let network: NetworkAddress
    public let prefixLength: Int // 0...128, on the 128-bit form

    /// Parses `a.b.c.d/n` (n ≤ 32) or `x::y/n` (n ≤ 128). Host bits must be zero.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let addr = NetworkAddress(parts[0]), let n = Int(parts[1]) else { return nil }
        let length = addr.isIPv4 && !parts[0].contains(":") ? n + 96 : n
        guard n >= 0, length <= 128, (addr.isIPv4 && !parts[0].contains(":") ? n <= 32 : true) else { return nil }
        guard CIDR.mask(addr, length) == addr else { return nil }
        self.network = addr
        self.prefixLength = length
    }

    public func contains(_ a: NetworkAddress) -> Bool { CIDR.mask(a, prefixLength) == network }

    static func mask(_ a: NetworkAddress, _ length: Int) -> NetworkAddress {
        let hm: UInt64 = length >= 64 ? .max : (length == 0 ? 0 : ~(UInt64.max >> UInt64(length)))
        let lm: UInt64 = length <= 64 ? 0 : (length >= 128 ? .max : ~(UInt64.max >> UInt64(length - 64)))
        return NetworkAddress(high: a.high & hm, low: a.low & lm)
    }

    public var description: String {
        network.isIPv4 ? "\(network)/\(prefixLength - 96)" : "\(network)/\(prefixLength)"
    }
}
