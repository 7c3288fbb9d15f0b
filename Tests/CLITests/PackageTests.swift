import Foundation
import Testing
import TestSupport

/// The Debian package end to end on this machine: `tools/package` built it (tools/test runs
/// it before the tests: a release build cannot run inside `swift test`, which holds the build
/// lock); it installs, the installed binary passes `doctor` and reads the samples, systemd
/// accepts every unit, a reinstall (the upgrade path) keeps the user and config, and a purge
/// leaves no file, user, enablement link, process or pin behind (filters: the collector is never
/// started here, and prerm stops it, which detaches, where systemd runs).
@Suite("Debian package: build, install, doctor, inspect, units, upgrade, purge (root)", .requiresRootBPF, .serialized)
struct PackageTests {
    static let root = Prerequisites.packageRoot
    static let capture = root + "/tools/lab/samples/capture"

    struct Result { var status: Int32; var out: String }

    /// Runs a command; output to a file (a chatty child cannot stall on a pipe).
    @discardableResult
    static func sh(_ args: [String], env: [String: String] = [:]) throws -> Result {
        let dir = try makeScratchDirectory("redline-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = args
        p.environment = ProcessInfo.processInfo.environment.merging(env) { _, b in b }
        let h = try FileHandle(forWritingTo: out)
        p.standardOutput = h
        p.standardError = h
        try p.run()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, out: String(decoding: try Data(contentsOf: out), as: UTF8.self))
    }

    /// dpkg, retried while another dpkg/apt holds its lock (polled, bounded).
    static func dpkg(_ args: [String]) throws -> Result {
        let deadline = Date().addingTimeInterval(180)
        while true {
            let r = try sh(["dpkg"] + args, env: ["DEBIAN_FRONTEND": "noninteractive"])
            if r.status == 0 || !r.out.contains("lock") || Date() > deadline { return r }
            Thread.sleep(forTimeInterval: 1)
        }
    }

