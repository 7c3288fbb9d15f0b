import Foundation
import Testing
import TestSupport

/// `redline doctor` end to end: the real executable probing this kernel with the collector's
/// own programs, under the full capability set and under only what the systemd unit grants.
@Suite("redline doctor (root, BPF)", .requiresRootBPF)
struct DoctorCLITests {
    struct Report: Decodable {
        struct Check: Decodable { var feature: String; var status: String; var required: Bool; var detail: String; var consequence: String }
        var ready: Bool
        var checks: [Check]
    }

    /// Runs redline under `setpriv` with `setprivArgs` (nothing: as is).
    static func doctor(_ setprivArgs: [String], _ args: [String]) throws -> (status: Int32, report: Report?, stdout: String) {
        let exe = try builtProduct("redline")
        let dir = try makeScratchDirectory("redline-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: setprivArgs.isEmpty ? exe : "/usr/bin/setpriv")
        p.arguments = (setprivArgs.isEmpty ? [] : setprivArgs + [exe]) + ["doctor"] + args
        let out = dir.appendingPathComponent("out")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        p.standardOutput = try FileHandle(forWritingTo: out)
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        let text = String(decoding: try Data(contentsOf: out), as: UTF8.self)
        return (p.terminationStatus, try? JSONDecoder().decode(Report.self, from: Data(text.utf8)), text)
    }

    static func bpffsEntries() -> Set<String> {
        Set((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/bpf")) ?? [])
    }

    @Test("every feature the collector needs is found on this kernel; nothing is left pinned, and the scratch cgroup is gone")
    func readyHere() throws {
        let pinnedBefore = Self.bpffsEntries()
        let segments = try makeScratchDirectory("redline-cli")
        defer { try? FileManager.default.removeItem(at: segments) }
        let r = try Self.doctor([], ["--json", "--segments", segments.path])
        #expect(r.status == 0, "\(r.stdout)")
        let report = try #require(r.report, "not JSON: \(r.stdout)")
        #expect(report.ready)
        let byName = Dictionary(report.checks.map { ($0.feature, $0) }, uniquingKeysWith: { a, _ in a })
        for f in ["CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN", "BTF", "ring buffer", "sk_storage", "tc clsact", "tcx",
                  "sockops header options", "cgroup v2", "bpffs", "tracepoint kfree_skb", "tracepoint tcp_retransmit_skb",
                  "tracepoint tcp_send_reset", "tracepoint tcp_receive_reset", "free disk"] {
            #expect(byName[f]?.status == "ok", "\(f): \(String(describing: byName[f]))")
        }
        #expect(byName["sockops header options"]?.detail.contains("attached to a scratch cgroup and detached") == true)
        #expect(byName["tc clsact"]?.detail.contains("scratch network namespace") == true)
        #expect(Self.bpffsEntries() == pinnedBefore, "doctor pinned something")
        let cgroups = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/cgroup/unified")) ?? []
        #expect(!cgroups.contains { $0.hasPrefix("redline-doctor-") })
    }

    @Test("CAP_BPF + CAP_PERFMON + CAP_NET_ADMIN alone (the unit's set) are enough; without CAP_PERFMON the tracepoints go missing and it exits 1")
    func leastPrivilege() throws {
        func loTC() throws -> String {
            try PackageTests.sh(["tc", "qdisc", "show", "dev", "lo"]).out + PackageTests.sh(["tc", "filter", "show", "dev", "lo", "ingress"]).out
        }
        let loBefore = try loTC()
        let enough = try Self.doctor(["--bounding-set=-all,+bpf,+perfmon,+net_admin"], ["--json"])
        #expect(enough.status == 0, "\(enough.stdout)")
        let e = try #require(enough.report)
        #expect(e.checks.first { $0.feature == "CAP_SYS_ADMIN" }?.status == "missing")
        // Without CAP_SYS_ADMIN the tc probe used this namespace's lo: it must be as it was.
        #expect(e.checks.first { $0.feature == "tc clsact" }?.detail.contains("lo of this network namespace") == true)
        #expect(try loTC() == loBefore, "doctor left a qdisc or filter on lo")

        // perfmon_capable() also accepts CAP_SYS_ADMIN, so drop both.
        let short = try Self.doctor(["--bounding-set=-perfmon,-sys_admin"], [])
        #expect(short.status == 1, "\(short.stdout)")
        #expect(short.stdout.contains("MISSING  CAP_PERFMON"), "\(short.stdout)")
        #expect(short.stdout.contains("MISSING  tracepoint kfree_skb"), "\(short.stdout)")
        #expect(short.stdout.contains("not ready"))
    }

    @Test("a config whose interface pattern matches nothing, or that names a sockops cgroup, is checked as the collector would use it")
    func configChecks() throws {
        let dir = try makeScratchDirectory("redline-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("collector.yaml").path
        try "version: 1\ninterfaces: [lo, \"nosuch*\"]\nsockops_cgroup: /\nsegments:\n  root: \(dir.path)/segments\n"
            .write(toFile: config, atomically: true, encoding: .utf8)
        let r = try Self.doctor([], ["--json", "--config", config])
        #expect(r.status == 1, "\(r.stdout)")
        let report = try #require(r.report)
        let interfaces = try #require(report.checks.first { $0.feature == "interfaces" })
        #expect(interfaces.status == "missing" && interfaces.required && interfaces.detail.contains("'nosuch*' matches no interface"))
        #expect(report.checks.first { $0.feature == "sockops header options" }?.required == true,
                "a configured sockops cgroup makes the identity option required")
        #expect(report.checks.first { $0.feature == "free disk" }?.detail.contains("free at \(dir.path)") == true)
    }

    @Test("usage errors and an unreadable config exit 2")
    func usage() throws {
        #expect(try InspectCLITests.redline("doctor", "--bogus").status == 2)
        let bad = try InspectCLITests.redline("doctor", "--config", "/nonexistent/collector.yaml")
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("/nonexistent/collector.yaml"), "\(bad.stderr)")
    }
}
