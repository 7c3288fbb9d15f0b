import Aggregates

/// `red_edge` (schemas/tables/red_edge.md): RED per caller → callee edge, protocol and observer.
public enum RedEdge: OutputTable {
    public typealias Cell = REDCell

    public typealias Key = EdgeKey

    public static let name = "red_edge"
    public static let version = 3
    public static let doc = "RED metrics per caller -> callee edge, protocol and observing side, per bucket."

    public static var fields: [OutputField<Key, Cell>] {
        [
            .bucket,
            .name("caller", \.caller, doc: "The service that sent the requests; unknown if unresolved."),
            .name("callee", \.callee, doc: "The service that served them; unknown if unresolved."),
            .name("caller_dc", \.callerDC, doc: "Datacenter of the caller's address; unknown if none."),
            .name("callee_dc", \.calleeDC, doc: "Datacenter of the callee's address; unknown if none."),
            .name("protocol", \.proto, doc: "L7 protocol of the matched rule."),
            .name("observer", \.observer, doc: "server or client: whose sockets saw the calls."),
            .peerIdentitySource(\.peerSource, peer: "the observer's peer (the caller when observer is server, the callee when client)"),
        ] + OutputField.redMetrics + [.completeness]
    }

    public static func emptyCell(histogramScale: Int) -> Cell { REDCell(scale: histogramScale) }
}
