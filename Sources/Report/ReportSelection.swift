import Pipeline

/// What a report covers: one hour partition, one day (the daily governance view, over
/// `traffic_matrix_daily` and the day's hourly tables), or an inclusive range of partitions.
public enum ReportSelection: Sendable, Equatable {
    case hour(Partition)
    case day(Partition)
    /// From the start of `from` to the end of `to`; each may be an hour or a day.
    case range(from: Partition, to: Partition)

    /// Builds the selection the CLI was given: exactly one of `partition` or both `from`/`to`.
    public init(partition: Partition?, from: Partition?, to: Partition?) throws(ReportError) {
        switch (partition, from, to) {
        case let (p?, nil, nil): self = p.hour == nil ? .day(p) : .hour(p)
        case let (nil, f?, t?):
            guard f.startNanos < t.endNanos else { throw .badSelection("--from \(f) lies after --to \(t)") }
            self = .range(from: f, to: t)
        default: throw .badSelection("give --partition, or both --from and --to")
        }
    }

    public var startNanos: Int64 {
        switch self {
        case .hour(let p), .day(let p): p.startNanos
        case .range(let f, _): f.startNanos
        }
    }

    public var endNanos: Int64 {
        switch self {
        case .hour(let p), .day(let p): p.endNanos
        case .range(_, let t): t.endNanos
        }
    }

    /// Every hour partition the selection covers, in order.
    public var hours: [Partition] {
        var out: [Partition] = []
        var t = startNanos
        while t < endNanos {
            out.append(Partition.hour(containing: t))
            t += 3_600_000_000_000
        }
        return out
    }

    /// The day of a daily report.
    public var day: Partition? {
        if case .day(let p) = self { return p }
        return nil
    }

    /// How the page names the selection.
    public var label: String {
        switch self {
        case .hour(let p), .day(let p): p.path
        case let .range(f, t): "\(f.path) … \(t.path)"
        }
    }
}
