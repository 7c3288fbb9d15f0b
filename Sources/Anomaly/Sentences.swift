/// Candidates as sentences a person on call reads: what moved, from what, since when, what it
/// explains or what explains it, and whether the network around it is in trouble.
public enum Sentences {
    /// "pricing: p99 latency 53.1 ms vs 1.2 ms baseline since 19:41 UTC (score 41.2); explains
    /// frontend's latency on frontend→pricing, frontend's latency; no network evidence".
    public static func sentence(_ c: Candidate, bucketSeconds: Int) -> String {
        var s = "\(label(c.entity)): \(words(c.metric)) \(Ranking.format(c.observed, unit: c.unit)) vs "
            + "\(Ranking.format(c.baseline, unit: c.unit)) baseline since \(clock(c.onset, seconds: bucketSeconds % 60 != 0)) UTC"
            + " (score \(Ranking.decimal(c.score, 1)))"
        if !c.otherMetrics.isEmpty { s += "; also \(c.otherMetrics.joined(separator: ", "))" }
        if !c.explains.isEmpty { s += "; explains " + c.explains.map { symptom($0, of: c) }.joined(separator: ", ") }
        if !c.explainedBy.isEmpty { s += "; explained by " + c.explainedBy.map(label).joined(separator: ", ") }
        if c.entity.kind == .service || c.entity.kind == .edge {
            s += c.network.isEmpty ? "; no network evidence" : "; network: " + c.network.prefix(3).joined(separator: ", ")
        }
        return s
    }

    static func label(_ e: Entity) -> String {
        switch e.kind {
        case .service: e.name
        case .edge: "\(e.name) (caller's view)"
        case .host: "host \(e.name)"
        case .dcLink: "link \(e.name)"
        case .path: "path \(e.name)"
        }
    }

    /// What an explained entity shows, named from the explainer's side.
    static func symptom(_ e: Entity, of cause: Candidate) -> String {
        let family = SeriesKey(entity: cause.entity, metric: cause.metric, observer: cause.observer).family
        if let (caller, _) = e.edgeEnds {
            let what = switch family {
            case .errors: "errors"
            case .latency: "latency"
            case .rate, .network: "calls"
            }
            return "\(caller)'s \(what) on \(e.name)"
        }
        if e.kind == .service {
            let what = switch family {
            case .errors: "errors"
            case .latency: "latency"
            case .rate: "failures"
            case .network: "request rate"
            }
            return "\(e.name)'s \(what)"
        }
        return label(e)
    }

    static func words(_ metric: String) -> String {
        switch metric {
        case "error_ratio": "error ratio"
        case "p50": "p50 latency"
        case "p99": "p99 latency"
        case "request_rate": "request rate"
        default: metric.hasPrefix("drops:") ? "drops (\(metric.dropFirst(6)))" : metric
        }
    }

    /// `HH:MM` (or `HH:MM:SS` for sub-minute buckets) of a UTC time in ns.
    static func clock(_ nanos: Int64, seconds: Bool) -> String {
        let s = nanos / 1_000_000_000
        let day = ((s % 86_400) + 86_400) % 86_400
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(two(day / 3600)):\(two(day / 60 % 60))" + (seconds ? ":\(two(day % 60))" : "")
    }
}
