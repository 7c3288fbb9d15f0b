import Foundation
import KernelProbes
import Testing
import TestSupport

@Suite("Stale tc filters are found through rtnetlink and removed by program name", .serialized)
struct StaleFilterTests {
    @Test("netns: a Redline filter left on an interface is removed, a foreign filter on the same hook is left alone",
          .requiresNetnsLab)
    func staleRedlineFilterRemovedForeignKept() throws {
        let lab = try NetnsLab(tag: "stale", subnet: 28)
        defer { lab.tearDown() }
        let dp = try DataPlane(objectPath: Package.redlineObject, programs: [.tcIngress, .tcEgress])
        let foreign = try ObjectSpec(path: Package.root + "/bpf/build/rl_empty.bpf.o").load()
        // The foreign filter first, then ours: a collector killed after attaching leaves its
        // filter beside whatever else the hook carries.
        let other = try TCAttachment(program: try foreign.program("rl_empty"), interface: lab.clientIf, direction: .ingress,
                                     netns: lab.clientNetns)
        let left = try TCAttachment(program: try dp.program(.tcIngress), interface: lab.clientIf, direction: .ingress,
                                    netns: lab.clientNetns)
        defer { try? left.detach(); try? other.detach() }

        let before = try TCAttachment.filters(interface: lab.clientIf, direction: .ingress, netns: lab.clientNetns)
        #expect(Set(before.map(\.programName)) == ["rl_empty", "rl_tc_ingress"], "\(before)")
        #expect(try TCAttachment.filters(interface: lab.clientIf, direction: .egress, netns: lab.clientNetns).isEmpty)

        let ours: Set = [DataPlane.ProgramName.tcIngress.rawValue, DataPlane.ProgramName.tcEgress.rawValue]
        let removed = try TCAttachment.removeFilters(ofProgramsNamed: ours, interface: lab.clientIf, direction: .ingress,
                                                     netns: lab.clientNetns)
        #expect(removed.map(\.programName) == ["rl_tc_ingress"])
        let after = try TCAttachment.filters(interface: lab.clientIf, direction: .ingress, netns: lab.clientNetns)
        #expect(after.map(\.programName) == ["rl_empty"], "\(after)")
        #expect(after.first?.priority == before.first { $0.programName == "rl_empty" }?.priority)
        // iproute2 agrees: the foreign filter is still there, ours is gone.
        let shown = try NetnsLab.sh("ip netns exec \(lab.client) tc filter show dev \(lab.clientIf) ingress")
        #expect(shown.contains("rl_empty") && !shown.contains("rl_tc_ingress"), "\(shown)")
        // A second pass finds nothing more to remove.
        #expect(try TCAttachment.removeFilters(ofProgramsNamed: ours, interface: lab.clientIf, direction: .ingress,
                                               netns: lab.clientNetns).isEmpty)
    }

    @Test("an interface that does not exist is a typed error naming it", .requiresRootBPF)
    func missingInterface() {
        let e = #expect(throws: KernelProbeError.self) {
            try TCAttachment.filters(interface: "rl-no-such0", direction: .ingress)
        }
        #expect(e?.description.contains("rl-no-such0") == true, "\(e?.description ?? "")")
    }
}
