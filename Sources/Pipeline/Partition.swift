import RedlineBase

/// A time partition of the output: one UTC hour (`date=YYYY-MM-DD/hour=HH`)
/// or one UTC day (`date=YYYY-MM-DD`). Hive-style, as folders are named.
public struct Partition: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Days since 1970-01-01 (UTC).
    public let day: Int
    /// 0...23, or nil for a whole day.
    public let hour: Int?

    public init(day: Int, hour: Int?) {
        precondition(hour.map { (0...23).contains($0) } ?? true)
        self.day = day
        self.hour = hour
    }

    /// Parses `date=YYYY-MM-DD/hour=HH` or `date=YYYY-MM-DD`.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts[0].hasPrefix("date="),
              let day = UTCCalendar.days(fromDateString: parts[0].dropFirst(5)) else { return nil }
        var hour: Int?
        if parts.count == 2 {
            guard parts[1].hasPrefix("hour="), parts[1].count == 7, let h = Int(parts[1].dropFirst(5)),
                  (0...23).contains(h) else { return nil }
            hour = h
        }
        self.init(day: day, hour: hour)
    }

    /// The hour partition holding a UTC time.
    public static func hour(containing utcNanos: Int64) -> Partition {
        let t = UTCTime(ns: utcNanos)
        return Partition(day: t.days, hour: t.hour)
    }

    /// Start of the partition, UTC ns.
    public var startNanos: Int64 { (Int64(day) * 86_400 + Int64(hour ?? 0) * 3600) * 1_000_000_000 }
    /// End (exclusive), UTC ns.
    public var endNanos: Int64 { startNanos + (hour == nil ? 86_400 : 3600) * 1_000_000_000 }

    /// The last partition of this granularity whose end plus `delay` lies at or before `nowNanos`.
    public static func lastClosed(hourly: Bool, nowNanos: Int64, delaySeconds: Int) -> Partition {
        let t = nowNanos - Int64(delaySeconds) * 1_000_000_000
        let current = hour(containing: t)
        if hourly {
            let startOfCurrent = current.startNanos
            return hour(containing: startOfCurrent - 1)
        }
        return Partition(day: current.day - 1, hour: nil)
    }

    /// `YYYY-MM-DD` of `day`.
    public var dateString: String {
        UTCCalendar.dateString(days: day)
    }

    /// The folder path below a table root: `date=…/hour=…` or `date=…`.
    public var path: String {
        "date=\(dateString)" + (hour.map { "/hour=\(zeroPadded($0, 2))" } ?? "")
    }

    public var description: String { path }

    /// The hour partitions of a day partition (self for an hour).
    public var hours: [Partition] {
        hour == nil ? (0..<24).map { Partition(day: day, hour: $0) } : [self]
    }

    public static func < (a: Partition, b: Partition) -> Bool {
        (a.day, a.hour ?? -1) < (b.day, b.hour ?? -1)
    }
}
