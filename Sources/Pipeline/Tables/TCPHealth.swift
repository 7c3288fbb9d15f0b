import Aggregates

/// `tcp_health` (schemas/tables/tcp_health.md): TCP retransmits, resets, drops and missing
/// identity options per service and peer.
public enum TCPHealth: OutputTable {
    public typealias Cell = TCPHealthCell

    public typealias Key = HealthKey

    public static let name = "tcp_health"
    public static let version = 4
    public static let doc = "TCP retransmits, resets, drops and missing identity options per service and peer, per bucket."

    public static var fields: [OutputField<Key, Cell>] {
        [
            .bucket,
            .name("service", \.service, doc: "Local service of the socket; unknown if unresolved."),
            .name("peer_service", \.peer, doc: "Remote service; unknown if unresolved or no socket."),
            .peerIdentitySource(\.peerSource, peer: "peer_service"),
            .count("retransmits", \.retransmits, unit: "events", doc: "tcp_retransmit_skb firings (per skb)."),
            .count("resets_sent", \.resetsSent, unit: "events", doc: "RSTs this side sent."),
            .count("resets_received", \.resetsReceived, unit: "events", doc: "RSTs this side received."),
            .count("drops", \.drops, unit: "packets",
                   doc: "Packets lost on the network path (drop class network); by reason in tcp_drops."),
            .count("drops_policy", \.dropsPolicy, unit: "packets", doc: "Packets a host's own policy dropped (filters, tc, XDP, BPF): class policy."),
            .count("drops_teardown", \.dropsTeardown, unit: "packets",
                   doc: "Packets freed because their connection was closing or gone (queue purge, no socket): class teardown."),
            .count("drops_other", \.dropsOther, unit: "packets", doc: "Drops of every other reason: class other."),
            .count("id_option_missing", \.idOptionMissing, unit: "connections",
                   doc: "Connections where the identity TCP option was expected and did not arrive."),
            .completeness,
        ]
    }

    public static func emptyCell(histogramScale: Int) -> Cell { TCPHealthCell() }
}
