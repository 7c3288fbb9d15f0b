import Aggregates

/// `traffic_matrix` (schemas/tables/traffic_matrix.md): bytes, packets, flows and calls from one
/// datacenter and service to another.
public enum TrafficMatrix: OutputTable {
    public typealias Cell = TrafficCell

    public typealias Key = TrafficKey

    public static let name = "traffic_matrix"
    public static let version = 4
    public static let doc = "Bytes, packets, flows and calls from one datacenter and service to another, per bucket."

    public static var fields: [OutputField<Key, Cell>] {
        [
            .bucket,
            .name("src_dc", \.srcDC, doc: "Datacenter of the sender of the bytes; unknown if none."),
            .name("dst_dc", \.dstDC, doc: "Datacenter of the receiver; unknown if none."),
            .name("src_service", \.srcService, doc: "Service of the sender; unknown if unresolved."),
            .name("dst_service", \.dstService, doc: "Service of the receiver; unknown if unresolved."),
            .name("l4_protocol", \.l4, doc: "tcp or udp."),
            .name("observer", \.observer, doc: "source: counted on the sender's host; destination: on the receiver's host."),
            .peerIdentitySource(\.peerSource, peer: "the observer's peer (dst_service when observer is source, src_service when destination)"),
            .count("bytes", \.bytes, unit: "bytes",
                   doc: "Link bytes from src to dst: IP + L4 headers + payload of every wire segment (a GSO/GRO packet's headers counted once per segment); no L2 framing."),
            .count("packets", \.packets, unit: "packets", doc: "Wire segments from src to dst (a GSO/GRO packet of N segments counts N)."),
            .optionalCount("payload_bytes", \.payloadBytes, unit: "bytes",
                           doc: "L4 payload bytes (TCP/UDP data, retransmissions included) from src to dst; null if a version-1 flow record (payload unknown) contributed."),
            .count("flows", \.flows, unit: "flows", doc: "Flow deltas that carried bytes from src to dst in the bucket."),
            .count("calls", \.calls, unit: "calls", doc: "L7 calls whose requests went from src (caller) to dst (callee)."),
            .completeness,
        ]
    }

    public static func emptyCell(histogramScale: Int) -> Cell { TrafficCell() }
}

/// `traffic_matrix_daily`: `traffic_matrix` summed over a day (DailyTrafficRun): the same key,
/// cell and columns.
public enum TrafficMatrixDaily: OutputTable {
    public typealias Key = TrafficMatrix.Key
    public typealias Cell = TrafficCell
    public static let name = "traffic_matrix_daily"
    public static let version = TrafficMatrix.version
    public static let doc = "traffic_matrix summed over a day (or the rollup's bucket): governance report input."
    public static var fields: [OutputField<Key, Cell>] { TrafficMatrix.fields }
    public static func emptyCell(histogramScale: Int) -> Cell { TrafficCell() }
}
