import CRedlineABI


/// Monotonic kernel time to wall-clock UTC (schemas/time.md).
public enum TimebaseVersion { public static let current = 1 }
