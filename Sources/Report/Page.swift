import Foundation

/// The page's stylesheet: light by default, dark under `prefers-color-scheme: dark`, A4 in print.
/// System font stacks only (no web fonts), so the page needs nothing from the network.
let stylesheet = """
:root{--bg:#fff;--fg:#1b1f24;--muted:#5b6470;--line:#d5dae0;--panel:#f5f7f9;--heat:#1f5fbf;--ok:#2f8f46;--warn:#c98a00;--bad:#c8322b;
--dc0:#0072b2;--dc1:#e69f00;--dc2:#009e73;--dc3:#cc79a7;--dc4:#56b4e9;--dc5:#d55e00;--dc6:#b5a300;--dc7:#7a5195;--dcu:#8c8c8c;--req:#4a6fa5;--p50:#2f8f46;--p99:#c8322b;color-scheme:light dark}
@media (prefers-color-scheme:dark){:root{--bg:#14171b;--fg:#e3e7eb;--muted:#9aa4ae;--line:#343b43;--panel:#1d2126;--heat:#5b9cff;--ok:#53c16f;--warn:#e0b43c;--bad:#ff6b5e;
--dc0:#4aa8e8;--dc1:#f0b43c;--dc2:#2ec99b;--dc3:#e59ac6;--dc4:#8fd0f5;--dc5:#ff8a4c;--dc6:#e3d34a;--dc7:#b48ad6;--dcu:#9a9a9a;--req:#7fa2d6;--p50:#53c16f;--p99:#ff6b5e}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI","DejaVu Sans",sans-serif}
main{max-width:1180px;margin:0 auto;padding:20px 24px 48px}
h1{font-size:22px;margin:0 0 2px}h2{font-size:18px;margin:0 0 8px;padding-top:6px;border-top:2px solid var(--line)}h3{font-size:14px;margin:0 0 4px}
p{margin:4px 0 10px}.muted,.note{color:var(--muted)}.note{font-size:13px}
section{margin:22px 0 8px}
nav ol{display:flex;flex-wrap:wrap;gap:4px 16px;list-style:none;padding:0;margin:8px 0 0;font-size:13px}
a{color:var(--heat)}
.kpis{display:grid;grid-template-columns:repeat(auto-fill,minmax(150px,1fr));gap:8px;margin:14px 0}
.kpi{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:8px 10px}
.kpi b{display:block;font-size:19px}.kpi span{color:var(--muted);font-size:12px}
figure{margin:8px 0 10px;break-inside:avoid}figcaption{color:var(--muted);font-size:12px;margin-top:2px}
.row{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(310px,1fr));gap:10px 14px}
.card{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:8px 10px;break-inside:avoid}
.card h3 small{font-weight:normal;color:var(--muted)}
svg.chart{max-width:100%;height:auto;display:block;overflow:visible}
svg text{fill:var(--fg);font-size:11px}svg .tick,svg .axis{fill:var(--muted);font-size:10px}svg .b{font-weight:bold}
svg .val{font-size:11px}svg .inv{fill:#fff}svg .lanelbl{font-weight:bold;font-size:12px}svg .nodelbl{font-size:11px}
.heat{fill:var(--heat)}.heat.cross{stroke:var(--warn);stroke-width:1.5}
.axisline{stroke:var(--muted);stroke-width:1}line.grid{stroke:var(--line);stroke-dasharray:2 3}
.dc0{fill:var(--dc0)}.dc1{fill:var(--dc1)}.dc2{fill:var(--dc2)}.dc3{fill:var(--dc3)}.dc4{fill:var(--dc4)}.dc5{fill:var(--dc5)}.dc6{fill:var(--dc6)}.dc7{fill:var(--dc7)}.dcu{fill:var(--dcu)}
.lane{fill-opacity:.08;stroke:var(--line)}.node{stroke:var(--bg);stroke-width:2}
.edge{fill:none;stroke-opacity:.6}.edge.ewarn,.edge.ebad{stroke-opacity:.9}.eok{stroke:var(--ok)}.ewarn{stroke:var(--warn)}.ebad{stroke:var(--bad)}
.lok{fill:var(--ok)}.lwarn{fill:var(--warn)}.lbad{fill:var(--bad)}
.req{fill:var(--req)}.err{fill:var(--bad)}.drop{fill:var(--warn)}.retx{fill:var(--req)}.pair{fill:var(--heat)}
.band{fill:var(--p99);fill-opacity:.22}.p99{stroke:var(--p99);stroke-width:2}.p50{stroke:var(--p50);stroke-width:2}
.legend{display:flex;flex-wrap:wrap;gap:4px 14px;font-size:12px;color:var(--muted);margin:4px 0}
.sw{display:inline-block;width:11px;height:11px;border-radius:2px;vertical-align:-1px;margin-right:4px}
.sw.dc0{background:var(--dc0)}.sw.dc1{background:var(--dc1)}.sw.dc2{background:var(--dc2)}.sw.dc3{background:var(--dc3)}.sw.dc4{background:var(--dc4)}.sw.dc5{background:var(--dc5)}.sw.dc6{background:var(--dc6)}.sw.dc7{background:var(--dc7)}.sw.dcu{background:var(--dcu)}
.sw.eok,.sw.lok{background:var(--ok)}.sw.ewarn,.sw.lwarn{background:var(--warn)}.sw.ebad,.sw.lbad{background:var(--bad)}.sw.p50{background:var(--p50)}.sw.req{background:var(--req)}.sw.p99{background:var(--p99)}.sw.band{background:var(--p99);opacity:.3}
details.data{margin:4px 0 12px}details.data summary{cursor:pointer;color:var(--muted);font-size:12px}
.scroll{overflow-x:auto;max-height:420px;overflow-y:auto}
table{border-collapse:collapse;font-size:12px;margin:4px 0}.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
th,td{padding:2px 8px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}th{position:sticky;top:0;background:var(--bg)}
td[data-value],th.n{text-align:right;font-variant-numeric:tabular-nums}
.none{padding:8px 10px;background:var(--panel);border:1px dashed var(--line);border-radius:6px}
.warnbox{border-left:4px solid var(--warn);padding:4px 10px;background:var(--panel)}
@page{size:A4;margin:12mm}
@media print{body{font-size:10pt;background:#fff;color:#000}main{max-width:none;padding:0}nav{display:none}section{break-inside:auto}
h2{break-after:avoid}.card,figure{break-inside:avoid}.scroll{max-height:none;overflow:visible}svg.chart{max-width:100%}
table{font-size:7.5pt;max-width:100%}th,td{white-space:normal;padding:1px 4px}th{position:static}.cards{grid-template-columns:repeat(2,1fr)}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}
"""

