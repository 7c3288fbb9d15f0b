import Aggregates

/// `dns_names` (schemas/tables/dns_names.md): DNS queries per client service, query name, type
/// and response code.
public enum DNSNames: OutputTable {
    public typealias Cell = REDCell

    public struct Key: TableKey {
        public var bucket: Int64 = 0
        public var client: Int32 = 0
        public var queryName: Int32 = 0
        public var queryType: Int32 = 0
        public var responseCode: Int32 = 0

        public init() {}

        public init(bucket: Int64, client: Int32, queryName: Int32, queryType: Int32, responseCode: Int32) {
            self.bucket = bucket
            self.client = client
            self.queryName = queryName
            self.queryType = queryType
            self.responseCode = responseCode
        }

        public static func < (a: Self, b: Self) -> Bool {
            (a.bucket, a.client, a.queryName, a.queryType, a.responseCode)
                < (b.bucket, b.client, b.queryName, b.queryType, b.responseCode)
        }
    }

    public static let name = "dns_names"
    public static let version = 1
    public static let doc = "DNS queries per client service, query name, query type and response code, per bucket."

    public static var fields: [OutputField<Key, Cell>] {
        [
            .bucket,
            .name("client_service", \.client, doc: "The service that sent the queries; unknown if unresolved."),
            .name("query_name", \.queryName, doc: """
                The question's name, lower-cased, no trailing dot; {none}, {truncated}, {invalid} or {oversized} when it \
                could not be read, {other} on rows the per-service cap folded.
                """),
            .name("query_type", \.queryType, doc: "QTYPE mnemonic (A, AAAA, SRV, ...; TYPE<n> for others); {none} if not captured."),
            .name("response_code", \.responseCode, doc: "RCODE mnemonic (NOERROR, NXDOMAIN, SERVFAIL, ...); none for a query without a response."),
        ] + OutputField.redMetrics + [.completeness]
    }

    public static func emptyCell(histogramScale: Int) -> Cell { REDCell(scale: histogramScale) }
}
