import RedlineBase
import Testing
import TestSupport

@Suite("The L7 protocol list is the ABI header's")
struct L7ProtocolHeaderTests {
    @Test("every RL_L7_* constant but RL_L7_MAX is named after its suffix, with the header's id")
    func matchesHeader() throws {
        let header = try ABIHeader.enumConstants("rl_l7_protocol")
        let named = header.filter { $0.name != "RL_L7_MAX" }
        #expect(named.count >= 8)
        #expect(named.map { $0.name.dropFirst("RL_L7_".count).lowercased() } == L7Protocol.all.map(\.name))
        #expect(named.map(\.value) == L7Protocol.all.map { Int($0.id) })
        #expect(header.first { $0.name == "RL_L7_MAX" }?.value == L7Protocol.limit)
    }

    @Test("names and ids map both ways; unknown and user ids have no rule name")
    func lookups() {
        for p in L7Protocol.all.dropFirst() {
            #expect(L7Protocol.id(named: p.name) == p.id)
            #expect(L7Protocol.name(p.id) == p.name)
        }
        #expect(L7Protocol.id(named: "unknown") == nil)
        #expect(L7Protocol.name(0) == "unknown")
        #expect(L7Protocol.name(9) == "l7_9" && L7Protocol.knownName(9) == nil)
        #expect(L7Protocol.nameable == L7Protocol.all.dropFirst().map(\.name).sorted())
    }
}
