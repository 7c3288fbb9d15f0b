import Foundation

/// The service topology: nodes are services in a datacenter, laid out in one horizontal lane
/// per datacenter; within a lane, a node's column is its call depth (callers left of callees)
/// and its row follows its callers' rows (one barycentre pass, ties by name). Everything is
/// a function of the sorted nodes and edges, so the layout is deterministic. Edges are
/// coloured by error ratio, their arrowheads by p99, and their width grows with calls.
enum Topology {
    /// Error-ratio classes of an edge's line: below 0.1 %, below 1 %, from 1 %.
    static func errorClass(_ ratio: Double) -> String { ratio < 0.001 ? "eok" : ratio < 0.01 ? "ewarn" : "ebad" }
    /// p99 classes of an edge's arrowhead: below 100 ms, below 1 s, from 1 s.
    static func latencyClass(_ p99: Double?) -> String {
        guard let p99 else { return "lok" }
        return p99 < 1e8 ? "lok" : p99 < 1e9 ? "lwarn" : "lbad"
    }

    struct Placed { var x: Double; var y: Double }

    static func layout(nodes: [TopologyNode], edges: [TopologyEdge]) -> (positions: [TopologyNode: Placed], lanes: [(dc: String, y: Double, h: Double)], width: Double, height: Double) {
        let index = Dictionary(uniqueKeysWithValues: nodes.enumerated().map { ($1, $0) })
        var callers = [[Int]](repeating: [], count: nodes.count)
        for e in edges where e.caller != e.callee {
            if let a = index[e.caller], let b = index[e.callee] { callers[b].append(a) }
        }
        // Longest path from a node without callers, bounded so cycles end.
        var depth = [Int](repeating: 0, count: nodes.count)
        for _ in 0..<min(nodes.count, 12) {
            var changed = false
            for b in 0..<nodes.count {
                let d = min((callers[b].map { depth[$0] + 1 }.max() ?? 0), 8)
                if d > depth[b] { depth[b] = d; changed = true }
            }
            if !changed { break }
        }
        let layers = (depth.max() ?? 0) + 1
        let dcs = Array(Set(nodes.map(\.dc))).sorted(by: dcOrder)
        let rowH = 30.0, laneGap = 26.0, left = 70.0, labelRoom = 150.0
        let width = max(1100.0, left + Double(layers) * 190.0 + labelRoom - 190.0 + 40)
        let colW = layers > 1 ? (width - left - labelRoom) / Double(layers - 1) : 0
        var pos: [TopologyNode: Placed] = [:]
        var rowOf = [Double](repeating: 0, count: nodes.count)
        var lanes: [(String, Double, Double)] = []
        var y = 8.0
        for dc in dcs {
            var rows = 1
            for layer in 0..<layers {
                let members = nodes.indices.filter { nodes[$0].dc == dc && depth[$0] == layer }
                let ordered = members.map { i -> (Double, String, Int) in
                    let placed = callers[i].filter { depth[$0] < layer }
                    let bary = placed.isEmpty ? Double.infinity : placed.map { rowOf[$0] }.reduce(0, +) / Double(placed.count)
                    return (bary, nodes[i].service, i)
                }.sorted { a, b in a.0 != b.0 ? a.0 < b.0 : a.1 < b.1 }
                for (k, m) in ordered.enumerated() {
                    rowOf[m.2] = y + Double(k) * rowH
                    pos[nodes[m.2]] = Placed(x: left + colW * Double(layer), y: y + laneGap + Double(k) * rowH)
                }
                rows = max(rows, ordered.count)
            }
            let h = laneGap + Double(rows) * rowH
            lanes.append((dc, y, h))
            y += h + 10
        }
        return (pos, lanes, width, y)
    }

