import RedlineBase
import CRedlineABI

/// All boots of one host: one ``Timeline`` per boot id, never a mapping across a reboot
/// (monotonic time restarts at every boot). Output is monotone within a boot only.
///
/// Build it once per pipeline run from the anchors of every segment of the host (the
/// neighbouring partitions' segments too, so events near a partition edge have anchors on
/// both sides). Immutable and `Sendable`.
public struct HostTimebase: Sendable {
    public let options: TimebaseOptions
    /// The timeline of each boot id seen.
    public let timelines: [BootID: Timeline]

    /// - Parameter anchorsByBoot: each boot's anchors in the order read (segment order,
    ///   then record order); duplicates and disorder are expected and handled.
    public init(anchorsByBoot: [BootID: [ClockAnchor]], options: TimebaseOptions = TimebaseOptions()) {
        self.options = options
        var timelines: [BootID: Timeline] = [:]
        for (boot, anchors) in anchorsByBoot {
            timelines[boot] = Timeline(bootID: boot, anchors: anchors, options: options)
        }
        self.timelines = timelines
    }

    /// Same, from raw ABI records as a segment reader yields them.
    public init(recordsByBoot: [BootID: [rl_clock_anchor]], options: TimebaseOptions = TimebaseOptions()) {
        self.init(anchorsByBoot: recordsByBoot.mapValues { $0.map(ClockAnchor.init) }, options: options)
    }

    /// Maps a monotonic time of boot `bootID` to UTC.
    public func correct(monotonicNanos: UInt64, bootID: BootID) -> Result<CorrectedTime, TimeCorrectionError> {
        guard let timeline = timelines[bootID] else { return .failure(.unknownBoot(bootID)) }
        return timeline.correct(monotonicNanos: monotonicNanos)
    }
}
