import Foundation
import Testing
@testable import Enrichment
import YAMLConfig

@Suite struct NetworkAddressTests {
    @Test(arguments: ["198.18.0.1", "0.0.0.0", "255.255.255.255", "2001:db8::1", "::1", "::",
                      "fe80::1:2:3:4", "2001:db8:0:1:1:1:1:1", "1::"])
    func parsesAndPrintsCanonically(_ text: String) throws {
        let a = try #require(NetworkAddress(text))
        #expect(a.description == text)
    }

    @Test func ipv4IsMapped() throws {
        let a = try #require(NetworkAddress("198.18.1.2"))
        #expect(a.isIPv4 && a.ipv4 == 0xC612_0102)
        #expect(NetworkAddress("::ffff:198.18.1.2") == a)
        var bytes = [UInt8](repeating: 0, count: 16)
        bytes[10] = 0xFF; bytes[11] = 0xFF; bytes[12] = 198; bytes[13] = 18; bytes[14] = 1; bytes[15] = 2
        #expect(NetworkAddress(bytes: bytes) == a)
    }

    @Test(arguments: ["", "1.2.3", "1.2.3.256", "1.2.3.4.5", "01234.1.1.1", "1::2::3", "12345::", "g::1", ":::", "1:2:3:4:5:6:7:8:9"])
    func rejectsMalformedText(_ text: String) {
        #expect(NetworkAddress(text) == nil)
    }

    @Test func cidrMatchesByPrefix() throws {
        let c = try #require(CIDR("198.18.0.0/15"))
        #expect(c.contains(NetworkAddress("198.19.255.255")!))
        #expect(!c.contains(NetworkAddress("198.20.0.0")!))
        #expect(c.description == "198.18.0.0/15")
        #expect(CIDR("198.18.0.1/24") == nil, "host bits set")
        #expect(CIDR("198.18.0.0/33") == nil)
        #expect(try #require(CIDR("2001:db8::/32")).contains(NetworkAddress("2001:db8:ffff::1")!))
        #expect(try #require(CIDR("0.0.0.0/0")).contains(NetworkAddress("8.8.8.8")!))
        #expect(!(try #require(CIDR("0.0.0.0/0")).contains(NetworkAddress("2001:db8::1")!)), "v4 /0 is not v6")
    }
}

@Suite struct MetadataFileTests {
    @Test func datacentersUseLongestPrefix() throws {
        let t = try DatacenterTable.parse(yaml: """
            version: 1
            networks:
              - {cidr: 198.18.0.0/15, datacenter: lab}
              - {cidr: 198.18.1.0/24, datacenter: dc1, zone: dc1-a}
              - {cidr: 198.18.2.0/24, datacenter: dc2, zone: dc2-a}
            """, file: "datacenters.yaml")
        #expect(t.placement(of: NetworkAddress("198.18.1.7")!) == Placement(datacenter: "dc1", zone: "dc1-a"))
        #expect(t.placement(of: NetworkAddress("198.18.9.9")!) == Placement(datacenter: "lab", zone: "lab"))
        #expect(t.placement(of: NetworkAddress("203.0.113.1")!) == nil)
    }

    @Test func badDatacentersNameFileLineAndField() {
        let e = #expect(throws: MetadataError.self) {
            try DatacenterTable.parse(yaml: "version: 1\nnetworks:\n  - cidr: 198.18.0.1/24\n    datacenter: dc1\n", file: "dc.yaml")
        }
        #expect(e?.line == 3)
        #expect(e?.field == "networks[0].cidr")
        #expect(e?.description.hasPrefix("dc.yaml:3: networks[0].cidr:") == true)

