import CLibBPF

/// Typed Swift over libbpf.
public enum LibBPF {
    /// The linked libbpf's version, "major.minor".
    public static var version: String { String(cString: clibbpf_version()) }
}
