import Aggregates

extension TableRows {
    /// A host's partial rows, each with its own completeness (taken as they are, not rebuilt).
    public init(partial a: PartitionAggregates) {
        self.init()
        update(RedService.self) { $0 = a.redService }
        update(RedEdge.self) { $0 = a.redEdge }
        update(TrafficMatrix.self) { $0 = a.traffic }
        update(TCPHealth.self) { $0 = a.health }
        update(TCPDrops.self) { $0 = a.drops }
    }
}
