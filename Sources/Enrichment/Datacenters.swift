import YAMLConfig

/// Where an address lives: datacenter and zone, from `datacenters.yaml`.
public struct Placement: Hashable, Sendable {
    public let datacenter: String
    public let zone: String
}

/// CIDR → datacenter/zone with longest-prefix match. The table is small
/// (tens to hundreds of networks); callers that look up millions of records
/// cache by address.
public struct DatacenterTable: Sendable {
    public struct Entry: Sendable {
        public let cidr: CIDR
        public let placement: Placement
    }

    /// Sorted longest prefix first, so the first hit is the longest match.
    public let entries: [Entry]

    public init(entries: [Entry]) {
        self.entries = entries.sorted { $0.cidr.prefixLength > $1.cidr.prefixLength }
    }

    public func placement(of address: NetworkAddress) -> Placement? {
        entries.first { $0.cidr.contains(address) }?.placement
    }

    /// Parses `datacenters.yaml` (schemas/metadata-v1.md).
    public static func parse(yaml text: String, file: String) throws(MetadataError) -> DatacenterTable {
        let root = try YAMLNode.load(text, file: file)
        try root.requireKeys(in: ["version", "networks"])
        try checkVersion(root)
        var entries: [Entry] = []
        var seen: [CIDR: Int] = [:]
        for n in try root.required("networks").sequence() {
            try n.requireKeys(in: ["cidr", "datacenter", "zone"])
            let cidrNode = try n.required("cidr")
            let text = try cidrNode.string()
            guard let cidr = CIDR(text) else {
                throw cidrNode.fail("'\(text)' is not a CIDR block with zero host bits (e.g. 198.18.0.0/24)")
            }
            if let first = seen[cidr] {
                throw cidrNode.fail("\(cidr) is listed twice (first on line \(first))")
            }
            seen[cidr] = cidrNode.line ?? 0
            let dc = try n.required("datacenter").string()
            let zone = try n["zone"]?.string() ?? dc
            guard !dc.isEmpty else { throw n.fail("must not be empty", field: "\(n.path).datacenter") }
            entries.append(Entry(cidr: cidr, placement: Placement(datacenter: dc, zone: zone)))
        }
        return DatacenterTable(entries: entries)
    }
}

/// Metadata files carry `version: 1`; anything else is refused by name.
func checkVersion(_ root: YAMLNode) throws(MetadataError) {
    let v = try root.required("version")
    guard try v.int() == 1 else {
        throw v.fail("unsupported version \(try v.string()); this Redline reads version 1")
    }
}
