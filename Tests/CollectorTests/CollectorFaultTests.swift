import Foundation
import Segments
import Testing
import TestSupport

/// The collector under faults, on real traffic: redis-server and redis-benchmark on the loopback
/// of a network namespace the test creates (`rltc3-…`), the collector attached to that loopback.
/// Full disk (a 2 MiB tmpfs the test mounts), SIGKILL under load, and a stopped consumer
/// overflowing the ring (least privilege: CLITests/CollectorPrivilegeTests). Nested in the lab
/// suite so its `.serialized` covers both: this load must not compete with the lab's counts.
extension CollectorLabTests {
    @Suite("Collector under faults (root, BPF, netns)", .serialized, .requiresNetnsLab)
    struct CollectorFaultTests {
        /// A network namespace with loopback up and redis-server listening in it.
        final class LoopbackHost {
            let name: String
            let dir: String
            private var redis: Process?
            private var load: Process?

            init(name: String, dir: String) throws {
                self.name = name
                self.dir = dir
                try shell(["ip", "netns", "del", name], allowFailure: true)
                try shell(["ip", "netns", "add", name])
                try shell(["ip", "-n", name, "link", "set", "lo", "up"])
                redis = try spawn(["redis-server", "--port", "6379", "--save", "", "--appendonly", "no"], log: "redis.log")
                try poll("redis-server answering", seconds: 20) {
                    (try? shell(["nsenter", "--net=/run/netns/\(name)", "redis-cli", "ping"], allowFailure: true))?.output.contains("PONG") == true
                }
            }

            /// Starts a process inside the namespace; output to `dir/log`.
            func spawn(_ args: [String], log: String) throws -> Process {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
                p.arguments = ["--net=/run/netns/\(name)"] + args
                let path = "\(dir)/\(log)"
                FileManager.default.createFile(atPath: path, contents: nil)
                let h = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                p.standardOutput = h
                p.standardError = h
                p.standardInput = FileHandle.nullDevice
                try p.run()
                return p
            }

            /// redis-benchmark SET/GET in a loop until `stopLoad`.
            func startLoad() throws {
                load = try spawn(["redis-benchmark", "-q", "-c", "2", "-n", "100000000", "-t", "set,get", "-l"], log: "bench.log")
            }

            /// A bounded burst: `requests` SETs, returning when redis-benchmark has sent them all.
            func burst(requests: Int) throws {
                let p = try spawn(["redis-benchmark", "-q", "-c", "8", "-n", String(requests), "-t", "set"], log: "burst.log")
                try waitExit(p, seconds: 120)
            }

            func stopLoad() {
                if let load { kill(load.processIdentifier, SIGKILL); try? waitExit(load, seconds: 10) }
                load = nil
            }

            func remove() {
                stopLoad()
                if let redis { kill(redis.processIdentifier, SIGKILL); try? waitExit(redis, seconds: 10) }
                _ = try? shell(["ip", "netns", "del", name], allowFailure: true)
            }
        }

        /// Waits for `p` to exit by polling. Not `waitUntilExit`: Foundation learns of the exit
        /// through a pipe that the other long-lived children started here inherit, so it would
        /// wait for them too (see CollectorLabTests.sh).
        static func waitExit(_ p: Process, seconds: Double) throws {
            try poll("process \(p.processIdentifier) to exit", seconds: seconds) { !p.isRunning }
        }

        /// Polls `cond` every 20 ms until it holds or `seconds` pass.
        static func poll(_ what: String, seconds: Double, _ cond: () throws -> Bool) throws {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if try cond() { return }
                usleep(20_000)
            }
            throw TestSupportError("timed out after \(seconds) s waiting for \(what)")
        }

