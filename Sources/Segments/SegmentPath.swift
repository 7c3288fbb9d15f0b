import RedlineBase

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
        return "\(root)/host=\(host)/date=\(c.dateString)/hour=\(zeroPadded(c.hour, 2))"
    }

    /// The file name without suffix: `YYYYMMDDTHHMMSSZ-NNNNNN`.
    public var stem: String {
        "\(UTCTime(ns: windowStartNs).compactString)-\(zeroPadded(Int(sequence), 6))"
    }

    /// Path of the sealed file.
    public var sealed: String { "\(directory)/\(stem)\(SegmentFormat.sealedSuffix)" }
    /// Path of the file while being written.
    public var open: String { "\(directory)/\(stem)\(SegmentFormat.openSuffix)" }
}
