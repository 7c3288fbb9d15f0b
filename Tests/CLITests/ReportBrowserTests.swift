import Foundation
import Testing
import TestSupport

/// `redline report` end to end in a real browser: the hourly pipeline over the captured lab
/// samples, the report of that partition, then Debian's headless Chromium (driven over the
/// DevTools pipe by tools/validate/report_browser.py) loads it; the numbers it renders are held
/// to DuckDB's reading of the same tables (tools/validate/report_numbers.py), and the file to
/// html5lib's parse (tools/validate/html_check.py).
@Suite("redline report in headless Chromium (end to end)", .serialized)
struct ReportBrowserTests {
    static let root = Prerequisites.packageRoot
    static let capture = root + "/tools/lab/samples/capture"

    /// Debian's python3 (html5lib comes from python3-html5lib) and the project's venv (DuckDB).
    static let systemPython = "/usr/bin/python3"
    static var venvPython: String { root + "/.venv/bin/python" }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text.prefix(300))")
    }

    /// The browser's view of a page.
    static func browse(_ html: String, _ extra: [String] = []) throws -> [String: Any] {
        let r = try runToCompletion(systemPython, [root + "/tools/validate/report_browser.py", html] + extra)
        #expect(r.status == 0, "report_browser.py: \(r.stderr)")
        return try json(r.stdout)
    }

    /// Console entries at error or warning level (a clean page has none).
    static func problems(_ seen: [String: Any]) -> [String] {
        ((seen["console"] as? [[String: Any]]) ?? [])
            .filter { ["error", "warning", "assert"].contains($0["level"] as? String ?? "") }
            .map { "\($0["source"] ?? ""): \($0["text"] ?? "")" }
    }

    static func partition() throws -> String {
        try String(contentsOfFile: capture + "/PARTITION", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("the samples' report loads without console errors or network, has every section and chart, and shows the tables' own numbers",
          .requiresChromium)
    func samplesReport() throws {
        let dir = try makeScratchDirectory("redline-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let tables = dir.path + "/tables", html = dir.path + "/report.html"
        let part = try Self.partition()
        let pipeline = try InspectCLITests.redline("run", Self.root + "/pipelines/hourly.yaml", "--partition", part,
                                                  "--segments", Self.capture + "/segments", "--metadata", Self.capture + "/metadata",
                                                  "--out", tables, "--quiet")
        try #require(pipeline.status == 0, "\(pipeline.stderr)")
        let report = try InspectCLITests.redline("report", "--tables", tables, "--partition", part, "--out", html)
        try #require(report.status == 0, "\(report.stderr)")
        #expect(report.stdout.contains(html))

        // Valid HTML, self-contained: the file as written and the DOM as Chromium built it.
        let dom = dir.path + "/dom.html", shot = dir.path + "/report.png"
        let pdf = dir.path + "/report.pdf"
        let seen = try Self.browse(html, ["--screenshot", shot, "--dom-out", dom, "--pdf", pdf])
        let valid = try runToCompletion(Self.systemPython, [Self.root + "/tools/validate/html_check.py", html, dom])
        #expect(valid.status == 0, "html_check.py: \(valid.stdout)\(valid.stderr)")

        #expect(Self.problems(seen).isEmpty, "console: \(Self.problems(seen))")
        #expect((seen["requests"] as? [String]) == [], "the page tried to load \(seen["requests"] ?? "")")

        // The screenshot is a real PNG of the whole page at the emulated width.
        let png = try #require(seen["screenshot"] as? [String: Any])
        let bytes = (try? FileManager.default.attributesOfItem(atPath: shot)[.size] as? Int) ?? 0
        #expect(bytes > 20_000 && bytes == png["bytes"] as? Int, "screenshot \(bytes) bytes")
        #expect(png["width"] as? Int == 1280)
        #expect((png["height"] as? Int ?? 0) > 900 && png["height"] as? Int == seen["scroll_height"] as? Int)

        // Printing uses the page's @page size: every sheet A4 (595.3 × 841.9 pt, to Chromium's rounding).
        let printed = try #require(seen["pdf"] as? [String: Any])
        #expect((printed["pages"] as? Int ?? 0) >= 1)
        let sheets = printed["page_sizes_pt"] as? [[Double]] ?? []
        #expect(!sheets.isEmpty && sheets.allSatisfy { abs($0[0] - 595.3) < 1.5 && abs($0[1] - 841.9) < 1.5 }, "\(sheets)")

        // Every section, and every chart for every service.
        #expect(seen["sections"] as? [String] == ["dc-matrix", "top-pairs", "dr-drill", "topology", "red", "tcp-health", "drops",
                                                   "anomalies", "completeness"])
        let charts = Set(seen["charts"] as? [String] ?? [])
        let services = ["frontend", "catalog", "pricing", "cache"]
        var want: Set<String> = ["dc-matrix-bytes", "dc-matrix-calls", "top-pairs", "topology", "tcp-retransmits", "drop-reasons"]
        for s in services { want.formUnion(["dr-\(s)", "red-requests-\(s)", "red-errors-\(s)", "red-latency-\(s)"]) }
        #expect(want.subtracting(charts).isEmpty, "missing charts \(want.subtracting(charts).sorted())")

        // The capture's real figures: two datacenters, four services, pricing's injected 5 % 503s
        // and frontend's 502s, the call crossing dc1 → dc2.
        let shown = try #require(seen["tables"] as? [String: [String: Any]])
        func rows(_ t: String) -> [[String: String]] {
            guard let table = shown[t], let cols = table["columns"] as? [String], let rs = table["rows"] as? [[String]] else { return [] }
            return rs.map { Dictionary(uniqueKeysWithValues: zip(cols, $0)) }
        }
        #expect(Set(rows("dc-matrix").map { $0["src_dc"]! }) == ["dc1", "dc2"])
        let red = Dictionary(uniqueKeysWithValues: rows("services").map { ($0["service"]!, $0) })
        #expect(Set(red.keys) == Set(services))
        for s in ["pricing", "frontend"] {
            let ratio = Double(red[s]?["error_ratio"] ?? "") ?? 0
            #expect(ratio > 0.04 && ratio < 0.06, "\(s) error ratio \(ratio)")
        }
        for s in ["catalog", "cache"] { #expect(red[s]?["errors"] == "0") }
        #expect(rows("edges").contains { $0["caller"] == "frontend" && $0["callee"] == "pricing" && $0["caller_dc"] == "dc1"
            && $0["callee_dc"] == "dc2" && Int($0["errors"] ?? "") ?? 0 > 0 })
        #expect((seen["empty"] as? [String] ?? []).contains { $0.hasPrefix("none") && $0.contains("anomaly_candidates") })

        // Every number the checker derives from the tables equals the rendered one.
        let step = (seen["metrics"] as? [String: String])?["slot-seconds"] ?? ""
        let expected = try runToCompletion(Self.venvPython, [Self.root + "/tools/validate/report_numbers.py", "--tables", tables,
                                                      "--partition", part, "--slot-seconds", step])
        try #require(expected.status == 0, "report_numbers.py: \(expected.stderr)")
        let numbers = try Self.json(expected.stdout)
        #expect((numbers["tables"] as? [String: Any])?.count == 9, "report_numbers.py checks nine tables")
        let mismatches = Self.compare(expected: numbers, shown: shown)
        #expect(mismatches.isEmpty, "\(mismatches.count) differences, first: \(mismatches.prefix(8))")

        // Dark mode renders without errors too.
        let dark = try Self.browse(html, ["--dark"])
        #expect(dark["scheme"] as? String == "dark")
        #expect(Self.problems(dark).isEmpty, "console (dark): \(Self.problems(dark))")
    }

    @Test("the daily view shows the day's matrix and its change against the day before, and says when that day is absent",
          .requiresChromium)
    func dailyReport() throws {
        let dir = try makeScratchDirectory("redline-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let tables = dir.path + "/tables"
        let part = try Self.partition()
        let day = String(part.split(separator: "/")[0])
        #expect(try InspectCLITests.redline("run", Self.root + "/pipelines/hourly.yaml", "--partition", part, "--segments",
                                            Self.capture + "/segments", "--metadata", Self.capture + "/metadata", "--out", tables,
                                            "--quiet").status == 0)
        #expect(try InspectCLITests.redline("run", Self.root + "/pipelines/daily-traffic.yaml", "--partition", day, "--out", tables,
                                            "--quiet").status == 0)
        let first = dir.path + "/day.html"
        let r = try InspectCLITests.redline("report", "--tables", tables, "--partition", day, "--out", first)
        try #require(r.status == 0, "\(r.stderr)")
        let seen = try Self.browse(first)
        #expect(Self.problems(seen).isEmpty, "console: \(Self.problems(seen))")
        let html = try String(contentsOfFile: first, encoding: .utf8)
        #expect(html.contains("data-previous=\"absent\""))

        // Give it a previous day: the same day's file copied to the day before.
        let prevDay = "date=" + Self.dayBefore(String(day.dropFirst(5)))
        let src = tables + "/traffic_matrix_daily/\(day)/part-00000.parquet"
        try FileManager.default.createDirectory(atPath: tables + "/traffic_matrix_daily/\(prevDay)", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: src, toPath: tables + "/traffic_matrix_daily/\(prevDay)/part-00000.parquet")
        let second = dir.path + "/day2.html"
        #expect(try InspectCLITests.redline("report", "--tables", tables, "--partition", day, "--out", second).status == 0)
        let seen2 = try Self.browse(second)
        #expect(Self.problems(seen2).isEmpty)
        #expect(try String(contentsOfFile: second, encoding: .utf8).contains("data-previous=\"present\""))
        let expected = try runToCompletion(Self.venvPython, [Self.root + "/tools/validate/report_numbers.py", "--tables", tables, "--day", day])
        try #require(expected.status == 0, "\(expected.stderr)")
        let e = try Self.json(expected.stdout)
        #expect(e["previous_present"] as? Bool == true)
        let mismatches = Self.compare(expected: e, shown: try #require(seen2["tables"] as? [String: [String: Any]]))
        #expect(mismatches.isEmpty, "\(mismatches.prefix(8))")
        let change = (seen2["tables"] as? [String: [String: Any]])?["daily-matrix"]?["columns"] as? [String] ?? []
        #expect(change.contains("bytes_change") && change.contains("prev_bytes"))
    }

    @Test("the browser driver reports console errors, failed loads and network requests (so their absence means something)",
          .requiresChromium)
    func driverSeesProblems() throws {
        let dir = try makeScratchDirectory("redline-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let page = dir.path + "/broken.html"
        try "<!DOCTYPE html><html lang=\"en\"><head><title>broken</title></head><body><img src=\"missing.png\" alt=\"\"><script>console.error(\"boom\"); undefinedFunction();</script></body></html>"
            .write(toFile: page, atomically: true, encoding: .utf8)
        let seen = try Self.browse(page)
        let p = Self.problems(seen)
        #expect(p.contains { $0.contains("boom") }, "\(p)")
        #expect(p.contains { $0.contains("undefinedFunction") }, "\(p)")
        #expect((seen["requests"] as? [String] ?? []).contains { $0.hasSuffix("missing.png") })
    }

    static func dayBefore(_ ymd: String) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd"
        return f.string(from: f.date(from: ymd)!.addingTimeInterval(-86_400))
    }

    /// Differences between the checker's rows and the page's, table by table: rows matched by
    /// key columns, integers and strings exactly, doubles to 1e-9 relative.
    static func compare(expected: [String: Any], shown: [String: [String: Any]]) -> [String] {
        var out: [String] = []
        let tables = expected["tables"] as? [String: [String: Any]] ?? [:]
        for (name, spec) in tables.sorted(by: { $0.key < $1.key }) {
            guard let table = shown[name], let cols = table["columns"] as? [String], let rs = table["rows"] as? [[String]] else {
                out.append("\(name): not on the page")
                continue
            }
            let keys = spec["key"] as? [String] ?? []
            let want = spec["rows"] as? [[String: Any]] ?? []
            let got = rs.map { Dictionary(uniqueKeysWithValues: zip(cols, $0)) }
            if want.count != got.count { out.append("\(name): \(got.count) rows shown, \(want.count) expected") }
            for w in want {
                let k = keys.map { "\(w[$0] ?? "")" }
                guard let g = got.first(where: { row in keys.map { row[$0] ?? "" } == k }) else {
                    out.append("\(name): no row \(k)")
                    continue
                }
                for (col, value) in w where !keys.contains(col) {
                    let s = g[col]
                    if value is NSNull {
                        if s != "" { out.append("\(name) \(k) \(col): shown \(s ?? "nil"), expected none") }
                    } else if let n = value as? NSNumber, ["d", "f"].contains(String(cString: n.objCType)) {
                        let x = Double(s ?? "") ?? .nan, y = n.doubleValue
                        if !(abs(x - y) <= 1e-9 * max(abs(y), 1e-300)) { out.append("\(name) \(k) \(col): shown \(s ?? "nil"), expected \(y)") }
                    } else if "\(value)" != s {
                        out.append("\(name) \(k) \(col): shown \(s ?? "nil"), expected \(value)")
                    }
                }
            }
        }
        return out
    }
}