        /// Metric samples of a Prometheus textfile, by series ("name" or "name{labels}").
        static func metrics(_ path: String) -> [String: Double] {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
            var out: [String: Double] = [:]
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                guard let space = line.lastIndex(of: " "), let v = Double(line[line.index(after: space)...]) else { continue }
                out[String(line[..<space])] = v
            }
            return out
        }

        static func sum(_ m: [String: Double], _ prefix: String, _ containing: String = "") -> Double {
            m.filter { $0.key.hasPrefix(prefix) && $0.key.contains(containing) }.values.reduce(0, +)
        }

        static func config(_ dir: String, segments: String, metrics: String, extra: String = "") throws -> String {
            let path = "\(dir)/collector.yaml"
            try """
                version: 1
                host: h1
                interfaces: [lo]
                rules: \(Prerequisites.packageRoot)/pipelines/rules/default.yaml
                segments:
                  root: \(segments)
                  window_seconds: 60
                  max_segment_size: 64KiB
                \(extra)
                clock: {anchor_interval_seconds: 2}
                metrics_file: \(metrics)

                """.write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }

        static func startCollector(_ host: LoopbackHost, config: String, log: String) throws -> Process {
            let ready = "\(host.dir)/ready-\(log)"
            try? FileManager.default.removeItem(atPath: ready)
            let p = try host.spawn([try builtProduct("redline"), "collect", "--config", config, "--ready-file", ready], log: log)
            try poll("the collector's ready file", seconds: 30) {
                guard p.isRunning else {
                    throw TestSupportError("collector exited \(p.terminationStatus): \((try? String(contentsOfFile: "\(host.dir)/\(log)", encoding: .utf8)) ?? "")")
                }
                return FileManager.default.fileExists(atPath: ready)
            }
            return p
        }

        /// Sends SIGTERM and waits at most `seconds` for the exit (polling, not sleeping).
        static func terminate(_ p: Process, within seconds: Double) throws -> Int32 {
            kill(p.processIdentifier, SIGTERM)
            try poll("exit after SIGTERM", seconds: seconds) { !p.isRunning }
            return p.terminationStatus
        }

        static func sealedFiles(_ root: String) -> [String] {
            (FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? [])
                .filter { $0.hasSuffix(".rls") }.sorted().map { "\(root)/\($0)" }
        }

        static func mountTmpfs(_ path: String, size: String) throws {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            try shell(["mount", "-t", "tmpfs", "-o", "size=\(size),mode=0755", "tmpfs", path])
        }

        @Test("2 MiB tmpfs under load: writes suspend (counted, logged once per kind, metrics still rewritten), resume when space returns; SIGTERM exits within 2 s; every sealed file intact")
        func diskFull() throws {
            let dir = try makeScratchDirectory("redline-lab").path
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let seg = "\(dir)/seg"
            try Self.mountTmpfs(seg, size: "2m")
            defer { _ = try? shell(["umount", seg], allowFailure: true) }
            let host = try LoopbackHost(name: "rltc3-disk", dir: dir)
            defer { host.remove() }
            // The metrics file shares the full disk with the segments.
            let prom = "\(seg)/redline.prom"
            let collector = try Self.startCollector(host, config: try Self.config(dir, segments: seg, metrics: prom), log: "collector.log")
            defer { if collector.isRunning { kill(collector.processIdentifier, SIGKILL); try? Self.waitExit(collector, seconds: 10) } }
            try host.startLoad()

            // Full: writes suspend, errors are counted and the shed events too.
            try Self.poll("writes suspended on the full disk", seconds: 60) {
                let m = Self.metrics(prom)
                return m["redline_segment_writes_suspended"] == 1 && (m["redline_write_errors_total"] ?? 0) >= 3
            }
            let full = Self.metrics(prom)
            #expect(Self.sum(full, "redline_events_dropped_total", "reason=\"collector\"") > 0, "shed events are counted")
            let log = { (try? String(contentsOfFile: "\(dir)/collector.log", encoding: .utf8)) ?? "" }
            let logged = log().components(separatedBy: "segment write failed").count - 1
            #expect(logged >= 1 && Double(logged) < full["redline_write_errors_total"]!, "logged once per kind: \(logged) lines for \(full["redline_write_errors_total"]!) errors")
            #expect(log().contains("No space left on device") && log().contains("\(seg)/host=h1/"), "the log names the errno and the path")

            // Space returns (an operator deletes old segments): writing resumes and seals again.
            let sealedBefore = full["redline_segments_sealed_total"] ?? 0
            for f in Self.sealedFiles(seg).prefix(3) { try FileManager.default.removeItem(atPath: f) }
            try Self.poll("writes resumed and a new segment sealed", seconds: 30) {
                let m = Self.metrics(prom)
                return (m["redline_segments_sealed_total"] ?? 0) > sealedBefore
            }
            #expect(log().contains("segment writes work again"))
            // Full again, then SIGTERM in that state.
            try Self.poll("the disk full again", seconds: 60) { Self.metrics(prom)["redline_segment_writes_suspended"] == 1 }
            let status = try Self.terminate(collector, within: 2)
            #expect(status == 0 || status == 5, "exit \(status)")
            if status == 5 {
                #expect(log().contains("sealing the last segment under \(seg)") && log().contains("No space left on device"), "\(log().suffix(600))")
            }
            host.stopLoad()
            let inspect = try shell([try builtProduct("redline"), "inspect", seg], allowFailure: true)
            #expect(inspect.status == 0, "inspect exits 0 only when every file is intact or open: \(inspect.output.suffix(400))")
            #expect(Self.sealedFiles(seg).count >= 2)
        }

        @Test("min_free on a 2 MiB tmpfs: the budget deletes the oldest sealed segments (counted), keeps the newest, and the collector keeps sealing")
        func minimumFreeSpace() throws {
            let dir = try makeScratchDirectory("redline-lab").path
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let seg = "\(dir)/seg"
            try Self.mountTmpfs(seg, size: "2m")
            defer { _ = try? shell(["umount", seg], allowFailure: true) }
            let host = try LoopbackHost(name: "rltc3-free", dir: dir)
            defer { host.remove() }
            let prom = "\(dir)/redline.prom"
            let cfg = try Self.config(dir, segments: seg, metrics: prom, extra: "  min_free: 1MiB")
            let collector = try Self.startCollector(host, config: cfg, log: "collector.log")
            defer { if collector.isRunning { kill(collector.processIdentifier, SIGKILL); try? Self.waitExit(collector, seconds: 10) } }
            try host.startLoad()
            try Self.poll("segments deleted for free space, sealing going on", seconds: 60) {
                let m = Self.metrics(prom)
                return (m["redline_segments_deleted_total"] ?? 0) >= 3 && (m["redline_segments_sealed_total"] ?? 0) >= 8
            }
            #expect(try Self.terminate(collector, within: 2) == 0)
            host.stopLoad()
            let m = Self.metrics(prom)
            #expect(m["redline_write_errors_total"] == 0, "the budget kept space free: no write failed")
            let remaining = Self.sealedFiles(seg)
            #expect(!remaining.isEmpty, "the newest sealed segment is kept")
            let inspect = try shell([try builtProduct("redline"), "inspect", seg], allowFailure: true)
            #expect(inspect.status == 0, "inspect exits 0 only when every file is intact or open: \(inspect.output.suffix(400))")
        }

        @Test("20 SIGKILLs under load: every sealed segment intact, every open one recovers to an intact file; a restart leaves one filter")
        func sigkillTrials() throws {
            let dir = try makeScratchDirectory("redline-lab").path
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let host = try LoopbackHost(name: "rltc3-kill", dir: dir)
            defer { host.remove() }
            let seg = "\(dir)/seg"
            let cfg = try Self.config(dir, segments: seg, metrics: "\(dir)/redline.prom")
            try host.startLoad()
            var sealedBlocks = 0, recoveredBlocks = 0, openFiles = 0
            for trial in 0..<20 {
                let collector = try Self.startCollector(host, config: cfg, log: "collector-\(trial).log")
                // Kill once the trial has written something: a segment sealed by size, or blocks in the open one.
                let before = Set(Self.sealedFiles(seg))
                try Self.poll("trial \(trial) writing", seconds: 30) { Set(Self.sealedFiles(seg)).subtracting(before).count >= 1 }
                usleep(UInt32.random(in: 0...200_000))  // a random point in the write cycle; not a synchronisation
                kill(collector.processIdentifier, SIGKILL)
                try Self.waitExit(collector, seconds: 10)
            }
            host.stopLoad()
            let walker = FileManager.default.enumerator(atPath: seg)!
            for case let f as String in walker where f.hasSuffix(".rls") || f.hasSuffix(".rls.open") {
                let report = SegmentReport.scan(path: "\(seg)/\(f)")
                if f.hasSuffix(".rls") {
                    #expect(report.verdict == .intact, "\(f): \(String(describing: report.problem))")
                    sealedBlocks += report.blocks.count
                } else {
                    openFiles += 1
                    let copy = "\(dir)/recovered.rls"
                    try? FileManager.default.removeItem(atPath: copy)
                    let r = try SegmentRecovery.seal(path: "\(seg)/\(f)", to: copy)
                    #expect(SegmentReport.scan(path: copy).verdict == .intact, "\(f) recovers")
                    recoveredBlocks += r.blocks.count
                }
            }
            // One per kill, unless the kill fell between a seal and the next segment's creation.
            #expect(openFiles >= 15 && openFiles <= 20, "open segments left by 20 kills: \(openFiles)")
            #expect(sealedBlocks > 0 && recoveredBlocks > 0)
            // The last kill left its filters; the next collector removes them, and SIGTERM removes its own.
            let last = try Self.startCollector(host, config: cfg, log: "collector-final.log")
            let filters = try shell(["tc", "-n", host.name, "filter", "show", "dev", "lo", "ingress"]).output
            #expect(filters.split(separator: "\n").filter { $0.contains("rl_tc_ingress") }.count == 1, "\(filters)")
            #expect(try Self.terminate(last, within: 2) == 0)
            let after = try shell(["tc", "-n", host.name, "filter", "show", "dev", "lo", "ingress"]).output
            #expect(!after.contains("rl_tc_ingress"), "\(after)")
        }

        @Test("a stopped consumer overflows the ring: kernel emitted = collector read + shed exactly, drops counted, completeness < 1 in the tables")
        func ringOverflow() throws {
            let dir = try makeScratchDirectory("redline-lab").path
            defer { try? FileManager.default.removeItem(atPath: dir) }
            let host = try LoopbackHost(name: "rltc3-ring", dir: dir)
            defer { host.remove() }
            let seg = "\(dir)/seg", prom = "\(dir)/redline.prom"
            let collector = try Self.startCollector(host, config: try Self.config(dir, segments: seg, metrics: prom), log: "collector.log")
            defer { if collector.isRunning { kill(collector.processIdentifier, SIGKILL); try? Self.waitExit(collector, seconds: 10) } }
            // 60 000 calls of ~250 bytes while the consumer is stopped: far more than the 4 MiB ring holds.
            kill(collector.processIdentifier, SIGSTOP)
            try host.burst(requests: 60_000)
            kill(collector.processIdentifier, SIGCONT)
            #expect(try Self.terminate(collector, within: 5) == 0)
            let m = Self.metrics(prom)
            for kind in ["flow_delta", "l7_call", "tcp_event"] {
                let emitted = m["redline_kernel_events_emitted_total{kind=\"\(kind)\"}"] ?? -1
                let read = m["redline_events_read_total{kind=\"\(kind)\"}"] ?? -1
                let shed = m["redline_events_dropped_total{kind=\"\(kind)\",reason=\"collector\"}"] ?? -1
                #expect(emitted == read + shed, "\(kind): kernel emitted \(emitted), collector read \(read) + shed \(shed)")
            }
            let dropped = m["redline_events_dropped_total{kind=\"l7_call\",reason=\"ringbuf_full\"}"] ?? 0
            #expect(dropped > 0, "the ring overflowed")

            // The loss reaches the tables: rows of the affected hour carry completeness < 1.
            let hour = Self.sealedFiles(seg).first.flatMap { f in f.range(of: #"date=\d{4}-\d{2}-\d{2}/hour=\d{2}"#, options: .regularExpression).map { String(f[$0]) } } ?? ""
            #expect(!hour.isEmpty)
            let run = try shell([try builtProduct("redline"), "run", Prerequisites.packageRoot + "/pipelines/hourly.yaml", "--partition", hour,
                                  "--segments", seg, "--out", "\(dir)/tables", "--quiet"], allowFailure: true)
            #expect(run.status == 0, "\(run.output)")
            let py = try shell([Prerequisites.packageRoot + "/.venv/bin/python", "-c",
                                 "import pyarrow.parquet as pq, sys; t = pq.read_table(sys.argv[1]); print(min(t.column('completeness').to_pylist()))",
                                 "\(dir)/tables/red_service/\(hour)/part-00000.parquet"], allowFailure: true)
            let minimum = Double(py.output.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 1
            #expect(minimum < 1, "the lowest completeness in red_service is \(py.output)")
        }
    }
}
