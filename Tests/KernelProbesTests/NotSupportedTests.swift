import Glibc
import Testing
@testable import KernelProbes

@Suite("Missing kernel features are a distinct error")
struct NotSupportedTests {
    @Test("EOPNOTSUPP, ENOTSUPP, ENOSYS and an unknown helper become notSupported; a plain rejection stays loadFailed")
    func classification() {
        for e: Int32 in [EOPNOTSUPP, 524, ENOSYS] {
            guard case .notSupported = KernelProbeError.classify(.attachFailed(what: "tcx", errno: e, libbpfLog: "")) else {
                Issue.record("errno \(e) should be notSupported")
                continue
            }
        }
        if case .notSupported(let what, _, let detail) = KernelProbeError.classify(
            .loadFailed(program: "p", errno: EINVAL, verifierLog: "0: (85) call bpf_foo#999\nunknown func bpf_foo#999", libbpfLog: "")) {
            #expect(what.contains("p") && detail.contains("unknown func"))
        } else {
            Issue.record("an unknown helper is a missing feature")
        }
        let rejected = KernelProbeError.loadFailed(program: "p", errno: EACCES, verifierLog: "R1 invalid mem access", libbpfLog: "")
        #expect(KernelProbeError.classify(rejected) == rejected, "a verifier rejection is the program's fault, not the kernel's")
        #expect(KernelProbeError.notSupported(what: "x", errno: ENOSYS, detail: "").description.hasPrefix("not supported by this kernel"))
    }
}
