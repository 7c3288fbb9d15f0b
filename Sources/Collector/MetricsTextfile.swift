import Foundation
import Segments

/// The collector's own health in the Prometheus text format, written the way
/// node_exporter's textfile collector expects: the whole file replaced
/// atomically (temp file, fsync, rename) so a scrape never sees half of it.
public struct MetricsTextfile: Sendable {
    public struct Sample: Sendable, Equatable {
        public var name: String
        public var help: String
        public var type: Kind
        public var labels: [(String, String)]
        public var value: Double

        public enum Kind: String, Sendable { case counter, gauge }

        public init(_ name: String, _ type: Kind, help: String, labels: [(String, String)] = [], value: Double) {
            self.name = name
            self.type = type
            self.help = help
            self.labels = labels
            self.value = value
        }

        public static func == (a: Sample, b: Sample) -> Bool {
            a.name == b.name && a.type == b.type && a.value == b.value
                && a.labels.elementsEqual(b.labels, by: { $0 == $1 })
        }
    }

    /// Renders samples grouped by metric name, one HELP and TYPE line each, in
    /// the order names first appear.
    public static func render(_ samples: [Sample]) -> String {
        var order: [String] = []
        var byName: [String: [Sample]] = [:]
        for s in samples {
            if byName[s.name] == nil { order.append(s.name) }
            byName[s.name, default: []].append(s)
        }
        var out = ""
        for name in order {
            let group = byName[name]!
            out += "# HELP \(name) \(escapeHelp(group[0].help))\n# TYPE \(name) \(group[0].type.rawValue)\n"
            for s in group {
                out += name
                if !s.labels.isEmpty {
                    out += "{" + s.labels.map { "\($0.0)=\"\(escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
                }
                out += " \(format(s.value))\n"
            }
        }
        return out
    }

    /// Writes `samples` to `path` atomically.
    public static func write(_ samples: [Sample], to path: String) throws(FileWriteError) {
        try AtomicFile.write(Data(render(samples).utf8), to: path)
    }

    private static func format(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }

    private static func escapeHelp(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    private static func escapeLabel(_ s: String) -> String {
        escapeHelp(s).replacingOccurrences(of: "\"", with: "\\\"")
    }
}
