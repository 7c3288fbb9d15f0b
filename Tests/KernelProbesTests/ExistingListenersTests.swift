import CRedlineABI
import Foundation
import KernelProbes
import Testing
import TestSupport

/// `rl_iter_listeners`: listeners that existed before sockops was attached get the identity
/// option, inside the given cgroup scope and network namespace only.
@Suite("Existing listeners (root, BPF, netns)", .serialized, .requiresNetnsLab)
struct ExistingListenersTests {
    @Test("rootBPF netns: a listener older than sockops exchanges the option both ways after the walk; listeners out of scope or in another netns are untouched")
    func rootBPFNetnsExistingListener() throws {
        let lab = try NetnsLab(tag: "iter", subnet: 13)
        defer { lab.tearDown() }
        let attachments = Attachments()
        defer { try? attachments.detachAll() }
        let dp = try DataPlane.withDefaultRules()
        let sink = Collected()
        let ring = try reader(for: dp, into: sink)
        let (clientService, serverService): (UInt32, UInt32) = (101, 202)
        try dp.setService(cgroupID: try NetnsLab.cgroupID(lab.clientCgroup), serviceID: clientService)
        try dp.setService(cgroupID: try NetnsLab.cgroupID(lab.serverCgroup), serviceID: serverService)

        // Two listeners in the server namespace before anything is attached: one in the server
        // cgroup (the scope below), one in the client cgroup (out of scope).
        let port = 8081, outside = 8082
        try lab.start(in: lab.server, cgroup: lab.serverCgroup, "python3 -m http.server \(port) --bind \(lab.serverAddr)")
        try lab.start(in: lab.server, cgroup: lab.clientCgroup, "python3 -m http.server \(outside) --bind \(lab.serverAddr)")
        try lab.waitForPort(port)
        try lab.waitForPort(outside)

        for (ifname, ns) in [(lab.clientIf, lab.clientNetns), (lab.serverIf, lab.serverNetns)] {
            attachments.add(try TCAttachment(program: try dp.program(.tcIngress), interface: ifname, direction: .ingress, netns: ns))
            attachments.add(try TCAttachment(program: try dp.program(.tcEgress), interface: ifname, direction: .egress, netns: ns))
        }
        attachments.add(try Link.attachCgroup(try dp.program(.sockops), cgroupPath: lab.cgroupRoot))

        // Scope: the server cgroup, two levels below the v2 mount (…/redline-test-ID/server).
        let scopeID = try NetnsLab.cgroupID(lab.serverCgroup)
        // The test's own namespace holds no listener of the lab: nothing is touched there.
        #expect(try dp.enableExistingListeners(cgroupID: scopeID, cgroupLevel: 2).isEmpty)
        let reports = try dp.enableExistingListeners(cgroupID: scopeID, cgroupLevel: 2, netns: lab.serverNetns)
        #expect(reports.map(\.port) == [UInt16(port)], "only the in-scope listener: \(reports.map(\.port))")
        if let r = reports.first {
            #expect(r.service_id == serverService && r.cgroup_id == scopeID)
            #expect(r.save_syn_err == 0 && r.cb_flags_err == 0, "this kernel (6.18) allows both: \(r.save_syn_err) \(r.cb_flags_err)")
        }
        // Idempotent: a second walk (SIGHUP) reports the same and changes nothing.
        #expect(try dp.enableExistingListeners(cgroupID: scopeID, cgroupLevel: 2, netns: lab.serverNetns).map(\.port) == [UInt16(port)])

        try ring.drain()
        sink.records.removeAll()
        for p in [port, outside] {
            try lab.run(in: lab.client, cgroup: lab.clientCgroup,
                        "curl -s -o /dev/null http://\(lab.serverAddr):\(p)/ -o /dev/null http://\(lab.serverAddr):\(p)/")
        }
        let calls = { (p: Int, side: rl_side) in
            sink.calls.map(\.0).filter { $0.side == UInt8(side.rawValue) && ($0.lport == UInt16(p) || $0.rport == UInt16(p)) }
        }
        try pollUntil(ring) { [port, outside].allSatisfy { calls($0, RL_SIDE_CLIENT).count >= 2 && calls($0, RL_SIDE_SERVER).count >= 2 } }
        // The walked listener: the server read the client's option from the saved SYN, the client
        // the server's from the SYN-ACK the listener now writes it on.
        #expect(calls(port, RL_SIDE_SERVER).count == 2 && calls(port, RL_SIDE_SERVER).allSatisfy { $0.peer_service == clientService })
        #expect(calls(port, RL_SIDE_CLIENT).count == 2 && calls(port, RL_SIDE_CLIENT).allSatisfy { $0.peer_service == serverService })
        // The listener out of scope kept what it had: no saved SYN, no option on its SYN-ACK.
        #expect(calls(outside, RL_SIDE_SERVER).allSatisfy { $0.peer_service == 0 })
        #expect(calls(outside, RL_SIDE_CLIENT).allSatisfy { $0.peer_service == 0 })
    }
}
