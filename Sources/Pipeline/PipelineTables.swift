import Aggregates
import Parquet

/// The tables an hourly run writes, declared once. `schemas/tables/<name>.json`
/// is their machine-readable form and `schemas/tables/<name>.md` their prose;
/// `PipelineTablesTests` checks the three agree and that written files match.
public enum PipelineTables {
    static let bucketColumns = [
        TableColumn("bucket_start", .timestampNanos, unit: "ns since Unix epoch, UTC",
                    doc: "Start of the time bucket (corrected wall-clock time)."),
        TableColumn("bucket_seconds", .int32, unit: "s", doc: "Width of the bucket."),
    ]

    static let redMetricColumns = [
        TableColumn("requests", .int64, unit: "calls", doc: "Paired request/response exchanges that started in the bucket."),
        TableColumn("errors", .int64, unit: "calls", doc: "Calls whose status class is server error (HTTP 5xx, RESP -ERR, DNS SERVFAIL)."),
        TableColumn("client_errors", .int64, unit: "calls", doc: "Calls whose status class is client error (HTTP 4xx, DNS NXDOMAIN)."),
        TableColumn("request_bytes", .int64, unit: "bytes", doc: "L4 payload bytes of the requests."),
        TableColumn("response_bytes", .int64, unit: "bytes", doc: "L4 payload bytes of the responses."),
        TableColumn("latency_scale", .int32, doc: "Scale of the exponential histogram: base 2^(2^-scale)."),
        TableColumn("latency_zero_count", .int64, unit: "calls", doc: "Calls with a duration of 0 ns."),
        TableColumn("latency_offset", .int32, doc: "Bucket index of latency_counts[0]."),
        TableColumn("latency_counts", .int64, .list(nullable: false, elementNullable: false), unit: "calls",
                    doc: "Dense bucket counts; bucket i holds durations in (base^i, base^(i+1)] ns."),
        TableColumn("latency_sum_ns", .int64, unit: "ns", doc: "Sum of durations."),
        TableColumn("latency_min_ns", .int64, .optional, unit: "ns", doc: "Smallest duration; null when there are no requests."),
        TableColumn("latency_max_ns", .int64, .optional, unit: "ns", doc: "Largest duration; null when there are no requests."),
        TableColumn("p50_ns", .double, .optional, unit: "ns", doc: "Median duration read from the histogram."),
        TableColumn("p90_ns", .double, .optional, unit: "ns", doc: "90th percentile duration read from the histogram."),
        TableColumn("p99_ns", .double, .optional, unit: "ns", doc: "99th percentile duration read from the histogram."),
    ]

    static func peerIdentitySourceColumn(_ peer: String) -> TableColumn {
        TableColumn("peer_identity_source", .string, doc: """
            Where \(peer) was named from, most trusted first: tcp_option (the service id the peer's kernel wrote \
            into the identity TCP option of this connection), metadata (the pod owning the peer's address in the \
            metadata snapshot: connections that never carried the option), unknown (neither).
            """)
    }

    static let completenessColumns = [
        TableColumn("events_observed", .int64, unit: "events",
                    doc: "The row's own events the collectors read: calls, flow deltas or TCP events (schemas/tables/README.md)."),
        TableColumn("events_lost", .int64, unit: "events",
                    doc: "Events of the row's kind lost in its bucket and charged to it in proportion to its events: ring buffer full, rate caps, unpaired messages, shed by the collector."),
        TableColumn("events_lost_shared", .int64, unit: "events",
                    doc: "The part of events_lost that is a host-level share: losses whose service, protocol or side the kernel could not tell, spread over the host's rows of that kind."),
        TableColumn("completeness", .double, unit: "ratio 0..1",
                    doc: "events_observed / (events_observed + events_lost); 1 when both are 0."),
    ]

    public static let redService = TableSchema(
        name: "red_service", version: 2,
        doc: "RED metrics (rate, errors, duration) per callee service, protocol and observing side, per bucket.",
        columns: bucketColumns + [
            TableColumn("service", .string, doc: "The callee: the service that served the calls; unknown if unresolved."),
            TableColumn("protocol", .string, doc: "L7 protocol of the matched rule (http1, redis, dns, ...)."),
            TableColumn("observer", .string, doc: "server: seen on the callee's sockets; client: seen on callers' sockets."),
        ] + redMetricColumns + completenessColumns)