/// Builds the HTML of one report from `ReportData`.
struct Page {
    let data: ReportData
    /// Datacenters in colour order (every DC any section names).
    let dcs: [String]

    init(_ data: ReportData) {
        self.data = data
        var all = Set<String>()
        for m in [data.matrix, data.daily?.matrix, data.daily?.previous].compactMap({ $0 }) { all.formUnion(m.dcs) }
        all.formUnion(data.nodes.map(\.dc))
        for s in data.shares { for slot in s.calls { all.formUnion(slot.keys) } }
        dcs = all.sorted(by: dcOrder)
    }

    static let sections: [(id: String, title: String)] = [
        ("dc-matrix", "Datacenter traffic matrix"), ("top-pairs", "Top cross-datacenter service pairs"),
        ("dr-drill", "DR drill: each datacenter's share of every service"), ("topology", "Service topology"),
        ("red", "Per-service RED"), ("tcp-health", "TCP health"), ("drops", "Drops by reason"),
        ("anomalies", "Anomaly candidates"), ("completeness", "Data completeness"),
    ]

    func html() -> String {
        var h = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
        h += "<meta name=\"color-scheme\" content=\"light dark\">\n"
        h += "<meta name=\"generator\" content=\"redline report\">\n"
        h += "<title>Redline traffic report — \(esc(data.selection.label))</title>\n<style>\n\(stylesheet)</style>\n</head>\n<body>\n<main>\n"
        h += "<header><h1>Traffic-governance report</h1><p class=\"muted\" data-selection=\"\(esc(data.selection.label))\">"
        h += "\(esc(data.selection.label)) · \(esc(Fmt.time(data.selection.startNanos))) to \(esc(Fmt.time(data.selection.endNanos))) UTC · "
        h += "<span data-metric=\"slot-seconds\" data-value=\"\(data.slots.stepNanos / 1_000_000_000)\">charts in \(data.slots.count) slots of \(esc(stepLabel))</span></p>\n"
        h += "<nav aria-label=\"Sections\"><ol>" + Self.sections.map { "<li><a href=\"#\($0.id)\">\(esc($0.title))</a></li>" }.joined() + "</ol></nav></header>\n"
        h += kpis()
        h += section("dc-matrix", matrixSection())
        h += section("top-pairs", topPairsSection())
        h += section("dr-drill", drillSection())
        h += section("topology", topologySection())
        h += section("red", redSection())
        h += section("tcp-health", healthSection())
        h += section("drops", dropsSection())
        h += section("anomalies", anomaliesSection())
        h += section("completeness", completenessSection())
        h += "<footer class=\"note\">Made by <code>redline report</code> from the Parquet tables (schemas/tables/); what each section shows: docs/report.md.</footer>\n"
        return h + "</main>\n</body>\n</html>\n"
    }

