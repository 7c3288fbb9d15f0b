/// What the collector extracts from a captured request prefix (at most 256
/// bytes the kernel copied because a rule asked). The kernel never parses;
/// Redline never stores the raw bytes: only these fields reach a segment.
public struct RequestContext: Equatable, Sendable {
    /// 16-byte trace id (a 64-bit B3 id is left-padded with zeros), nil if none.
    public var traceID: [UInt8]?
    /// 8-byte parent span id, nil if none.
    public var spanID: [UInt8]?
    public var traceSource: TraceSource?
    /// HTTP Host / authority, lower-cased, port kept.
    public var host: String?
    /// HTTP path without query or fragment.
    public var route: String?

    public enum TraceSource: Sendable, Equatable {
        case w3c, b3, ttheader
    }

    public init(traceID: [UInt8]? = nil, spanID: [UInt8]? = nil, traceSource: TraceSource? = nil,
                host: String? = nil, route: String? = nil) {
        self.traceID = traceID
        self.spanID = spanID
        self.traceSource = traceSource
        self.host = host
        self.route = route
    }
}

/// Parses request prefixes. Every parse is bounded by the prefix (which may be
/// cut anywhere, mid-header included), never trusts a length field past the
/// bytes at hand, and returns what it could read rather than failing.
public enum RequestPrefixParser {
    /// Parses an HTTP/1.x request prefix: request line, then headers until the
    /// blank line or the end of the prefix (a header cut by the end is ignored).
    public static func http(_ bytes: some Collection<UInt8>) -> RequestContext {
        let b = Array(bytes)
        var ctx = RequestContext()
        var lines = splitLines(b)
        guard !lines.isEmpty else { return ctx }
        let requestLine = lines.removeFirst()
        let parts = requestLine.line.split(separator: UInt8(ascii: " "), maxSplits: 2, omittingEmptySubsequences: true)
        if parts.count >= 2 {
            var target = Array(parts[1])
            // Absolute form (proxies): http://host[:port]/path
            if let schemeEnd = find(target, Array("://".utf8)) {
                let rest = Array(target[(schemeEnd + 3)...])
                let slash = rest.firstIndex(of: UInt8(ascii: "/")) ?? rest.count
                ctx.host = ascii(rest[..<slash])?.lowercased()
                target = slash < rest.count ? Array(rest[slash...]) : Array("/".utf8)
            }
            if let end = target.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) {
                target = Array(target[..<end])
            }
            // A request line cut before its version still has a usable path only
            // if the path itself was complete (a space followed it).
            if parts.count == 3 || requestLine.complete { ctx.route = ascii(target[...]) }
        }
        // Headers are matched and parsed as bytes: a String per header name and
        // value made this loop ~80 % of the collector's CPU at high call rates
        // (tools/bench/collector-ingest). Only the Host value becomes a String.
        var b3Trace: [UInt8]?, b3Span: [UInt8]?
        for l in lines where l.complete {
            guard let colon = l.line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let name = l.line[..<colon]
            guard let header = TracedHeader(name) else { continue }
            let raw = l.line[(colon + 1)...]
            guard raw.allSatisfy(isPrintable) else { continue }
            let value = trimmingSpaces(raw)
            switch header {
            case .host:
                if ctx.host == nil { ctx.host = String(decoding: value, as: UTF8.self).lowercased() }
            case .traceparent:
                if let (t, s) = parseTraceparent(value) {
                    ctx.traceID = t
                    ctx.spanID = s
                    ctx.traceSource = .w3c
                }
            case .b3:
                if ctx.traceSource != .w3c, let (t, s) = parseB3Single(value) {
                    ctx.traceID = t
                    ctx.spanID = s
                    ctx.traceSource = .b3
                }
            case .b3TraceID: b3Trace = parseTraceID(value)
            case .b3SpanID: b3Span = hex(value, bytes: 8)
            }
        }
        if ctx.traceSource == nil, let t = b3Trace {
            ctx.traceID = t
            ctx.spanID = b3Span
            ctx.traceSource = .b3
        }
        return ctx
    }

    /// Parses a TTHeader (Kitex) frame prefix: 4-byte length, magic 0x1000,
    /// flags, sequence, header size in 4-byte words, protocol id, transforms,
    /// then info blocks. Trace context is read from string key-value headers
    /// (`traceparent`, `b3`, `x-b3-traceid`/`x-b3-spanid`).
    public static func ttheader(_ bytes: some Collection<UInt8>) -> RequestContext {
        let b = Array(bytes)
        var ctx = RequestContext()
        guard b.count >= 14, b[4] == 0x10, b[5] == 0x00 else { return ctx }
        let headerWords = Int(b[12]) << 8 | Int(b[13])
        let headerEnd = min(b.count, 14 + headerWords * 4)
        var i = 14
        func u8() -> Int? {
            guard i < headerEnd else { return nil }
            defer { i += 1 }
            return Int(b[i])
        }
        func u16() -> Int? {
            guard i + 2 <= headerEnd else { return nil }
            defer { i += 2 }
            return Int(b[i]) << 8 | Int(b[i + 1])
        }
        func str() -> String? {
            guard let n = u16(), i + n <= headerEnd else { return nil }
            defer { i += n }
            return ascii(b[i..<(i + n)])
        }
        guard u8() != nil, let transforms = u8() else { return ctx }
        i += transforms
        var b3Trace: [UInt8]?, b3Span: [UInt8]?
        infoLoop: while let info = u8() {
            switch info {
            case 0x00:
                break infoLoop // padding up to the payload
            case 0x01: // string key-value headers
                guard let n = u16() else { break infoLoop }
                for _ in 0..<n {
                    guard let k = str(), let v = str() else { break infoLoop }
                    switch k.lowercased() {
                    case "traceparent":
                        if let (t, s) = parseTraceparent(v) {
                            ctx.traceID = t; ctx.spanID = s; ctx.traceSource = .ttheader
                        }
                    case "b3":
                        if ctx.traceSource == nil, let (t, s) = parseB3Single(v) {
                            ctx.traceID = t; ctx.spanID = s; ctx.traceSource = .ttheader
                        }
                    case "x-b3-traceid": b3Trace = parseTraceID(v)
                    case "x-b3-spanid": b3Span = hex(v, bytes: 8)
                    default: break
                    }
                }
            case 0x10: // integer key-value headers: u16 key, string value
                guard let n = u16() else { break infoLoop }
                for _ in 0..<n {
                    guard u16() != nil, str() != nil else { break infoLoop }
                }
            case 0x11: // ACL token
                guard str() != nil else { break infoLoop }
            default:
                break infoLoop // unknown info id: its length is unknown, stop
            }
        }
        if ctx.traceSource == nil, let t = b3Trace {
            ctx.traceID = t; ctx.spanID = b3Span; ctx.traceSource = .ttheader
        }
        return ctx
    }

    /// The HTTP headers `http` reads, matched case-insensitively on bytes.
    private enum TracedHeader {
        case host, traceparent, b3, b3TraceID, b3SpanID

        init?(_ name: ArraySlice<UInt8>) {
            func named(_ s: StaticString) -> Bool {
                guard name.count == s.utf8CodeUnitCount else { return false }
                return s.withUTF8Buffer { zip(name, $0).allSatisfy { a, b in (a >= 0x41 && a <= 0x5A ? a | 0x20 : a) == b } }
            }
            if named("host") { self = .host }
            else if named("traceparent") { self = .traceparent }
            else if named("b3") { self = .b3 }
            else if named("x-b3-traceid") { self = .b3TraceID }
            else if named("x-b3-spanid") { self = .b3SpanID }
            else { return nil }
        }
    }

    /// W3C `traceparent`: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`.
    /// An all-zero id is invalid by the spec and ignored.
    static func parseTraceparent(_ v: String) -> ([UInt8], [UInt8])? { parseTraceparent(Array(v.utf8)[...]) }

    static func parseTraceparent(_ v: ArraySlice<UInt8>) -> ([UInt8], [UInt8])? {
        // Fixed offsets instead of splitting at "-": version 0..<2, trace id 3..<35,
        // parent id 36..<52, flags 53..<55, then the end or (future versions) "-".
        let b = v.startIndex
        let dash = UInt8(ascii: "-")
        guard v.count >= 55, v[b + 2] == dash, v[b + 35] == dash, v[b + 52] == dash,
              v.count == 55 || v[b + 55] == dash,
              !v[b..<(b + 2)].elementsEqual("ff".utf8), hex(v[b..<(b + 2)], bytes: 1) != nil,
              let t = hex(v[(b + 3)..<(b + 35)], bytes: 16), let s = hex(v[(b + 36)..<(b + 52)], bytes: 8),
              hex(v[(b + 53)..<(b + 55)], bytes: 1) != nil,
              t.contains(where: { $0 != 0 }), s.contains(where: { $0 != 0 }) else { return nil }
        return (t, s)
    }

    /// B3 single header: `traceid-spanid[-sampled[-parentspanid]]` (or just a sampling flag).
    static func parseB3Single(_ v: String) -> ([UInt8], [UInt8])? { parseB3Single(Array(v.utf8)[...]) }

    static func parseB3Single(_ v: ArraySlice<UInt8>) -> ([UInt8], [UInt8])? {
        let f = v.split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false)
        guard f.count >= 2, let t = parseTraceID(f[0]), let s = hex(f[1], bytes: 8) else { return nil }
        return (t, s)
    }

    /// A 128-bit (32 hex) or 64-bit (16 hex, left-padded) trace id.
    static func parseTraceID(_ v: String) -> [UInt8]? { parseTraceID(Array(v.utf8)[...]) }

    static func parseTraceID(_ v: ArraySlice<UInt8>) -> [UInt8]? {
        let s = trimmingSpaces(v)
        if s.count == 16, let h = hex(s, bytes: 8), h.contains(where: { $0 != 0 }) {
            return [UInt8](repeating: 0, count: 8) + h
        }
        if let h = hex(s, bytes: 16), h.contains(where: { $0 != 0 }) { return h }
        return nil
    }

    static func hex(_ s: String, bytes n: Int) -> [UInt8]? { hex(Array(s.utf8)[...], bytes: n) }

    static func hex(_ u: ArraySlice<UInt8>, bytes n: Int) -> [UInt8]? {
        guard u.count == 2 * n else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(n)
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var i = u.startIndex
        for _ in 0..<n {
            guard let h = nibble(u[i]), let l = nibble(u[i + 1]) else { return nil }
            out.append(h << 4 | l)
            i += 2
        }
        return out
    }

    /// `s` without leading and trailing spaces and tabs.
    private static func trimmingSpaces(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var s = s
        while let f = s.first, f == 0x20 || f == 0x09 { s.removeFirst() }
        while let l = s.last, l == 0x20 || l == 0x09 { s.removeLast() }
        return s
    }

    /// Lines split at CRLF (or bare LF); `complete` is false for a last line cut by the prefix end.
    private static func splitLines(_ b: [UInt8]) -> [(line: ArraySlice<UInt8>, complete: Bool)] {
        var out: [(line: ArraySlice<UInt8>, complete: Bool)] = []
        var start = 0
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "\n") {
                let end = i > start && b[i - 1] == UInt8(ascii: "\r") ? i - 1 : i
                if end == start { return out } // blank line: end of headers
                out.append((b[start..<end], true))
                start = i + 1
            }
            i += 1
        }
        if start < b.count { out.append((b[start...], false)) }
        return out
    }

    private static func find(_ hay: [UInt8], _ needle: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
        return nil
    }

    /// Printable ASCII only: anything else means this is not text we should keep.
    private static func ascii(_ s: ArraySlice<UInt8>) -> String? {
        guard s.allSatisfy(isPrintable) else { return nil }
        return String(decoding: s, as: UTF8.self)
    }

    private static func isPrintable(_ c: UInt8) -> Bool { c >= 0x20 && c < 0x7F || c == 0x09 }
}
