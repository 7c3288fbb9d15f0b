import KernelProbes
import Testing
import YAMLConfig

/// Inputs the rules fuzz target (tools/fuzz/run rules) crashed on, as typed-error tests.
/// The raw crash input is replayed too: Tests/FuzzTargetsTests/Regressions/rules/.
@Suite("rules loader: fuzz regressions")
struct RulesFuzzRegressionTests {
    @Test("a mapping key that is a list or a mapping is a typed error with its line, not a trap in Yams",
          arguments: [("version: 1\nrules:\n  - {id: 8, status: ,{kind: ascii3, offset: 9}}\n", 3),
                      ("version: 1\n? [a, b]\n: x\nrules: []\n", 2),
                      ("version: 1\nrules:\n  - {{k: v}: 1}\n", 3)])
    func nonScalarKeys(_ text: String, _ line: Int) {
        let e = #expect(throws: ConfigError.self) { _ = try RuleSet(yaml: text, file: "r.yaml") }
        #expect(e?.line == line, "\(String(describing: e))")
        #expect(e?.description.contains("a mapping key must be a plain scalar") == true, "\(String(describing: e))")
    }
}
