/// SplitMix64: a tiny, fixed, well-distributed generator, so synthetic data and randomised tests
/// never depend on the standard library's (unspecified) random algorithms: the same seed gives
/// the same sequence on every build, and a failing test reproduces from its seed.
///
/// The one generator of the dev tools (redline-dev) and of every test target.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A value in 0..<bound (bound > 0); the tiny modulo bias is irrelevant for synthetic data.
    public mutating func below(_ bound: UInt64) -> UInt64 { next() % bound }
    /// True with probability `p`: a uniform double in [0, 1) from the top 53 bits (the value
    /// `Double.random(in: 0..<1, using:)` draws) compared with `p`.
    public mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) * 0x1p-53 < p }
}
