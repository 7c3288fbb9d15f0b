import Parquet

/// The tables a pipeline writes, each declared once by its `OutputTable` type (Tables/).
/// `schemas/tables/<name>.json` is their machine-readable form and `schemas/tables/<name>.md`
/// their prose; `PipelineTablesTests` checks the three agree and that written files match, and
/// `MergeSQL` writes their merge SQL.
public enum PipelineTables {
    /// The tables an hourly run can write (`aggregate.tables`), in their default order.
    public static var hourly: [any OutputTable.Type] {
        [RedService.self, RedEdge.self, TrafficMatrix.self, TCPHealth.self, TCPDrops.self, RedRoute.self, DNSNames.self, ChainPaths.self]
    }

    /// Every table of every pipeline kind (the daily rollup's too): each has its
    /// `schemas/tables/<name>.json` (`redline dev table-schemas`) and merge SQL.
    public static var every: [any OutputTable.Type] { hourly + [TrafficMatrixDaily.self, AnomalyCandidates.self] }

    /// The hourly tables' schemas, call_chains' included (a join, not an `OutputTable`).
    public static var all: [TableSchema] { hourly.map { $0.schema } + [CallChainsTable.schema] }

    /// Tables the merge stage builds by joining every host's call observations by trace id
    /// (`ChainAssembler`), not by summing partial rows: they have no merge SQL.
    public static let joinedByTrace: Set<String> = [CallChainsTable.name, ChainPaths.name]

    /// Every table's schema, for `redline dev table-schemas` and the spec tests.
    public static var everySchema: [TableSchema] { every.map { $0.schema } + [CallChainsTable.schema] }
}
