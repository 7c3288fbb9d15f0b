import Aggregates
import Parquet

/// Fields several tables share, declared once.
extension OutputField where Cell == REDCell {
    /// The RED metric columns of red_service and red_edge: counts, then the latency histogram
    /// and its quantiles.
    static var redMetrics: [Self] {
        [
            .count("requests", \.requests, unit: "calls", doc: "Paired request/response exchanges that started in the bucket."),
            .count("errors", \.errors, unit: "calls", doc: "Calls whose status class is server error (HTTP 5xx, RESP -ERR, DNS SERVFAIL)."),
            .count("client_errors", \.clientErrors, unit: "calls", doc: "Calls whose status class is client error (HTTP 4xx, DNS NXDOMAIN)."),
            .count("request_bytes", \.requestBytes, unit: "bytes", doc: "L4 payload bytes of the requests."),
            .count("response_bytes", \.responseBytes, unit: "bytes", doc: "L4 payload bytes of the responses."),
            .histogram(\.latency, quantiles: [0.5, 0.9, 0.99], columns: [
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
            ]),
        ]
    }
}

extension OutputField {
    /// Where the observer's peer was named from (`PeerIdentitySource`), a key name.
    static func peerIdentitySource(_ key: WritableKeyPath<Key, Int32>, peer: String) -> Self {
        .name("peer_identity_source", key, doc: """
            Where \(peer) was named from, most trusted first: tcp_option (the service id the peer's kernel wrote \
            into the identity TCP option of this connection), metadata (the pod owning the peer's address in the \
            metadata snapshot: connections that never carried the option), unknown (neither).
            """)
    }
}
