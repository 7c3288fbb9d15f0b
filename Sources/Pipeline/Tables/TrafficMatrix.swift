import Aggregates

/// `traffic_matrix` (schemas/tables/traffic_matrix.md): bytes, packets, flows and calls from one
/// datacenter and service to another.
public enum TrafficMatrix: OutputTable {
    public typealias Cell = TrafficCell

    public struct Key: TableKey {
        public var bucket: Int64 = 0
        public var srcDC: Int32 = 0
        public var dstDC: Int32 = 0
        public var srcService: Int32 = 0
        public var dstService: Int32 = 0
        public var l4: Int32 = 0
        public var observer: Int32 = 0
        /// Where the observer's peer (dst for `source`, src for `destination`) was named from:
        /// the id of a `PeerIdentitySource` name.
        public var peerSource: Int32 = 0

        public init() {}

        public init(bucket: Int64, srcDC: Int32, dstDC: Int32, srcService: Int32, dstService: Int32, l4: Int32,
                    observer: Int32, peerSource: Int32) {
            self.bucket = bucket
            self.srcDC = srcDC
            self.dstDC = dstDC
            self.srcService = srcService
            self.dstService = dstService
            self.l4 = l4
            self.observer = observer
            self.peerSource = peerSource
        }

        public static func < (a: Self, b: Self) -> Bool {
            let x = (a.bucket, a.srcDC, a.dstDC, a.srcService, a.dstService, a.l4)
            let y = (b.bucket, b.srcDC, b.dstDC, b.srcService, b.dstService, b.l4)
            return x != y ? x < y : (a.observer, a.peerSource) < (b.observer, b.peerSource)
        }

        /// Three packed words instead of eight fields: fewer SipHash rounds per lookup.
        public func hash(into h: inout Hasher) {
            h.combine(bucket)
            h.combine(packed(srcService, dstService) ^ UInt64(UInt32(bitPattern: peerSource)) &* 0xC2B2_AE3D_27D4_EB4F)
            h.combine(packed(srcDC, dstDC) ^ packed(l4, observer) &* 0x9E37_79B9_7F4A_7C15)
        }
    }

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