    public static let redEdge = TableSchema(
        name: "red_edge", version: 3,
        doc: "RED metrics per caller -> callee edge, protocol and observing side, per bucket.",
        columns: bucketColumns + [
            TableColumn("caller", .string, doc: "The service that sent the requests; unknown if unresolved."),
            TableColumn("callee", .string, doc: "The service that served them; unknown if unresolved."),
            TableColumn("caller_dc", .string, doc: "Datacenter of the caller's address; unknown if none."),
            TableColumn("callee_dc", .string, doc: "Datacenter of the callee's address; unknown if none."),
            TableColumn("protocol", .string, doc: "L7 protocol of the matched rule."),
            TableColumn("observer", .string, doc: "server or client: whose sockets saw the calls."),
            peerIdentitySourceColumn("the observer's peer (the caller when observer is server, the callee when client)"),
        ] + redMetricColumns + completenessColumns)

    public static let trafficMatrix = TableSchema(
        name: "traffic_matrix", version: 4,
        doc: "Bytes, packets, flows and calls from one datacenter and service to another, per bucket.",
        columns: bucketColumns + [
            TableColumn("src_dc", .string, doc: "Datacenter of the sender of the bytes; unknown if none."),
            TableColumn("dst_dc", .string, doc: "Datacenter of the receiver; unknown if none."),
            TableColumn("src_service", .string, doc: "Service of the sender; unknown if unresolved."),
            TableColumn("dst_service", .string, doc: "Service of the receiver; unknown if unresolved."),
            TableColumn("l4_protocol", .string, doc: "tcp or udp."),
            TableColumn("observer", .string, doc: "source: counted on the sender's host; destination: on the receiver's host."),
            peerIdentitySourceColumn("the observer's peer (dst_service when observer is source, src_service when destination)"),
            TableColumn("bytes", .int64, unit: "bytes",
                        doc: "Link bytes from src to dst: IP + L4 headers + payload of every wire segment (a GSO/GRO packet's headers counted once per segment); no L2 framing."),
            TableColumn("packets", .int64, unit: "packets", doc: "Wire segments from src to dst (a GSO/GRO packet of N segments counts N)."),
            TableColumn("payload_bytes", .int64, .optional, unit: "bytes",
                        doc: "L4 payload bytes (TCP/UDP data, retransmissions included) from src to dst; null if a version-1 flow record (payload unknown) contributed."),
            TableColumn("flows", .int64, unit: "flows", doc: "Flow deltas that carried bytes from src to dst in the bucket."),
            TableColumn("calls", .int64, unit: "calls", doc: "L7 calls whose requests went from src (caller) to dst (callee)."),
        ] + completenessColumns)

    public static let tcpHealth = TableSchema(
        name: "tcp_health", version: 4,
        doc: "TCP retransmits, resets, drops and missing identity options per service and peer, per bucket.",
        columns: bucketColumns + [
            TableColumn("service", .string, doc: "Local service of the socket; unknown if unresolved."),
            TableColumn("peer_service", .string, doc: "Remote service; unknown if unresolved or no socket."),
            peerIdentitySourceColumn("peer_service"),
            TableColumn("retransmits", .int64, unit: "events", doc: "tcp_retransmit_skb firings (per skb)."),
            TableColumn("resets_sent", .int64, unit: "events", doc: "RSTs this side sent."),
            TableColumn("resets_received", .int64, unit: "events", doc: "RSTs this side received."),
            TableColumn("drops", .int64, unit: "packets",
                        doc: "Packets lost on the network path (drop class network); by reason in tcp_drops."),
            TableColumn("drops_policy", .int64, unit: "packets", doc: "Packets a host's own policy dropped (filters, tc, XDP, BPF): class policy."),
            TableColumn("drops_teardown", .int64, unit: "packets",
                        doc: "Packets freed because their connection was closing or gone (queue purge, no socket): class teardown."),
            TableColumn("drops_other", .int64, unit: "packets", doc: "Drops of every other reason: class other."),
            TableColumn("id_option_missing", .int64, unit: "connections",
                        doc: "Connections where the identity TCP option was expected and did not arrive."),
        ] + completenessColumns)

    public static let tcpDrops = TableSchema(
        name: "tcp_drops", version: 3,
        doc: "Packet drops by the kernel's drop reason, per service, per bucket.",
        columns: bucketColumns + [
            TableColumn("service", .string, doc: "Local service of the socket; unknown if none."),
            TableColumn("reason_code", .int32, doc: "Value of the kernel's enum skb_drop_reason."),
            TableColumn("reason", .string, doc: "Its name, lower case without the SKB_DROP_REASON_ prefix; unknown_<code> if not known."),
            TableColumn("drop_class", .string,
                        doc: "network, policy, teardown or other (the reason's drop class); network alone is the default view of lost packets."),
            TableColumn("drops", .int64, unit: "packets", doc: "Packets dropped."),
        ] + completenessColumns)

    public static let all = [redService, redEdge, trafficMatrix, tcpHealth, tcpDrops]
}
