import CLibBPF
import Glibc

/// Why a kernel-probe operation failed. Every case names the libbpf / kernel
/// call that failed and carries its errno; load failures carry the verifier's
/// log so the reason a program was rejected is never lost.
public enum KernelProbeError: Error, Equatable, CustomStringConvertible {
    /// `bpf_object__open_file` refused the ELF at `path`.
    case openFailed(path: String, errno: Int32, libbpfLog: String)
    /// `bpf_object__load` failed; `program` is the program libbpf named (if any),
    /// `verifierLog` the kernel verifier's output for it.
    case loadFailed(program: String?, errno: Int32, verifierLog: String, libbpfLog: String)
    /// No program of that name in the object.
    case noSuchProgram(String)
    /// No map of that name in the object.
    case noSuchMap(String)
    /// A spec can be loaded once; it was loaded already.
    case alreadyLoaded(path: String)
    /// A key or value had the wrong number of bytes for the map.
    case keyOrValueSize(map: String, expected: Int, actual: Int)
    /// A map syscall failed (`operation` is e.g. "bpf_map_update_elem").
    case mapOperation(map: String, operation: String, errno: Int32)
    /// `bpf_prog_test_run_opts` failed.
    case testRunFailed(program: String, errno: Int32)
    /// An attach call failed (`what` names the hook, e.g. "tc ingress veth0").
    case attachFailed(what: String, errno: Int32, libbpfLog: String)
    /// A detach call failed.
    case detachFailed(what: String, errno: Int32)
    /// Listing what is attached at a hook failed (`what` names it).
    case listFailed(what: String, errno: Int32)
    /// The ring buffer could not be created or polled.
    case ringBuffer(operation: String, errno: Int32)
    /// A file the caller named could not be opened.
    case fileOpen(path: String, errno: Int32)
    /// This kernel lacks what the operation needs (a program type, helper or hook):
    /// distinct from a rejected program, so callers can fall back or explain.
    /// `detail` holds the verifier or libbpf output.
    case notSupported(what: String, errno: Int32, detail: String)

    /// `loadFailed` or `attachFailed`, reclassified as `notSupported` when the errno
    /// or the verifier says the kernel does not have the feature: EOPNOTSUPP,
    /// ENOTSUPP (524), ENOSYS, or a verifier "unknown func" / "invalid func".
    public static func classify(_ e: KernelProbeError) -> KernelProbeError {
        let unsupportedErrnos: Set<Int32> = [EOPNOTSUPP, 524, ENOSYS]
        switch e {
        case let .loadFailed(program, errno, vlog, log):
            if unsupportedErrnos.contains(errno) || vlog.contains("unknown func") || vlog.contains("invalid func") {
                return .notSupported(what: "loading \(program ?? "the object")", errno: errno, detail: vlog + log)
            }
        case let .attachFailed(what, errno, log):
            if unsupportedErrnos.contains(errno) {
                return .notSupported(what: "attaching \(what)", errno: errno, detail: log)
            }
        default:
            break
        }
        return e
    }

    public var description: String {
        switch self {
        case let .openFailed(path, e, log):
            return "cannot open BPF object \(path): \(Errno.name(e))\n\(log)"
        case let .loadFailed(program, e, vlog, log):
            return "BPF load failed\(program.map { " for program '\($0)'" } ?? ""): \(Errno.name(e))\n"
                + "-- verifier log --\n\(vlog)\n-- libbpf --\n\(log)"
        case let .noSuchProgram(n): return "no BPF program named '\(n)'"
        case let .noSuchMap(n): return "no BPF map named '\(n)'"
        case let .alreadyLoaded(path): return "BPF object \(path) was already loaded"
        case let .keyOrValueSize(map, expected, actual):
            return "map '\(map)': expected \(expected) bytes, got \(actual)"
        case let .mapOperation(map, op, e): return "\(op) on map '\(map)': \(Errno.name(e))"
        case let .testRunFailed(p, e): return "bpf_prog_test_run_opts(\(p)): \(Errno.name(e))"
        case let .attachFailed(what, e, log): return "attach \(what): \(Errno.name(e))\n\(log)"
        case let .detachFailed(what, e): return "detach \(what): \(Errno.name(e))"
        case let .listFailed(what, e): return "list \(what): \(Errno.name(e))"
        case let .ringBuffer(op, e): return "\(op): \(Errno.name(e))"
        case let .fileOpen(path, e): return "open \(path): \(Errno.name(e))"
        case let .notSupported(what, e, detail):
            return "not supported by this kernel: \(what): \(Errno.name(e))\n\(detail)"
        }
    }
}

/// errno as a readable name.
enum Errno {
    static func name(_ e: Int32) -> String {
        "\(String(cString: strerror(e))) (errno \(e))"
    }

    /// The errno of a libbpf call that returned `-errno` (or set errno and returned -1).
    static func of(_ ret: Int32) -> Int32 {
        ret < -1 ? -ret : (errno != 0 ? errno : EINVAL)
    }
}

/// libbpf's own messages for the calling thread, captured instead of printed.
enum LibBPFMessages {
    static func begin() {
        clibbpf_capture_install()
        clibbpf_capture_reset()
    }

    static var text: String { String(cString: clibbpf_capture_text()) }
}
