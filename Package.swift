// swift-tools-version:6.1
// Redline: eBPF network observability. The target graph follows the data:
// bpf/ (kernel) -> KernelProbes/Collector -> Segments -> Timebase -> pipeline -> Parquet tables.
import PackageDescription

let package = Package(
    name: "Redline",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "redline", targets: ["redline"]),
        .executable(name: "redline-dev", targets: ["redline-dev"]),
        .library(name: "Segments", targets: ["Segments"]),
        .library(name: "Timebase", targets: ["Timebase"]),
        .library(name: "Parquet", targets: ["Parquet"]),
        .library(name: "Report", targets: ["Report"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // C boundaries. Each is a thin layer: the library link plus prefixed shims.
        .target(
            name: "CRedlineABI",
            path: "Sources/CRedlineABI"
        ),
        .target(
            name: "CCompression",
            path: "Sources/CCompression",
            cSettings: [.unsafeFlags(["-O3"])],
            linkerSettings: [.linkedLibrary("lz4"), .linkedLibrary("zstd")]
        ),
        .target(name: "CSystem", path: "Sources/CSystem"),
        .target(
            name: "CLibBPF",
            path: "Sources/CLibBPF",
            linkerSettings: [.linkedLibrary("bpf"), .linkedLibrary("elf"), .linkedLibrary("z")]
        ),

        // The base vocabulary every library shares: UTC calendar, boot id, L7 protocol names,
        // the POSIX file layer.
        .target(name: "RedlineBase", dependencies: ["CRedlineABI", "CSystem"]),

        // Libraries, one concern each.
        .target(name: "Segments", dependencies: ["RedlineBase", "CRedlineABI", "CCompression"]),
        .target(name: "Timebase", dependencies: ["RedlineBase", "CRedlineABI"]),
        .target(name: "Parquet", dependencies: ["RedlineBase", "CCompression"]),
        .target(name: "YAMLConfig", dependencies: [.product(name: "Yams", package: "Yams")]),
        .target(name: "Enrichment", dependencies: ["RedlineBase", "YAMLConfig"]),
        // Records -> table cells: time correction (Timebase), names (Enrichment), the record ABI.
        .target(name: "Aggregates", dependencies: ["CRedlineABI", "Timebase", "Enrichment"]),
        .target(
            name: "Collector",
            dependencies: [
                "RedlineBase", "KernelProbes", "Segments", "Timebase", "YAMLConfig", "CRedlineABI", "Aggregates",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Pipeline",
            dependencies: [
                "RedlineBase", "Segments", "Timebase", "Parquet", "Aggregates", "Enrichment", "YAMLConfig", "CRedlineABI", "CCompression",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Tables -> one self-contained HTML page (redline report).
        .target(name: "Report", dependencies: ["RedlineBase", "Pipeline", "Parquet", "Aggregates", "Segments"]),
        // Merged tables -> anomaly candidates ranked over the call graph (redline explain). Reads the
        // tables with the report's column-by-name reader (TableFile).
        .target(
            name: "Anomaly",
            dependencies: ["Pipeline", "Report", "Parquet", "Aggregates", "Enrichment", "CCompression", .product(name: "Logging", package: "swift-log")]
        ),
        .target(
            name: "KernelProbes",
            dependencies: ["RedlineBase", "CLibBPF", "CRedlineABI", "YAMLConfig", .product(name: "Yams", package: "Yams")]
        ),

        // The CLI: parses, calls the libraries.
        .executableTarget(
            name: "redline",
            dependencies: [
                "RedlineBase", "Segments", "Timebase", "Parquet", "KernelProbes", "Pipeline", "Collector", "Report", "Anomaly",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),

        // Developer tools, never packaged: synthetic segments and the one seeded generator
        // (DevSupport, also used by the tests), benchmark inputs and benchmarks (redline-dev).
        .target(name: "DevSupport", dependencies: ["Segments", "RedlineBase", "CRedlineABI"]),
        .executableTarget(
            name: "redline-dev",
            dependencies: [
                "DevSupport", "RedlineBase", "Segments", "Parquet", "Pipeline", "CRedlineABI", "CCompression",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // Fuzz targets over every parser of outside input (tools/fuzz/run builds redline-fuzz
        // with -sanitize=fuzzer into .build-fuzz; plain builds get a replay tool).
        .target(name: "FuzzTargets", dependencies: ["Segments", "Parquet", "Pipeline", "Collector", "KernelProbes", "Enrichment", "Aggregates", "CSystem"]),
        .executableTarget(name: "redline-fuzz", dependencies: ["FuzzTargets"]),

        // Benchmark: Redline's Parquet writer on a 10 M-row table (tools/bench/parquet/run).
        .executableTarget(name: "parquet-bench", dependencies: ["Parquet"], path: "tools/bench/parquet/swift"),

        // Shared by the test targets: prerequisite traits for system tests (root/BPF, netns, Spark, Chromium).
        .target(name: "TestSupport", path: "Tests/TestSupport"),

        .testTarget(name: "RedlineBaseTests", dependencies: ["TestSupport", "RedlineBase", "CRedlineABI"]),
        .testTarget(name: "SegmentsTests", dependencies: ["TestSupport", "DevSupport", "RedlineBase", "Segments"], exclude: ["Fixtures"]),
        .testTarget(name: "TimebaseTests", dependencies: ["TestSupport", "DevSupport", "RedlineBase", "Timebase", "CRedlineABI"]),
        .testTarget(name: "ParquetTests", dependencies: ["TestSupport", "DevSupport", "Parquet"]),
        .testTarget(name: "KernelProbesTests", dependencies: ["TestSupport", "DevSupport", "RedlineBase", "KernelProbes", "YAMLConfig", "CRedlineABI",
                                                       "Aggregates", "Collector"]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport", "Segments", "KernelProbes", .product(name: "Yams", package: "Yams")]),
        .testTarget(name: "AggregatesTests", dependencies: ["TestSupport", "DevSupport", "Aggregates"]),
        .testTarget(name: "EnrichmentTests", dependencies: ["TestSupport", "Enrichment", "YAMLConfig"]),
        .testTarget(name: "PipelineTests", dependencies: ["TestSupport", "DevSupport", "RedlineBase", "Pipeline", "YAMLConfig", "Parquet", "Segments", "Timebase", "CRedlineABI", .product(name: "Logging", package: "swift-log")],
                    exclude: ["Golden"]),
        .testTarget(name: "ReportTests", dependencies: ["TestSupport", "Report", "Pipeline", "Parquet", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "CollectorTests", dependencies: ["TestSupport", "RedlineBase", "Collector", "YAMLConfig", "CRedlineABI", "Segments", "Parquet", "KernelProbes", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "AnomalyTests", dependencies: ["TestSupport", "Anomaly", "Pipeline", "Report", "Parquet", "Aggregates", .product(name: "Logging", package: "swift-log")], exclude: ["Fixtures"]),
        .testTarget(name: "FuzzTargetsTests", dependencies: ["TestSupport", "FuzzTargets"], exclude: ["Regressions"]),
    ]
)
