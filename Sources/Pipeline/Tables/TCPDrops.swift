import Aggregates

/// `tcp_drops` (schemas/tables/tcp_drops.md): packet drops by the kernel's drop reason, per service.
public enum TCPDrops: OutputTable {
    public typealias Cell = Count

    public typealias Key = DropKey

    public static let name = "tcp_drops"
    public static let version = 3
    public static let doc = "Packet drops by the kernel's drop reason, per service, per bucket."

    public static var fields: [OutputField<Key, Cell>] {
        [
            .bucket,
            .name("service", \.service, doc: "Local service of the socket; unknown if none."),
            .code("reason_code", \.reason, doc: "Value of the kernel's enum skb_drop_reason."),
            .derived("reason", doc: "Its name, lower case without the SKB_DROP_REASON_ prefix; unknown_<code> if not known.") {
                DropReasons.name($0.reason)
            },
            .derived("drop_class",
                     doc: "network, policy, teardown or other (the reason's drop class); network alone is the default view of lost packets.") {
                DropReasons.dropClass($0.reason).rawValue
            },
            .count("drops", \.value, unit: "packets", doc: "Packets dropped."),
            .completeness,
        ]
    }

    public static func emptyCell(histogramScale: Int) -> Cell { Count() }
}
