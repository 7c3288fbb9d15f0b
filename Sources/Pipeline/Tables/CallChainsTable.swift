import Aggregates
import Parquet

/// `call_chains` (schemas/tables/call_chains.md): one row per hop of each trace, joined across
/// hosts by trace id, plus one row per call that carried no trace id. Not an `OutputTable`: its
/// rows are calls, not mergeable groups, and its merge is a join (`ChainAssembler`), not a sum.
/// A host's partial holds its observations (position, depth and parent null); the merged file
/// the assembled hops.
public enum CallChainsTable {
    public static let name = "call_chains"
    public static let version = 1

    public static let schema = TableSchema(
        name: name, version: version,
        doc: "Calls joined by trace id across hosts: one row per hop of each trace, and one per call without a trace id.",
        columns: [
            TableColumn("bucket_start", .timestampNanos, unit: "ns since Unix epoch, UTC", doc: "Start of the bucket of the hop's start."),
            TableColumn("bucket_seconds", .int32, unit: "s", doc: "Width of the bucket."),
            TableColumn("trace_id", .string, .optional, doc: "32 lower-case hex digits; null when the call carried none."),
            TableColumn("span_id", .string, doc: "16 hex digits: the caller's span id the request carried; empty when none."),
            TableColumn("position", .int32, .optional, doc: "The hop's index in its trace by start; null for untraced calls and in partials."),
            TableColumn("depth", .int32, .optional, doc: "1 for an entry hop, its parent's depth + 1 below; null for untraced calls and in partials."),
            TableColumn("parent_position", .int32, .optional, doc: "Position of the hop that called this hop's caller; null for entry hops, untraced calls and in partials."),
            TableColumn("caller", .string, doc: "The calling service; unknown if unresolved."),
            TableColumn("callee", .string, doc: "The called service; unknown if unresolved."),
            TableColumn("protocol", .string, doc: "L7 protocol of the matched rule."),
            TableColumn("start", .timestampNanos, unit: "ns since Unix epoch, UTC", doc: "First request byte, corrected wall-clock time, the caller's view when it was observed."),
            TableColumn("duration_ns", .int64, .optional, unit: "ns", doc: "First request byte to first response byte; null for a call counted without its response."),
            TableColumn("status_class", .string, doc: "ok, client_error, server_error or unknown."),
            TableColumn("status_code", .int32, doc: "Protocol status (HTTP status), 0 if none."),
            TableColumn("observers", .string, doc: "client, server or client,server: whose collectors saw the hop."),
            TableColumn("observer_hosts", .string, doc: "Hosts of those collectors, sorted, comma-separated."),
            TableColumn("client_endpoint", .string, doc: "address:port of the connection's client end: what pairs the two observations of one call."),
            TableColumn("trace_missing", .boolean, doc: "The call carried no trace id: never linked into a chain."),
        ])

    /// The merged file's columns: assembled hops, traces in id order then untraced calls.
    public static func columns(hops: [ChainHop], bucketSeconds: Int) -> [ColumnData] {
        columns(hops.map { h in
            RowValues(trace: h.traceID, span: h.spanID, position: h.traceID == nil ? nil : h.position,
                      depth: h.traceID == nil ? nil : h.depth, parent: h.parentPosition, caller: h.caller,
                      callee: h.callee, proto: h.proto, start: h.startNanos, duration: h.durationNanos,
                      statusClass: h.statusClass, statusCode: h.statusCode, observers: h.observers, hosts: h.observerHosts,
                      client: h.clientEndpoint)
        }, bucketSeconds: bucketSeconds)
    }

    /// A host partial's columns: its observations, in `HopObservation.storageOrder`.
    public static func columns(observations: [HopObservation], bucketSeconds: Int) -> [ColumnData] {
        columns(observations.map { o in
            RowValues(trace: o.traceID, span: o.spanID, position: nil, depth: nil, parent: nil, caller: o.caller,
                      callee: o.callee, proto: o.proto, start: o.startNanos, duration: o.durationNanos,
                      statusClass: o.statusClass, statusCode: o.statusCode, observers: o.side.rawValue, hosts: o.host,
                      client: o.clientEndpoint)
        }, bucketSeconds: bucketSeconds)
    }

    struct RowValues {
        var trace: TraceID?, span: UInt64, position: Int?, depth: Int?, parent: Int?
        var caller, callee, proto: String
        var start: Int64, duration: Int64?
        var statusClass: UInt8, statusCode: UInt16
        var observers, hosts, client: String
    }

    static func statusName(_ c: UInt8) -> String {
        switch c {
        case 1: "ok"
        case 2: "client_error"
        case 3: "server_error"
        default: "unknown"
        }
    }

    static func columns(_ rows: [RowValues], bucketSeconds: Int) -> [ColumnData] {
        let width = Int64(bucketSeconds) * 1_000_000_000
        func optional<T>(_ values: [T?], _ make: ([T]) -> ColumnValues) -> ColumnData {
            ColumnData(make(values.compactMap { $0 }), validity: values.map { $0 != nil })
        }
        func strings(_ f: (RowValues) -> String) -> ColumnData {
            var b = ByteArrays()
            for r in rows { b.append(f(r)) }
            return ColumnData(.byteArray(b))
        }
        var traces = ByteArrays()
        for r in rows { if let t = r.trace { traces.append(t.hex) } }
        return [
            ColumnData(.int64(rows.map { $0.start - (($0.start % width) + width) % width })),
            ColumnData(.int32([Int32](repeating: Int32(bucketSeconds), count: rows.count))),
            ColumnData(.byteArray(traces), validity: rows.map { $0.trace != nil }),
            strings { $0.span == 0 ? "" : TraceID.hex16($0.span) },
            optional(rows.map { $0.position.map { Int32(clamping: $0) } }) { .int32($0) },
            optional(rows.map { $0.depth.map { Int32(clamping: $0) } }) { .int32($0) },
            optional(rows.map { $0.parent.map { Int32(clamping: $0) } }) { .int32($0) },
            strings(\.caller), strings(\.callee), strings(\.proto),
            ColumnData(.int64(rows.map(\.start))),
            optional(rows.map(\.duration)) { .int64($0) },
            strings { statusName($0.statusClass) },
            ColumnData(.int32(rows.map { Int32($0.statusCode) })),
            strings(\.observers), strings(\.hosts), strings(\.client),
            ColumnData(.boolean(rows.map { $0.trace == nil })),
        ]
    }
}

