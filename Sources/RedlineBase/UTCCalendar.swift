/// The one UTC calendar of Redline: proleptic Gregorian, no leap seconds, instants as
/// nanoseconds since the Unix epoch. Partitions, segment paths, time reports and record
/// dumps all name dates through it.
public enum UTCCalendar {
    public static let nanosPerSecond: Int64 = 1_000_000_000
    public static let secondsPerDay: Int64 = 86_400

    /// Days since 1970-01-01 of a proleptic Gregorian date (era-based arithmetic, Howard
    /// Hinnant's `days_from_civil`: 400-year eras of 146097 days, years starting in March
    /// so leap days come last). `month` 1…12, `day` 1…31; not validated.
    public static func days(fromCivil year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The date of a day count since 1970-01-01 (the inverse of `days(fromCivil:)`).
    public static func civil(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// Days in `month` (1…12) of `year`.
    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Parses `YYYY-MM-DD` into days since 1970-01-01; nil unless it is a real date.
    public static func days(fromDateString s: Substring) -> Int? {
        let f = s.split(separator: "-", omittingEmptySubsequences: false)
        guard f.count == 3, f[0].count == 4, f[1].count == 2, f[2].count == 2,
              let y = Int(f[0]), let m = Int(f[1]), let d = Int(f[2]),
              (1...12).contains(m), (1...daysIn(month: m, year: y)).contains(d) else { return nil }
        return days(fromCivil: y, m, d)
    }

    /// `YYYY-MM-DD` of a day count since 1970-01-01.
    public static func dateString(days: Int) -> String {
        let c = civil(fromDays: days)
        return "\(zeroPadded(c.year, 4))-\(zeroPadded(c.month, 2))-\(zeroPadded(c.day, 2))"
    }
}

/// Calendar fields of a UTC instant.
public struct UTCTime: Equatable, Sendable {
    /// Days since 1970-01-01.
    public var days: Int
    public var year, month, day, hour, minute, second: Int
    /// 0…999 999 999.
    public var nanosecond: Int

    /// The fields of `ns` nanoseconds since the epoch (negative: before 1970, floored).
    public init(ns: Int64) {
        let secs = ns.floorDiv(UTCCalendar.nanosPerSecond)
        nanosecond = Int(ns - secs * UTCCalendar.nanosPerSecond)
        days = Int(secs.floorDiv(UTCCalendar.secondsPerDay))
        let rem = Int(secs.floorMod(UTCCalendar.secondsPerDay))
        hour = rem / 3600
        minute = rem % 3600 / 60
        second = rem % 60
        (year, month, day) = UTCCalendar.civil(fromDays: days)
    }

    /// `YYYY-MM-DD`.
    public var dateString: String { "\(zeroPadded(year, 4))-\(zeroPadded(month, 2))-\(zeroPadded(day, 2))" }

    /// `YYYYMMDDTHHMMSSZ` (ISO 8601 basic format, whole seconds).
    public var compactString: String {
        "\(zeroPadded(year, 4))\(zeroPadded(month, 2))\(zeroPadded(day, 2))T\(zeroPadded(hour, 2))\(zeroPadded(minute, 2))\(zeroPadded(second, 2))Z"
    }

    /// RFC 3339 with nanoseconds: `2026-11-24T18:08:00.000000000Z`.
    public var iso8601: String {
        "\(dateString)T\(zeroPadded(hour, 2)):\(zeroPadded(minute, 2)):\(zeroPadded(second, 2)).\(zeroPadded(nanosecond, 9))Z"
    }
}

/// A UTC instant given in ns since the Unix epoch as RFC 3339 with nanoseconds
/// (`2026-01-02T03:04:00.000000000Z`).
public func utcISO8601(ns: Int64) -> String { UTCTime(ns: ns).iso8601 }

/// `v` in decimal, left-padded with zeros to `width` digits.
public func zeroPadded(_ v: Int, _ width: Int) -> String {
    let s = String(v)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}

extension Int64 {
    /// Division rounding toward negative infinity (instants before the epoch belong to the
    /// second, day or hour that starts before them).
    public func floorDiv(_ d: Int64) -> Int64 { let q = self / d; return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q }
    /// The remainder of `floorDiv`: same sign as `d`.
    public func floorMod(_ d: Int64) -> Int64 { self - floorDiv(d) * d }
}
