@testable import Aggregates
import Foundation
import Parquet
@testable import Pipeline
import Testing

/// Drop classes from the generated reason table, and what the tables do with flow records
/// that predate payload counting (flow_delta layout 1). The lab side is FlowTruthTests.
@Suite("Bytes and drops: drop classes, payload of version-1 flow records")
struct BytesAndDropsTests {
    static func code(_ name: String) -> Int32 {
        Int32(DropReasons.names.firstIndex(of: name) ?? -1)
    }

    @Test("every kernel reason has one class; the close-time purge is teardown, tc's verdict policy, a full qdisc network")
    func dropClasses() {
        #expect(DropReasons.classes.count == DropReasons.names.count)
        #expect(DropReasons.dropClass(Self.code("queue_purge")) == .teardown)
        #expect(DropReasons.dropClass(Self.code("no_socket")) == .teardown)
        #expect(DropReasons.dropClass(Self.code("tc_ingress")) == .policy)
        #expect(DropReasons.dropClass(Self.code("netfilter_drop")) == .policy)
        #expect(DropReasons.dropClass(Self.code("tcp_md5failure")) == .policy)
        #expect(DropReasons.dropClass(Self.code("qdisc_drop")) == .network)
        #expect(DropReasons.dropClass(Self.code("tcp_csum")) == .network)
        #expect(DropReasons.dropClass(Self.code("neigh_failed")) == .network)
        #expect(DropReasons.dropClass(Self.code("not_specified")) == .other)
        #expect(DropReasons.dropClass(Self.code("tcp_old_data")) == .other)
        // Codes this build does not know are never network loss.
        #expect(DropReasons.dropClass(Int32(DropReasons.names.count)) == .other)
        #expect(DropReasons.dropClass(-1) == .other)
        for c in DropClass.allCases { #expect(DropReasons.classes.contains(c), "\(c) has reasons") }
    }

    @Test("an unknown payload absorbs in a merge: a partial sum is never shown as a total")
    func payloadMerge() {
        var a = TrafficCell(bytes: 100, packets: 2, payloadBytes: 48)
        a.merge(TrafficCell(bytes: 60, packets: 1, payloadBytes: 8))
        #expect(a.payloadBytes == 56 && a.bytes == 160 && a.packets == 3)
        a.merge(TrafficCell(bytes: 1, packets: 1, payloadBytes: nil))
        #expect(a.payloadBytes == nil && a.bytes == 161)
        var b = TrafficCell(payloadBytes: nil)
        b.merge(TrafficCell(payloadBytes: 5))
        #expect(b.payloadBytes == nil)
    }

    @Test("the shipped samples (flow_delta layout 1) still give traffic rows with bytes, and a null payload")
    func versionOneSamples() throws {
        let s = try HourlyRunTests.Scratch()
        defer { s.remove() }
        _ = try s.run()
        let r = try ParquetFileReader(path: "\(s.out)/traffic_matrix/\(HourlyRunTests.partition.path)/part-00000.parquet")
        let cols = try r.readAll()
        let names = r.schema.fields.map(\.name)
        let payload = cols[names.firstIndex(of: "payload_bytes")!]
        guard case .int64(let bytes) = cols[names.firstIndex(of: "bytes")!].values,
              case .int64(let flows) = cols[names.firstIndex(of: "flows")!].values else {
            Issue.record("bytes/flows are not int64")
            return
        }
        #expect(bytes.reduce(0, +) > 0)
        // Rows with flows came from version-1 records: payload unknown. Call-only rows know theirs (0).
        let valid = payload.validity ?? []
        #expect(valid.count == bytes.count)
        for i in 0..<min(valid.count, flows.count) where flows[i] > 0 { #expect(!valid[i], "row \(i)") }
    }
}
