import Foundation
import Segments
import RedlineBase

/// Text escaped for HTML element content and double-quoted attribute values.
func esc(_ s: String) -> String {
    var out = ""
    out.reserveCapacity(s.utf8.count)
    for ch in s.unicodeScalars {
        switch ch {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default:
            // Control characters other than tab/newline cannot appear in HTML text; show them as U+FFFD.
            if ch.value < 0x20 && ch != "\t" && ch != "\n" || (0x7F...0x9F).contains(ch.value) { out += "\u{FFFD}" } else { out.unicodeScalars.append(ch) }
        }
    }
    return out
}

/// Deterministic, locale-free number formatting for what a person reads (the exact value
/// always travels beside it in a `data-value` attribute).
enum Fmt {
    static func int(_ v: Int64) -> String {
        let s = String(v.magnitude)
        var out = ""
        for (i, c) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out += "\u{202F}" }
            out.append(c)
        }
        return v < 0 ? "−" + out : out
    }

    static func fixed(_ v: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", v) }

    static func bytes(_ v: Int64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB", "PB"]
        var x = Double(v.magnitude), u = 0
        while x >= 1000 && u < units.count - 1 { x /= 1000; u += 1 }
        let s = u == 0 ? String(v.magnitude) : fixed(x, x < 10 ? 2 : x < 100 ? 1 : 0)
        return (v < 0 ? "−" : "") + s + " " + units[u]
    }

    static func percent(_ ratio: Double) -> String {
        let p = ratio * 100
        if p == 0 { return "0 %" }
        if p < 0.01 { return "<0.01 %" }
        // Never round a share below 100 % up to "100": 99.97 % of events is not all of them.
        var digits = p < 10 ? 2 : 1
        while p < 100 && digits < 4 && fixed(p, digits).hasPrefix("100") { digits += 1 }
        let s = fixed(p, digits)
        return (p < 100 && s.hasPrefix("100") ? ">99.99" : s) + " %"
    }

    /// A signed change in percent, or "new" when there was nothing before.
    static func change(_ now: Int64, _ before: Int64) -> String {
        if before == 0 { return now == 0 ? "±0 %" : "new" }
        let p = (Double(now) - Double(before)) / Double(before) * 100
        return (p > 0 ? "+" : p < 0 ? "−" : "±") + fixed(abs(p), 1) + " %"
    }

    static func duration(_ ns: Double?) -> String {
        guard let ns else { return "–" }
        if ns >= 1e9 { return fixed(ns / 1e9, 2) + " s" }
        if ns >= 1e6 { return fixed(ns / 1e6, ns >= 1e8 ? 0 : 1) + " ms" }
        if ns >= 1e3 { return fixed(ns / 1e3, ns >= 1e5 ? 0 : 1) + " µs" }
        return fixed(ns, 0) + " ns"
    }

    /// `2026-11-24 19:40` (UTC, minutes).
    static func time(_ ns: Int64) -> String {
        let iso = utcISO8601(ns: ns)
        return String(iso.prefix(10)) + " " + String(iso.dropFirst(11).prefix(5))
    }

    /// An exact machine value for `data-value`: integers as digits, doubles in Swift's
    /// shortest round-trip form, absent values empty.
    static func raw(_ v: Double?) -> String { v.map { "\($0)" } ?? "" }

    /// A coordinate with one decimal at most, so SVG stays small.
    static func c(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return r == r.rounded() ? String(Int(r)) : String(r)
    }
}

/// A data table: the numbers behind a chart, readable and copyable. Every table carries
/// `data-table="<name>"`, every header `data-col="<key>"`, and every numeric cell its exact
/// value in `data-value` (a text cell's value is its text), so tests and scripts read numbers
/// without parsing the formatted text.
struct DataTable {
    struct Column {
        var key: String
        var title: String
        var numeric: Bool
    }

    enum Cell {
        case text(String)
        case int(Int64, String)
        case real(Double?, String)
    }

    let name: String
    let caption: String
    var columns: [Column]
    var rows: [[Cell]] = []

    init(_ name: String, caption: String, _ columns: [(String, String, Bool)]) {
        self.name = name
        self.caption = caption
        self.columns = columns.map { Column(key: $0.0, title: $0.1, numeric: $0.2) }
    }

    mutating func add(_ cells: [Cell]) { rows.append(cells) }

    /// The table in a disclosure element, open when it is short enough to read at a glance.
    func html(openUpTo: Int = 12) -> String {
        var h = "<details class=\"data\"\(rows.count <= openUpTo ? " open" : "")><summary>Numbers: \(esc(caption)) (\(rows.count) row\(rows.count == 1 ? "" : "s"))</summary>\n"
        h += "<div class=\"scroll\"><table id=\"t-\(name)\" data-table=\"\(name)\"><caption class=\"vh\">\(esc(caption))</caption>\n<thead><tr>"
        for c in columns { h += "<th scope=\"col\" data-col=\"\(c.key)\"\(c.numeric ? " class=\"n\"" : "")>\(esc(c.title))</th>" }
        h += "</tr></thead>\n<tbody>\n"
        for r in rows {
            h += "<tr>"
            for cell in r {
                // Text cells are their own value; numbers carry the exact one (and align right by it).
                switch cell {
                case .text(let s): h += "<td>\(esc(s))</td>"
                case let .int(v, shown): h += "<td data-value=\"\(v)\">\(esc(shown))</td>"
                case let .real(v, shown): h += "<td data-value=\"\(Fmt.raw(v))\">\(esc(shown))</td>"
                }
            }
            h += "</tr>\n"
        }
        return h + "</tbody></table></div></details>\n"
    }
}
