import Foundation
import KernelProbes
import Testing
import TestSupport

/// The collector itself under exactly the capabilities redline-collect.service grants
/// (`Capability.collectorNeeds`), in a network namespace of its own: it attaches tc on that
/// namespace's lo, the tracepoints, writes and seals a segment, and detaches on exit. Without
/// CAP_PERFMON it refuses to start with exit 4, naming the capability.
@Suite("redline collect with only CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN (root, BPF, netns)", .requiresNetnsLab)
struct CollectorPrivilegeTests {
    @Test("the unit's capability set runs the collector end to end; one capability short, it exits 4")
    func unitCapabilitiesSuffice() throws {
        let ns = "rlop-cap-\(getpid())"
        let dir = try makeScratchDirectory("redline-cli")
        try #require(try PackageTests.sh(["ip", "netns", "add", ns]).status == 0)
        defer {
            _ = try? PackageTests.sh(["ip", "netns", "del", ns])
            try? FileManager.default.removeItem(at: dir)
        }
        #expect(try PackageTests.sh(["ip", "-n", ns, "link", "set", "lo", "up"]).status == 0)
        let config = dir.appendingPathComponent("collector.yaml").path
        try """
            version: 1
            host: cap-test
            interfaces: [lo]
            rules: \(Prerequisites.packageRoot)/pipelines/rules/default.yaml
            segments:
              root: \(dir.path)/segments
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let bounding = "--bounding-set=-all," + Capability.collectorNeeds.map { "+" + $0.name.dropFirst(4).lowercased() }.joined(separator: ",")
        let redline = try builtProduct("redline")
        // nsenter, not `ip netns exec`: that remounts /sys and hides the cgroup2 mount.
        let run = try PackageTests.sh(["nsenter", "--net=/run/netns/\(ns)", "setpriv", bounding, redline, "collect",
                                       "--config", config, "--duration", "2"])
        #expect(run.status == 0, "\(run.out)")
        #expect(run.out.contains("attached tc ingress+egress on lo"), "\(run.out)")
        let sealed = (FileManager.default.enumerator(atPath: dir.path + "/segments")?.allObjects as? [String] ?? [])
            .filter { $0.hasSuffix(".rls") }
        #expect(!sealed.isEmpty, "no sealed segment: \(run.out)")
        let inspect = try InspectCLITests.redline("inspect", dir.path + "/segments")
        #expect(inspect.status == 0, "\(inspect.stdout)")
        let qdiscs = try PackageTests.sh(["ip", "netns", "exec", ns, "tc", "qdisc", "show", "dev", "lo"])
        #expect(!qdiscs.out.contains("clsact"), "the collector left its clsact qdisc: \(qdiscs.out)")

        let short = try PackageTests.sh(["nsenter", "--net=/run/netns/\(ns)", "setpriv", "--bounding-set=-perfmon,-sys_admin",
                                         redline, "collect", "--config", config, "--duration", "1"])
        #expect(short.status == 4, "\(short.out)")
        #expect(short.out.contains("missing CAP_PERFMON"), "\(short.out)")
    }
}
