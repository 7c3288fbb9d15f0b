import CRedlineABI
import Foundation
import Testing
import TestSupport
@testable import Segments

/// schemas/records-v2.md (and records-v1.md, the spec of older segments) against the compiled
/// ABI structs: every documented offset and size.
@Suite("records-v2.md and records-v1.md match the ABI header")
struct RecordsSpecTests {
    /// Field offsets and sizes from the compiled structs (MemoryLayout, not re-declared layouts).
    static let actual: [String: [String: (offset: Int, size: Int)]] = {
        func f<T, V>(_ kp: KeyPath<T, V>, _: T.Type) -> (Int, Int) { (MemoryLayout<T>.offset(of: kp)!, MemoryLayout<V>.size) }
        typealias F = rl_flow_delta
        typealias C = rl_l7_call
        typealias E = rl_tcp_event
        typealias A = rl_clock_anchor
        typealias S = rl_stats
        typealias G = rl_cgroup_mapping
        typealias L = rl_loss
        typealias D = rl_call_detail
        typealias C1 = rl_l7_call_v1
        return [
            "flow_delta": ["start_ns": f(\F.start_ns, F.self), "end_ns": f(\F.end_ns, F.self), "cgroup_id": f(\F.cgroup_id, F.self),
                           "laddr": f(\F.laddr, F.self), "raddr": f(\F.raddr, F.self), "lport": f(\F.lport, F.self),
                           "rport": f(\F.rport, F.self), "family": f(\F.family, F.self), "l4_proto": f(\F.l4_proto, F.self),
                           "l7_proto": f(\F.l7_proto, F.self), "side": f(\F.side, F.self), "classid": f(\F.classid, F.self),
                           "local_service": f(\F.local_service, F.self), "peer_service": f(\F.peer_service, F.self),
                           "flags": f(\F.flags, F.self), "tx_bytes": f(\F.tx_bytes, F.self), "rx_bytes": f(\F.rx_bytes, F.self),
                           "tx_packets": f(\F.tx_packets, F.self), "rx_packets": f(\F.rx_packets, F.self),
                           "tx_payload_bytes": f(\F.tx_payload_bytes, F.self), "rx_payload_bytes": f(\F.rx_payload_bytes, F.self)],
            "l7_call": ["start_ns": f(\C.start_ns, C.self), "duration_ns": f(\C.duration_ns, C.self), "cgroup_id": f(\C.cgroup_id, C.self),
                        "laddr": f(\C.laddr, C.self), "raddr": f(\C.raddr, C.self), "lport": f(\C.lport, C.self),
                        "rport": f(\C.rport, C.self), "family": f(\C.family, C.self), "l4_proto": f(\C.l4_proto, C.self),
                        "l7_proto": f(\C.l7_proto, C.self), "side": f(\C.side, C.self), "status_code": f(\C.status_code, C.self),
                        "status_class": f(\C.status_class, C.self), "flags": f(\C.flags, C.self), "req_rule": f(\C.req_rule, C.self),
                        "resp_rule": f(\C.resp_rule, C.self), "req_bytes": f(\C.req_bytes, C.self), "resp_bytes": f(\C.resp_bytes, C.self),
                        "local_service": f(\C.local_service, C.self), "peer_service": f(\C.peer_service, C.self),
                        "detail_seq": f(\C.detail_seq, C.self), "pad": f(\C.pad, C.self)],
            "call_detail": ["seq": f(\D.seq, D.self), "pad": f(\D.pad, D.self), "trace_id": f(\D.trace_id, D.self),
                            "span_id": f(\D.span_id, D.self), "host": f(\D.host, D.self), "route": f(\D.route, D.self)],
            "l7_call v1": ["start_ns": f(\C1.start_ns, C1.self), "duration_ns": f(\C1.duration_ns, C1.self),
                           "cgroup_id": f(\C1.cgroup_id, C1.self), "laddr": f(\C1.laddr, C1.self), "raddr": f(\C1.raddr, C1.self),
                           "lport": f(\C1.lport, C1.self), "rport": f(\C1.rport, C1.self), "family": f(\C1.family, C1.self),
                           "l4_proto": f(\C1.l4_proto, C1.self), "l7_proto": f(\C1.l7_proto, C1.self), "side": f(\C1.side, C1.self),
                           "status_code": f(\C1.status_code, C1.self), "status_class": f(\C1.status_class, C1.self),
                           "flags": f(\C1.flags, C1.self), "req_rule": f(\C1.req_rule, C1.self), "resp_rule": f(\C1.resp_rule, C1.self),
                           "req_bytes": f(\C1.req_bytes, C1.self), "resp_bytes": f(\C1.resp_bytes, C1.self),
                           "local_service": f(\C1.local_service, C1.self), "peer_service": f(\C1.peer_service, C1.self),
                           "trace_id": f(\C1.trace_id, C1.self), "span_id": f(\C1.span_id, C1.self), "host": f(\C1.host, C1.self),
                           "route": f(\C1.route, C1.self)],
            "tcp_event": ["ts_ns": f(\E.ts_ns, E.self), "cgroup_id": f(\E.cgroup_id, E.self), "laddr": f(\E.laddr, E.self),
                          "raddr": f(\E.raddr, E.self), "lport": f(\E.lport, E.self), "rport": f(\E.rport, E.self),
                          "family": f(\E.family, E.self), "kind": f(\E.kind, E.self), "tcp_state": f(\E.tcp_state, E.self),
                          "l4_proto": f(\E.l4_proto, E.self), "drop_reason": f(\E.drop_reason, E.self),
                          "local_service": f(\E.local_service, E.self), "peer_service": f(\E.peer_service, E.self),
                          "count": f(\E.count, E.self)],
            "clock_anchor": ["realtime_ns": f(\A.realtime_ns, A.self), "monotonic_ns": f(\A.monotonic_ns, A.self),
                             "boottime_ns": f(\A.boottime_ns, A.self), "uncertainty_ns": f(\A.uncertainty_ns, A.self),
                             "samples": f(\A.samples, A.self), "reason": f(\A.reason, A.self)],
            "stats": ["ts_ns": f(\S.ts_ns, S.self), "interval_ns": f(\S.interval_ns, S.self), "counter": f(\S.counter, S.self),
                      "subject": f(\S.subject, S.self), "value": f(\S.value, S.self)],
            "cgroup_mapping": ["ts_ns": f(\G.ts_ns, G.self), "cgroup_id": f(\G.cgroup_id, G.self), "service_id": f(\G.service_id, G.self),
                               "flags": f(\G.flags, G.self), "pod_uid": f(\G.pod_uid, G.self),
                               "container_id": f(\G.container_id, G.self), "path": f(\G.path, G.self)],
            "loss": ["ts_ns": f(\L.ts_ns, L.self), "interval_ns": f(\L.interval_ns, L.self), "cgroup_id": f(\L.cgroup_id, L.self),
                     "value": f(\L.value, L.self), "reason": f(\L.reason, L.self), "record_type": f(\L.record_type, L.self),
                     "l7_proto": f(\L.l7_proto, L.self), "side": f(\L.side, L.self), "pad": f(\L.pad, L.self)],
        ]
    }()

