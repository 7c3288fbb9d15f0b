/// Enrichment resolution with caches, for one host's records: records repeat the same few
/// cgroups, peers and addresses, so each is resolved against the metadata snapshot once and
/// then answered as a `NamePool` id.
public struct EnrichmentCache {
    /// Local identity of a cgroup, from the collector's mapping records.
    public struct CgroupIdentity: Sendable {
        public var podUID: String
        public var containerID: String
        public var path: String
        public var serviceID: UInt32

        public init(podUID: String, containerID: String, path: String, serviceID: UInt32) {
            self.podUID = podUID
            self.containerID = containerID
            self.path = path
            self.serviceID = serviceID
        }
    }

    let metadata: Metadata
    let cgroups: [UInt64: CgroupIdentity]
    /// Name ids of the `PeerIdentitySource` names (`unknown` is `NamePool.unknown`).
    let tcpOption, metadataSource: Int32
    private var localCache: [LocalKey: Int32] = [:]
    private var remoteCache: [RemoteKey: RemoteIdentity] = [:]
    private var dcCache: [NetworkAddress: Int32] = [:]
    private var protoCache: [UInt8: Int32] = [:]

    private struct LocalKey: Hashable { var cgroup: UInt64; var service: UInt32 }
    private struct RemoteKey: Hashable { var service: UInt32; var address: NetworkAddress }
    /// A peer's service name id and the name id of its `PeerIdentitySource`.
    public struct RemoteIdentity: Sendable {
        public var service: Int32
        public var source: Int32
    }

    public init(metadata: Metadata, cgroups: [UInt64: CgroupIdentity], names: inout NamePool) {
        self.metadata = metadata
        self.cgroups = cgroups
        tcpOption = names.id(PeerIdentitySource.tcpOption.rawValue)
        metadataSource = names.id(PeerIdentitySource.metadata.rawValue)
    }

    /// The name id of a `PeerIdentitySource`.
    public func id(_ s: PeerIdentitySource) -> Int32 {
        switch s {
        case .tcpOption: tcpOption
        case .metadata: metadataSource
        case .unknown: NamePool.unknown
        }
    }

    /// The local service of a socket: its own service id, else its cgroup's (pod, container,
    /// path); `NamePool.unknown` if neither names one.
    public mutating func local(cgroup: UInt64, serviceID: UInt32, names: inout NamePool) -> Int32 {
        let key = LocalKey(cgroup: cgroup, service: serviceID)
        if let id = localCache[key] { return id }
        let info = cgroups[cgroup]
        let name = metadata.localService(serviceID: serviceID != 0 ? serviceID : info?.serviceID ?? 0,
                                         podUID: info?.podUID, containerID: info?.containerID, cgroupPath: info?.path)
        let id = name.map { names.id($0) } ?? NamePool.unknown
        localCache[key] = id
        return id
    }

    /// The peer's service and where it was named from (`Metadata.remoteIdentity`).
    public mutating func remote(peerServiceID: UInt32, address: NetworkAddress, names: inout NamePool) -> RemoteIdentity {
        let key = RemoteKey(service: peerServiceID, address: address)
        if let r = remoteCache[key] { return r }
        let (name, source) = metadata.remoteIdentity(peerServiceID: peerServiceID, address: address)
        let r = RemoteIdentity(service: name.map { names.id($0) } ?? NamePool.unknown, source: id(source))
        remoteCache[key] = r
        return r
    }

    /// The datacenter of an address; `NamePool.unknown` outside every listed network.
    public mutating func datacenter(_ a: NetworkAddress, names: inout NamePool) -> Int32 {
        if let id = dcCache[a] { return id }
        let id = metadata.datacenters.placement(of: a).map { names.id($0.datacenter) } ?? NamePool.unknown
        dcCache[a] = id
        return id
    }

    /// The name id of an `rl_l7_protocol` value (`L7ProtocolName`).
    public mutating func protocolID(_ p: UInt8, names: inout NamePool) -> Int32 {
        if let id = protoCache[p] { return id }
        let id = names.id(L7ProtocolName.name(p))
        protoCache[p] = id
        return id
    }
}