    var stepLabel: String {
        let s = data.slots.stepNanos / 1_000_000_000
        if s % 86_400 == 0 { return "\(s / 86_400) d" }
        if s % 3600 == 0 { return "\(s / 3600) h" }
        return "\(s / 60) min"
    }

    func section(_ id: String, _ body: String) -> String {
        let title = Self.sections.first { $0.id == id }!.title
        return "<section id=\"\(id)\" data-section=\"\(id)\" aria-labelledby=\"h-\(id)\">\n<h2 id=\"h-\(id)\">\(esc(title))</h2>\n\(body)</section>\n"
    }

    func figure(_ svg: String, _ caption: String) -> String { "<figure>\(svg)<figcaption>\(esc(caption))</figcaption></figure>\n" }

    func none(_ what: String) -> String { "<p class=\"none\" data-empty=\"true\">\(esc(what))</p>\n" }

    func legendDCs(_ list: [String]) -> String {
        "<div class=\"legend\">" + list.map { "<span><i class=\"sw \(Charts.dcClass($0, dcs))\"></i>\(esc($0))</span>" }.joined() + "</div>\n"
    }

    func kpis() -> String {
        let m = data.daily?.matrix ?? data.matrix
        let req = data.services.reduce(Int64(0)) { $0 + $1.total.requests }
        let err = data.services.reduce(Int64(0)) { $0 + $1.total.errors }
        let minC = data.tables.map(\.minCompleteness).min() ?? 1
        var items: [(String, String, String, String)] = [
            ("datacenters", "\(dcs.count)", "\(dcs.count)", "datacenters"),
            ("services", "\(data.services.count)", "\(data.services.count)", "services with calls"),
            ("requests", "\(req)", Fmt.int(req), "requests served"),
            ("errors", "\(err)", Fmt.int(err), "server errors (" + Fmt.percent(req == 0 ? 0 : Double(err) / Double(req)) + ")"),
        ]
        if let m {
            let share = m.total.bytes == 0 ? 0 : Double(m.crossDC.bytes) / Double(m.total.bytes)
            items.append(("cross-dc-bytes-share", Fmt.raw(share), Fmt.percent(share), "of bytes cross datacenters"))
        }
        items.append(("min-completeness", Fmt.raw(minC), Fmt.percent(minC), "lowest row completeness"))
        return "<div class=\"kpis\">" + items.map { "<div class=\"kpi\" data-kpi=\"\($0.0)\" data-value=\"\(esc($0.1))\"><b>\(esc($0.2))</b><span>\(esc($0.3))</span></div>" }.joined() + "</div>\n"
    }

    // MARK: sections