    /// A records spec's sections: per type name, its tag, version, size and field rows.
    typealias Sections = [String: (type: Int, version: Int, size: Int, rows: [(Int, Int, String)])]

    static func sections(_ file: String) throws -> Sections {
        let here = "\(#filePath)"
        let root = String(here[..<here.range(of: "/Tests/SegmentsTests/")!.lowerBound])
        let text = try String(contentsOfFile: root + "/schemas/" + file, encoding: .utf8)
        var sections: Sections = [:]
        var current: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("## "), let m = line.firstMatch(of: /^## (\w+) — `struct rl_\w+` \(type (\d+), version (\d+), (\d+) bytes\)$/) {
                current = String(m.1)
                sections[current!] = (Int(m.2)!, Int(m.3)!, Int(m.4)!, [])
            } else if line.hasPrefix("## ") {
                current = nil
            } else if let c = current, let m = line.firstMatch(of: /^\| (\d+) \| (\d+) \| (\w+) \|/) {
                sections[c]!.rows.append((Int(m.1)!, Int(m.2)!, String(m.3)))
            }
        }
        return sections
    }

    /// One section against the compiled struct named `actual` in `Self.actual`: tag, version,
    /// size, and rows that tile the struct (no gap, no overlap, nothing left out).
    static func check(_ s: (type: Int, version: Int, size: Int, rows: [(Int, Int, String)]), type: RecordType,
                      version: UInt16, size: Int, actual: String) {
        #expect(s.type == Int(type.rawValue), "\(actual)")
        #expect(s.version == Int(version), "\(actual)")
        #expect(s.size == size, "\(actual)")
        var next = 0
        for (offset, fieldSize, name) in s.rows {
            #expect(offset == next, "\(actual).\(name) starts at \(offset), previous field ends at \(next)")
            next = offset + fieldSize
            let a = Self.actual[actual]?[name]
            #expect(a?.offset == offset && a?.size == fieldSize, "\(actual).\(name): spec \(offset)/\(fieldSize), ABI \(String(describing: a))")
        }
        #expect(next == size, "\(actual)")
        #expect(s.rows.count == Self.actual[actual]?.count, "\(actual)")
    }

    @Test("records-v2.md: every section's type, version, size and field table agree with the compiled structs")
    func specMatchesABI() throws {
        let sections = try Self.sections("records-v2.md")
        #expect(Set(sections.keys) == Set(RecordType.allCases.map(\.description)))
        for type in RecordType.allCases {
            guard let s = sections[type.description] else { continue }
            Self.check(s, type: type, version: type.currentVersion, size: type.recordSize, actual: type.description)
        }
    }

    @Test("records-v1.md: l7_call is struct rl_l7_call_v1, every other type as in records-v2.md, no call_detail")
    func version1SpecMatchesABI() throws {
        let sections = try Self.sections("records-v1.md")
        #expect(Set(sections.keys) == Set(RecordType.allCases.filter { $0 != .callDetail }.map(\.description)))
        for type in RecordType.allCases where type != .callDetail {
            guard let s = sections[type.description] else { continue }
            if type == .l7Call {
                #expect(type.recordSize(version: 1) == MemoryLayout<rl_l7_call_v1>.size)
                Self.check(s, type: type, version: 1, size: MemoryLayout<rl_l7_call_v1>.size, actual: "l7_call v1")
            } else {
                Self.check(s, type: type, version: type.currentVersion, size: type.recordSize, actual: type.description)
            }
        }
    }

    @Test("a version-1 call is the version-2 call's shared prefix followed by the detail's strings")
    func callLayoutsShareTheirFields() {
        #expect(CallLayout.prefixSize == MemoryLayout<rl_l7_call>.offset(of: \.detail_seq)!)
        #expect(CallLayout.prefixSize == MemoryLayout<rl_l7_call_v1>.offset(of: \.trace_id)!)
        #expect(MemoryLayout<rl_l7_call_v1>.size == CallLayout.prefixSize + CallLayout.stringsSize)
        let v1 = Self.actual["l7_call v1"]!, v2 = Self.actual["l7_call"]!, detail = Self.actual["call_detail"]!
        for (name, field) in v1 {
            if let slim = v2[name] {
                #expect(slim.offset == field.offset && slim.size == field.size, "\(name)")
            } else {
                let d = detail[name]
                #expect(d?.offset == field.offset - CallLayout.prefixSize + CallLayout.detailStringsOffset && d?.size == field.size, "\(name)")
            }
        }
        #expect(RecordType.l7Call.recordSize == 96 && RecordType.callDetail.recordSize == 160)
        #expect(RecordType.callDetail.rawValue == UInt16(RL_REC_CALL_DETAIL.rawValue))
    }

    @Test("record types are the header's enum rl_record_type: values, and names from the struct each carries")
    func recordTypesMatchHeader() throws {
        let header = try ABIHeader.enumConstants("rl_record_type")
        let types = header.filter { $0.name != "RL_REC_TYPE_MAX" }
        #expect(types.count == RecordType.allCases.count)
        for c in types {
            let type = try #require(RecordType(rawValue: UInt16(c.value)), "\(c.name) = \(c.value) has no RecordType")
            // The comment names the struct: `struct rl_flow_delta` is record type "flow_delta".
            #expect("struct rl_\(type.description)" == c.comment, "\(c.name)")
        }
        #expect(header.last?.name == "RL_REC_TYPE_MAX" && header.last?.value == Int(RL_REC_TYPE_MAX.rawValue))
    }
}