extension ChainAssembler {
    /// The merge stage's output for the chain tables: every host's observations joined into
    /// hops, and chain_paths cells per (bucket start, entry service, path, traced): untraced
    /// calls (joined by their connection like traced ones) per (bucket, caller, callee).
    func tables(hosts: [[HopObservation]], bucketSeconds: Int, histogramScale: Int, pathCap: Int)
        -> (hops: [ChainHop], paths: [(bucket: Int64, entry: String, path: String, traced: Bool, cell: ChainPathCell)]) {
        let width = Int64(bucketSeconds) * 1_000_000_000
        func bucket(_ t: Int64) -> Int64 { t - ((t % width) + width) % width }
        struct PathKey: Hashable { var bucket: Int64; var entry: String; var path: String }
        var traced: [PathKey: ChainPathCell] = [:]
        var cap = NameCap<String>(limit: pathCap)
        struct EdgeKey: Hashable { var bucket: Int64; var caller: String; var callee: String }
        var untraced: [EdgeKey: ChainPathCell] = [:]
        var hops: [ChainHop] = []
        merge(hosts: hosts) { traceHops, chains in
            hops += traceHops
            for c in chains {
                let path = cap.admit(c.entryService, c.path)
                traced[PathKey(bucket: bucket(c.startNanos), entry: c.entryService, path: path), default: ChainPathCell(scale: histogramScale)].add(c)
            }
            for h in traceHops where h.traceID == nil {
                let k = EdgeKey(bucket: bucket(h.startNanos), caller: h.caller, callee: h.callee)
                let one = AssembledChain(traceID: TraceID(high: 0, low: 0), entryService: h.caller, path: "", startNanos: h.startNanos,
                                         durationNanos: h.durationNanos, failed: h.statusClass == 3, hops: 1)
                untraced[k, default: ChainPathCell(scale: histogramScale)].add(one)
            }
        }
        let kept = cap.kept()
        var merged: [PathKey: ChainPathCell] = [:]
        for (k, cell) in traced {
            var key = k
            if kept[k.entry]?.contains(k.path) != true { key.path = RouteTemplate.other }
            merged[key, default: ChainPathCell(scale: histogramScale)].merge(cell)
        }
        var paths = merged.map { (bucket: $0.key.bucket, entry: $0.key.entry, path: $0.key.path, traced: true, cell: $0.value) }
        for (k, cell) in untraced { paths.append((k.bucket, k.caller, "\(k.caller)>\(k.callee)", false, cell)) }
        return (hops, paths)
    }
}

extension CallChainsTable {
    /// A host's partial read back (merge-only runs): its observations, in the order written.
    static func observations(reading path: String, tableRoot: String) throws(PipelineError) -> [HopObservation] {
        let rel = path.hasPrefix(tableRoot + "/") ? String(path.dropFirst(tableRoot.count + 1)) : path
        let c = try PartialColumns(reading: path, as: schema, relative: rel)
        let n = c.rowCount
        guard case .byteArray(let traceText) = c.columns[2].values, let traceValid = c.columns[2].validity ?? Optional([Bool](repeating: true, count: n)),
              traceValid.count == n, case .boolean = c.columns[17].values
        else { throw c.bad(2) }
        let spans = try c.strings(3), callers = try c.strings(7), callees = try c.strings(8), protos = try c.strings(9)
        let starts = try c.int64(10), durations = try c.optionalInt64(11), classes = try c.strings(12)
        let codes = try c.int32(13), sides = try c.strings(14), hosts = try c.strings(15), clients = try c.strings(16)
        let traceStrings = traceText.strings
        var next = 0, out: [HopObservation] = []
        out.reserveCapacity(n)
        for r in 0..<n {
            var trace: TraceID?
            if traceValid[r] {
                guard next < traceStrings.count, let t = TraceID(hex: traceStrings[next]) else {
                    throw .missingInput("\(rel): row \(r): trace_id is not 32 hex digits")
                }
                trace = t
                next += 1
            }
            guard let side = HopObservation.Side(rawValue: sides[r]) else {
                throw .missingInput("\(rel): row \(r): observers '\(sides[r])' is not one side (a partial holds observations)")
            }
            let status: UInt8 = switch classes[r] { case "ok": 1; case "client_error": 2; case "server_error": 3; default: 0 }
            out.append(HopObservation(
                traceID: trace, spanID: UInt64(spans[r], radix: 16) ?? 0, caller: callers[r], callee: callees[r], side: side,
                clientEndpoint: clients[r], host: hosts[r], proto: protos[r], startNanos: starts[r], durationNanos: durations[r].map { Int64(clamping: $0) },
                statusClass: status, statusCode: UInt16(clamping: codes[r])))
        }
        return out
    }
}
