import Aggregates

/// Every table's groups for one host and partition, as the aggregate stage
/// builds them. Memory is bounded by the number of groups.
public struct PartitionAggregates: Sendable {
    public var redService = Accumulator<RedService.Key, REDCell>()
    public var redEdge = Accumulator<RedEdge.Key, REDCell>()
    public var traffic = Accumulator<TrafficMatrix.Key, TrafficCell>()
    public var health = Accumulator<TCPHealth.Key, TCPHealthCell>()
    public var drops = Accumulator<TCPDrops.Key, Count>()
    public var routes = Accumulator<RedRoute.Key, REDCell>()
    public var dns = Accumulator<DNSNames.Key, REDCell>()
    /// Calls that can carry trace context, in `HopObservation.storageOrder`: `call_chains`' partial.
    public var observations: [HopObservation] = []
    /// Each row's completeness: its events and the losses charged to it (LossAttribution.swift).
    public var redServiceCompleteness: [RedService.Key: Completeness] = [:]
    public var redEdgeCompleteness: [RedEdge.Key: Completeness] = [:]
    public var trafficCompleteness: [TrafficMatrix.Key: Completeness] = [:]
    public var healthCompleteness: [TCPHealth.Key: Completeness] = [:]
    public var dropsCompleteness: [TCPDrops.Key: Completeness] = [:]
    public var routesCompleteness: [RedRoute.Key: Completeness] = [:]
    public var dnsCompleteness: [DNSNames.Key: Completeness] = [:]

    public init() {}

    public var isEmpty: Bool {
        redService.groupCount + redEdge.groupCount + traffic.groupCount + health.groupCount + drops.groupCount == 0
    }
}

extension TableRows {
    /// A host's partial rows, each with its own completeness.
    public init(partial a: PartitionAggregates) {
        self.init()
        func add<T: OutputTable>(_ t: T.Type, _ cells: Accumulator<T.Key, T.Cell>, _ completeness: [T.Key: Completeness]) {
            update(t) { rows in
                for (k, v) in cells.cells { rows.merge(k, Row(cell: v, completeness: completeness[k] ?? Completeness())) }
            }
        }
        add(RedService.self, a.redService, a.redServiceCompleteness)
        add(RedEdge.self, a.redEdge, a.redEdgeCompleteness)
        add(TrafficMatrix.self, a.traffic, a.trafficCompleteness)
        add(TCPHealth.self, a.health, a.healthCompleteness)
        add(TCPDrops.self, a.drops, a.dropsCompleteness)
        add(RedRoute.self, a.routes, a.routesCompleteness)
        add(DNSNames.self, a.dns, a.dnsCompleteness)
    }
}