    static func deb() throws -> String {
        let dir = root + "/.build/package"
        let debs = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".deb") }.sorted()
        guard let last = debs.last else {
            throw TestSupportError("no .deb under \(dir): run tools/package (tools/test does, before the tests)")
        }
        return "\(dir)/\(last)"
    }

    static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

    /// Processes running the installed binary.
    static func installedProcesses() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { pid in
            pid.allSatisfy(\.isNumber)
                && (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/exe"))?.hasPrefix("/usr/bin/redline") == true
        }
    }

    static func bpffs() -> Set<String> { Set((try? FileManager.default.contentsOfDirectory(atPath: "/sys/fs/bpf")) ?? []) }

    @Test("tools/package's .deb installs, runs doctor (exit 0) and inspect, passes systemd-analyze verify, upgrades, and purges clean")
    func installDoctorPurge() throws {
        let deb = try Self.deb()
        let contents = try Self.sh(["dpkg-deb", "--contents", deb])
        #expect(contents.status == 0)
        for path in ["./usr/bin/redline", "./usr/lib/redline/redline.bpf.o", "./usr/share/redline/rules/default.yaml",
                     "./usr/share/redline/pipelines/hourly.yaml", "./usr/share/redline/pipelines/daily-traffic.yaml",
                     "./usr/share/redline/pipelines/anomaly.yaml", "./lib/systemd/system/redline-anomaly.timer",
                     "./usr/share/redline/pipelines/spark/run_merge.py", "./etc/redline/collector.yaml",
                     "./lib/systemd/system/redline-collect.service", "./lib/systemd/system/redline-hourly.timer",
                     "./lib/systemd/system/redline-daily.timer", "./usr/share/redline/k8s/collector-daemonset.yaml"] {
            #expect(contents.out.contains(" \(path)\n") || contents.out.contains(" \(path) "), "\(path) not in the package")
        }
        // Developer tools (benchmarks, fixture writers) stay out of the product.
        #expect(!contents.out.contains("redline-dev"), "the package ships redline-dev")
        #expect(try Self.sh(["dpkg-deb", "--info", deb, "conffiles"]).out.contains("/etc/redline/collector.yaml"), "collector.yaml is not a conffile")

        if try Self.sh(["dpkg-query", "-W", "-f=${Status}", "redline"]).out.contains("installed") {
            #expect(try Self.dpkg(["-P", "redline"]).status == 0, "could not purge a leftover install")
        }
        let pinsBefore = Self.bpffs()

        let install = try Self.dpkg(["-i", deb])
        try #require(install.status == 0, "dpkg -i: \(install.out)")
        #expect(try Self.sh(["getent", "passwd", "redline"]).status == 0, "postinst made no redline user")
        var st = stat()
        #expect(stat("/var/lib/redline/segments", &st) == 0 && st.st_uid != 0, "the state folder is not the redline user's")

        // The installed binary, from / (no build tree nearby): the packaged BPF object and config.
        let doctor = try Self.sh(["/usr/bin/redline", "doctor"])
        #expect(doctor.status == 0, "\(doctor.out)")
        #expect(doctor.out.contains("/usr/lib/redline/redline.bpf.o"), "doctor did not find the packaged object:\n\(doctor.out)")
        #expect(doctor.out.contains("free at /var/lib/redline"), "doctor did not read /etc/redline/collector.yaml:\n\(doctor.out)")
        let inspect = try Self.sh(["/usr/bin/redline", "inspect", Self.capture + "/segments"])
        #expect(inspect.status == 0 && inspect.out.contains("4 intact"), "\(inspect.out)")
        let tables = try makeScratchDirectory("redline-cli")
        defer { try? FileManager.default.removeItem(at: tables) }
        let partition = try String(contentsOfFile: Self.capture + "/PARTITION", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let run = try Self.sh(["/usr/bin/redline", "run", "/usr/share/redline/pipelines/hourly.yaml", "--partition", partition,
                               "--segments", Self.capture + "/segments", "--metadata", Self.capture + "/metadata",
                               "--out", tables.path, "--quiet"])
        #expect(run.status == 0, "\(run.out)")

        let units = ["redline-collect.service", "redline-hourly.service", "redline-hourly.timer",
                     "redline-daily.service", "redline-daily.timer", "redline-anomaly.service",
                     "redline-anomaly.timer"].map { "/lib/systemd/system/\($0)" }
        let verify = try Self.sh(["systemd-analyze", "verify", "--man=no"] + units)
        #expect(verify.status == 0 && !verify.out.contains("redline-"), "systemd-analyze verify:\n\(verify.out)")
        // The pipeline units' commands, exactly as written, as the redline user (what systemd
        // would run): they must work on a fresh install (no segments yet: empty partitions).
        for unit in ["redline-hourly.service", "redline-daily.service", "redline-anomaly.service"] {
            let text = try String(contentsOfFile: "/lib/systemd/system/\(unit)", encoding: .utf8).replacingOccurrences(of: "\\\n", with: " ")
            let exec = try #require(text.split(separator: "\n").first { $0.hasPrefix("ExecStart=") }).dropFirst("ExecStart=".count)
            let r = try Self.sh(["setpriv", "--reuid=redline", "--regid=redline", "--init-groups", "--inh-caps=-all"]
                                + exec.split(separator: " ").map(String.init))
            if unit == "redline-anomaly.service" && r.status == 3 {
                // Its last closed hour (600 s delay) is the hour before the hourly run's (120 s)
                // from :02 to :10: then that hour has no tables yet, and it must say so.
                #expect(r.out.contains("no red_service, red_edge, tcp_health for"), "\(unit): \(exec)\n\(r.out)")
            } else {
                #expect(r.status == 0, "\(unit): \(exec)\n\(r.out)")
            }
        }
        #expect(Self.exists("/var/lib/redline/tables/_manifests/hourly"), "the hourly unit's run committed nothing")

        // Start units only where systemd runs the machine; the collector is never started here.
        let state = try Self.sh(["systemctl", "is-system-running"]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        if ["running", "degraded"].contains(state) {
            #expect(try Self.sh(["systemctl", "start", "redline-hourly.service"]).status == 0)
        }

        // Upgrade path: reinstalling runs prerm upgrade / postinst configure again.
        try "# edited by the admin\n".write(toFile: "/etc/redline/metadata/NOTE", atomically: true, encoding: .utf8)
        let upgrade = try Self.dpkg(["-i", deb])
        #expect(upgrade.status == 0, "\(upgrade.out)")
        #expect(try Self.sh(["getent", "passwd", "redline"]).status == 0)
        #expect(Self.exists("/etc/redline/metadata/NOTE"))

        let purge = try Self.dpkg(["-P", "redline"])
        #expect(purge.status == 0, "\(purge.out)")
        for path in ["/usr/bin/redline", "/usr/lib/redline", "/usr/share/redline", "/usr/share/doc/redline", "/etc/redline",
                     "/var/lib/redline"] + units {
            #expect(!Self.exists(path), "\(path) left after purge")
        }
        #expect(try Self.sh(["getent", "passwd", "redline"]).status != 0, "the redline user is left")
        #expect(try Self.sh(["getent", "group", "redline"]).status != 0, "the redline group is left")
        let links = try Self.sh(["find", "/etc/systemd", "-name", "redline-*"])
        #expect(links.out.isEmpty, "enablement links left: \(links.out)")
        #expect(Self.installedProcesses().isEmpty)
        #expect(Self.bpffs() == pinsBefore, "pins left in /sys/fs/bpf")
    }
}
