import Aggregates

/// `red_service` (schemas/tables/red_service.md): RED per callee service, protocol and observer.
public enum RedService: OutputTable {
    public typealias Cell = REDCell

    public struct Key: TableKey {
        public var bucket: Int64 = 0
        public var service: Int32 = 0
        public var proto: Int32 = 0
        public var observer: Int32 = 0

        public init() {}

        public init(bucket: Int64, service: Int32, proto: Int32, observer: Int32) {
            self.bucket = bucket
            self.service = service
            self.proto = proto
            self.observer = observer
        }

        public static func < (a: Self, b: Self) -> Bool {
            (a.bucket, a.service, a.proto, a.observer) < (b.bucket, b.service, b.proto, b.observer)
        }

        /// Two packed words instead of four fields: fewer SipHash rounds per lookup.
        public func hash(into h: inout Hasher) {
            h.combine(bucket)
            h.combine(packed(service, proto) ^ UInt64(UInt32(bitPattern: observer)) &* 0x9E37_79B9_7F4A_7C15)
        }
    }

    public static let name = "red_service"
    public static let version = 2
    public static let doc = "RED metrics (rate, errors, duration) per callee service, protocol and observing side, per bucket."

    public static var fields: [OutputField<Key, Cell>] {
        [
            .bucket,
            .name("service", \.service, doc: "The callee: the service that served the calls; unknown if unresolved."),
            .name("protocol", \.proto, doc: "L7 protocol of the matched rule (http1, redis, dns, ...)."),
            .name("observer", \.observer, doc: "server: seen on the callee's sockets; client: seen on callers' sockets."),
        ] + OutputField.redMetrics + [.completeness]
    }

    public static func emptyCell(histogramScale: Int) -> Cell { REDCell(scale: histogramScale) }
}

/// Two ids in one word, for hashing (equality still compares every field).
@inline(__always)
func packed(_ a: Int32, _ b: Int32) -> UInt64 {
    UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
}
