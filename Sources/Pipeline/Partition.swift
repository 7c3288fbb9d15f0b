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
              let day = Self.parseDate(parts[0].dropFirst(5)) else { return nil }
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
        let s = utcNanos.floorDiv(1_000_000_000)
        return Partition(day: Int(s.floorDiv(86_400)), hour: Int(s.floorMod(86_400) / 3600))
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
        let (y, m, d) = Self.civil(fromDays: day)
        return "\(Self.pad(y, 4))-\(Self.pad(m, 2))-\(Self.pad(d, 2))"
    }

    /// The folder path below a table root: `date=…/hour=…` or `date=…`.
    public var path: String {
        "date=\(dateString)" + (hour.map { "/hour=\(Self.pad($0, 2))" } ?? "")
    }

    public var description: String { path }

    /// The hour partitions of a day partition (self for an hour).
    public var hours: [Partition] {
        hour == nil ? (0..<24).map { Partition(day: day, hour: $0) } : [self]
    }

    public static func < (a: Partition, b: Partition) -> Bool {
        (a.day, a.hour ?? -1) < (b.day, b.hour ?? -1)
    }

    private static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }

    static func parseDate(_ s: Substring) -> Int? {
        let f = s.split(separator: "-", omittingEmptySubsequences: false)
        guard f.count == 3, f[0].count == 4, f[1].count == 2, f[2].count == 2,
              let y = Int(f[0]), let m = Int(f[1]), let d = Int(f[2]),
              (1...12).contains(m), (1...daysIn(month: m, year: y)).contains(d) else { return nil }
        return days(fromCivil: y, m, d)
    }

    static func daysIn(month m: Int, year y: Int) -> Int {
        switch m {
        case 2: return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (era-based arithmetic:
    /// 400-year eras of 146097 days, years starting in March so leap days come last).
    static func days(fromCivil y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (m + 9) % 12
        let doy = (153 * mp + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}

extension Int64 {
    func floorDiv(_ d: Int64) -> Int64 { let q = self / d; return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q }
    func floorMod(_ d: Int64) -> Int64 { self - floorDiv(d) * d }
}
