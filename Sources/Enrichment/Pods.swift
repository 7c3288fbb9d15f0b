import Foundation
import YAMLConfig

/// One pod of a `kubectl get pods -o json` snapshot, reduced to what the join needs.
public struct Pod: Sendable, Equatable {
    public let name: String
    public let namespace: String
    public let uid: String
    public let labels: [String: String]
    public let node: String?
    public let ips: [NetworkAddress]
    public let hostIP: NetworkAddress?
    /// Container ids without the runtime scheme (`containerd://` etc.).
    public let containerIDs: [String]
}

/// A pods snapshot: the JSON `kubectl get pods -o json` prints (a `List` of
/// `Pod` objects). Fields Redline does not use are ignored; pods lacking a
/// uid are refused (they cannot be joined).
public struct PodSnapshot: Sendable {
    public let pods: [Pod]
    private let byUID: [String: Int]
    private let byIP: [NetworkAddress: Int]
    private let byContainer: [String: Int]

    public init(pods: [Pod]) {
        self.pods = pods
        var uid: [String: Int] = [:], ip: [NetworkAddress: Int] = [:], cid: [String: Int] = [:]
        for (i, p) in pods.enumerated() {
            uid[p.uid] = i
            // Host-network pods share the node's IP: an IP join would be a guess.
            for a in p.ips where a != p.hostIP { ip[a] = i }
            for c in p.containerIDs { cid[c] = i }
        }
        self.byUID = uid
        self.byIP = ip
        self.byContainer = cid
    }

    public func pod(uid: String) -> Pod? { byUID[uid].map { pods[$0] } }
    public func pod(ip: NetworkAddress) -> Pod? { byIP[ip].map { pods[$0] } }
    public func pod(containerID: String) -> Pod? { byContainer[containerID].map { pods[$0] } }

    public static func parse(json data: Data, file: String) throws(MetadataError) -> PodSnapshot {
        let list: KubeList
        do {
            list = try JSONDecoder().decode(KubeList.self, from: data)
        } catch let DecodingError.dataCorrupted(ctx) where ctx.codingPath.isEmpty {
            throw Self.syntaxError(in: data, file: file)
        } catch let DecodingError.dataCorrupted(ctx) {
            throw MetadataError(file: file, field: Self.path(ctx.codingPath), "invalid JSON: \(ctx.debugDescription)")
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw MetadataError(file: file, field: Self.path(ctx.codingPath + [key]), "missing required field")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw MetadataError(file: file, field: Self.path(ctx.codingPath), "wrong type: \(ctx.debugDescription)")
        } catch {
            throw MetadataError(file: file, "invalid pods snapshot: \(error)")
        }
        if let kind = list.kind, kind != "List", kind != "PodList" {
            throw MetadataError(file: file, field: "kind", "expected 'List' (kubectl get pods -o json), found '\(kind)'")
        }
        var pods: [Pod] = []
        for (i, item) in list.items.enumerated() {
            let m = item.metadata
            guard let uid = m.uid, !uid.isEmpty else {
                throw MetadataError(file: file, field: "items[\(i)].metadata.uid", "missing: a pod without a uid cannot be joined")
            }
            var ips: [NetworkAddress] = []
            for (j, s) in ((item.status?.podIPs?.map(\.ip) ?? []) + [item.status?.podIP].compactMap { $0 }).enumerated() {
                guard let a = NetworkAddress(s) else {
                    throw MetadataError(file: file, field: "items[\(i)].status.podIPs[\(j)]", "'\(s)' is not an IP address")
                }
                if !ips.contains(a) { ips.append(a) }
            }
            let cids = (item.status?.containerStatuses ?? []).compactMap(\.containerID).map { id in
                id.range(of: "://").map { String(id[$0.upperBound...]) } ?? id
            }
            pods.append(Pod(name: m.name ?? uid, namespace: m.namespace ?? "default", uid: uid,
                            labels: m.labels ?? [:], node: item.spec?.nodeName, ips: ips,
                            hostIP: item.status?.hostIP.flatMap { NetworkAddress($0) }, containerIDs: cids))
        }
        return PodSnapshot(pods: pods)
    }

    /// Where the JSON text breaks: JSONDecoder does not say, JSONSerialization names the
    /// character ("… around character N."), turned here into a byte offset and a line.
    static func syntaxError(in data: Data, file: String) -> MetadataError {
        var detail = "not valid JSON"
        do {
            _ = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            detail = (error as NSError).userInfo["NSDebugDescription"] as? String ?? "\(error)"
        }
        guard let r = detail.range(of: #"character \d+"#, options: .regularExpression),
              let offset = Int(detail[r].dropFirst("character ".count)) else {
            return MetadataError(file: file, "invalid JSON: \(detail)")
        }
        let line = 1 + data.prefix(offset).reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        return MetadataError(file: file, line: line, "invalid JSON at byte \(offset): \(detail)")
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: ["."])
    }

    private struct KubeList: Decodable {
        let kind: String?
        let items: [Item]
    }
    private struct Item: Decodable {
        let metadata: Meta
        let spec: Spec?
        let status: Status?
    }
    private struct Meta: Decodable {
        let name: String?
        let namespace: String?
        let uid: String?
        let labels: [String: String]?
    }
    private struct Spec: Decodable { let nodeName: String? }
    private struct Status: Decodable {
        let podIP: String?
        let podIPs: [PodIP]?
        let hostIP: String?
        let containerStatuses: [ContainerStatus]?
    }
    private struct PodIP: Decodable { let ip: String }
    private struct ContainerStatus: Decodable { let containerID: String? }
}
