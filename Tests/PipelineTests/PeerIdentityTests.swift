import CRedlineABI
import Enrichment
import Foundation
import Parquet
@testable import Pipeline
import Segments
import Testing

/// `peer_identity_source`: which rows were named from the identity TCP option and which from
/// metadata, checked against the records themselves (the sample segments hold Redis connections
/// that predate their collector: their records carry no peer service id).
@Suite("Peer identity sources")
struct PeerIdentityTests {
    @Test("the option outranks metadata, metadata outranks nothing")
    func orderOfTrust() throws {
        let pods = try PodSnapshot.parse(json: Data("""
            {"items": [{"metadata": {"name": "api-0", "namespace": "n", "uid": "u1", "labels": {"app": "api"}},
                        "status": {"podIP": "198.18.1.30", "hostIP": "198.18.1.2"}}]}
            """.utf8), file: "pods.json")
        let services = try ServiceMap.parse(yaml: """
            version: 1
            services:
              - {name: api, id: 30, namespace: n, selector: {app: api}}
              - {name: web, id: 10}
            """, file: "services.yaml")
        let m = Metadata(pods: pods, services: services)
        let api = NetworkAddress("198.18.1.30")!, other = NetworkAddress("198.18.1.31")!
        // An option naming another service than the address's pod wins: it is measured on the connection.
        #expect(m.remoteIdentity(peerServiceID: 10, address: api) == ("web", .tcpOption))
        #expect(m.remoteIdentity(peerServiceID: 0, address: api) == ("api", .metadata))
        // An id the service map does not know names nothing by itself: the address decides.
        #expect(m.remoteIdentity(peerServiceID: 99, address: api) == ("api", .metadata))
        #expect(m.remoteIdentity(peerServiceID: 0, address: other) == (nil, .unknown))
    }

    @Test("server-side red_edge rows split by source exactly as the records carry the option")
    func redEdgeSourcesMatchTheRecords() throws {
        let s = try HourlyRunTests.Scratch()
        defer { s.remove() }
        _ = try s.run()

        // Truth from the segments: the Redis server's calls with and without a peer service id.
        var truth: [String: Int64] = [:]
        let host = s.segments + "/host=redis-1.dc2/" + HourlyRunTests.partition.path
        for f in try FileManager.default.contentsOfDirectory(atPath: host).sorted() {
            let reader = try SegmentReader(path: host + "/" + f, allowUnsealed: true)
            while let info = try reader.nextBlock() {
                guard info.recordType == .l7Call else { continue }
                _ = reader.withRecords(as: rl_l7_call.self) { calls in
                    for c in calls { truth[c.peer_service == 0 ? "metadata" : "tcp_option", default: 0] += 1 }
                }
            }
        }
        #expect((truth["metadata"] ?? 0) > 0 && (truth["tcp_option"] ?? 0) > 0, "the samples must hold both kinds: \(truth)")

        let r = try ParquetFileReader(path: "\(s.out)/red_edge/\(HourlyRunTests.partition.path)/part-00000.parquet")
        let cols = try r.readAll()
        let names = r.schema.fields.map(\.name)
        guard case .byteArray(let caller) = cols[names.firstIndex(of: "caller")!].values,
              case .byteArray(let callee) = cols[names.firstIndex(of: "callee")!].values,
              case .byteArray(let observer) = cols[names.firstIndex(of: "observer")!].values,
              case .byteArray(let source) = cols[names.firstIndex(of: "peer_identity_source")!].values,
              case .int64(let requests) = cols[names.firstIndex(of: "requests")!].values else {
            Issue.record("red_edge columns")
            return
        }
        var seen: [String: Int64] = [:]
        for i in 0..<requests.count {
            #expect(PeerIdentitySource(rawValue: source.string(i)) != nil, "value \(source.string(i))")
            guard observer.string(i) == "server", callee.string(i) == "redis" else { continue }
            // Both sources name the same caller: the metadata fallback names the peer.
            #expect(caller.string(i) == "web")
            seen[source.string(i), default: 0] += requests[i]
        }
        #expect(seen == truth.filter { $0.value > 0 })
    }
}
