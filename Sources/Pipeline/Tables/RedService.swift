import Aggregates

/// `red_service` (schemas/tables/red_service.md): RED per callee service, protocol and observer.
public enum RedService: OutputTable {
    public typealias Cell = REDCell

    public typealias Key = ServiceKey

    public static let name = "red_service"
    public static let version = 2
    public static let doc = "RED metrics (rate, errors, duration) per callee service, protocol and observing side, per bucket."

    public static var fields: [OutputField<Key, Cell>] {
        [
            .bucket,
            .name("service", \.service, doc: "The callee: the service that served the calls; unknown if unresolved."),
            .name("protocol", \.proto, doc: "L7 protocol of the matched rule (http1, redis, dns, ...)."),
            .name("observer", \.observer, doc: "server: seen on the callee's sockets; client: seen on callers' sockets."),
        ] + OutputField.redMetrics + [.completeness]
    }

    public static func emptyCell(histogramScale: Int) -> Cell { REDCell(scale: histogramScale) }
}
