import Foundation

/// A failed file write, naming the call and the path.
public struct FileWriteError: Error, Equatable, CustomStringConvertible {
    public let call: String
    public let path: String
    public let errno: Int32
    public var description: String { "\(call) \(path): \(String(cString: strerror(errno)))" }

    public init(call: String, path: String, errno: Int32) {
        self.call = call
        self.path = path
        self.errno = errno
    }
}

/// Whole-file publication: write `<path>.tmp-<pid>`, fsync, rename over
/// `path`, fsync the folder. Readers see the old file or the new one, never a mix.
public enum AtomicFile {
    /// Publishes `data` at `path` with exactly `mode` (set with `fchmod`, not left to the umask).
    public static func write(_ data: Data, to path: String, mode: mode_t = 0o644) throws(FileWriteError) {
        let tmp = "\(path).tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw FileWriteError(call: "open", path: tmp, errno: errno) }
        var failure: FileWriteError?
        if fchmod(fd, mode) != 0 { failure = FileWriteError(call: "fchmod", path: tmp, errno: errno) }
        data.withUnsafeBytes { (buf: UnsafeRawBufferPointer) in
            guard failure == nil else { return }
            var off = 0
            while off < buf.count {
                let n = Glibc.write(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = FileWriteError(call: "write", path: tmp, errno: errno)
                    return
                }
                off += n
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = FileWriteError(call: "fsync", path: tmp, errno: errno) }
        close(fd)
        if let failure {
            unlink(tmp)
            throw failure
        }
        guard rename(tmp, path) == 0 else {
            let e = errno
            unlink(tmp)
            throw FileWriteError(call: "rename", path: path, errno: e)
        }
        let dir = open((path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent,
                       O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 {
            fsync(dir)
            close(dir)
        }
    }
}