        let v = #expect(throws: MetadataError.self) { try DatacenterTable.parse(yaml: "version: 2\nnetworks: []\n", file: "dc.yaml") }
        #expect(v?.message.contains("unsupported version 2") == true)
        let typo = #expect(throws: MetadataError.self) {
            try DatacenterTable.parse(yaml: "version: 1\nnetworks:\n  - cidr: 10.0.0.0/8\n    datacentre: x\n", file: "dc.yaml")
        }
        #expect(typo?.message.contains("unknown key 'datacentre'") == true)
        #expect(typo?.line == 4)
        let syntax = #expect(throws: MetadataError.self) { try DatacenterTable.parse(yaml: "version: 1\nnetworks: [\n", file: "dc.yaml") }
        #expect(syntax?.message.contains("invalid YAML") == true)
    }

    @Test func servicesValidateNamesAndIDs() throws {
        let m = try ServiceMap.parse(yaml: """
            version: 1
            services:
              - name: frontend
                id: 101
                namespace: shop
                selector: {app: frontend}
              - name: redis
                id: 103
                cgroups: ["/redline-lab/*/redis*"]
            """, file: "services.yaml")
        #expect(m.service(id: 103)?.name == "redis")
        #expect(m.service(id: 0) == nil)
        #expect(m.service(podLabels: ["app": "frontend", "x": "y"], namespace: "shop")?.name == "frontend")
        #expect(m.service(podLabels: ["app": "frontend"], namespace: "other") == nil)
        #expect(m.service(cgroupPath: "/redline-lab/host1/redis-server")?.name == "redis")
        #expect(m.service(cgroupPath: "/redline-lab/host1/nginx") == nil)

        let dup = #expect(throws: MetadataError.self) {
            try ServiceMap.parse(yaml: "version: 1\nservices:\n  - {name: a, id: 5}\n  - {name: b, id: 5}\n", file: "s.yaml")
        }
        #expect(dup?.line == 4)
        #expect(dup?.message.contains("already used by 'a'") == true)
        let reserved = #expect(throws: MetadataError.self) {
            try ServiceMap.parse(yaml: "version: 1\nservices:\n  - {name: unknown, id: 5}\n", file: "s.yaml")
        }
        #expect(reserved?.message.contains("reserved") == true)
        let unmatched = #expect(throws: MetadataError.self) {
            try ServiceMap.parse(yaml: "version: 1\nservices:\n  - {name: a}\n", file: "s.yaml")
        }
        #expect(unmatched?.message.contains("nothing can match it") == true)
    }

    @Test func podsSnapshotFromKubectlJSON() throws {
        let json = """
        {"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": [
          {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "frontend-7d9f", "namespace": "shop", "uid": "0b6f3c1e-8a52-4c41-9d7e-2f1a3b4c5d6e",
                        "labels": {"app": "frontend", "pod-template-hash": "7d9f"}},
           "spec": {"nodeName": "host1", "containers": [{"name": "web", "image": "nginx"}]},
           "status": {"phase": "Running", "hostIP": "198.18.1.1", "podIP": "198.18.1.10",
                      "podIPs": [{"ip": "198.18.1.10"}, {"ip": "2001:db8::10"}],
                      "containerStatuses": [{"name": "web", "containerID": "containerd://4f1c0a9e", "ready": true}]}},
          {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "node-agent", "namespace": "kube-system", "uid": "u-2", "labels": {"app": "agent"}},
           "spec": {"nodeName": "host1", "hostNetwork": true},
           "status": {"hostIP": "198.18.1.1", "podIP": "198.18.1.1"}}
        ]}
        """
        let snap = try PodSnapshot.parse(json: Data(json.utf8), file: "pods.json")
        #expect(snap.pods.count == 2)
        let p = try #require(snap.pod(ip: NetworkAddress("2001:db8::10")!))
        #expect(p.name == "frontend-7d9f" && p.namespace == "shop" && p.node == "host1")
        #expect(snap.pod(containerID: "4f1c0a9e")?.uid == p.uid)
        #expect(snap.pod(ip: NetworkAddress("198.18.1.1")!) == nil, "host-network pods are not joined by IP")

        let bad = #expect(throws: MetadataError.self) {
            try PodSnapshot.parse(json: Data(#"{"kind": "List", "items": [{"metadata": {"name": "x"}}]}"#.utf8), file: "pods.json")
        }
        #expect(bad?.field == "items[0].metadata.uid")
        let notJSON = #expect(throws: MetadataError.self) { try PodSnapshot.parse(json: Data("{".utf8), file: "pods.json") }
        #expect(notJSON?.message.contains("invalid JSON") == true)
        let wrongKind = #expect(throws: MetadataError.self) {
            try PodSnapshot.parse(json: Data(#"{"kind": "ServiceList", "items": []}"#.utf8), file: "pods.json")
        }
        #expect(wrongKind?.field == "kind")
    }

    @Test func resolutionOrderAndFolderLoading() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("redline-meta-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try """
        version: 1
        services:
          - {name: frontend, id: 101, selector: {app: frontend}}
          - {name: cache, cgroups: ["/lab/cache*"]}
        """.write(to: dir.appendingPathComponent("services.yaml"), atomically: true, encoding: .utf8)
        try #"{"kind":"List","items":[{"metadata":{"uid":"u1","labels":{"app":"frontend"}},"status":{"podIP":"198.18.1.10"}}]}"#
            .write(to: dir.appendingPathComponent("pods.json"), atomically: true, encoding: .utf8)
        let m = try Metadata.load(directory: dir.path)
        #expect(m.localService(serviceID: 101, podUID: nil, containerID: nil, cgroupPath: nil) == "frontend")
        #expect(m.localService(serviceID: 0, podUID: "u1", containerID: nil, cgroupPath: nil) == "frontend")
        #expect(m.localService(serviceID: 0, podUID: nil, containerID: nil, cgroupPath: "/lab/cache-1") == "cache")
        #expect(m.localService(serviceID: 999, podUID: nil, containerID: nil, cgroupPath: "/elsewhere") == nil)
        #expect(m.remoteService(peerServiceID: 0, address: NetworkAddress("198.18.1.10")!) == "frontend")
        #expect(m.remoteService(peerServiceID: 0, address: NetworkAddress("198.18.1.11")!) == nil)
        #expect(m.datacenters.entries.isEmpty, "absent datacenters.yaml is not an error")

        #expect(throws: MetadataError.self) { try Metadata.load(directory: dir.appendingPathComponent("nope").path) }
    }
}
