import Foundation

/// Inline SVG charts. Colours come from CSS classes (page stylesheet), so light and dark
/// mode and print restyle them without touching the markup; coordinates are rounded to a
/// tenth of a pixel and every loop runs in a fixed order, so the same data gives the same bytes.
enum Charts {
    /// `<svg>` opening tag with a viewBox, an accessible name and a `data-chart` id.
    static func open(_ chart: String, width: Double, height: Double, label: String) -> String {
        "<svg class=\"chart\" data-chart=\"\(esc(chart))\" viewBox=\"0 0 \(Fmt.c(width)) \(Fmt.c(height))\" width=\"\(Fmt.c(width))\" "
            + "height=\"\(Fmt.c(height))\" role=\"img\" aria-label=\"\(esc(label))\">"
    }

    static func text(_ x: Double, _ y: Double, _ s: String, cls: String = "", anchor: String = "start") -> String {
        "<text x=\"\(Fmt.c(x))\" y=\"\(Fmt.c(y))\"\(anchor == "start" ? "" : " text-anchor=\"\(anchor)\"")\(cls.isEmpty ? "" : " class=\"\(cls)\"")>\(esc(s))</text>"
    }

    /// A label shortened to `max` characters with an ellipsis.
    static func short(_ s: String, _ max: Int) -> String { s.count <= max ? s : String(s.prefix(max - 1)) + "…" }

    /// A datacenter's colour class: one of eight, by position in the sorted DC list; `unknown` is grey.
    static func dcClass(_ dc: String, _ dcs: [String]) -> String {
        if dc == "unknown" { return "dcu" }
        return "dc\((dcs.filter { $0 != "unknown" }.firstIndex(of: dc) ?? 0) % 8)"
    }

    /// Heatmap of `value(src, dst)` over `dcs` × `dcs`, with row/column totals.
    static func heatmap(_ chart: String, dcs: [String], label: String, value: (String, String) -> Int64,
                        format: (Int64) -> String) -> String {
        let cell = 96.0, head = 86.0, top = 40.0, n = Double(dcs.count)
        let w = head + cell * (n + 1) + 8, h = top + 40 * (n + 1) + 8
        let rowH = 40.0
        let maxV = dcs.flatMap { s in dcs.map { value(s, $0) } }.max() ?? 0
        var s = open(chart, width: w, height: h, label: label)
        s += text(head - 8, top - 26, "from ↓  to →", cls: "axis", anchor: "end")
        for (j, d) in dcs.enumerated() {
            s += text(head + cell * (Double(j) + 0.5), top - 10, short(d, 12), cls: "lbl", anchor: "middle")
        }
        s += text(head + cell * (n + 0.5), top - 10, "total", cls: "lbl b", anchor: "middle")
        for (i, src) in dcs.enumerated() {
            let y = top + rowH * Double(i)
            s += text(head - 8, y + rowH / 2 + 4, short(src, 12), cls: "lbl", anchor: "end")
            var rowTotal: Int64 = 0
            for (j, dst) in dcs.enumerated() {
                let v = value(src, dst)
                rowTotal += v
                let f = maxV == 0 ? 0 : (Double(v) / Double(maxV)).squareRoot()
                let x = head + cell * Double(j)
                s += "<rect class=\"heat\(src == dst ? "" : " cross")\" x=\"\(Fmt.c(x + 1))\" y=\"\(Fmt.c(y + 1))\" width=\"\(Fmt.c(cell - 2))\" height=\"\(Fmt.c(rowH - 2))\" fill-opacity=\"\(Fmt.c(0.06 + 0.94 * f))\"><title>\(esc("\(src) → \(dst): \(format(v))"))</title></rect>"
                s += text(x + cell / 2, y + rowH / 2 + 4, format(v), cls: f > 0.6 ? "val inv" : "val", anchor: "middle")
            }
            s += text(head + cell * (n + 0.5), y + rowH / 2 + 4, format(rowTotal), cls: "val b", anchor: "middle")
        }
        let y = top + rowH * n
        s += text(head - 8, y + rowH / 2 + 4, "total", cls: "lbl b", anchor: "end")
        var all: Int64 = 0
        for (j, dst) in dcs.enumerated() {
            let colTotal = dcs.reduce(Int64(0)) { $0 + value($1, dst) }
            all += colTotal
            s += text(head + cell * (Double(j) + 0.5), y + rowH / 2 + 4, format(colTotal), cls: "val b", anchor: "middle")
        }
        s += text(head + cell * (n + 0.5), y + rowH / 2 + 4, format(all), cls: "val b", anchor: "middle")
        return s + "</svg>"
    }

    /// Horizontal bars, one per item, longest first as given.
    static func bars(_ chart: String, label: String, items: [(label: String, value: Int64, shown: String, cls: String)]) -> String {
        let rowH = 20.0, labelW = 260.0, barW = 420.0, valueW = 110.0
        let w = labelW + barW + valueW, h = rowH * Double(max(items.count, 1)) + 6
        let maxV = items.map(\.value).max() ?? 0
        var s = open(chart, width: w, height: h, label: label)
        if items.isEmpty { s += text(4, 14, "none", cls: "axis") }
        for (i, it) in items.enumerated() {
            let y = 3 + rowH * Double(i)
            let len = maxV == 0 ? 0 : barW * Double(it.value) / Double(maxV)
            s += text(labelW - 8, y + 14, short(it.label, 40), cls: "lbl", anchor: "end")
            s += "<rect class=\"\(it.cls)\" x=\"\(Fmt.c(labelW))\" y=\"\(Fmt.c(y + 3))\" width=\"\(Fmt.c(max(len, 1)))\" height=\"\(Fmt.c(rowH - 6))\"><title>\(esc(it.label + ": " + it.shown))</title></rect>"
            s += text(labelW + len + 6, y + 14, it.shown, cls: "val")
        }
        return s + "</svg>"
    }

    /// The small frame shared by the per-slot charts: width, height, plot origin.
    struct Frame {
        static let w = 300.0, h = 84.0, left = 44.0, right = 6.0, top = 6.0, bottom = 16.0
        static var plotW: Double { w - left - right }
        static var plotH: Double { h - top - bottom }
    }

    /// Axes of a small per-slot chart: a baseline, the maximum's label and the time range.
    static func frame(_ slots: Slots, maxLabel: String) -> String {
        let F = Frame.self
        var s = "<line class=\"axisline\" x1=\"\(F.left)\" y1=\"\(F.top + F.plotH)\" x2=\"\(F.left + F.plotW)\" y2=\"\(F.top + F.plotH)\"/>"
        s += "<line class=\"grid\" x1=\"\(F.left)\" y1=\"\(F.top)\" x2=\"\(F.left + F.plotW)\" y2=\"\(F.top)\"/>"
        s += text(F.left - 4, F.top + 8, maxLabel, cls: "tick", anchor: "end")
        s += text(F.left - 4, F.top + F.plotH, "0", cls: "tick", anchor: "end")
        // Clock times within a day, dates (MM-DD) beyond.
        let multiDay = slots.stepNanos * Int64(slots.count) > 86_400_000_000_000
        func label(_ t: Int64) -> String { multiDay ? String(Fmt.time(t).dropFirst(5).prefix(5)) : String(Fmt.time(t).suffix(5)) }
        s += text(F.left, F.h - 3, label(slots.start), cls: "tick")
        s += text(F.left + F.plotW, F.h - 3, label(slots.slotStart(slots.count)), cls: "tick", anchor: "end")
        return s
    }

    /// A rectangle as a path fragment (one `<path>` per series keeps large charts small).
    static func box(_ x: Double, _ y: Double, _ w: Double, _ h: Double) -> String {
        "M\(Fmt.c(x)) \(Fmt.c(y))h\(Fmt.c(w))v\(Fmt.c(h))h-\(Fmt.c(w))z"
    }

    /// One column per slot (nil slots are gaps).
    static func columns(_ chart: String, label: String, slots: Slots, values: [Double?], maxLabel: (Double) -> String,
                        cls: String) -> String {
        let F = Frame.self
        var s = open(chart, width: F.w, height: F.h, label: label)
        let maxV = values.compactMap { $0 }.max() ?? 0
        s += frame(slots, maxLabel: maxLabel(maxV))
        let slotW = F.plotW / Double(slots.count)
        var d = ""
        for (i, v) in values.enumerated() {
            guard let v, v > 0, maxV > 0 else { continue }
            let hgt = F.plotH * v / maxV
            d += box(F.left + slotW * Double(i) + slotW * 0.1, F.top + F.plotH - hgt, max(slotW * 0.8, 3), hgt)
        }
        if !d.isEmpty { s += "<path class=\"\(cls)\" d=\"\(d)\"/>" }
        return s + "</svg>"
    }

    /// 100 % stacked columns: each slot's calls split by datacenter.
    static func shares(_ chart: String, label: String, slots: Slots, dcs: [String], series: [[String: Int64]]) -> String {
        let F = Frame.self
        var s = open(chart, width: F.w, height: F.h, label: label)
        s += frame(slots, maxLabel: "100 %")
        let slotW = F.plotW / Double(slots.count)
        var paths = [String](repeating: "", count: dcs.count)
        for (i, slot) in series.enumerated() {
            let total = slot.values.reduce(0, +)
            guard total > 0 else { continue }
            var y = F.top + F.plotH
            for (k, dc) in dcs.enumerated() {
                guard let v = slot[dc], v > 0 else { continue }
                let hgt = F.plotH * Double(v) / Double(total)
                y -= hgt
                paths[k] += box(F.left + slotW * Double(i), y, max(slotW - 0.5, 0.6), hgt)
            }
        }
        for (k, dc) in dcs.enumerated() where !paths[k].isEmpty {
            s += "<path class=\"\(dcClass(dc, dcs))\" d=\"\(paths[k])\"/>"
        }
        return s + "</svg>"
    }

    /// p50 and p99 per slot as level segments, p99 with its error band (± `relErr`).
    static func latency(_ chart: String, label: String, slots: Slots, p50: [Double?], p99: [Double?], relErr: Double) -> String {
        let F = Frame.self
        var s = open(chart, width: F.w, height: F.h, label: label)
        let maxV = (p99.compactMap { $0 }.max() ?? 0) * (1 + relErr)
        s += frame(slots, maxLabel: Fmt.duration(maxV))
        guard maxV > 0 else { return s + "</svg>" }
        let slotW = F.plotW / Double(slots.count)
        func y(_ v: Double) -> Double { F.top + F.plotH - F.plotH * v / maxV }
        var band = "", high = "", median = ""
        for i in 0..<slots.count {
            // At least 6 px wide, centred on the slot, so a lone slot stays visible.
            let mid = F.left + slotW * (Double(i) + 0.5), half = max(slotW, 6) / 2
            let x0 = mid - half, x1 = mid + half
            if let v = p99[i] {
                band += box(x0, y(v * (1 + relErr)), x1 - x0, max(y(v * (1 - relErr)) - y(v * (1 + relErr)), 0.6))
                high += "M\(Fmt.c(x0)) \(Fmt.c(y(v)))H\(Fmt.c(x1))"
            }
            if let v = p50[i] { median += "M\(Fmt.c(x0)) \(Fmt.c(y(v)))H\(Fmt.c(x1))" }
        }
        if !band.isEmpty { s += "<path class=\"band\" d=\"\(band)\"/><path class=\"p99\" d=\"\(high)\"/>" }
        if !median.isEmpty { s += "<path class=\"p50\" d=\"\(median)\"/>" }
        return s + "</svg>"
    }
}
