import Aggregates
import Collector
import CSystem
import Enrichment
import Foundation
import KernelProbes
import Parquet
import Pipeline
import Segments

/// The parsers that read files Redline does not control, as fuzz targets: libFuzzer drives them
/// through `redline-fuzz` (tools/fuzz/run), and `FuzzTargetsTests` replays the seeds and every
/// input a fuzzer ever crashed on (Tests/FuzzTargetsTests/Regressions/<target>/) in the normal
/// suite. A thrown error is an accepted outcome; a crash, a trap, a hang or a sanitizer report
/// is a bug.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// The streaming segment decoder: the whole input, then the same bytes in input-derived
    /// splits; and the indexed reader (trailer, footer, every indexed block) over the same bytes.
    case segment
    /// The Parquet reader: footer, schema, every column of every row group.
    case parquet
    /// Pipeline YAML (schemas/pipeline-v1.md).
    case pipeline
    /// Collector YAML (schemas/collector-config-v1.md).
    case collectorConfig = "collector-config"
    /// L7 rules YAML (schemas/rules-v1.md).
    case rules
    /// Metadata snapshots: every input goes to the pods (JSON), services and datacenters (YAML) loaders.
    case metadata
    /// Names read from captured prefixes and call records (red_route, dns_names): a DNS question,
    /// a RESP command, a path's template (whole and cut), a Host, a record's name field.
    case requestNames = "request-names"

    /// Feeds `data` to the target's parser(s).
    public func run(_ data: UnsafeRawBufferPointer) {
        switch self {
        case .segment:
            Self.decodeSegment(data, splitSeed: nil)
            Self.decodeSegment(data, splitSeed: data.reduce(UInt64(0x9E37_79B9)) { $0 &* 31 &+ UInt64($1) })
            Self.readIndexed(data)
        case .parquet:
            // Tighter than the defaults: a fuzzed length must not make the process allocate gigabytes.
            var limits = ParquetReaderLimits()
            limits.maxPageBytes = 4 << 20
            limits.maxValuesPerPage = 1 << 20
            limits.maxFooterBytes = 1 << 20
            guard let reader = try? ParquetFileReader(bytes: Array(data), limits: limits) else { return }
            _ = try? reader.readAll()
        case .pipeline:
            _ = try? PipelineSpec.parse(yaml: Self.text(data), file: "fuzz.yaml", baseDirectory: "/nonexistent")
        case .collectorConfig:
            _ = try? CollectorConfig.parse(yaml: Self.text(data), file: "fuzz.yaml", baseDirectory: "/nonexistent")
        case .rules:
            _ = try? RuleSet(yaml: Self.text(data))
        case .metadata:
            _ = try? PodSnapshot.parse(json: Data(data), file: "pods.json")
            _ = try? ServiceMap.parse(yaml: Self.text(data), file: "services.yaml")
            _ = try? DatacenterTable.parse(yaml: Self.text(data), file: "datacenters.yaml")
        case .requestNames:
            let bytes = Array(data)
            _ = RequestNames.dnsQuestion(bytes)
            _ = RequestNames.redisCommand(bytes)
            _ = RouteTemplate.template(bytes, truncated: false)
            _ = RouteTemplate.template(bytes, truncated: true)
            _ = RouteTemplate.domain(bytes)
            _ = RequestNames.recordName(bytes, truncated: false, uppercase: true)
        }
    }

    private static func text(_ data: UnsafeRawBufferPointer) -> String { String(decoding: data, as: UTF8.self) }

    /// Reads a segment image through its footer index, every block, from an in-memory file
    /// (`memfd_create`: the reader takes a path, and nothing touches the disk).
    private static func readIndexed(_ data: UnsafeRawBufferPointer) {
        let fd = csystem_memfd("fuzz-segment")
        guard fd >= 0 else { return }
        defer { close(fd) }
        guard let base = data.baseAddress ?? (data.count == 0 ? UnsafeRawPointer(bitPattern: 1) : nil),
              data.count == 0 || write(fd, base, data.count) == data.count else { return }
        var options = ReaderOptions()
        options.maxBlockRawBytes = 4 << 20
        options.maxBlocks = 1 << 16
        guard let reader = try? IndexedSegmentReader(path: "/proc/self/fd/\(fd)", options: options) else { return }
        var checksum: UInt8 = 0
        try? reader.forEachBlock(of: Set(RecordType.allCases)) { _ in checksum ^= reader.currentRawRecords.reduce(0, ^) }
        _ = checksum
    }

    /// Decodes a segment image, fed whole or (with a seed) in pseudo-random chunks, touching
    /// every decompressed record byte so a wrong length shows up under the address sanitizer.
    private static func decodeSegment(_ data: UnsafeRawBufferPointer, splitSeed: UInt64?) {
        var options = ReaderOptions()
        options.maxBlockRawBytes = 4 << 20
        options.maxBlocks = 1 << 16
        let d = SegmentDecoder(source: "fuzz", options: options)
        var state = splitSeed ?? 0
        var at = 0
        var checksum: UInt8 = 0
        do {
            while at < data.count {
                var n = data.count - at
                if splitSeed != nil {
                    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    n = min(n, 1 + Int(state >> 58))
                }
                d.feed(UnsafeRawBufferPointer(rebasing: data[at..<(at + n)]))
                at += n
                while let e = try d.next() {
                    if case .block = e { checksum ^= d.currentRawRecords.reduce(0, ^) }
                }
            }
            _ = try d.finish()
        } catch {
            return
        }
        _ = checksum
    }
}
