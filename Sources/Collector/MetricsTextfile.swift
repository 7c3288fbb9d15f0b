import Foundation
import RedlineBase

/// The collector's own health in the Prometheus text format, written the way
/// node_exporter's textfile collector expects: the whole file replaced
/// atomically (temp file, fsync, rename) so a scrape never sees half of it.
public struct MetricsTextfile: Sendable {
    public struct Sample: Sendable, Equatable {
        public var name: String
        public var help: String
        public var type: Kind
        public var labels: [(String, String)]
        public var value: Double

        public enum Kind: String, Sendable { case counter, gauge }

        public init(_ name: String, _ type: Kind, help: String, labels: [(String, String)] = [], value: Double) {
            self.name = name
            self.type = type
            self.help = help
            self.labels = labels
            self.value = value
        }

        public static func == (a: Sample, b: Sample) -> Bool {
            a.name == b.name && a.type == b.type && a.value == b.value
                && a.labels.elementsEqual(b.labels, by: { $0 == $1 })
        }
    }

    /// Renders samples grouped by metric name, one HELP and TYPE line each, in
    /// the order names first appear.
    public static func render(_ samples: [Sample]) -> String {
        var order: [String] = []
        var byName: [String: [Sample]] = [:]
        for s in samples {
            if byName[s.name] == nil { order.append(s.name) }
            byName[s.name, default: []].append(s)
        }
        var out = ""
        for name in order {
            let group = byName[name]!
            out += "# HELP \(name) \(escapeHelp(group[0].help))\n# TYPE \(name) \(group[0].type.rawValue)\n"
            for s in group {
                out += name
                if !s.labels.isEmpty {
                    out += "{" + s.labels.map { "\($0.0)=\"\(escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
                }
                out += " \(format(s.value))\n"
            }
        }
        return out
    }

    /// Writes `samples` to `path` atomically.
    public static func write(_ samples: [Sample], to path: String) throws(FileError) {
        try AtomicFile.write(Array(render(samples).utf8), to: path)
    }

    /// Rewrites one textfile atomically even when its filesystem is full — the case where
    /// the collector's health matters most, and the metrics file may well share the disk
    /// with the segments. It keeps `<path>.reserve`, a file with `reserveBytes` already
    /// allocated (`fallocate`): each rewrite fills the reserve (no new blocks needed), cuts
    /// it to length, fsyncs it and renames it over `path` (which frees the previous
    /// file's blocks), then allocates the next reserve from the space just freed. Without a
    /// reserve (none could be allocated yet, or the text outgrew it) it writes through
    /// `AtomicFile`. Not thread-safe: one writer.
    public final class Publisher {
        public let path: String
        public let reserveBytes: Int
        public let mode: mode_t
        private var reserve: Int32 = -1
        private var reservePath: String { path + ".reserve" }

        public init(path: String, reserveBytes: Int = 64 << 10, mode: mode_t = 0o644) {
            self.path = path
            self.reserveBytes = reserveBytes
            self.mode = mode
        }

        deinit { if reserve >= 0 { close(reserve) } }

        /// Publishes `samples`; throws the failing call and path when even the reserve could not be used.
        public func write(_ samples: [Sample]) throws(FileError) {
            let text = Array(render(samples).utf8)
            if reserve < 0 { allocateReserve() }
            guard reserve >= 0, text.count <= reserveBytes else {
                try AtomicFile.write(text, to: path, mode: mode)
                allocateReserve()
                return
            }
            let fd = reserve
            reserve = -1
            do throws(FileError) {
                try text.withUnsafeBytes { buf in
                    Result { () throws(FileError) in try POSIXFile.writeAll(fd, buf, path: reservePath, offset: 0) }
                }.get()
                try POSIXFile.truncate(fd, to: UInt64(text.count), path: reservePath)
            } catch {
                close(fd)
                unlink(reservePath)
                throw error
            }
            try AtomicFile.publish(fd, from: reservePath, to: path)
            allocateReserve()
        }

        /// Creates `<path>.reserve` with `reserveBytes` allocated; leaves none if the space is not there.
        private func allocateReserve() {
            if reserve >= 0 { return }
            let fd = open(reservePath, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
            guard fd >= 0 else { return }
            if fchmod(fd, mode) != 0 || posix_fallocate(fd, 0, off_t(reserveBytes)) != 0 {
                close(fd)
                unlink(reservePath)
                return
            }
            reserve = fd
        }
    }

    private static func format(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return String(v)
    }

    private static func escapeHelp(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }

    private static func escapeLabel(_ s: String) -> String {
        escapeHelp(s).replacingOccurrences(of: "\"", with: "\\\"")
    }
}