    func matrixTables(_ name: String, _ m: DCMatrix, previous: DCMatrix?) -> String {
        var cols: [(String, String, Bool)] = [("src_dc", "from", false), ("dst_dc", "to", false), ("bytes", "bytes", true), ("calls", "calls", true)]
        if previous != nil { cols += [("prev_bytes", "bytes day before", true), ("bytes_change", "change", true), ("prev_calls", "calls day before", true), ("calls_change", "change", true)] }
        var t = DataTable(name, caption: "bytes and calls from each datacenter to each datacenter", cols)
        for s in m.dcs { for d in m.dcs {
            let c = m.cell(s, d)
            var row: [DataTable.Cell] = [.text(s), .text(d), .int(c.bytes, Fmt.bytes(c.bytes)), .int(c.calls, Fmt.int(c.calls))]
            if let p = previous {
                let o = p.cell(s, d)
                row += [.int(o.bytes, Fmt.bytes(o.bytes)), .text(Fmt.change(c.bytes, o.bytes)), .int(o.calls, Fmt.int(o.calls)), .text(Fmt.change(c.calls, o.calls))]
            }
            t.add(row)
        }}
        var tot = DataTable("\(name)-totals", caption: "per datacenter: sent and received", [("dc", "datacenter", false), ("sent_bytes", "bytes sent", true),
            ("received_bytes", "bytes received", true), ("sent_calls", "calls sent", true), ("received_calls", "calls received", true)])
        for d in m.dcs {
            let s = m.sent(d), r = m.received(d)
            tot.add([.text(d), .int(s.bytes, Fmt.bytes(s.bytes)), .int(r.bytes, Fmt.bytes(r.bytes)), .int(s.calls, Fmt.int(s.calls)), .int(r.calls, Fmt.int(r.calls))])
        }
        let total = m.total, cross = m.crossDC
        let bShare = total.bytes == 0 ? 0 : Double(cross.bytes) / Double(total.bytes)
        let cShare = total.calls == 0 ? 0 : Double(cross.calls) / Double(total.calls)
        var share = DataTable("\(name)-cross", caption: "cross-datacenter share", [("measure", "measure", false), ("total", "total", true), ("cross_dc", "cross-datacenter", true), ("share", "share", true)])
        share.add([.text("bytes"), .int(total.bytes, Fmt.bytes(total.bytes)), .int(cross.bytes, Fmt.bytes(cross.bytes)), .real(bShare, Fmt.percent(bShare))])
        share.add([.text("calls"), .int(total.calls, Fmt.int(total.calls)), .int(cross.calls, Fmt.int(cross.calls)), .real(cShare, Fmt.percent(cShare))])
        var h = "<p><strong data-metric=\"\(name)-cross-bytes-share\" data-value=\"\(Fmt.raw(bShare))\">\(esc(Fmt.percent(bShare)))</strong> of bytes and "
        h += "<strong data-metric=\"\(name)-cross-calls-share\" data-value=\"\(Fmt.raw(cShare))\">\(esc(Fmt.percent(cShare)))</strong> of calls crossed datacenters "
        h += esc("(\(Fmt.bytes(cross.bytes)) of \(Fmt.bytes(total.bytes)); \(Fmt.int(cross.calls)) of \(Fmt.int(total.calls)) calls).") + " Cross-datacenter cells are outlined.</p>\n"
        h += "<div class=\"row\">"
        h += figure(Charts.heatmap("\(name)-bytes", dcs: m.dcs, label: "Bytes from each datacenter to each datacenter", value: { m.cell($0, $1).bytes }, format: Fmt.bytes), "Bytes (L3, IP headers included)")
        h += figure(Charts.heatmap("\(name)-calls", dcs: m.dcs, label: "Calls from each datacenter to each datacenter", value: { m.cell($0, $1).calls }, format: Fmt.int), "Calls (caller's datacenter → callee's)")
        h += "</div>\n"
        return h + t.html() + tot.html() + share.html()
    }

    func matrixSection() -> String {
        var h = "<p class=\"note\">From <code>traffic_matrix</code>: the sender's host's count where it was observed, else the receiver's (never both).</p>\n"
        if let d = data.daily {
            h = "<p class=\"note\">The day's matrix from <code>traffic_matrix_daily</code> (\(esc(d.day))), compared with the day before (\(esc(d.previousDay))).</p>\n"
            if d.previous == nil {
                h += "<p class=\"warnbox\" data-previous=\"absent\">The previous day \(esc(d.previousDay)) has no <code>traffic_matrix_daily</code>: no change is shown.</p>\n"
            } else {
                let now = d.matrix.total, before = d.previous!.total
                h += "<p data-previous=\"present\">Against \(esc(d.previousDay)): bytes \(esc(Fmt.change(now.bytes, before.bytes))), calls \(esc(Fmt.change(now.calls, before.calls))); cross-datacenter bytes \(esc(Fmt.change(d.matrix.crossDC.bytes, d.previous!.crossDC.bytes))).</p>\n"
            }
            return h + matrixTables("daily-matrix", d.matrix, previous: d.previous)
        }
        guard let m = data.matrix else { return none("No traffic_matrix table in the selection.") }
        return h + matrixTables("dc-matrix", m, previous: nil)
    }

