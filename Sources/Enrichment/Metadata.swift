import Foundation
import YAMLConfig

/// The metadata snapshot a pipeline run joins records with: a folder holding
/// `pods.json`, `services.yaml` and `datacenters.yaml` (schemas/metadata-v1.md).
/// Each file is optional; what is absent resolves to `unknown`.
/// Errors of metadata files are configuration errors: file, line, field, message.
public typealias MetadataError = ConfigError

public struct Metadata: Sendable {
    public let pods: PodSnapshot
    public let services: ServiceMap
    public let datacenters: DatacenterTable

    public init(pods: PodSnapshot = PodSnapshot(pods: []), services: ServiceMap = ServiceMap(services: []),
                datacenters: DatacenterTable = DatacenterTable(entries: [])) {
        self.pods = pods
        self.services = services
        self.datacenters = datacenters
    }

    /// Loads a snapshot folder. A missing folder is an error; a missing file is not.
    public static func load(directory: String) throws(MetadataError) -> Metadata {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw MetadataError(file: directory, "metadata folder not found")
        }
        func read(_ name: String) throws(MetadataError) -> Data? {
            let path = (directory as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            guard let d = FileManager.default.contents(atPath: path) else {
                throw MetadataError(file: path, "cannot be read")
            }
            return d
        }
        func text(_ d: Data, _ name: String) throws(MetadataError) -> String {
            guard let s = String(data: d, encoding: .utf8) else {
                throw MetadataError(file: (directory as NSString).appendingPathComponent(name), "not UTF-8 text")
            }
            return s
        }
        let podsPath = (directory as NSString).appendingPathComponent("pods.json")
        let pods = try read("pods.json").map { (d: Data) throws(MetadataError) in try PodSnapshot.parse(json: d, file: podsPath) }
        let svcPath = (directory as NSString).appendingPathComponent("services.yaml")
        let services = try read("services.yaml").map { (d: Data) throws(MetadataError) in
            try ServiceMap.parse(yaml: try text(d, "services.yaml"), file: svcPath)
        }
        let dcPath = (directory as NSString).appendingPathComponent("datacenters.yaml")
        let dcs = try read("datacenters.yaml").map { (d: Data) throws(MetadataError) in
            try DatacenterTable.parse(yaml: try text(d, "datacenters.yaml"), file: dcPath)
        }
        return Metadata(pods: pods ?? PodSnapshot(pods: []), services: services ?? ServiceMap(services: []),
                        datacenters: dcs ?? DatacenterTable(entries: []))
    }

    /// The label used wherever a name cannot be resolved; counted, never dropped.
    public static let unknown = "unknown"

    /// A local endpoint's service: by the collector's service id, else the pod
    /// owning the cgroup (pod uid or container id from a cgroup mapping record),
    /// else a cgroup path glob.
    public func localService(serviceID: UInt32, podUID: String?, containerID: String?, cgroupPath: String?) -> String? {
        if let s = services.service(id: serviceID) { return s.name }
        if let uid = podUID, !uid.isEmpty, let p = pods.pod(uid: uid),
           let s = services.service(podLabels: p.labels, namespace: p.namespace) { return s.name }
        if let cid = containerID, !cid.isEmpty, let p = pods.pod(containerID: cid),
           let s = services.service(podLabels: p.labels, namespace: p.namespace) { return s.name }
        if let path = cgroupPath, !path.isEmpty, let s = services.service(cgroupPath: path) { return s.name }
        return nil
    }

    /// A remote endpoint's service: by the id in its TCP identity option, else
    /// by the pod that owns its address.
    public func remoteService(peerServiceID: UInt32, address: NetworkAddress) -> String? {
        remoteIdentity(peerServiceID: peerServiceID, address: address).service
    }

    /// A remote endpoint's service and where it came from, in order of trust: the id the
    /// peer's kernel put in the identity TCP option (measured on this connection), else the
    /// pod that owns the address in the snapshot (inferred: as good as the snapshot's age),
    /// else nothing (`unknown`).
    public func remoteIdentity(peerServiceID: UInt32, address: NetworkAddress) -> (service: String?, source: PeerIdentitySource) {
        if let s = services.service(id: peerServiceID) { return (s.name, .tcpOption) }
        if let p = pods.pod(ip: address), let s = services.service(podLabels: p.labels, namespace: p.namespace) {
            return (s.name, .metadata)
        }
        return (nil, .unknown)
    }
}

/// Where a row's peer identity came from (column `peer_identity_source`), most trusted first.
public enum PeerIdentitySource: String, Sendable, CaseIterable {
    /// The peer's service id from the identity TCP option its kernel wrote on SYN / SYN-ACK.
    case tcpOption = "tcp_option"
    /// The metadata snapshot: the peer address's pod, that pod's service. Used for connections
    /// that never carried the option (older than the collector, a peer without Redline, a
    /// middlebox that strips options).
    case metadata
    /// Neither named the peer.
    case unknown
}
