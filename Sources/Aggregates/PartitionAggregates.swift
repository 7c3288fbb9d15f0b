/// Every table's rows for one host and partition, as the aggregate stage builds them: each
/// group's cell with its completeness (its events and the losses charged to it,
/// LossAttribution.swift). Memory is bounded by the number of groups.
public struct PartitionAggregates: Sendable {
    public var redService = Accumulator<ServiceKey, Row<REDCell>>()
    public var redEdge = Accumulator<EdgeKey, Row<REDCell>>()
    public var traffic = Accumulator<TrafficKey, Row<TrafficCell>>()
    public var health = Accumulator<HealthKey, Row<TCPHealthCell>>()
    public var drops = Accumulator<DropKey, Row<Count>>()

    public init() {}

    public var isEmpty: Bool {
        redService.groupCount + redEdge.groupCount + traffic.groupCount + health.groupCount + drops.groupCount == 0
    }
}
