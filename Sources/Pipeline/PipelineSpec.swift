import Foundation
import YAMLConfig

/// A pipeline definition: `pipelines/<name>.yaml`, spec in schemas/pipeline-v1.md.
///
/// Paths in the file are resolved against the file's own folder, so a pipeline
/// runs the same from any working directory (cron's is `/`). Command-line
/// overrides (`--segments`, `--metadata`, `--out`) are resolved by the caller.
public struct PipelineSpec: Sendable, Equatable {
    public static let supportedVersion = 1

    public enum Kind: String, Sendable {
        /// Segments → per-host partial tables → merged tables, one hour per run.
        case hourly
        /// Hourly merged `traffic_matrix` → one day's rollup.
        case dailyTraffic = "daily-traffic"
        /// Merged hourly tables → ranked `anomaly_candidates` (schemas/pipeline-v1.md, "Anomaly pipelines").
        case anomaly
    }

    public let name: String
    public let kind: Kind
    public let description: String?
    public var segmentRoot: String?
    public var metadataDir: String?
    public var tableRoot: String
    /// Globs over the `host=` folder names.
    public let hosts: [String]
    public let defaultPartition: PartitionChoice
    /// A partition counts as closed this long after its end (collectors seal late windows).
    public let closeDelaySeconds: Int
    public let stages: [Stage]

    /// What a run processes when the command line names nothing.
    public enum PartitionChoice: Sendable, Equatable {
        case lastClosedHour
        case lastClosedDay
        case fixed(Partition)
    }

    /// A stage and its parameters. The order is fixed by kind; see `requiredOrder`.
    public enum Stage: Sendable, Equatable {
        case read(ReadParameters)
        case correctTime(CorrectTimeParameters)
        case enrich
        case aggregate(AggregateParameters)
        case merge
        case rollup(RollupParameters)
        case detect(DetectParameters)
        case rank(RankParameters)
        case write(WriteParameters)

        var name: String {
            switch self {
            case .read: "read"
            case .correctTime: "correct-time"
            case .enrich: "enrich"
            case .aggregate: "aggregate"
            case .merge: "merge"
            case .rollup: "rollup"
            case .detect: "detect"
            case .rank: "rank"
            case .write: "write"
            }
        }
    }

    public struct ReadParameters: Sendable, Equatable {
        /// Refuse blocks whose stated raw size exceeds this (defensive limit).
        public var maxBlockBytes: Int = 16 << 20
    }

    public struct CorrectTimeParameters: Sendable, Equatable {
        /// How far past the first/last anchor of a boot an event may be extrapolated.
        public var maxExtrapolationSeconds: Int = 600
    }

    public struct AggregateParameters: Sendable, Equatable {
        public var bucketSeconds: Int = 60
        public var histogramScale: Int = 4
        public var tables: [String] = AggregateParameters.allTables
        /// Distinct (domain, route) pairs per service and DNS names per client kept per partition
        /// in red_route / dns_names (and paths per entry service in chain_paths); the rest is `{other}`.
        public var routeCap: Int = 200
        public static var allTables: [String] { PipelineTables.hourly.map { $0.name } + [CallChainsTable.name] }
    }

    public struct RollupParameters: Sendable, Equatable {
        public var table: String = TrafficMatrix.name
        public var bucketSeconds: Int = 86_400
    }

    public struct WriteParameters: Sendable, Equatable {
        public var compression: String = "zstd"
        public var zstdLevel: Int = 3
        public var rowGroupRows: Int = 1 << 20
        /// Modes of table files and the folders a run creates, set explicitly (not from the umask).
        public var fileMode: UInt32 = 0o640
        public var dirMode: UInt32 = 0o750
    }

    public var aggregate: AggregateParameters? {
        for case .aggregate(let p) in stages { return p }
        return nil
    }
    public var write: WriteParameters {
        for case .write(let p) in stages { return p }
        return WriteParameters()
    }
    public var correctTime: CorrectTimeParameters {
        for case .correctTime(let p) in stages { return p }
        return CorrectTimeParameters()
    }
    public var read: ReadParameters {
        for case .read(let p) in stages { return p }
        return ReadParameters()
    }
    public var rollup: RollupParameters? {
        for case .rollup(let p) in stages { return p }
        return nil
    }