    static func svg(nodes: [TopologyNode], edges: [TopologyEdge], dcs: [String]) -> String {
        let (pos, lanes, width, height) = layout(nodes: nodes, edges: edges)
        var s = Charts.open("topology", width: width, height: height, label: "Service topology: \(nodes.count) services in \(lanes.count) datacenters, \(edges.count) edges")
        s += "<defs>"
        for cls in ["lok", "lwarn", "lbad"] {
            s += "<marker id=\"m-\(cls)\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"11\" markerHeight=\"11\" markerUnits=\"userSpaceOnUse\" orient=\"auto\"><path class=\"\(cls)\" d=\"M0 0L10 5L0 10z\"/></marker>"
        }
        s += "</defs>"
        for lane in lanes {
            s += "<rect class=\"lane \(Charts.dcClass(lane.dc, dcs))\" x=\"2\" y=\"\(Fmt.c(lane.y))\" width=\"\(Fmt.c(width - 4))\" height=\"\(Fmt.c(lane.h))\" rx=\"6\"/>"
            s += Charts.text(10, lane.y + 16, lane.dc, cls: "lanelbl")
        }
        let maxCalls = edges.map(\.figures.requests).max() ?? 0
        // Healthy edges first, so the ones with errors are drawn on top of the crowd.
        let severity = ["eok": 0, "ewarn": 1, "ebad": 2]
        let ordered = edges.enumerated().sorted { x, y in
            let a = severity[errorClass(x.element.figures.errorRatio)]!, b = severity[errorClass(y.element.figures.errorRatio)]!
            return a != b ? a < b : x.offset < y.offset
        }.map(\.element)
        for e in ordered {
            guard let a = pos[e.caller], let b = pos[e.callee] else { continue }
            let f = e.figures
            let w = maxCalls == 0 ? 1 : 1 + 6 * (Double(f.requests) / Double(maxCalls)).squareRoot()
            let r = 7.0
            let d: String
            if e.caller == e.callee {
                d = "M\(Fmt.c(a.x - 4)) \(Fmt.c(a.y - r))C\(Fmt.c(a.x - 24)) \(Fmt.c(a.y - 34)) \(Fmt.c(a.x + 24)) \(Fmt.c(a.y - 34)) \(Fmt.c(a.x + 4)) \(Fmt.c(a.y - r))"
            } else if b.x > a.x {
                let x1 = a.x + r, x2 = b.x - r - 2, mx = (x1 + x2) / 2
                d = "M\(Fmt.c(x1)) \(Fmt.c(a.y))C\(Fmt.c(mx)) \(Fmt.c(a.y)) \(Fmt.c(mx)) \(Fmt.c(b.y)) \(Fmt.c(x2)) \(Fmt.c(b.y))"
            } else {
                // Same column or backwards: bow out to the left so the line does not cross the nodes.
                let bow = 40.0 + abs(a.y - b.y) * 0.15
                d = "M\(Fmt.c(a.x - r)) \(Fmt.c(a.y))C\(Fmt.c(a.x - bow)) \(Fmt.c(a.y)) \(Fmt.c(b.x - bow)) \(Fmt.c(b.y)) \(Fmt.c(b.x - r - 2)) \(Fmt.c(b.y))"
            }
            let lc = latencyClass(f.p99)
            s += "<path class=\"edge \(errorClass(f.errorRatio))\" d=\"\(d)\" stroke-width=\"\(Fmt.c(w))\" marker-end=\"url(#m-\(lc))\">"
            s += "<title>\(esc("\(e.caller.service) (\(e.caller.dc)) → \(e.callee.service) (\(e.callee.dc)): \(Fmt.int(f.requests)) calls, \(Fmt.percent(f.errorRatio)) errors, p99 \(Fmt.duration(f.p99))"))</title></path>"
        }
        for n in nodes {
            guard let p = pos[n] else { continue }
            s += "<circle class=\"node \(Charts.dcClass(n.dc, dcs))\" cx=\"\(Fmt.c(p.x))\" cy=\"\(Fmt.c(p.y))\" r=\"7\"><title>\(esc("\(n.service) in \(n.dc)"))</title></circle>"
            s += Charts.text(p.x + 10, p.y - 8, Charts.short(n.service, 24), cls: "nodelbl")
        }
        return s + "</svg>"
    }
}
