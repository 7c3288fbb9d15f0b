import Glibc

/// Thin wrappers over the POSIX calls segments need. Each retries on EINTR and turns a failure
/// into `SegmentError.io` naming the C call, the path and the file offset it happened at.
enum FileIO {
    /// `open(2)`; returns the descriptor. A file it creates gets exactly `mode` (`fchmod(2)`
    /// after the open), whatever the caller's umask.
    static func open(_ path: String, flags: Int32, mode: mode_t = 0o640) throws(SegmentError) -> Int32 {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 {
                if flags & O_CREAT != 0 && fchmod(fd, mode) != 0 {
                    let e = errno
                    _ = Glibc.close(fd)
                    throw .io(path: path, offset: 0, call: "fchmod", errno: e)
                }
                return fd
            }
            if errno == EINTR { continue }
            throw .io(path: path, offset: 0, call: "open", errno: errno)
        }
    }

    /// Opens an existing file for reading, refusing at once anything but a regular file: a
    /// FIFO would block `open(2)` and `read(2)` forever, a device could read without end.
    /// (`O_NONBLOCK` makes the open itself return; it is cleared before reading.)
    static func openRegularForReading(_ path: String) throws(SegmentError) -> Int32 {
        let fd = try open(path, flags: O_RDONLY | O_NONBLOCK)
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            _ = Glibc.close(fd)
            throw .io(path: path, offset: 0, call: "fstat", errno: e)
        }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            _ = Glibc.close(fd)
            throw .invalidArgument(path: path, offset: 0, reason: "not a regular file (a FIFO, device, socket or folder); segments are regular files")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        return fd
    }

    /// `read(2)` into `buffer`; returns bytes read, 0 at end of file.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String, offset: UInt64) throws(SegmentError) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let n = Glibc.read(fd, base, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw .io(path: path, offset: offset, call: "read", errno: errno)
        }
    }

    /// `pwrite(2)` at `offset` until all of `bytes` is written (short writes are continued).
    /// Positioned writes keep the file's layout right after a failed write: the next write
    /// goes where the caller's byte count says, not where a partial write left the offset.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String, offset: UInt64) throws(SegmentError) {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        var at = offset
        while left > 0 {
            let n = Glibc.pwrite(fd, p, left, off_t(at))
            if n < 0 {
                if errno == EINTR { continue }
                throw .io(path: path, offset: at, call: "write", errno: errno)
            }
            if n == 0 { throw .io(path: path, offset: at, call: "write", errno: ENOSPC) }
            p += n
            left -= n
            at += UInt64(n)
        }
    }

    /// `ftruncate(2)`.
    static func truncate(_ fd: Int32, to length: UInt64, path: String) throws(SegmentError) {
        while Glibc.ftruncate(fd, off_t(length)) != 0 {
            if errno == EINTR { continue }
            throw .io(path: path, offset: length, call: "ftruncate", errno: errno)
        }
    }

    /// `fsync(2)`.
    static func fsync(_ fd: Int32, path: String) throws(SegmentError) {
        while Glibc.fsync(fd) != 0 {
            if errno == EINTR { continue }
            throw .io(path: path, offset: 0, call: "fsync", errno: errno)
        }
    }

    /// `fsync(2)` of a directory, so a rename inside it survives a crash.
    static func fsyncDirectory(_ path: String) throws(SegmentError) {
        let fd = try open(path, flags: O_RDONLY | O_DIRECTORY)
        defer { _ = Glibc.close(fd) }
        try fsync(fd, path: path)
    }

    /// `rename(2)`.
    static func rename(_ from: String, _ to: String) throws(SegmentError) {
        while Glibc.rename(from, to) != 0 {
            if errno == EINTR { continue }
            throw .io(path: from, offset: 0, call: "rename", errno: errno)
        }
    }

    /// `mkdir(2)` of `path` and its missing parents; existing directories are fine (and keep
    /// their mode). A folder it creates gets exactly `mode` (`chmod(2)`), whatever the umask.
    static func makeDirectories(_ path: String, mode: mode_t = 0o750) throws(SegmentError) {
        var exists = stat()
        if stat(path, &exists) == 0 && (exists.st_mode & S_IFMT) == S_IFDIR { return }
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part
            if Glibc.mkdir(prefix, mode) == 0 {
                if chmod(prefix, mode) != 0 { throw .io(path: prefix, offset: 0, call: "chmod", errno: errno) }
            } else if errno != EEXIST {
                throw .io(path: prefix, offset: 0, call: "mkdir", errno: errno)
            }
            prefix += "/"
        }
    }

    /// Size in bytes from `fstat(2)`.
    static func size(_ fd: Int32, path: String) throws(SegmentError) -> UInt64 {
        var st = stat()
        if fstat(fd, &st) != 0 { throw .io(path: path, offset: 0, call: "fstat", errno: errno) }
        return UInt64(st.st_size)
    }

    /// The directory part of a path ("." for a bare name).
    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

/// Reads a small text file (at most 64 KiB) whole.
func readSmallFile(_ path: String) throws(SegmentError) -> String {
    let fd = try FileIO.open(path, flags: O_RDONLY)
    defer { _ = close(fd) }
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 8)
    defer { buffer.deallocate() }
    var used = 0
    while used < buffer.count {
        let n = try FileIO.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[used...]), path: path, offset: UInt64(used))
        if n == 0 { break }
        used += n
    }
    return String(decoding: UnsafeRawBufferPointer(rebasing: buffer[..<used]), as: UTF8.self)
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines.
    func trimmingWhitespace() -> String {
        let ws: Set<Character> = [" ", "\t", "\n", "\r"]
        guard let first = firstIndex(where: { !ws.contains($0) }),
              let last = lastIndex(where: { !ws.contains($0) }) else { return "" }
        return String(self[first...last])
    }
}
