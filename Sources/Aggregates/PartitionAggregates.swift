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
