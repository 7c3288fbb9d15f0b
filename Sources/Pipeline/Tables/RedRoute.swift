import Aggregates

/// `red_route` (schemas/tables/red_route.md): RED per callee service, protocol, domain, route
/// template, request rule and observer: the L7 domain view.
public enum RedRoute: OutputTable {
    public typealias Cell = REDCell

    public struct Key: TableKey {
        public var bucket: Int64 = 0
        public var service: Int32 = 0
        public var proto: Int32 = 0
        public var domain: Int32 = 0
        public var route: Int32 = 0
        public var rule: Int32 = 0
        public var observer: Int32 = 0

        public init() {}

        public init(bucket: Int64, service: Int32, proto: Int32, domain: Int32, route: Int32, rule: Int32, observer: Int32) {
            self.bucket = bucket
            self.service = service
            self.proto = proto
            self.domain = domain
            self.route = route
            self.rule = rule
            self.observer = observer
        }

        public static func < (a: Self, b: Self) -> Bool {
            let x = (a.bucket, a.service, a.proto, a.domain, a.route), y = (b.bucket, b.service, b.proto, b.domain, b.route)
            return x != y ? x < y : (a.rule, a.observer) < (b.rule, b.observer)
        }
    }

    public static let name = "red_route"
    public static let version = 1
    public static let doc = "RED metrics per callee service, protocol, domain, route template, request rule and observing side, per bucket."

    public static var fields: [OutputField<Key, Cell>] {
        [
            .bucket,
            .name("service", \.service, doc: "The callee: the service that served the calls; unknown if unresolved."),
            .name("protocol", \.proto, doc: "L7 protocol of the matched rule (http1, redis, dns, ...)."),
            .name("domain", \.domain, doc: """
                HTTP Host / :authority without port, lower-cased; DNS: the query name; {none} if the call carries none, \
                {invalid} if unreadable, {other} on rows the per-service cap folded.
                """),
            .name("route", \.route, doc: """
                HTTP: the path's template (identifiers replaced by {id}, {uuid}, {hex}, {token}); Redis: the command; \
                DNS: the query type; {none}, {invalid}, {truncated} or {other} as red_route.md says.
                """),
            .code("request_rule", \.rule, doc: "Id of the rule that matched the request (shipped rules: 1-7 are the HTTP methods GET ... OPTIONS)."),
            .name("observer", \.observer, doc: "server: seen on the callee's sockets; client: seen on callers' sockets."),
        ] + OutputField.redMetrics + [.completeness]
    }

    public static func emptyCell(histogramScale: Int) -> Cell { REDCell(scale: histogramScale) }
}
