import Aggregates

/// Every table's groups for one host and partition, as the aggregate stage
/// builds them. Memory is bounded by the number of groups.
public struct PartitionAggregates: Sendable {
    public var redService = Accumulator<ServiceKey, REDCell>()
    public var redEdge = Accumulator<EdgeKey, REDCell>()
    public var traffic = Accumulator<TrafficKey, TrafficCell>()
    public var health = Accumulator<HealthKey, TCPHealthCell>()
    public var drops = Accumulator<DropKey, Count>()
    /// Each row's completeness: its events and the losses charged to it (LossAttribution.swift).
    public var redServiceCompleteness: [ServiceKey: Completeness] = [:]
    public var redEdgeCompleteness: [EdgeKey: Completeness] = [:]
    public var trafficCompleteness: [TrafficKey: Completeness] = [:]
    public var healthCompleteness: [HealthKey: Completeness] = [:]
    public var dropsCompleteness: [DropKey: Completeness] = [:]

    public init() {}

    public var isEmpty: Bool {
        redService.groupCount + redEdge.groupCount + traffic.groupCount + health.groupCount + drops.groupCount == 0
    }
}

extension Count: Mergeable {
    public mutating func merge(_ other: Count) { value &+= other.value }
}

/// A row's numbers and its completeness. In a partial each row carries its own events and the
/// losses charged to it; the merge adds them, so a merged row's completeness covers exactly the
/// hosts that contributed to it (the same rule as the Spark SQL: SUM over partials).
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

    /// A host's partial rows, each with its own completeness.
    public init(partial a: PartitionAggregates) {
        for (k, v) in a.redService.cells { redService.merge(k, Row(cell: v, completeness: a.redServiceCompleteness[k] ?? Completeness())) }
        for (k, v) in a.redEdge.cells { redEdge.merge(k, Row(cell: v, completeness: a.redEdgeCompleteness[k] ?? Completeness())) }
        for (k, v) in a.traffic.cells { traffic.merge(k, Row(cell: v, completeness: a.trafficCompleteness[k] ?? Completeness())) }
        for (k, v) in a.health.cells { health.merge(k, Row(cell: v, completeness: a.healthCompleteness[k] ?? Completeness())) }
        for (k, v) in a.drops.cells { drops.merge(k, Row(cell: v, completeness: a.dropsCompleteness[k] ?? Completeness())) }
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

