/// Names read from the captured first bytes of a DNS query or a Redis command: the
/// query name and type, the command. Like `RequestPrefixParser` (Collector), every
/// parse is bounded by the bytes at hand, never follows a length past them, and says
/// why it could not read a name instead of failing.
public enum RequestNames {
    /// Why no name came out of a prefix. Each is counted (`dns_names.rejects`, the
    /// `red_route` placeholder rows), never dropped silently.
    public enum Reject: String, Error, Sendable, Equatable, CaseIterable {
        /// The prefix ends before the name does.
        case truncated
        /// Bytes that cannot be a name: a compression pointer or reserved label type in a
        /// question, a label byte outside printable ASCII, not a RESP array of bulk strings.
        case invalid
        /// Longer than the protocol allows (a DNS name over 255 bytes on the wire, a
        /// command over 32 bytes).
        case oversized

        /// The placeholder a table shows instead of the name: `{truncated}`, `{invalid}`, `{oversized}`.
        public var placeholder: String { "{\(rawValue)}" }
    }

    /// The question of a DNS query.
    public struct DNSQuestion: Sendable, Equatable {
        /// Lower-cased, labels joined with `.`, no trailing dot; `.` for the root.
        public var name: String
        /// QTYPE (1 A, 28 AAAA, ...).
        public var type: UInt16
    }

    /// Reads the first question of a DNS message (RFC 1035 §4.1): a 12-byte header, then
    /// QNAME as length-prefixed labels ending in a zero byte, then QTYPE and QCLASS.
    /// `bytes` starts at the DNS header (the UDP payload).
    public static func dnsQuestion(_ bytes: some Collection<UInt8>) -> Result<DNSQuestion, Reject> {
        let b = Array(bytes)
        var i = 12
        var name: [UInt8] = []
        var wire = 1 // the final zero byte
        while true {
            guard i < b.count else { return .failure(.truncated) }
            let len = Int(b[i])
            if len == 0 { i += 1; break }
            // 0xC0: a compression pointer; 0x40 / 0x80: reserved label types. None belongs in a query's question.
            guard len < 64 else { return .failure(.invalid) }
            wire += len + 1
            guard wire <= 255 else { return .failure(.oversized) }
            guard i + 1 + len <= b.count else { return .failure(.truncated) }
            let label = b[(i + 1)...(i + len)]
            guard label.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ".") }) else { return .failure(.invalid) }
            if !name.isEmpty { name.append(UInt8(ascii: ".")) }
            name += label.map { $0 >= 0x41 && $0 <= 0x5A ? $0 | 0x20 : $0 }
            i += 1 + len
        }
        guard i + 2 <= b.count else { return .failure(.truncated) }
        let type = UInt16(b[i]) << 8 | UInt16(b[i + 1])
        return .success(DNSQuestion(name: name.isEmpty ? "." : String(decoding: name, as: UTF8.self), type: type))
    }

    /// Reads the command of a RESP request, `*<n>\r\n$<len>\r\n<command>\r\n...`, upper-cased.
    public static func redisCommand(_ bytes: some Collection<UInt8>) -> Result<String, Reject> {
        let b = Array(bytes)
        var i = 0
        func number(after marker: UInt8) -> Result<Int, Reject> {
            guard i < b.count else { return .failure(.truncated) }
            guard b[i] == marker else { return .failure(.invalid) }
            i += 1
            var n = 0, digits = 0
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                n = n * 10 + Int(b[i] - 0x30)
                digits += 1
                guard digits <= 9 else { return .failure(.invalid) }
                i += 1
            }
            guard i + 2 <= b.count else { return .failure(.truncated) }
            guard digits > 0, b[i] == 0x0D, b[i + 1] == 0x0A else { return .failure(.invalid) }
            i += 2
            return .success(n)
        }
        let count: Int
        switch number(after: UInt8(ascii: "*")) {
        case .success(let n): count = n
        case .failure(let r): return .failure(r)
        }
        guard count >= 1 else { return .failure(.invalid) }
        let len: Int
        switch number(after: UInt8(ascii: "$")) {
        case .success(let n): len = n
        case .failure(let r): return .failure(r)
        }
        guard len >= 1 else { return .failure(.invalid) }
        guard len <= 32 else { return .failure(.oversized) }
        guard i + len <= b.count else { return .failure(.truncated) }
        let command = b[i..<(i + len)]
        guard command.allSatisfy({ RouteTemplate.isLetter($0) || RouteTemplate.isDigit($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") })
        else { return .failure(.invalid) }
        return .success(String(decoding: command.map { $0 >= 0x61 && $0 <= 0x7A ? $0 & ~0x20 : $0 }, as: UTF8.self))
    }

    /// A name a call record carries (a DNS name or type, a command the collector read), made safe
    /// for a table: `{none}` when empty, `{truncated}` when the record says it was cut,
    /// `{invalid}` for any byte outside printable ASCII or a space (a corrupt or foreign record:
    /// the collector writes only names its parsers accepted); `lowercase` or upper-cased as asked.
    public static func recordName(_ bytes: some Collection<UInt8>, truncated: Bool, uppercase: Bool = false) -> String {
        if bytes.isEmpty { return "{none}" }
        if truncated { return Reject.truncated.placeholder }
        guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return Reject.invalid.placeholder }
        let s = String(decoding: bytes, as: UTF8.self)
        return uppercase ? s.uppercased() : s.lowercased()
    }

    /// The mnemonic of a DNS QTYPE (RFC 1035, 3596, 2782, 6891, 9460, ...); `TYPE<n>` for others (RFC 3597).
    public static func dnsTypeName(_ type: UInt16) -> String {
        switch type {
        case 1: "A"
        case 2: "NS"
        case 5: "CNAME"
        case 6: "SOA"
        case 12: "PTR"
        case 15: "MX"
        case 16: "TXT"
        case 28: "AAAA"
        case 33: "SRV"
        case 35: "NAPTR"
        case 41: "OPT"
        case 43: "DS"
        case 46: "RRSIG"
        case 48: "DNSKEY"
        case 64: "SVCB"
        case 65: "HTTPS"
        case 255: "ANY"
        case 257: "CAA"
        default: "TYPE\(type)"
        }
    }

    /// The mnemonic of a DNS RCODE (RFC 1035, 2136); `RCODE<n>` for others.
    public static func dnsResponseCodeName(_ code: UInt16) -> String {
        switch code {
        case 0: "NOERROR"
        case 1: "FORMERR"
        case 2: "SERVFAIL"
        case 3: "NXDOMAIN"
        case 4: "NOTIMP"
        case 5: "REFUSED"
        case 6: "YXDOMAIN"
        case 7: "YXRRSET"
        case 8: "NXRRSET"
        case 9: "NOTAUTH"
        case 10: "NOTZONE"
        default: "RCODE\(code)"
        }
    }
}
