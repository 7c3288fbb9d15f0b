import ArgumentParser
import Collector
import Dispatch
import Foundation
import KernelProbes
import Logging
import YAMLConfig

/// `redline collect --config FILE`: the per-host collector.
struct Collect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load the kernel programs, attach them, and write what they see into segments (root, or CAP_BPF + CAP_PERFMON + CAP_NET_ADMIN).",
        discussion: """
            Runs until SIGINT or SIGTERM (or --duration), then seals the open segment and detaches \
            everything it attached: no filters or qdiscs it added are left behind. SIGHUP re-reads \
            the config and pushes rules, filters, rate caps and service ids into the kernel maps \
            without detaching; an invalid file is reported and the running configuration kept.

            Config: schemas/collector-config-v1.md. Health: --metrics-file or the config's \
            metrics_file (Prometheus text, rewritten atomically every 10 s).

            Exit codes: 0 stopped cleanly, 2 usage error, 3 bad configuration, 4 a capability is \
            missing or the kernel refused a program or attachment (the verifier log is printed), \
            5 I/O error. `redline doctor` checks a host beforehand.
            """
    )

    @Option(help: "Collector configuration (YAML).")
    var config: String

    // Unconditional: "-1" is the option's (invalid) value, not an unknown flag.
    @Option(parsing: .unconditional, help: "Stop after this many seconds (default: run until signalled).")
    var duration: Double?

    @Option(help: "The BPF object (default: $REDLINE_BPF_OBJECT, else bpf/build/redline.bpf.o found above the executable).")
    var bpfObject: String?

    @Option(help: "Write this file once attached and collecting (for scripts that wait on the collector).")
    var readyFile: String?

    @Option(help: "Prometheus textfile for the collector's own metrics (overrides metrics_file).")
    var metricsFile: String?

    func validate() throws {
        if let d = duration, !(d > 0) { throw ValidationError("--duration \(d) is invalid: it must be a positive number of seconds") }
    }

    func run() throws {
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = .info
            return h
        }
        let logger = Logger(label: "redline.collect")
        var cfg: CollectorConfig
        do {
            cfg = try CollectorConfig.load(path: config)
        } catch {
            FileHandle.standardError.write(Data("redline collect: \(error)\n".utf8))
            throw ExitCode(3)
        }
        if let m = metricsFile { cfg.metricsFile = m }
        let missing = Capability.collectorNeeds.filter { !Capability.effective().contains($0) }
        guard missing.isEmpty else {
            let names = missing.map(\.name).joined(separator: ", ")
            FileHandle.standardError.write(Data("redline collect: missing \(names) (run as root, or grant them: see redline doctor)\n".utf8))
            throw ExitCode(4)
        }
        guard let object = Self.findObject(bpfObject) else {
            FileHandle.standardError.write(Data("redline collect: BPF object not found; build it with tools/build-bpf or pass --bpf-object\n".utf8))
            throw ExitCode(4)
        }
        do {
            try Self.collect(cfg, configPath: config, object: object, duration: duration, readyFile: readyFile, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("redline collect: \(error)\n".utf8))
            throw ExitCode(error.exitCode)
        }
    }

    private static func collect(_ cfg: CollectorConfig, configPath: String, object: String, duration: Double?,
                                readyFile: String?, logger: Logger) throws(CollectorError) {
        let runtime = try CollectorRuntime(config: cfg, configPath: configPath, objectPath: object, logger: logger)
        var sources: [DispatchSourceSignal] = []
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            signal(sig, SIG_IGN)
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { if sig == SIGHUP { runtime.reload() } else { runtime.stop() } }
            s.resume()
            sources.append(s)
        }
        defer { sources.forEach { $0.cancel() } }
        try runtime.start()
        logger.info("collecting on host \(cfg.host) into \(cfg.segmentRoot)")
        try runtime.run(duration: duration, readyFile: readyFile)
    }

    /// The BPF object: the option, $REDLINE_BPF_OBJECT, the package's `../lib/redline/redline.bpf.o`
    /// beside the executable (/usr/bin → /usr/lib/redline), or bpf/build/redline.bpf.o in a folder above it.
    static func findObject(_ option: String?) -> String? {
        if let option { return FileManager.default.fileExists(atPath: option) ? option : nil }
        if let env = ProcessInfo.processInfo.environment["REDLINE_BPF_OBJECT"] {
            return FileManager.default.fileExists(atPath: env) ? env : nil
        }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        let packaged = dir.deletingLastPathComponent().appendingPathComponent("lib/redline/redline.bpf.o").path
        if FileManager.default.fileExists(atPath: packaged) { return packaged }
        for _ in 0..<6 {
            let candidate = dir.appendingPathComponent("bpf/build/redline.bpf.o").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            dir.deleteLastPathComponent()
        }
        return nil
    }
}