    func topPairsSection() -> String {
        guard !data.topPairs.isEmpty else { return none("No traffic crossed datacenters in the selection.") }
        // The pairs come from the matrix the first section shows: the day's in a daily report.
        let crossBytes = (data.daily?.matrix ?? data.matrix)?.crossDC.bytes ?? 0
        var t = DataTable("top-pairs", caption: "largest cross-datacenter service pairs by bytes", [("src_dc", "from DC", false), ("src_service", "from service", false),
            ("dst_dc", "to DC", false), ("dst_service", "to service", false), ("bytes", "bytes", true), ("calls", "calls", true), ("share", "share of cross-DC bytes", true)])
        for p in data.topPairs {
            let share = crossBytes == 0 ? 0 : Double(p.traffic.bytes) / Double(crossBytes)
            t.add([.text(p.srcDC), .text(p.srcService), .text(p.dstDC), .text(p.dstService), .int(p.traffic.bytes, Fmt.bytes(p.traffic.bytes)),
                   .int(p.traffic.calls, Fmt.int(p.traffic.calls)), .real(share, Fmt.percent(share))])
        }
        let bars = Charts.bars("top-pairs", label: "Bytes of the largest cross-datacenter service pairs", items: data.topPairs.map {
            (label: "\($0.srcService) (\($0.srcDC)) → \($0.dstService) (\($0.dstDC))", value: $0.traffic.bytes, shown: Fmt.bytes($0.traffic.bytes), cls: "pair")
        })
        return figure(bars, "Top \(data.topPairs.count) cross-datacenter pairs by bytes") + t.html()
    }

    func drillSection() -> String {
        guard !data.shares.isEmpty else { return none("No calls in the selection's traffic_matrix.") }
        var h = "<p class=\"note\">Calls each service served, split by the datacenter that served them, per \(esc(stepLabel)) slot (100 % = the service's calls in the slot). A drill shows as colours trading places.</p>\n"
        h += legendDCs(dcs.filter { dc in data.shares.contains { $0.calls.contains { $0[dc] != nil } } })
        var t = DataTable("dr-shares", caption: "calls served per service, slot and datacenter", [("service", "service", false), ("slot_start", "slot (UTC)", false),
            ("dc", "datacenter", false), ("calls", "calls", true), ("share", "share", true)])
        h += "<div class=\"cards\">"
        for s in data.shares {
            h += "<div class=\"card\" data-service=\"\(esc(s.service))\"><h3>\(esc(s.service)) <small>\(esc(Fmt.int(s.total))) calls</small></h3>"
            h += Charts.shares("dr-\(s.service)", label: "Share of \(s.service)'s calls by datacenter over time", slots: data.slots, dcs: dcs, series: s.calls)
            h += "</div>"
            for (i, slot) in s.calls.enumerated() {
                let total = slot.values.reduce(0, +)
                for dc in dcs { if let v = slot[dc] {
                    let share = Double(v) / Double(total)
                    t.add([.text(s.service), .text(Fmt.time(data.slots.slotStart(i))), .text(dc), .int(v, Fmt.int(v)), .real(share, Fmt.percent(share))])
                }}
            }
        }
        return h + "</div>\n" + t.html()
    }

