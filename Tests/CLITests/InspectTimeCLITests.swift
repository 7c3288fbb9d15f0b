import Foundation
import Testing

@Suite("redline inspect --time (end to end)")
struct InspectTimeCLITests {
    @Test("--time on the golden fixture lists its anchors, steps and the uncertainty summary")
    func timeReport() throws {
        let r = try InspectCLITests.redline("inspect", "--time", InspectCLITests.golden)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("verdict      INTACT"))
        #expect(r.stdout.contains("steps and suspends:"))
        #expect(r.stdout.contains("uncertainty: anchors min"))
        #expect(r.stdout.range(of: #"boot [0-9a-f-]{36}: \d+ anchors"#, options: .regularExpression) != nil)
    }

    @Test("--time refuses --records and --json with a usage error (exit 2)")
    func timeUsage() throws {
        let r = try InspectCLITests.redline("inspect", "--time", "--json", InspectCLITests.golden)
        #expect(r.status == 2)
        #expect(r.stderr.contains("--time prints text"))
    }
}
