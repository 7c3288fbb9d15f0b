import Foundation
import Glibc
import Testing

/// What a system test needs from the machine, checked once per process.
///
/// Locally, a test whose prerequisite is missing is skipped and Swift Testing prints the
/// one-line reason. Under CI (`CI` set in the environment, as `.ci/run` has it) every
/// prerequisite is required: the condition is forced true, so a missing one makes the
/// test run and fail loudly instead of hiding behind a skip.
public enum Prerequisites {
    /// True when the environment says this is CI, which must run every system test.
    public static let isCI: Bool = {
        let v = ProcessInfo.processInfo.environment["CI"] ?? ""
        return !v.isEmpty && v != "0" && v.lowercased() != "false"
    }()

    public static let isRoot: Bool = geteuid() == 0

    /// Root, a mounted cgroup v2 and bpffs: enough to load programs and attach them.
    public static let hasBPF: Bool = {
        isRoot && access("/sys/fs/bpf", F_OK) == 0 && access("/sys/kernel/btf/vmlinux", R_OK) == 0
    }()

    /// Root plus `ip` and `nsenter`: enough to build namespace labs.
    public static let hasNetns: Bool = {
        isRoot && onPath("ip") && onPath("nsenter")
    }()

    /// The project's Python venv as `tools/setup` makes it (pyarrow, DuckDB, pyspark).
    public static let hasPythonVenv: Bool = {
        access(packageRoot + "/.venv/bin/python", X_OK) == 0
            && FileManager.default.fileExists(atPath: packageRoot + "/.venv/.requirements.sha256")
    }()

    /// The project's Python venv with pyspark and a Java runtime.
    public static let hasSpark: Bool = hasPythonVenv && onPath("java")

    /// Debian's headless Chromium.
    public static let hasChromium: Bool = onPath("chromium")

    /// The package root, derived from this file's location (Tests/TestSupport/Prerequisites.swift).
    public static let packageRoot: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    /// True when `name` is an executable on PATH.
    public static func onPath(_ name: String) -> Bool {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").contains { access("\($0)/\(name)", X_OK) == 0 }
    }
}

extension Trait where Self == ConditionTrait {
    /// Needs root and BPF (load, attach, BPF_PROG_TEST_RUN).
    public static var requiresRootBPF: Self {
        .enabled(if: Prerequisites.isCI || Prerequisites.hasBPF, "needs root, bpffs and kernel BTF (CI runs it)")
    }
    /// Needs root, BPF and network namespaces (the lab).
    public static var requiresNetnsLab: Self {
        .enabled(
            if: Prerequisites.isCI || (Prerequisites.hasBPF && Prerequisites.hasNetns),
            "needs root, BPF and network namespaces (CI runs it)")
    }
    /// Needs the Python venv (pyarrow, DuckDB: `tools/setup`).
    public static var requiresPythonVenv: Self {
        .enabled(if: Prerequisites.isCI || Prerequisites.hasPythonVenv, "needs .venv with pyarrow and duckdb: run tools/setup (CI runs it)")
    }
    /// Needs the Python venv with pyspark and Java (`tools/setup`).
    public static var requiresSpark: Self {
        .enabled(if: Prerequisites.isCI || Prerequisites.hasSpark, "needs .venv with pyspark and Java: run tools/setup (CI runs it)")
    }
    /// Needs Debian's headless Chromium (`tools/setup` installs it).
    public static var requiresChromium: Self {
        .enabled(if: Prerequisites.isCI || Prerequisites.hasChromium, "needs Debian's chromium: run tools/setup (CI runs it)")
    }
}
