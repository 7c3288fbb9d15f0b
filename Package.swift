// swift-tools-version:6.1
// Redline: eBPF network observability. The target graph follows the data:
// bpf/ (kernel) -> KernelProbes/Collector -> Segments -> Timebase -> pipeline -> Parquet tables.
import PackageDescription

let package = Package(
    name: "Redline",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "redline", targets: ["redline"]),
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

        // Libraries, one concern each.
        .target(name: "Segments", dependencies: ["CRedlineABI", "CCompression"]),
        .target(name: "Timebase", dependencies: ["CRedlineABI"]),
        .target(name: "Parquet", dependencies: ["CCompression"]),
        .target(name: "YAMLConfig", dependencies: [.product(name: "Yams", package: "Yams")]),
        .target(name: "Enrichment", dependencies: ["YAMLConfig"]),
        // Records -> table cells: time correction (Timebase), names (Enrichment), the record ABI.
        .target(name: "Aggregates", dependencies: ["CRedlineABI", "Timebase", "Enrichment"]),
        .target(
            name: "Collector",
            dependencies: [
                "KernelProbes", "Segments", "Timebase", "YAMLConfig", "CRedlineABI",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "Pipeline",
            dependencies: [
                "Segments", "Timebase", "Parquet", "Aggregates", "Enrichment", "YAMLConfig", "CRedlineABI", "CCompression", "CSystem",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Tables -> one self-contained HTML page (redline report).
        .target(name: "Report", dependencies: ["Pipeline", "Parquet", "Aggregates", "Segments"]),
        .target(
            name: "KernelProbes",
            dependencies: ["CLibBPF", "CRedlineABI", .product(name: "Yams", package: "Yams")]
        ),

        // The CLI: parses, calls the libraries.
        .executableTarget(
            name: "redline",
            dependencies: [
                "Segments", "Timebase", "Parquet", "KernelProbes", "Pipeline", "Collector", "Report",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),

        // Fuzz targets over every parser of outside input (tools/fuzz/run builds redline-fuzz
        // with -sanitize=fuzzer into .build-fuzz; plain builds get a replay tool).
        .target(name: "FuzzTargets", dependencies: ["Segments", "Parquet", "Pipeline", "Collector", "KernelProbes", "Enrichment", "Aggregates"]),
        .executableTarget(name: "redline-fuzz", dependencies: ["FuzzTargets"]),

        // Benchmark: Redline's Parquet writer on a 10 M-row table (tools/bench/parquet/run).
        .executableTarget(name: "parquet-bench", dependencies: ["Parquet"], path: "tools/bench/parquet/swift"),

        // Shared by the test targets: prerequisite traits for system tests (root/BPF, netns, Spark, Chromium).
        .target(name: "TestSupport", path: "Tests/TestSupport"),

        .testTarget(name: "SegmentsTests", dependencies: ["TestSupport", "Segments"], exclude: ["Fixtures"]),
        .testTarget(name: "TimebaseTests", dependencies: ["TestSupport", "Timebase", "CRedlineABI"]),
        .testTarget(name: "ParquetTests", dependencies: ["TestSupport", "Parquet"]),
        .testTarget(name: "KernelProbesTests", dependencies: ["TestSupport", "KernelProbes", "CRedlineABI"]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport", "Segments", "KernelProbes", .product(name: "Yams", package: "Yams")]),
        .testTarget(name: "AggregatesTests", dependencies: ["TestSupport", "Aggregates"]),
        .testTarget(name: "EnrichmentTests", dependencies: ["TestSupport", "Enrichment", "YAMLConfig"]),
        .testTarget(name: "PipelineTests", dependencies: ["TestSupport", "Pipeline", "YAMLConfig", "Parquet", "Segments", "Timebase", "CRedlineABI", .product(name: "Logging", package: "swift-log")],
                    exclude: ["Golden"]),
        .testTarget(name: "ReportTests", dependencies: ["TestSupport", "Report", "Pipeline", "Parquet", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "CollectorTests", dependencies: ["TestSupport", "Collector", "YAMLConfig", "CRedlineABI", "Segments", "Parquet", "KernelProbes", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "FuzzTargetsTests", dependencies: ["TestSupport", "FuzzTargets"], exclude: ["Regressions"]),
    ]
)
