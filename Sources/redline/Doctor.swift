import ArgumentParser
import Collector
import Foundation
import KernelProbes

/// `redline doctor`: what this host's kernel and configuration allow, before rollout.
struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that this host can run the collector: kernel features, capabilities, mounts, disk.",
        discussion: """
            Probes with the collector's own programs and maps (loaded, attached and detached at \
            once; nothing is left attached, pinned or loaded): BTF, ring buffer, sk_storage, tc \
            clsact, tcx, sockops header options, the four tracepoints, the cgroup v2 and bpffs \
            mounts, the capabilities the collector needs (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN), and \
            free disk under the segment root. One line per feature: ok, or missing with what that \
            costs. tc probes run in a scratch network namespace (with CAP_SYS_ADMIN) or on lo.

            Without --config, /etc/redline/collector.yaml is read if it exists.

            Exit codes: 0 everything required is there (optional misses are printed), 1 something \
            required is missing, 2 usage error or unreadable config.
            """
    )

    @Option(help: "Collector configuration (YAML): segment root, sockops cgroup, segment size.")
    var config: String?

    @Option(help: "Segment root whose free space to check (overrides the config's).")
    var segments: String?

    @Option(help: "The BPF object (default: as redline collect finds it).")
    var bpfObject: String?

    @Flag(help: "Print the checks as JSON (for scripts).")
    var json = false

    static let defaultConfig = "/etc/redline/collector.yaml"

    func run() throws {
        var cfg: CollectorConfig?
        let configPath = config ?? (FileManager.default.fileExists(atPath: Self.defaultConfig) ? Self.defaultConfig : nil)
        if let configPath {
            do {
                cfg = try CollectorConfig.load(path: configPath)
            } catch {
                FileHandle.standardError.write(Data("redline doctor: \(error)\n".utf8))
                throw ExitCode(2)
            }
        }
        let target = Readiness.Target(objectPath: Collect.findObject(bpfObject), config: cfg, segmentRoot: segments)
        let checks = Readiness.run(target)
        let ready = !checks.contains { $0.required && $0.status == .missing }
        if json {
            struct Report: Encodable { var ready: Bool; var config: String?; var checks: [ReadinessCheck] }
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            let data = (try? e.encode(Report(ready: ready, config: configPath, checks: checks))) ?? Data()
            print(String(decoding: data, as: UTF8.self))
        } else {
            let width = checks.map(\.feature.count).max() ?? 0
            for c in checks {
                let name = c.feature.padding(toLength: width, withPad: " ", startingAt: 0)
                switch c.status {
                case .ok: print("ok       \(name)  \(c.detail)")
                case .skipped: print("skipped  \(name)  \(c.detail)")
                case .missing:
                    let label = c.required ? "MISSING " : "missing "
                    print("\(label) \(name)  \(c.consequence) (\(c.detail))\(c.required ? "" : " [optional]")")
                }
            }
            print(ready ? "ready: every required feature is there" : "not ready: a required feature is missing")
        }
        if !ready { throw ExitCode(1) }
    }
}
