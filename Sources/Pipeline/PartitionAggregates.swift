import Aggregates

extension TableRows {
    /// A host's partial rows, each with its own completeness.
    public init(partial a: PartitionAggregates) {
        self.init()
        func add<T: OutputTable>(_ t: T.Type, _ cells: Accumulator<T.Key, T.Cell>, _ completeness: [T.Key: Completeness]) {
            update(t) { rows in
                for (k, v) in cells.cells { rows.add(k, Row(cell: v, completeness: completeness[k] ?? Completeness())) }
            }
        }
        add(RedService.self, a.redService, a.redServiceCompleteness)
        add(RedEdge.self, a.redEdge, a.redEdgeCompleteness)
        add(TrafficMatrix.self, a.traffic, a.trafficCompleteness)
        add(TCPHealth.self, a.health, a.healthCompleteness)
        add(TCPDrops.self, a.drops, a.dropsCompleteness)
    }
}
