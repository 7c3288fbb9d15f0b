import Aggregates

/// Every table's groups for one host and partition, as the aggregate stage
/// builds them. Memory is bounded by the number of groups.
public struct PartitionAggregates: Sendable {
    public var redService = Accumulator<ServiceKey, REDCell>()
    public var redEdge = Accumulator<EdgeKey, REDCell>()
    public var traffic = Accumulator<TrafficKey, TrafficCell>()
    public var health = Accumulator<HealthKey, TCPHealthCell>()
    public var drops = Accumulator<DropKey, Count>()
    /// Per bucket: events this host's collector read and lost.
    public var completeness: [Int64: Completeness] = [:]

    public init() {}

    public var isEmpty: Bool {
        redService.groupCount + redEdge.groupCount + traffic.groupCount + health.groupCount + drops.groupCount == 0
    }
}

extension Count: Mergeable {
    public mutating func merge(_ other: Count) { value &+= other.value }
}

/// A row's numbers and the completeness of the host-buckets behind it. In a
/// partial every row of a bucket carries that host-bucket's completeness; the
/// merge adds them, so a merged row's completeness covers exactly the hosts
/// that contributed to it (the same rule as the Spark SQL: SUM over partials).
public struct Row<Cell: Mergeable & Equatable>: Mergeable, Equatable {
    public var cell: Cell
    public var completeness: Completeness

    public mutating func merge(_ o: Row) {
        cell.merge(o.cell)
        completeness.merge(o.completeness)
    }
}

/// The rows of each table, ready to write: partial rows carry their host's
/// bucket completeness; merging adds rows key by key.
public struct TableRows: Sendable {
    public var redService = Accumulator<ServiceKey, Row<REDCell>>()
    public var redEdge = Accumulator<EdgeKey, Row<REDCell>>()
    public var traffic = Accumulator<TrafficKey, Row<TrafficCell>>()
    public var health = Accumulator<HealthKey, Row<TCPHealthCell>>()
    public var drops = Accumulator<DropKey, Row<Count>>()

    public init() {}

    /// A host's partial rows: every row gets its bucket's completeness.
    public init(partial a: PartitionAggregates) {
        func c(_ bucket: Int64) -> Completeness { a.completeness[bucket] ?? Completeness() }
        for (k, v) in a.redService.cells { redService.merge(k, Row(cell: v, completeness: c(k.bucket))) }
        for (k, v) in a.redEdge.cells { redEdge.merge(k, Row(cell: v, completeness: c(k.bucket))) }
        for (k, v) in a.traffic.cells { traffic.merge(k, Row(cell: v, completeness: c(k.bucket))) }
        for (k, v) in a.health.cells { health.merge(k, Row(cell: v, completeness: c(k.bucket))) }
        for (k, v) in a.drops.cells { drops.merge(k, Row(cell: v, completeness: c(k.bucket))) }
    }

    /// Adds another set of rows (the merge across hosts).
    public mutating func merge(_ o: TableRows) {
        redService.merge(o.redService)
        redEdge.merge(o.redEdge)
        traffic.merge(o.traffic)
        health.merge(o.health)
        drops.merge(o.drops)
    }

    public var rowCounts: [String: Int] {
        ["red_service": redService.groupCount, "red_edge": redEdge.groupCount, "traffic_matrix": traffic.groupCount,
         "tcp_health": health.groupCount, "tcp_drops": drops.groupCount]
    }
}

