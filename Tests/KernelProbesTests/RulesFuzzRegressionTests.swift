import KernelProbes
import Testing

/// Inputs the rules fuzz target (tools/fuzz/run rules) crashed on, as typed-error tests.
/// The raw crash input is replayed too: Tests/FuzzTargetsTests/Regressions/rules/.
@Suite("rules loader: fuzz regressions")
struct RulesFuzzRegressionTests {
    @Test("a mapping key that is a list or a mapping is a typed error with its line, not a trap in Yams",
          arguments: ["version: 1\nrules:\n  - {id: 8, status: ,{kind: ascii3, offset: 9}}\n",
                      "version: 1\n? [a, b]\n: x\nrules: []\n",
                      "version: 1\nrules:\n  - {{k: v}: 1}\n"])
    func nonScalarKeys(_ text: String) {
        let e = #expect(throws: RuleError.self) { _ = try RuleSet(yaml: text) }
        #expect("\(e.map { "\($0)" } ?? "")".contains("a mapping key must be a plain scalar"), "\(String(describing: e))")
    }
}
