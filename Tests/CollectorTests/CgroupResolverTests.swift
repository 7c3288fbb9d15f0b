import Foundation
import Testing
@testable import Collector

@Suite struct CgroupResolverTests {
    let uid = "0b6f3c1e-8a52-4c41-9d7e-2f1a3b4c5d6e"
    let cid = "4f1c0a9e5b7d3c2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a"

    @Test func systemdDriverPaths() {
        let under = uid.replacingOccurrences(of: "-", with: "_")
        for runtime in ["cri-containerd-", "docker-", "crio-"] {
            let p = "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod\(under).slice/\(runtime)\(cid).scope"
            #expect(CgroupResolver.identity(fromPath: p) == CgroupIdentity(podUID: uid, containerID: cid), "\(runtime)")
        }
        let guaranteed = "/kubepods.slice/kubepods-pod\(under).slice/cri-containerd-\(cid).scope"
        #expect(CgroupResolver.identity(fromPath: guaranteed) == CgroupIdentity(podUID: uid, containerID: cid))
        // The pod's own slice: pod but no container.
        #expect(CgroupResolver.identity(fromPath: "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod\(under).slice")
                == CgroupIdentity(podUID: uid, containerID: nil))
    }

    @Test func cgroupfsDriverPaths() {
        #expect(CgroupResolver.identity(fromPath: "/kubepods/burstable/pod\(uid)/\(cid)") == CgroupIdentity(podUID: uid, containerID: cid))
        #expect(CgroupResolver.identity(fromPath: "/kubepods/pod\(uid)/\(cid)") == CgroupIdentity(podUID: uid, containerID: cid))
    }

    @Test func nonKubernetesPathsHaveNoIdentity() {
        for p in ["/", "/system.slice/nginx.service", "/user.slice/user-0.slice/session-3.scope",
                  "/redline-lab/host1/podman", "/system.slice/podzilla.service"] {
            #expect(CgroupResolver.identity(fromPath: p) == CgroupIdentity(), "\(p)")
        }
    }

    @Test func resolvesRealCgroupIDsOfThisHost() throws {
        let r = CgroupResolver()
        let root = try #require(r.id(forPath: "/"), "cgroup v2 mounted at \(r.mountPoint)")
        #expect(r.path(forID: root) == "/")
        // Our own cgroup, from /proc/self/cgroup ("0::/path").
        let own = try String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8)
            .split(separator: "\n").first { $0.hasPrefix("0::") }.map { String($0.dropFirst(3)) }
        if let own, let id = r.id(forPath: own) {
            #expect(r.path(forID: id) == own)
        }
        #expect(r.path(forID: 0xFFFF_FFFF_FFFF) == nil)
    }
}
