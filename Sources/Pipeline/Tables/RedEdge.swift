import Aggregates

/// `red_edge` (schemas/tables/red_edge.md): RED per caller → callee edge, protocol and observer.
public enum RedEdge: OutputTable {
    public typealias Cell = REDCell

    public struct Key: TableKey {
        public var bucket: Int64 = 0
        public var caller: Int32 = 0
        public var callee: Int32 = 0
        public var callerDC: Int32 = 0
        public var calleeDC: Int32 = 0
        public var proto: Int32 = 0
        public var observer: Int32 = 0
        /// Where the observer's peer (the caller for `server`, the callee for `client`) was
        /// named from: the id of a `PeerIdentitySource` name.
        public var peerSource: Int32 = 0

        public init() {}

        public init(bucket: Int64, caller: Int32, callee: Int32, callerDC: Int32, calleeDC: Int32, proto: Int32,
                    observer: Int32, peerSource: Int32) {
            self.bucket = bucket
            self.caller = caller
            self.callee = callee
            self.callerDC = callerDC
            self.calleeDC = calleeDC
            self.proto = proto
            self.observer = observer
            self.peerSource = peerSource
        }

        public static func < (a: Self, b: Self) -> Bool {
            let x = (a.bucket, a.caller, a.callee, a.callerDC, a.calleeDC, a.proto)
            let y = (b.bucket, b.caller, b.callee, b.callerDC, b.calleeDC, b.proto)
            return x != y ? x < y : (a.observer, a.peerSource) < (b.observer, b.peerSource)
        }

        /// Three packed words instead of eight fields: fewer SipHash rounds per lookup.
        public func hash(into h: inout Hasher) {
            h.combine(bucket)
            h.combine(packed(caller, callee) ^ UInt64(UInt32(bitPattern: peerSource)) &* 0xC2B2_AE3D_27D4_EB4F)
            h.combine(packed(callerDC, calleeDC) ^ packed(proto, observer) &* 0x9E37_79B9_7F4A_7C15)
        }
    }

    public static let name = "red_edge"
    public static let version = 3
    public static let doc = "RED metrics per caller -> callee edge, protocol and observing side, per bucket."

    public static var fields: [OutputField<Key, Cell>] {
        [
            .bucket,
            .name("caller", \.caller, doc: "The service that sent the requests; unknown if unresolved."),
            .name("callee", \.callee, doc: "The service that served them; unknown if unresolved."),
            .name("caller_dc", \.callerDC, doc: "Datacenter of the caller's address; unknown if none."),
            .name("callee_dc", \.calleeDC, doc: "Datacenter of the callee's address; unknown if none."),
            .name("protocol", \.proto, doc: "L7 protocol of the matched rule."),
            .name("observer", \.observer, doc: "server or client: whose sockets saw the calls."),
            .peerIdentitySource(\.peerSource, peer: "the observer's peer (the caller when observer is server, the callee when client)"),
        ] + OutputField.redMetrics + [.completeness]
    }

    public static func emptyCell(histogramScale: Int) -> Cell { REDCell(scale: histogramScale) }
}
