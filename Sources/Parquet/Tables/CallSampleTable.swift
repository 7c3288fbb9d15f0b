/// `call_sample`: sampled calls, one row per call — the example table that exercises the
/// table-schema mechanism and is the shape the Parquet benchmark writes (tools/bench/parquet).
public enum CallSampleTable {
    public static let schema = TableSchema(
        name: "call_sample",
        version: 1,
        doc: "Sampled calls between services, one row per call, with the call's latency histogram buckets.",
        columns: [
            TableColumn("ts", .timestampNanos, unit: "ns since Unix epoch, UTC", doc: "Start of the call."),
            TableColumn("call_id", .int64, doc: "Identifier of the call, unique per host."),
            TableColumn("bytes", .int64, unit: "bytes", doc: "Request plus response payload size."),
            TableColumn("service", .string, doc: "Callee service name."),
            TableColumn("route", .string, doc: "Route (method and path template) of the call."),
            TableColumn("duration_ms", .double, unit: "ms", doc: "Duration of the call."),
            TableColumn("latency_buckets", .int64, .list(nullable: false, elementNullable: false),
                        doc: "Exponential-histogram bucket indexes (scale 3) the call's sub-spans fell into."),
        ])
}
