import RedlineBase
import CRedlineABI

/// Renders records as one JSON object per record (JSON lines), field names as in the ABI
/// header, addresses as IP strings, enums as names, fixed strings trimmed at their NUL.
/// For humans and tools (`redline inspect --records`); the pipeline reads records typed instead.
public enum RecordJSON {
    /// The JSON object for the record of `type` whose bytes start at `record`.
    public static func render(type: RecordType, record: UnsafeRawPointer) -> String {
        var o = JSONObject()
        o.string("type", type.description)
        switch type {
        case .flowDelta:
            let r = record.loadUnaligned(as: rl_flow_delta.self)
            o.int("start_ns", r.start_ns)
            o.int("end_ns", r.end_ns)
            o.int("cgroup_id", r.cgroup_id)
            endpoints(&o, r.laddr, r.raddr, r.lport, r.rport, r.family, r.l4_proto)
            o.string("l7_proto", L7Protocol.name(r.l7_proto))
            o.string("side", sideName(r.side))
            o.int("classid", r.classid)
            o.int("local_service", r.local_service)
            o.int("peer_service", r.peer_service)
            o.flags("flags", UInt64(r.flags), [(1, "opened"), (2, "closed"), (4, "id_option_missing"), (8, "sampled_out"),
                                                  (16, "layout_v1")])
            o.int("tx_bytes", r.tx_bytes)
            o.int("rx_bytes", r.rx_bytes)
            o.int("tx_packets", r.tx_packets)
            o.int("rx_packets", r.rx_packets)
            o.int("tx_payload_bytes", r.tx_payload_bytes)
            o.int("rx_payload_bytes", r.rx_payload_bytes)
        case .l7Call:
            let r = record.loadUnaligned(as: rl_l7_call.self)
            o.int("start_ns", r.start_ns)
            o.int("duration_ns", r.duration_ns)
            o.int("cgroup_id", r.cgroup_id)
            endpoints(&o, r.laddr, r.raddr, r.lport, r.rport, r.family, r.l4_proto)
            o.string("l7_proto", L7Protocol.name(r.l7_proto))
            o.string("side", sideName(r.side))
            o.int("status_code", r.status_code)
            o.string("status_class", ["unknown", "ok", "client_error", "server_error"][safe: Int(r.status_class)] ?? String(r.status_class))
            o.flags("flags", UInt64(r.flags), [(1, "prefix_captured"), (2, "trace_w3c"), (4, "trace_b3"), (8, "trace_ttheader"), (16, "truncated")])
            o.int("req_rule", r.req_rule)
            o.int("resp_rule", r.resp_rule)
            o.int("req_bytes", r.req_bytes)
            o.int("resp_bytes", r.resp_bytes)
            o.int("local_service", r.local_service)
            o.int("peer_service", r.peer_service)
            o.int("detail_seq", r.detail_seq)
        case .callDetail:
            let r = record.loadUnaligned(as: rl_call_detail.self)
            o.int("seq", r.seq)
            o.string("trace_id", hex(r.trace_id))
            o.string("span_id", hex(r.span_id))
            o.string("host", cString(r.host))
            o.string("route", cString(r.route))
        case .tcpEvent:
            let r = record.loadUnaligned(as: rl_tcp_event.self)
            o.int("ts_ns", r.ts_ns)
            o.int("cgroup_id", r.cgroup_id)
            endpoints(&o, r.laddr, r.raddr, r.lport, r.rport, r.family, r.l4_proto)
            o.string("kind", ["", "retransmit", "reset_sent", "reset_received", "drop"][safe: Int(r.kind)].flatMap { $0.isEmpty ? nil : $0 } ?? String(r.kind))
            o.int("tcp_state", r.tcp_state)
            o.int("drop_reason", r.drop_reason)
            o.int("local_service", r.local_service)
            o.int("peer_service", r.peer_service)
            o.int("count", r.count)
        case .clockAnchor:
            let r = record.loadUnaligned(as: rl_clock_anchor.self)
            o.int("realtime_ns", r.realtime_ns)
            o.string("realtime_utc", utcISO8601(ns: r.realtime_ns))
            o.int("monotonic_ns", r.monotonic_ns)
            o.int("boottime_ns", r.boottime_ns)
            o.int("uncertainty_ns", r.uncertainty_ns)
            o.int("samples", r.samples)
            o.string("reason", ["", "start", "periodic", "step", "seal"][safe: Int(r.reason)].flatMap { $0.isEmpty ? nil : $0 } ?? String(r.reason))
        case .stats:
            let r = record.loadUnaligned(as: rl_stats.self)
            o.int("ts_ns", r.ts_ns)
            o.int("interval_ns", r.interval_ns)
            o.string("counter", counterName(r.counter))
            o.int("subject", r.subject)
            o.int("value", r.value)
        case .loss:
            let r = record.loadUnaligned(as: rl_loss.self)
            o.int("ts_ns", r.ts_ns)
            o.int("interval_ns", r.interval_ns)
            o.int("cgroup_id", r.cgroup_id)
            o.int("value", r.value)
            o.string("reason", counterName(UInt32(r.reason)))
            o.string("record_type", RecordType.name(of: UInt16(r.record_type)))
            o.string("l7_proto", L7Protocol.name(r.l7_proto))
            o.string("side", sideName(r.side))
        case .cgroupMapping:
            let r = record.loadUnaligned(as: rl_cgroup_mapping.self)
            o.int("ts_ns", r.ts_ns)
            o.int("cgroup_id", r.cgroup_id)
            o.int("service_id", r.service_id)
            o.flags("flags", UInt64(r.flags), [(1, "path_truncated")])
            o.string("pod_uid", cString(r.pod_uid))
            o.string("container_id", cString(r.container_id))
            o.string("path", cString(r.path))
        }
        return o.finish()
    }

