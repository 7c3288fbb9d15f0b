import Foundation
import Logging
@testable import Pipeline
import Testing

/// `redline run --jobs`: hosts in parallel, output independent of the number of jobs.
@Suite("Hosts in parallel")
struct HostJobsTests {
    @Test("--jobs 3 writes byte-identical tables, partials and manifest to --jobs 1 (five hosts)")
    func jobsDoNotChangeTheOutput() throws {
        let s = try HourlyRunTests.Scratch()
        defer { s.remove() }
        // Five hosts: the two sample hosts and copies under other names, so hosts finish out of
        // order and bring their names in a different order than the run's pool would see them.
        for (from, to) in [("web-1.dc1", "web-2.dc1"), ("redis-1.dc2", "a-redis.dc2"), ("web-1.dc1", "z-web.dc1")] {
            try FileManager.default.copyItem(atPath: "\(s.segments)/host=\(from)", toPath: "\(s.segments)/host=\(to)")
        }
        _ = try s.run(jobs: 1)
        let one = s.files()
        try FileManager.default.removeItem(atPath: s.out)
        let summary = try s.run(jobs: 3)
        let three = s.files()
        #expect(summary.manifest.hosts.count == 5)
        // Every table's partial per host, every merged table, the manifest.
        #expect(one.count == PipelineTables.all.count * (5 + 1) + 1)
        #expect(Set(one.keys) == Set(three.keys))
        for (path, data) in one { #expect(three[path] == data, "\(path) differs between --jobs 1 and --jobs 3") }
    }

    @Test("results are folded in host order whatever order the workers finish in; the first failure stops the run")
    func foldOrderAndFailure() throws {
        var folded: [Int] = []
        try HostJobs<Int>(count: 7, jobs: 3).run { i throws(PipelineError) in
            // Later hosts finish first.
            usleep(UInt32((7 - i) * 2000))
            return i * 10
        } fold: { i, r throws(PipelineError) in
            #expect(r == i * 10)
            folded.append(i)
        }
        #expect(folded == Array(0..<7))

        folded = []
        #expect(throws: PipelineError.io("host 2")) {
            try HostJobs<Int>(count: 6, jobs: 2).run { i throws(PipelineError) in
                if i == 2 { throw .io("host 2") }
                return i
            } fold: { i, _ throws(PipelineError) in folded.append(i) }
        }
        #expect(folded == [0, 1])
    }
}
