import Aggregates
import CRedlineABI
import Enrichment
import Foundation
@testable import Pipeline
import Testing

/// The extension point for tables filled from calls outside Sources/Aggregates.
@Suite("CallAggregator: every call of the partition, with its ends and completeness")
struct CallAggregatorTests {
    /// Requests per (callee, observer), the way red_service counts them.
    struct Counting: CallAggregator {
        var requests: [String: UInt64] = [:]
        var ends: [String: CallEnds] = [:]
        var finished = 0
        var observedAtFinish: UInt64 = 0

        mutating func add(_ call: rl_l7_call, _ ends: CallEnds, names: inout NamePool) {
            let key = "\(names.name(ends.callee))/\(names.name(ends.observer))/\(ends.bucketStart)"
            requests[key, default: 0] += 1
            self.ends[key] = ends
        }

        mutating func finish(names: inout NamePool, completeness: (UInt64, CallEnds, Int64) -> Completeness) {
            finished += 1
            for (key, n) in requests { observedAtFinish += completeness(n, ends[key]!, ends[key]!.bucketStart).observed }
        }
    }

    @Test("the aggregator sees exactly the calls red_service counts, bucket by bucket, and gets their completeness")
    func seesEveryCall() throws {
        let partition = HourlyRunTests.partition
        let root = HourlyRunTests.samples
        let byHost = try SegmentInputs.discover(root: "\(root)/segments", hostGlobs: ["*"], partition: partition)
        let metadata = try Metadata.load(directory: "\(root)/metadata")
        var names = NamePool()
        var checked = 0
        for (host, files) in byHost.sorted(by: { $0.key < $1.key }) {
            var p = HostProcessor(host: host, files: files, partition: partition, bucketSeconds: 60, histogramScale: 4,
                                  maxBlockBytes: 16 << 20, maxExtrapolationSeconds: 600, metadata: metadata)
            p.callAggregator = Counting()
            let outcome = p.run(names: &names)
            let counted = try #require(outcome.callAggregator as? Counting)
            #expect(counted.finished == 1)
            var expected: [String: UInt64] = [:]
            for (k, row) in outcome.aggregates.redService.cells where row.cell.requests > 0 {
                expected["\(names.name(k.service))/\(names.name(k.observer))/\(k.bucket)", default: 0] += row.cell.requests
            }
            #expect(counted.requests == expected, "host \(host)")
            #expect(counted.observedAtFinish == expected.values.reduce(0, +), "host \(host): a row's observed events are its calls")
            checked += expected.count
        }
        #expect(checked > 0)
    }
}
