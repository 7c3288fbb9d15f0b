import CCompression
import Enrichment
import Foundation
import Segments

/// One input segment as the manifest records it: enough to tell, on a later
/// run, whether the partition's inputs changed (a late or re-sealed segment).
public struct InputSegment: Sendable, Equatable, Codable, Comparable {
    public var host: String
    /// Path below the segment root.
    public var path: String
    public var bytes: UInt64
    /// CRC32C of the whole file, hex.
    public var crc32c: String

    public static func < (a: Self, b: Self) -> Bool { (a.host, a.path) < (b.host, b.path) }
}

/// A partition's input segments: which files (`SegmentDiscovery`) and their fingerprints.
public enum SegmentInputs {
    /// The segment files of the hosts `hostGlobs` select that can hold events of `partition`,
    /// by host (`SegmentDiscovery.files`).
    public static func discover(root: String, hostGlobs: [String], partition: Partition) throws(PipelineError)
        -> [String: [String]] {
        do {
            return try SegmentDiscovery.files(root: root, startNanos: partition.startNanos, endNanos: partition.endNanos) { host in
                hostGlobs.contains { Glob.matches($0, host) }
            }
        } catch {
            if case .noRoot = error { throw .missingInput(error.description) }
            throw .io(error.description)
        }
    }

    /// Size and CRC32C of each file, for the manifest.
    public static func fingerprint(root: String, host: String, files: [String]) throws(PipelineError) -> [InputSegment] {
        var out: [InputSegment] = []
        let prefix = root.hasSuffix("/") ? root : root + "/"
        for f in files {
            let (crc, total) = try checksum(ofFile: f)
            let rel = f.hasPrefix(prefix) ? String(f.dropFirst(prefix.count)) : f
            out.append(InputSegment(host: host, path: rel, bytes: total, crc32c: String(format: "%08x", crc)))
        }
        return out
    }

    /// CRC32C and byte count of a whole file, read in 1 MiB pieces (manifests: input
    /// segments here, published tables in `Commit`).
    static func checksum(ofFile path: String) throws(PipelineError) -> (crc: UInt32, bytes: UInt64) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io("open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var crc: UInt32 = 0
        var total: UInt64 = 0
        let buf = UnsafeMutableRawPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buf.deallocate() }
        while true {
            let n = read(fd, buf, 1 << 20)
            if n < 0 {
                if errno == EINTR { continue }
                throw .io("read \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            crc = ccompression_crc32c(crc, buf, n)
            total += UInt64(n)
        }
        return (crc, total)
    }
}

/// Why a run failed. Each case maps to an exit code (schemas/pipeline-v1.md).
public enum PipelineError: Error, Equatable, CustomStringConvertible {
    case config(String)
    case missingInput(String)
    case io(String)
    case locked(String)
    case output(String)

    public var description: String {
        switch self {
        case .config(let s): "configuration: \(s)"
        case .missingInput(let s): "input: \(s)"
        case .io(let s): "I/O: \(s)"
        case .locked(let s): "locked: \(s)"
        case .output(let s): "output: \(s)"
        }
    }

    /// 3 bad configuration or input, 4 lock held, 5 I/O or output failure.
    public var exitCode: Int32 {
        switch self {
        case .config, .missingInput: 3
        case .locked: 4
        case .io, .output: 5
        }
    }
}
