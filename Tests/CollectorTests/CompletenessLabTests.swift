import Foundation
import Parquet
import Testing
import TestSupport

extension CollectorLabTests {
    /// Wall-clock now, ns since the epoch (UTC).
    static func utcNow() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }

    /// Waits until the wall clock reaches `utc` (ns). The experiment is laid out on UTC bucket
    /// edges, so these are instants to act at, not stand-ins for synchronisation.
    static func waitUntil(_ utc: Int64) {
        while utcNow() < utc { usleep(20_000) }
    }

    @Test("rootBPF netns lab: a collector stalled across a minute edge under load; each minute's requests / completeness is within 2 % of wrk's count for it, and redis beside it stays at 1.0")
    func stallAcrossABucketEdge() throws {
        let dir = try makeScratchDirectory("redline-lab").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let redline = try builtProduct("redline")
        try Self.labUp()
        defer { Self.labDown() }
        try shell([Self.lab, "metadata", "--id", "tc2", "--out", dir + "/metadata"])

        // The catalog's host (nginx) with the smallest ring (256 KiB, ~1000 calls): a stall of a
        // few seconds at ~900 calls/s overflows it.
        let started = try Self.startCollector(in: dir, redline: redline, extraYAML: "ring_buffer_size: 256KiB\n")
        let (collector, log, lh) = (started.process, started.log, started.logHandle)
        defer { if collector.isRunning { kill(collector.processIdentifier, SIGCONT); kill(collector.processIdentifier, SIGTERM) } }
        try started.waitFor("ready") { FileManager.default.fileExists(atPath: dir + "/ready") }

        // The plan, on the hourly pipeline's one-minute buckets: a minute edge B; wrk (h11 → nginx, ~900 calls/s, each response counted
        // in its wall-clock second) over B−7…B+7; the collector stopped over B−2.5…B+2.5; 20 redis
        // PINGs from the catalog's host at B−6 and at B+5, outside the stall.
        let second: Int64 = 1_000_000_000
        // The first minute edge at least 8 s away, so wrk starts 7 s before it.
        var edge = (Self.utcNow() / second + 8 + 59) / 60 * 60
        if edge % 3600 == 0 { edge += 60 }  // both minutes in one hour partition
        let b = edge * second
        let script = dir + "/count.lua"
        try """
            counts = {}
            function delay() return 4 end
            function response(status, headers, body)
              local t = os.time()
              counts[t] = (counts[t] or 0) + 1
            end
            local threads = {}
            function setup(thread) table.insert(threads, thread) end
            function done(summary, latency, requests)
              for _, t in ipairs(threads) do
                for k, v in pairs(t:get("counts")) do io.write(string.format("second %d %d\\n", k, v)) end
              end
            end
            """.write(toFile: script, atomically: true, encoding: .utf8)
        Self.waitUntil(b - 7 * second)
        let wrkOut = dir + "/wrk.txt"
        FileManager.default.createFile(atPath: wrkOut, contents: nil)
        let wrk = Process()
        wrk.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        wrk.arguments = ["ip", "netns", "exec", "rltc2-h11", "wrk", "-t1", "-c4", "-d14s", "-s", script, "http://198.18.1.102/items"]
        let wh = try FileHandle(forWritingTo: URL(fileURLWithPath: wrkOut))
        wrk.standardOutput = wh
        wrk.standardError = wh
        try wrk.run()
        let cgroupMount = try shell(["findmnt", "-n", "-o", "TARGET", "-t", "cgroup2"]).output
            .split(separator: "\n").first.map(String.init) ?? "/sys/fs/cgroup"
        let loadgen = cgroupMount + "/redline-lab-tc2/h12/loadgen"
        try FileManager.default.createDirectory(atPath: loadgen, withIntermediateDirectories: true)
        func pings() throws {
            try shell(["bash", "-c", "echo $$ > \"$1/cgroup.procs\"; exec ip netns exec rltc2-h12 redis-cli -h 198.18.2.102 -r 20 -i 0.05 PING",
                         "_", loadgen])
        }
        Self.waitUntil(b - 6 * second)
        try pings()
        Self.waitUntil(b - 5 * second / 2)
        kill(collector.processIdentifier, SIGSTOP)
        Self.waitUntil(b + 5 * second / 2)
        kill(collector.processIdentifier, SIGCONT)
        Self.waitUntil(b + 5 * second)
        try pings()
        wrk.waitUntilExit()
        try wh.close()
        kill(collector.processIdentifier, SIGTERM)
        collector.waitUntilExit()
        try lh.close()
        #expect(collector.terminationStatus == 0, "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")

        // wrk's own count per minute.
        var truth: [Int64: Double] = [:]
        let wrkText = try String(contentsOfFile: wrkOut, encoding: .utf8)
        for line in wrkText.split(separator: "\n") where line.hasPrefix("second ") {
            let f = line.split(separator: " ")
            if f.count == 3, let t = Int64(f[1]), let n = Double(f[2]) { truth[t / 60 * 60, default: 0] += n }
        }
        #expect(truth[edge - 60] ?? 0 > 3000 && truth[edge] ?? 0 > 3000, "wrk: \(wrkText.suffix(600))")

        // The shipped hourly pipeline, one-minute buckets.
        let pipeline = Prerequisites.packageRoot + "/pipelines/hourly.yaml"
        let utc = Date(timeIntervalSince1970: TimeInterval(edge))
        let f = DateFormatter()
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "'date='yyyy-MM-dd'/hour='HH"
        let partition = f.string(from: utc)
        try shell([redline, "run", pipeline, "--partition", partition, "--segments", dir + "/segments",
                     "--metadata", dir + "/metadata", "--out", dir + "/tables", "--quiet"])
        let r = try ParquetFileReader(path: "\(dir)/tables/red_service/\(partition)/part-00000.parquet")
        let cols = try r.readAll()
        let names = r.schema.fields.map(\.name)
        func column(_ n: String) -> ColumnValues { cols[names.firstIndex(of: n)!].values }
        guard case .int64(let buckets) = column("bucket_start"), case .byteArray(let service) = column("service"),
              case .byteArray(let proto) = column("protocol"), case .byteArray(let observer) = column("observer"),
              case .int64(let requests) = column("requests"), case .int64(let lost) = column("events_lost"),
              case .double(let completeness) = column("completeness") else {
            Issue.record("red_service columns")
            return
        }
        var checked = 0, redisRows = 0
        for i in 0..<buckets.count {
            let bucket = buckets[i] / second
            let row = "\(bucket) \(service.string(i))/\(proto.string(i))/\(observer.string(i)): requests \(requests[i]), lost \(lost[i]), completeness \(completeness[i])"
            if service.string(i) == "catalog" && proto.string(i) == "http1" && observer.string(i) == "server",
               bucket == edge - 60 || bucket == edge {
                let sent = truth[bucket] ?? 0
                let estimate = Double(requests[i]) / completeness[i]
                #expect(abs(estimate - sent) / sent <= 0.02, "\(row); wrk sent \(sent)")
                #expect(lost[i] > 0, "the stall lost calls on both sides of the edge: \(row)")
                checked += 1
            }
            if proto.string(i) == "redis" {
                #expect(completeness[i] == 1 && requests[i] == 20, "redis lost nothing: \(row)")
                redisRows += 1
            }
        }
        #expect(checked == 2 && redisRows == 2)
    }
}
