import Foundation
import Logging
import Parquet
@testable import Pipeline
@testable import Report
import Testing

/// The report library over real tables (the captured lab samples run through the hourly
/// pipeline) and over small hand-written tables for the cases the samples lack.
@Suite("Report: data, determinism, errors, escaping, anomaly table")
struct ReportTests {
    static let packageRoot: String = {
        let here = "\(#filePath)"
        return String(here[..<here.range(of: "/Tests/ReportTests/")!.lowerBound])
    }()
    static let capture = packageRoot + "/tools/lab/samples/capture"

    static func scratch() -> String {
        let p = FileManager.default.temporaryDirectory.appendingPathComponent("redline-report-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
    }

    /// The samples' tables, made once per process.
    static let samples: (root: String, partition: Partition) = {
        let root = scratch()
        let text = (try? String(contentsOfFile: capture + "/PARTITION", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        let partition = Partition(text)!
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let spec = try! PipelineSpec.load(path: packageRoot + "/pipelines/hourly.yaml")
        _ = try! HourlyRun(spec: spec, segmentRoot: capture + "/segments", metadataDir: capture + "/metadata", tableRoot: root,
                           partition: partition, ifChanged: false, logger: logger).execute()
        return (root, partition)
    }()

    @Test("the samples: two datacenters, four services, pricing's 5 % errors, frontend → pricing crossing dc1 → dc2")
    func samplesFigures() throws {
        let d = try TrafficReport.data(tables: Self.samples.root, selection: .hour(Self.samples.partition))
        #expect(d.matrix?.dcs == ["dc1", "dc2"])
        #expect(Set(d.services.map(\.service)) == ["frontend", "catalog", "pricing", "cache"])
        let pricing = try #require(d.services.first { $0.service == "pricing" })
        #expect(pricing.observer == "server" && pricing.total.errorRatio > 0.04 && pricing.total.errorRatio < 0.06)
        let edge = try #require(d.edges.first { $0.caller.service == "frontend" && $0.callee.service == "pricing" })
        #expect(edge.caller.dc == "dc1" && edge.callee.dc == "dc2" && edge.figures.errors == pricing.total.errors)
        #expect(d.topPairs.contains { $0.srcService == "frontend" && $0.dstService == "pricing" })
        #expect(d.anomalies == nil)
        #expect(d.partitions.count == 1 && d.partitions[0].hasManifest && d.partitions[0].hosts == 4)
        // The p99 shown is the merged histogram's, within its stated error of the table's own p99 column.
        let p99 = try #require(pricing.total.p99)
        #expect(p99 > 1e8, "pricing's 503s are slow: p99 \(p99) ns")
    }

    @Test("the same tables give byte-identical pages; writing replaces the file atomically")
    func deterministic() throws {
        let a = try TrafficReport.html(tables: Self.samples.root, selection: .hour(Self.samples.partition))
        let b = try TrafficReport.html(tables: Self.samples.root, selection: .hour(Self.samples.partition))
        #expect(a == b)
        #expect(Self.strayAngles(a).isEmpty, "\(Self.strayAngles(a).prefix(3))")
        let outDir = Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: outDir) }
        let out = outDir + "/r.html"
        _ = try TrafficReport.write(tables: Self.samples.root, selection: .hour(Self.samples.partition), to: out)
        #expect(try String(contentsOfFile: out, encoding: .utf8) == a)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: (out as NSString).deletingLastPathComponent)
        #expect(leftovers == ["r.html"])
        #expect(!a.contains("<script") && !a.contains("http://") && !a.contains("https://"))
        #expect(a.contains("prefers-color-scheme:dark") && a.contains("@page{size:A4"))
    }

    @Test("missing tables, partitions and daily tables are errors that name what is missing (exit 3)")
    func missingInputs() throws {
        let empty = Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: empty) }
        #expect(throws: ReportError.noTableRoot(empty + "/nope")) {
            try TrafficReport.data(tables: empty + "/nope", selection: .hour(Self.samples.partition))
        }
        do {
            _ = try TrafficReport.data(tables: Self.samples.root, selection: .hour(Partition("date=2026-11-24/hour=03")!))
            Issue.record("an hour without tables rendered")
        } catch {
            #expect(error.exitCode == 3)
            #expect(error.description.contains("date=2026-11-24/hour=03") && error.description.contains("no manifest"))
        }
        do {
            _ = try TrafficReport.data(tables: Self.samples.root, selection: .day(Partition("date=2026-11-24")!))
            Issue.record("a day without traffic_matrix_daily rendered")
        } catch {
            #expect(error.exitCode == 3 && error.description.contains("traffic_matrix_daily"))
        }
        #expect(throws: ReportError.self) { try ReportSelection(partition: nil, from: Partition("date=2026-11-25"), to: Partition("date=2026-11-24")) }
        let dir = empty + "/missing-folder/r.html"
        #expect(throws: ReportError.self) { try TrafficReport.write(tables: Self.samples.root, selection: .hour(Self.samples.partition), to: dir) }
    }

    @Test("a damaged table file is an error naming the file")
    func damagedTable() throws {
        let root = Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let p = Partition("date=2026-01-02/hour=03")!
        let dir = "\(root)/red_service/\(p.path)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data("PAR1 this is not parquet PAR1".utf8).write(to: URL(fileURLWithPath: dir + "/part-00000.parquet"))
        do {
            _ = try TrafficReport.data(tables: root, selection: .hour(p))
            Issue.record("a damaged file rendered")
        } catch {
            #expect(error.exitCode == 3 && error.description.contains(dir + "/part-00000.parquet"), "\(error)")
        }
    }

    /// A one-row traffic_matrix with the given names, written with the project's writer.
    static func writeTraffic(root: String, partition: Partition, srcDC: String, dstDC: String, src: String, dst: String) throws {
        let dir = "\(root)/traffic_matrix/\(partition.path)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let w = try TrafficMatrix.schema.makeWriter(path: dir + "/part-00000.parquet")
        func s(_ v: String) -> ColumnData { ColumnData(.byteArray(ByteArrays(strings: [v]))) }
        func i(_ v: Int64) -> ColumnData { ColumnData(.int64([v])) }
        try w.write([i(partition.startNanos), ColumnData(.int32([60])), s(srcDC), s(dstDC), s(src), s(dst), s("tcp"), s("source"), s("tcp_option"),
                     i(1000), i(10), i(900), i(1), i(5), i(100), i(0), i(0), ColumnData(.double([1]))])
        try w.close()
    }

    /// Every `<` on the page opens a tag, a closing tag or the doctype: text never carries a raw one.
    static func strayAngles(_ html: String) -> [String] {
        let chars = Array(html.unicodeScalars)
        var out: [String] = []
        for i in chars.indices where chars[i] == "<" {
            let next = i + 1 < chars.count ? chars[i + 1] : " "
            if !(next.properties.isAlphabetic || next == "/" || next == "!") {
                out.append(String(String.UnicodeScalarView(chars[max(0, i - 30)..<min(chars.count, i + 30)])))
            }
        }
        return out
    }

    @Test("names from the tables are escaped everywhere (text, attributes, SVG)")
    func hostileNames() throws {
        let root = Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let p = Partition("date=2026-01-02/hour=03")!
        try Self.writeTraffic(root: root, partition: p, srcDC: "dc\"><script>alert(1)</script>", dstDC: "dc'&b",
                              src: "<img src=x onerror=alert(2)>", dst: "svc</svg><b>")
        let html = try TrafficReport.html(tables: root, selection: .hour(p))
        #expect(!html.contains("<script") && !html.contains("<img") && !html.contains("</svg><b>"))
        #expect(html.contains("&lt;img src=x onerror=alert(2)&gt;") && html.contains("dc&#39;&amp;b"))
        #expect(Self.strayAngles(html).isEmpty, "\(Self.strayAngles(html).prefix(3))")
    }

    /// Writes an `anomaly_candidates` file with the given columns (strings unless named otherwise).
    static func writeAnomalies(root: String, partition: Partition, columns: [String], rows: Int) throws {
        let dir = "\(root)/anomaly_candidates/\(partition.path)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let fields = columns.map { c -> ParquetField in
            switch c {
            case "bucket_start": ParquetField(c, .timestampNanos)
            case "score": ParquetField(c, .double)
            case "rank": ParquetField(c, .int32)
            default: ParquetField(c, .string)
            }
        }
        let w = try ParquetFileWriter(path: dir + "/part-00000.parquet", schema: ParquetSchema(fields))
        try w.write(columns.map { c in
            switch c {
            case "bucket_start": ColumnData(.int64((0..<rows).map { partition.startNanos + Int64($0) * 60_000_000_000 }))
            case "score": ColumnData(.double((0..<rows).map { Double($0) + 0.5 }))
            // Ranks that disagree with the scores: row 1 is the cause (rank 1) yet scores in the
            // middle, as a root cause below the symptom it explains can.
            case "rank": ColumnData(.int32((0..<rows).map { Int32(($0 + rows - 1) % rows + 1) }))
            default: ColumnData(.byteArray(ByteArrays(strings: (0..<rows).map { "\(c)-\($0)" })))
            }
        })
        try w.close()
    }

    @Test("anomaly candidates: none without the table, none when empty, rows in the table's rank order (not by score), a reason when columns lack")
    func anomalies() throws {
        let root = Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let p = Partition("date=2026-01-02/hour=03")!
        try Self.writeTraffic(root: root, partition: p, srcDC: "dc1", dstDC: "dc2", src: "a", dst: "b")
        #expect(try TrafficReport.html(tables: root, selection: .hour(p)).contains("none: there is no anomaly_candidates table"))

        try Self.writeAnomalies(root: root, partition: p, columns: AnomalyRow.requiredColumns + ["extra"], rows: 0)
        #expect(try TrafficReport.html(tables: root, selection: .hour(p)).contains("none: anomaly_candidates has no rows"))

        try Self.writeAnomalies(root: root, partition: p, columns: AnomalyRow.requiredColumns + ["extra"], rows: 3)
        let d = try TrafficReport.data(tables: root, selection: .hour(p))
        #expect(d.anomalies?.map(\.rank) == [1, 2, 3])
        #expect(d.anomalies?.map(\.score) == [1.5, 2.5, 0.5], "not in the table's rank order")
        #expect(d.anomalies?.first?.service == "service-1" && d.anomalies?.first?.evidence == "evidence-1")
        let html = Page(d).html()
        #expect(html.contains("data-table=\"anomalies\"") && html.contains("evidence-1"))

        try Self.writeAnomalies(root: root, partition: p, columns: ["bucket_start", "service", "score"], rows: 1)
        let h2 = try TrafficReport.html(tables: root, selection: .hour(p))
        #expect(h2.contains("lacks the columns rank, metric, evidence"))
    }

    @Test("formatting: shares below 100 % never read as 100 %, tiny ones as <0.01 % (escaped on the page)")
    func formatting() {
        #expect(Fmt.percent(0.99974) == "99.974 %" || Fmt.percent(0.99974) == "99.97 %")
        #expect(Fmt.percent(0.999999) == "99.9999 %" && Fmt.percent(0.9999999) == ">99.99 %")
        #expect(Fmt.percent(1) == "100.0 %" && Fmt.percent(0) == "0 %" && Fmt.percent(0.00001) == "<0.01 %")
        #expect(esc(Fmt.percent(0.00001)) == "&lt;0.01 %")
        #expect(Fmt.bytes(1_456_548) == "1.46 MB" && Fmt.int(21_302) == "21\u{202F}302")
        #expect(Fmt.change(110, 100) == "+10.0 %" && Fmt.change(5, 0) == "new")
    }

    @Test("slots: at most 60 per chart, never finer than the tables' buckets")
    func slots() {
        let h: Int64 = 3_600_000_000_000
        #expect(Slots(start: 0, end: h, bucketSeconds: 60).count == 60)
        #expect(Slots(start: 0, end: 24 * h, bucketSeconds: 60).stepNanos == 1800 * 1_000_000_000)
        #expect(Slots(start: 0, end: 30 * 24 * h, bucketSeconds: 60).stepNanos == 43_200 * 1_000_000_000)
        #expect(Slots(start: 0, end: h, bucketSeconds: 300).stepNanos == 300 * 1_000_000_000)
        let s = Slots(start: 0, end: h, bucketSeconds: 60)
        #expect(s.slot(-1) == nil && s.slot(h) == nil && s.slot(h - 1) == 59)
    }
}
