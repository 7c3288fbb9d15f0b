import Foundation

/// Finds the segments that can hold events of a UTC time range, by the folder layout
/// `SegmentPath` writes: `<root>/host=H/date=YYYY-MM-DD/hour=HH/*.seg` (and `.seg.open`).
///
/// A collector files a segment under the hour its window *started* in; with the window at
/// most an hour and records flushed late, events of hour H sit in the folders of H−1, H and
/// H+1. All of them are listed; the reader places every record by its corrected time, so each
/// event counts in exactly one range.
public enum SegmentDiscovery {
    /// Why listing failed.
    public enum Failure: Error, Equatable, Sendable, CustomStringConvertible {
        /// The segment root is missing or not a folder.
        case noRoot(String)
        /// The root could not be listed.
        case unlistable(String, reason: String)

        public var description: String {
            switch self {
            case .noRoot(let root): "segment root \(root) does not exist or is not a folder"
            case let .unlistable(root, reason): "cannot list \(root): \(reason)"
            }
        }
    }

    /// The segment files (sorted, absolute) of every host `includeHost` accepts that can hold
    /// events in [`startNanos`, `endNanos`), by host; hosts without such a file are left out.
    /// Missing hour folders are not an error: a host may have been quiet.
    public static func files(root: String, startNanos: Int64, endNanos: Int64,
                             includeHost: (String) -> Bool) throws(Failure) -> [String: [String]] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
            throw .noRoot(root)
        }
        let hostDirs: [String]
        do {
            hostDirs = try FileManager.default.contentsOfDirectory(atPath: root)
                .filter { $0.hasPrefix("host=") && includeHost(String($0.dropFirst(5))) }
                .sorted()
        } catch {
            throw .unlistable(root, reason: error.localizedDescription)
        }
        let hourFolders = hourFolders(startNanos: startNanos, endNanos: endNanos)
        var out: [String: [String]] = [:]
        for hd in hostDirs {
            var files: [String] = []
            for hour in hourFolders {
                let dir = "\(root)/\(hd)/\(hour)"
                guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { continue }
                for n in names where n.hasSuffix(SegmentFormat.sealedSuffix) || n.hasSuffix(SegmentFormat.openSuffix) {
                    files.append("\(dir)/\(n)")
                }
            }
            if !files.isEmpty { out[String(hd.dropFirst(5))] = files.sorted() }
        }
        return out
    }

    /// `date=YYYY-MM-DD/hour=HH` of every hour from the one before `startNanos`'s hour through
    /// the one holding `endNanos` (the range's end, whose folder holds late flushes).
    public static func hourFolders(startNanos: Int64, endNanos: Int64) -> [String] {
        let hour: Int64 = 3_600_000_000_000
        func floorHour(_ ns: Int64) -> Int64 { ns >= 0 ? ns / hour * hour : -((-ns + hour - 1) / hour) * hour }
        var out: [String] = []
        var h = floorHour(startNanos) - hour
        while h <= floorHour(endNanos) {
            let c = UTCTime(ns: h)
            out.append("date=\(c.dateString)/hour=\(pad(c.hour, 2))")
            h += hour
        }
        return out
    }
}
