/// Where a segment lives: `<root>/host=<host>/date=YYYY-MM-DD/hour=HH/<window-start>-<seq>.rls`,
/// with date and hour the UTC calendar time of the window start, `<window-start>` that instant
/// as `YYYYMMDDTHHMMSSZ` and `<seq>` a 6-digit sequence number distinguishing files that start
/// in the same second (size-based rotation). While being written the name ends in `.rls.open`.
public struct SegmentPath: Hashable, Sendable {
    public let root: String
    public let host: String
    public let windowStartNs: Int64
    public let sequence: UInt32

    /// Validates `host` for use as a path component: 1…255 bytes of `A-Z a-z 0-9 . _ -`, not
    /// starting with a dot.
    public init(root: String, host: String, windowStartNs: Int64, sequence: UInt32) throws(SegmentError) {
        let bytes = Array(host.utf8)
        let allowed = bytes.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2E || b == 0x5F || b == 0x2D
        }
        guard !bytes.isEmpty, bytes.count <= 255, allowed, bytes[0] != 0x2E else {
            throw .invalidArgument(path: root, offset: 0, reason: "host id \"\(host)\" is not usable in a path (1…255 of A-Z a-z 0-9 . _ -)")
        }
        guard sequence <= 999_999 else {
            throw .invalidArgument(path: root, offset: 0, reason: "sequence \(sequence) exceeds 999999")
        }
        self.root = root
        self.host = host
        self.windowStartNs = windowStartNs
        self.sequence = sequence
    }

    /// The hour partition directory: `<root>/host=H/date=YYYY-MM-DD/hour=HH`.
    public var directory: String {
        let c = UTCTime(ns: windowStartNs)
        return "\(root)/host=\(host)/date=\(c.dateString)/hour=\(pad(c.hour, 2))"
    }

    /// The file name without suffix: `YYYYMMDDTHHMMSSZ-NNNNNN`.
    public var stem: String {
        let c = UTCTime(ns: windowStartNs)
        return "\(pad(c.year, 4))\(pad(c.month, 2))\(pad(c.day, 2))T\(pad(c.hour, 2))\(pad(c.minute, 2))\(pad(c.second, 2))Z-\(pad(Int(sequence), 6))"
    }

    /// Path of the sealed file.
    public var sealed: String { "\(directory)/\(stem)\(SegmentFormat.sealedSuffix)" }
    /// Path of the file while being written.
    public var open: String { "\(directory)/\(stem)\(SegmentFormat.openSuffix)" }
}

/// Calendar fields of a UTC instant (proleptic Gregorian, no leap seconds).
struct UTCTime {
    var year, month, day, hour, minute, second: Int

    init(ns: Int64) {
        let secs = ns >= 0 ? ns / 1_000_000_000 : (ns - 999_999_999) / 1_000_000_000
        var days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400
        let rem = Int(secs - days * 86400)
        hour = rem / 3600
        minute = rem % 3600 / 60
        second = rem % 60
        // Civil-from-days (Howard Hinnant's algorithm), days since 1970-01-01.
        days += 719_468
        let era = (days >= 0 ? days : days - 146_096) / 146_097
        let doe = days - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        day = Int(doy - (153 * mp + 2) / 5 + 1)
        month = Int(mp < 10 ? mp + 3 : mp - 9)
        year = Int(yoe + era * 400) + (month <= 2 ? 1 : 0)
    }

    var dateString: String { "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))" }

    /// ISO 8601 with nanoseconds: `2026-11-24T18:08:00.000000000Z`.
    static func iso8601(ns: Int64) -> String {
        let c = UTCTime(ns: ns)
        var frac = ns % 1_000_000_000
        if frac < 0 { frac += 1_000_000_000 }
        return "\(c.dateString)T\(pad(c.hour, 2)):\(pad(c.minute, 2)):\(pad(c.second, 2)).\(pad(Int(frac), 9))Z"
    }
}

/// A UTC instant given in ns since the Unix epoch as ISO 8601 with nanoseconds
/// (`2026-01-02T03:04:00.000000000Z`).
public func utcISO8601(ns: Int64) -> String { UTCTime.iso8601(ns: ns) }

func pad(_ v: Int, _ width: Int) -> String {
    let s = String(v)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}