    func topologySection() -> String {
        guard !data.edges.isEmpty else { return none("No red_edge rows in the selection.") }
        var h = "<p class=\"note\">Services (nodes) in their datacenter's lane, callers left of callees; edges from <code>red_edge</code>, width by calls. "
        h += "Line colour: error ratio; arrowhead: p99 (hover an edge for its numbers).</p>\n"
        h += "<div class=\"legend\"><span><i class=\"sw eok\"></i>errors &lt; 0.1 %</span><span><i class=\"sw ewarn\"></i>0.1–1 %</span><span><i class=\"sw ebad\"></i>≥ 1 %</span>"
        h += "<span><i class=\"sw lok\"></i>p99 &lt; 100 ms</span><span><i class=\"sw lwarn\"></i>100 ms–1 s</span><span><i class=\"sw lbad\"></i>≥ 1 s</span></div>\n"
        h += legendDCs(Array(Set(data.nodes.map(\.dc))).sorted(by: dcOrder))
        h += figure(Topology.svg(nodes: data.nodes, edges: data.edges, dcs: dcs), "\(data.nodes.count) services, \(data.edges.count) edges")
        var t = DataTable("edges", caption: "calls per edge (protocols merged)", [("caller", "caller", false), ("caller_dc", "caller DC", false), ("callee", "callee", false),
            ("callee_dc", "callee DC", false), ("observer", "observer", false), ("calls", "calls", true), ("errors", "errors", true), ("error_ratio", "error ratio", true),
            ("p50_ns", "p50", true), ("p99_ns", "p99", true)])
        for e in data.edges {
            let f = e.figures
            t.add([.text(e.caller.service), .text(e.caller.dc), .text(e.callee.service), .text(e.callee.dc), .text(e.observer), .int(f.requests, Fmt.int(f.requests)),
                   .int(f.errors, Fmt.int(f.errors)), .real(f.errorRatio, Fmt.percent(f.errorRatio)), .real(f.p50, Fmt.duration(f.p50)), .real(f.p99, Fmt.duration(f.p99))])
        }
        return h + t.html(openUpTo: 16)
    }

    func redSection() -> String {
        guard !data.services.isEmpty else { return none("No red_service rows in the selection.") }
        let e = data.quantileError
        var h = "<p class=\"note\">Per service (protocols merged), from <code>red_service</code>: the server side where the service's own hosts saw its calls, else its callers' (marked client). "
        h += "Quantiles come from the merged exponential histograms, exact to ±\(esc(Fmt.percent(e))) (the band around p99).</p>\n"
        var sum = DataTable("services", caption: "per service over the selection", [("service", "service", false), ("protocols", "protocols", false), ("observer", "observer", false),
            ("requests", "requests", true), ("errors", "errors", true), ("error_ratio", "error ratio", true), ("p50_ns", "p50", true), ("p99_ns", "p99", true),
            ("quantile_error", "± quantile error", true), ("min_completeness", "min completeness", true)])
        var series = DataTable("red-series", caption: "per service and slot", [("service", "service", false), ("slot_start", "slot (UTC)", false), ("requests", "requests", true),
            ("errors", "errors", true), ("error_ratio", "error ratio", true), ("p50_ns", "p50", true), ("p99_ns", "p99", true)])
        h += "<div class=\"legend\"><span><i class=\"sw req\"></i>requests</span><span><i class=\"sw ebad\"></i>error ratio</span>"
        h += "<span><i class=\"sw p50\"></i>p50</span><span><i class=\"sw p99\"></i>p99</span><span><i class=\"sw band\"></i>p99 ± histogram error</span></div>\n"
        h += "<div class=\"cards\">"
        for s in data.services {
            let t = s.total
            sum.add([.text(s.service), .text(s.protocols.joined(separator: ",")), .text(s.observer), .int(t.requests, Fmt.int(t.requests)), .int(t.errors, Fmt.int(t.errors)),
                     .real(t.errorRatio, Fmt.percent(t.errorRatio)), .real(t.p50, Fmt.duration(t.p50)), .real(t.p99, Fmt.duration(t.p99)),
                     .real(t.latency.relativeError, Fmt.percent(t.latency.relativeError)), .real(t.minCompleteness, Fmt.percent(t.minCompleteness))])
            h += "<div class=\"card\" data-service=\"\(esc(s.service))\"><h3>\(esc(s.service)) <small>\(esc(s.protocols.joined(separator: ", "))) · \(esc(s.observer)) · "
            h += esc("\(Fmt.int(t.requests)) req · \(Fmt.percent(t.errorRatio)) err · p99 \(Fmt.duration(t.p99))") + "</small></h3>"
            h += Charts.columns("red-requests-\(s.service)", label: "Requests of \(s.service) per slot", slots: data.slots,
                                values: s.slots.map { $0.map { Double($0.requests) } }, maxLabel: { Fmt.int(Int64($0)) }, cls: "req")
            h += Charts.columns("red-errors-\(s.service)", label: "Error ratio of \(s.service) per slot", slots: data.slots,
                                values: s.slots.map { $0.map { $0.errorRatio } }, maxLabel: { Fmt.percent($0) }, cls: "err")
            h += Charts.latency("red-latency-\(s.service)", label: "p50 and p99 of \(s.service) per slot", slots: data.slots,
                                p50: s.slots.map { $0?.p50 }, p99: s.slots.map { $0?.p99 }, relErr: t.latency.relativeError)
            h += "</div>"
            for (i, f) in s.slots.enumerated() {
                guard let f else { continue }
                series.add([.text(s.service), .text(Fmt.time(data.slots.slotStart(i))), .int(f.requests, Fmt.int(f.requests)), .int(f.errors, Fmt.int(f.errors)),
                            .real(f.errorRatio, Fmt.percent(f.errorRatio)), .real(f.p50, Fmt.duration(f.p50)), .real(f.p99, Fmt.duration(f.p99))])
            }
        }
        return h + "</div>\n" + sum.html(openUpTo: 30) + series.html()
    }