    /// Loads and validates a pipeline file.
    public static func load(path: String) throws(ConfigError) -> PipelineSpec {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, "pipeline file not found or not readable")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw ConfigError(file: path, "not UTF-8 text") }
        let base = (URL(fileURLWithPath: path).deletingLastPathComponent().path)
        return try parse(yaml: text, file: path, baseDirectory: base)
    }

    public static func parse(yaml text: String, file: String, baseDirectory: String) throws(ConfigError) -> PipelineSpec {
        let root = try YAMLNode.load(text, file: file)
        try root.requireKeys(in: ["version", "name", "kind", "description", "inputs", "partition", "output", "stages"])
        let v = try root.required("version")
        guard try v.int() == supportedVersion else {
            throw v.fail("unsupported pipeline version \(try v.string()); this Redline reads version \(supportedVersion)")
        }
        let nameNode = try root.required("name")
        let name = try nameNode.string()
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }) else {
            throw nameNode.fail("a pipeline name is letters, digits, '-' and '_'")
        }
        let kindNode = try root.required("kind")
        guard let kind = Kind(rawValue: try kindNode.string()) else {
            throw kindNode.fail("unknown kind '\(try kindNode.string())' (expected hourly, daily-traffic or anomaly)")
        }
        func resolve(_ p: String) -> String {
            p.hasPrefix("/") ? p : URL(fileURLWithPath: baseDirectory).appendingPathComponent(p).standardized.path
        }

        var segmentRoot: String?, metadataDir: String?, hosts = ["*"]
        if let inputs = root["inputs"] {
            try inputs.requireKeys(in: ["segments", "metadata", "hosts"])
            segmentRoot = try inputs["segments"].map { (n: YAMLNode) throws(ConfigError) in resolve(try n.string()) }
            metadataDir = try inputs["metadata"].map { (n: YAMLNode) throws(ConfigError) in resolve(try n.string()) }
            if let h = inputs["hosts"] {
                hosts = try h.sequence().map { (n: YAMLNode) throws(ConfigError) in try n.string() }
                guard !hosts.isEmpty else { throw h.fail("list at least one host glob (\"*\" for all)") }
            }
        }

        var defaultPartition: PartitionChoice = kind == .dailyTraffic ? .lastClosedDay : .lastClosedHour
        var closeDelay = 120
        if let p = root["partition"] {
            try p.requireKeys(in: ["default", "close_delay_seconds"])
            if let d = p["default"] {
                let s = try d.string()
                switch s {
                case "last-closed-hour": defaultPartition = .lastClosedHour
                case "last-closed-day": defaultPartition = .lastClosedDay
                default:
                    guard let fixed = Partition(s) else {
                        throw d.fail("expected last-closed-hour, last-closed-day or date=YYYY-MM-DD/hour=HH, found '\(s)'")
                    }
                    defaultPartition = .fixed(fixed)
                }
            }
            if let c = p["close_delay_seconds"] {
                closeDelay = try c.int()
                guard (0...86_400).contains(closeDelay) else { throw c.fail("must be in 0...86400") }
            }
        }

        let out = try root.required("output")
        try out.requireKeys(in: ["tables"])
        let tableRoot = resolve(try out.required("tables").string())

        let stagesNode = try root.required("stages")
        var stages: [Stage] = []
        for s in try stagesNode.sequence() {
            stages.append(try parseStage(s))
        }
        let order = switch kind {
        case .hourly: ["read", "correct-time", "enrich", "aggregate", "merge", "write"]
        case .dailyTraffic: ["rollup", "write"]
        case .anomaly: ["detect", "rank", "write"]
        }
        let optional: Set<String> = kind == .hourly ? ["merge"] : []
        let names = stages.map(\.name)
        let required = order.filter { !optional.contains($0) }
        guard names.filter({ !optional.contains($0) }) == required,
              names == order.filter({ names.contains($0) })
        else {
            throw stagesNode.fail("a \(kind.rawValue) pipeline runs the stages \(order.joined(separator: " → ")) in this order"
                + (optional.isEmpty ? "" : " (\(optional.sorted().joined(separator: ", ")) optional)")
                + "; found \(names.joined(separator: " → "))")
        }
        if kind == .hourly && segmentRoot == nil {
            throw root.fail("an hourly pipeline needs inputs.segments (or --segments on the command line)", field: "inputs.segments")
        }
        return PipelineSpec(name: name, kind: kind, description: try root["description"]?.string(),
                            segmentRoot: segmentRoot, metadataDir: metadataDir, tableRoot: tableRoot, hosts: hosts,
                            defaultPartition: defaultPartition, closeDelaySeconds: closeDelay, stages: stages)
    }

    private static func parseStage(_ n: YAMLNode) throws(ConfigError) -> Stage {
        let stageNode = try n.required("stage")
        let kind = try stageNode.string()
        func int(_ key: String, _ range: ClosedRange<Int>, _ def: Int) throws(ConfigError) -> Int {
            guard let v = n[key] else { return def }
            let x = try v.int()
            guard range.contains(x) else { throw v.fail("must be in \(range.lowerBound)...\(range.upperBound)") }
            return x
        }
        switch kind {
        case "read":
            try n.requireKeys(in: ["stage", "max_block_bytes"])
            return .read(ReadParameters(maxBlockBytes: try int("max_block_bytes", 4096...(1 << 30), 16 << 20)))
        case "correct-time":
            try n.requireKeys(in: ["stage", "max_extrapolation_seconds"])
            return .correctTime(CorrectTimeParameters(maxExtrapolationSeconds: try int("max_extrapolation_seconds", 0...86_400, 600)))
        case "enrich":
            try n.requireKeys(in: ["stage"])
            return .enrich
        case "aggregate":
            try n.requireKeys(in: ["stage", "bucket_seconds", "histogram_scale", "tables", "route_cap"])
            var p = AggregateParameters()
            p.bucketSeconds = try int("bucket_seconds", 1...3600, 60)
            if let b = n["bucket_seconds"], 3600 % p.bucketSeconds != 0 {
                throw b.fail("must divide 3600 so buckets never straddle an hour partition")
            }
            p.histogramScale = try int("histogram_scale", -4...8, 4)
            p.routeCap = try int("route_cap", 1...100_000, 200)
            if let t = n["tables"] {
                p.tables = try t.sequence().map { (x: YAMLNode) throws(ConfigError) in
                    let name = try x.string()
                    guard AggregateParameters.allTables.contains(name) else {
                        throw x.fail("unknown table '\(name)' (known: \(AggregateParameters.allTables.joined(separator: ", ")))")
                    }
                    return name
                }
                guard !p.tables.isEmpty else { throw t.fail("name at least one table") }
            }
            return .aggregate(p)
        case "merge":
            try n.requireKeys(in: ["stage"])
            return .merge
        case "rollup":
            try n.requireKeys(in: ["stage", "table", "bucket_seconds"])
            var p = RollupParameters()
            if let t = n["table"] {
                p.table = try t.string()
                guard p.table == TrafficMatrix.name else { throw t.fail("only \(TrafficMatrix.name) can be rolled up") }
            }
            p.bucketSeconds = try int("bucket_seconds", 3600...86_400, 86_400)
            if let b = n["bucket_seconds"], 86_400 % p.bucketSeconds != 0 { throw b.fail("must divide 86400") }
            return .rollup(p)
        case "detect":
            return .detect(try DetectParameters(n))
        case "rank":
            return .rank(try RankParameters(n))
        case "write":
            try n.requireKeys(in: ["stage", "compression", "zstd_level", "row_group_rows", "file_mode", "dir_mode"])
            var p = WriteParameters()
            if let c = n["compression"] {
                p.compression = try c.string()
                guard ["zstd", "none"].contains(p.compression) else { throw c.fail("expected zstd or none") }
            }
            p.zstdLevel = try int("zstd_level", 1...19, 3)
            p.rowGroupRows = try int("row_group_rows", 1...(1 << 26), 1 << 20)
            p.fileMode = try n["file_mode"]?.permissionMode() ?? p.fileMode
            p.dirMode = try n["dir_mode"]?.permissionMode() ?? p.dirMode
            return .write(p)
        default:
            throw stageNode.fail("unknown stage '\(kind)' (known: read, correct-time, enrich, aggregate, merge, rollup, detect, rank, write)")
        }
    }
}