    /// The JSON objects of the current block of `reader`, in record order. A version-1 call
    /// block reads as the version-2 records it is normalised to: each call followed by its
    /// synthesised detail, if it has one (schemas/records-v2.md).
    public static func renderCurrentBlock(of reader: SegmentReader) -> [String] {
        guard let info = reader.currentBlock, let base = reader.currentRawRecords.baseAddress else { return [] }
        let size = info.recordType.recordSize
        var lines: [String] = []
        lines.reserveCapacity(Int(info.recordCount))
        let details = reader.withCallDetails { d in info.recordType == .l7Call ? Array(d) : [] } ?? []
        var next = 0
        for i in 0..<Int(info.recordCount) {
            let record = base + i * size
            lines.append(render(type: info.recordType, record: record))
            if next < details.count, record.loadUnaligned(as: rl_l7_call.self).detail_seq == details[next].seq {
                var d = details[next]
                lines.append(withUnsafeBytes(of: &d) { render(type: .callDetail, record: $0.baseAddress!) })
                next += 1
            }
        }
        return lines
    }

    private static func endpoints<A>(_ o: inout JSONObject, _ laddr: A, _ raddr: A, _ lport: UInt16, _ rport: UInt16,
                                     _ family: UInt8, _ l4: UInt8) {
        o.string("laddr", address(laddr))
        o.string("raddr", address(raddr))
        o.int("lport", lport)
        o.int("rport", rport)
        o.string("family", family == 2 ? "inet" : family == 10 ? "inet6" : family == 0 ? "unspec" : String(family))
        o.string("l4_proto", l4 == 6 ? "tcp" : l4 == 17 ? "udp" : String(l4))
    }

    /// The name of an `enum rl_stats_counter` value.
    static func counterName(_ c: UInt32) -> String {
        let counters = ["", "events_emitted", "ringbuf_dropped", "rate_capped", "unpaired_request", "unpaired_response",
                        "rule_hits", "id_option_missing", "events_read", "user_dropped", "segments_deleted", "bytes_deleted"]
        return counters[safe: Int(c)].flatMap { $0.isEmpty ? nil : $0 } ?? String(c)
    }

    static func sideName(_ s: UInt8) -> String {
        ["unknown", "client", "server"][safe: Int(s)] ?? String(s)
    }

    /// An address field (16 bytes, network order) as text: dotted quad for IPv4-mapped
    /// addresses, RFC 5952 form otherwise.
    public static func address<A>(_ field: A) -> String {
        withUnsafeBytes(of: field) { b in
            precondition(b.count == 16)
            if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF {
                return "\(b[12]).\(b[13]).\(b[14]).\(b[15])"
            }
            let groups = (0..<8).map { UInt16(b[2 * $0]) << 8 | UInt16(b[2 * $0 + 1]) }
            // The longest run of two or more zero groups becomes "::" (first run on ties).
            var best = (start: -1, length: 0)
            var i = 0
            while i < 8 {
                if groups[i] == 0 {
                    var j = i
                    while j < 8 && groups[j] == 0 { j += 1 }
                    if j - i > best.length && j - i >= 2 { best = (i, j - i) }
                    i = j
                } else {
                    i += 1
                }
            }
            func text(_ r: Range<Int>) -> String { r.map { String(groups[$0], radix: 16) }.joined(separator: ":") }
            if best.start < 0 { return text(0..<8) }
            return text(0..<best.start) + "::" + text((best.start + best.length)..<8)
        }
    }

    static func hex<A>(_ field: A) -> String {
        withUnsafeBytes(of: field) { b in
            if b.allSatisfy({ $0 == 0 }) { return "" }
            let digits = Array("0123456789abcdef".utf8)
            var out: [UInt8] = []
            for x in b { out.append(digits[Int(x >> 4)]); out.append(digits[Int(x & 15)]) }
            return String(decoding: out, as: UTF8.self)
        }
    }

    /// A NUL-padded fixed char field as a string (invalid UTF-8 is replaced, never trusted).
    static func cString<A>(_ field: A) -> String {
        withUnsafeBytes(of: field) { b in
            let n = b.firstIndex(of: 0) ?? b.count
            return String(decoding: b[..<n], as: UTF8.self)
        }
    }
}

/// A minimal JSON object writer: keys in insertion order, strings escaped per RFC 8259.
struct JSONObject {
    private var text = "{"
    private var first = true

    private mutating func key(_ k: String) {
        if !first { text += "," }
        first = false
        text += "\"\(k)\":"
    }

    mutating func int<I: BinaryInteger>(_ k: String, _ v: I) {
        key(k)
        text += String(v)
    }

    mutating func string(_ k: String, _ v: String) {
        key(k)
        text += JSONObject.quote(v)
    }

    mutating func flags(_ k: String, _ v: UInt64, _ names: [(UInt64, String)]) {
        key(k)
        var parts: [String] = []
        var rest = v
        for (bit, name) in names where v & bit != 0 {
            parts.append(JSONObject.quote(name))
            rest &= ~bit
        }
        if rest != 0 { parts.append(JSONObject.quote("0x" + String(rest, radix: 16))) }
        text += "[" + parts.joined(separator: ",") + "]"
    }

    mutating func finish() -> String { text + "}" }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let h = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - h.count) + h
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}

extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}