    func healthSection() -> String {
        guard !data.health.isEmpty else { return none("No tcp_health rows in the selection.") }
        var t = DataTable("tcp-health", caption: "TCP trouble per service and peer", [("service", "service", false), ("peer_service", "peer", false), ("retransmits", "retransmits", true),
            ("resets_sent", "resets sent", true), ("resets_received", "resets received", true), ("drops", "drops", true), ("id_option_missing", "identity option missing", true)])
        for r in data.health {
            t.add([.text(r.service), .text(r.peer), .int(r.retransmits, Fmt.int(r.retransmits)), .int(r.resetsSent, Fmt.int(r.resetsSent)),
                   .int(r.resetsReceived, Fmt.int(r.resetsReceived)), .int(r.drops, Fmt.int(r.drops)), .int(r.idOptionMissing, Fmt.int(r.idOptionMissing))])
        }
        let top = data.health.filter { $0.retransmits > 0 }.sorted { a, b in a.retransmits != b.retransmits ? a.retransmits > b.retransmits : (a.service, a.peer) < (b.service, b.peer) }.prefix(15)
        var h = "<p class=\"note\">From <code>tcp_health</code>: retransmits, resets, kernel drops and connections that arrived without the identity TCP option, per local service and peer.</p>\n"
        h += figure(Charts.bars("tcp-retransmits", label: "Retransmits per service and peer", items: top.map {
            (label: "\($0.service) → \($0.peer)", value: $0.retransmits, shown: Fmt.int($0.retransmits), cls: "retx")
        }), "Retransmits, top \(top.count) service → peer")
        return h + t.html(openUpTo: 16)
    }

    func dropsSection() -> String {
        guard !data.dropReasons.isEmpty else { return none("No drops recorded in the selection.") }
        let total = data.dropReasons.reduce(Int64(0)) { $0 + $1.drops }
        var t = DataTable("drop-reasons", caption: "packets dropped per kernel drop reason", [("reason", "reason", false), ("reason_code", "code", true), ("drops", "drops", true), ("share", "share", true)])
        for r in data.dropReasons {
            let share = total == 0 ? 0 : Double(r.drops) / Double(total)
            t.add([.text(r.reason), .int(Int64(r.code), String(r.code)), .int(r.drops, Fmt.int(r.drops)), .real(share, Fmt.percent(share))])
        }
        let top = data.dropReasons.prefix(10)
        var h = "<p class=\"note\">From <code>tcp_drops</code>: \(esc(Fmt.int(total))) packets dropped by the kernel, by <code>enum skb_drop_reason</code>.</p>\n"
        h += figure(Charts.bars("drop-reasons", label: "Packets dropped per reason", items: top.map { (label: $0.reason, value: $0.drops, shown: Fmt.int($0.drops), cls: "drop") }),
                    "Top \(top.count) drop reasons")
        return h + t.html()
    }

    func anomaliesSection() -> String {
        if let problem = data.anomalyProblem {
            return none("none: anomaly_candidates cannot be shown — \(problem).")
        }
        guard let rows = data.anomalies else {
            return none("none: there is no anomaly_candidates table for the selection.")
        }
        guard !rows.isEmpty else { return none("none: anomaly_candidates has no rows in the selection.") }
        var t = DataTable("anomalies", caption: "anomaly candidates by rank (1 = most likely cause in its hour)", [("rank", "rank", true), ("bucket_start", "bucket (UTC)", false), ("service", "service", false),
            ("metric", "metric", false), ("score", "score", true), ("evidence", "evidence", false)])
        for r in rows.prefix(50) {
            t.add([.int(Int64(r.rank), String(r.rank)), .text(Fmt.time(r.bucketStart)), .text(r.service), .text(r.metric), .real(r.score, Fmt.fixed(r.score, 2)), .text(r.evidence)])
        }
        return "<p class=\"note\">From <code>anomaly_candidates</code>: \(rows.count) candidate\(rows.count == 1 ? "" : "s")\(rows.count > 50 ? ", the first 50 shown" : "").</p>\n" + t.html(openUpTo: 50)
    }

    func completenessSection() -> String {
        var h = "<p class=\"note\">Every row carries <code>completeness</code>: the share of its host-buckets' events not lost (ring buffer full, rate caps, unpaired messages, shed). "
        h += "Manifests list each partition's segments, damaged or still-open files and records that could not be placed in time.</p>\n"
        var t = DataTable("table-completeness", caption: "per table over the selection", [("table", "table", false), ("files", "files", true), ("rows", "rows", true),
            ("min_completeness", "lowest completeness", true), ("rows_incomplete", "rows below 100 %", true), ("max_events_lost", "most events lost in a row", true)])
        for c in data.tables {
            t.add([.text(c.table), .int(Int64(c.files), String(c.files)), .int(Int64(c.rows), Fmt.int(Int64(c.rows))), .real(c.minCompleteness, Fmt.percent(c.minCompleteness)),
                   .int(Int64(c.rowsIncomplete), Fmt.int(Int64(c.rowsIncomplete))), .int(c.maxEventsLost, Fmt.int(c.maxEventsLost))])
        }
        var p = DataTable("partitions", caption: "per hour partition, from its manifests", [("partition", "partition", false), ("manifest", "manifest", false), ("segments", "segments", true),
            ("hosts", "hosts", true), ("damaged_files", "damaged segments", true), ("open_files", "unsealed segments", true), ("uncorrectable", "records not placed in time", true),
            ("warnings", "warnings", true)])
        var warnings: [String] = []
        for s in data.partitions {
            p.add([.text(s.partition), .text(s.hasManifest ? "yes" : "missing"), .int(Int64(s.segments), String(s.segments)), .int(Int64(s.hosts), String(s.hosts)),
                   .int(Int64(s.damagedFiles), String(s.damagedFiles)), .int(Int64(s.openFiles), String(s.openFiles)),
                   .int(Int64(clamping: s.uncorrectable), Fmt.int(Int64(clamping: s.uncorrectable))), .int(Int64(s.warnings.count), String(s.warnings.count))])
            warnings += s.warnings.map { "\(s.partition): \($0)" }
        }
        let missing = data.partitions.filter { !$0.hasManifest }.count
        let damaged = data.partitions.reduce(0) { $0 + $1.damagedFiles }
        h += "<p data-metric=\"missing-partitions\" data-value=\"\(missing)\">\(missing == 0 ? "Every hour of the selection has a manifest" : "\(missing) of \(data.partitions.count) hours have no manifest (not run yet, or no data)"); "
        h += "<span data-metric=\"damaged-segments\" data-value=\"\(damaged)\">\(damaged) damaged segment\(damaged == 1 ? "" : "s")</span>.</p>\n"
        h += t.html() + p.html(openUpTo: 24)
        if !warnings.isEmpty {
            h += "<details class=\"data\"><summary>Manifest warnings (\(warnings.count))</summary><ul>" + warnings.prefix(200).map { "<li>\(esc($0))</li>" }.joined() + "</ul></details>\n"
        }
        return h
    }
}
