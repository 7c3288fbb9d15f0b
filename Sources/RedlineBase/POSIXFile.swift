import CSystem
import Glibc

/// A failed file system call: the C call, the path, the byte offset for reads and writes
/// (0 otherwise) and errno.
public struct FileError: Error, Equatable, Sendable, CustomStringConvertible {
    public let call: String
    public let path: String
    public let offset: UInt64
    public let errno: Int32

    public init(call: String, path: String, offset: UInt64 = 0, errno: Int32) {
        self.call = call
        self.path = path
        self.offset = offset
        self.errno = errno
    }

    /// Whether `offset` means something for the call (only reads and writes happen at a byte).
    public var atByte: Bool { ["read", "write", "pwrite", "ftruncate"].contains(call) }

    public var description: String {
        "\(call) \(path)\(atByte ? " at byte \(offset)" : ""): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// The one POSIX file layer: every call retried on EINTR, every failure a `FileError` naming
/// the call and the path. Segments, the pipeline's commit, the Parquet writer and the
/// collector write through it; publication is always write, fsync, rename, fsync of the folder.
public enum POSIXFile {
    /// `open(2)` with `O_CLOEXEC`; returns the descriptor. A file it creates gets exactly
    /// `mode` (`fchmod(2)` after the open), whatever the caller's umask.
    public static func open(_ path: String, flags: Int32, mode: mode_t = 0o640) throws(FileError) -> Int32 {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 {
                if flags & O_CREAT != 0 && fchmod(fd, mode) != 0 {
                    let e = errno
                    _ = Glibc.close(fd)
                    throw FileError(call: "fchmod", path: path, errno: e)
                }
                return fd
            }
            if errno == EINTR { continue }
            throw FileError(call: "open", path: path, errno: errno)
        }
    }

    /// `close(2)`; an error is reported (a close can report a failed write-back). The
    /// descriptor is released either way (Linux), so it is never closed twice.
    public static func close(_ fd: Int32, path: String) throws(FileError) {
        if Glibc.close(fd) != 0 && errno != EINTR { throw FileError(call: "close", path: path, errno: errno) }
    }

    /// `read(2)` into `buffer`; returns bytes read, 0 at end of file.
    public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String, offset: UInt64) throws(FileError) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        while true {
            let n = Glibc.read(fd, base, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw FileError(call: "read", path: path, offset: offset, errno: errno)
        }
    }

    /// `pread(2)` at `offset` until `buffer` is full or the file ends; returns bytes read (fewer
    /// than `buffer.count` only at end of file). The file offset is left alone.
    public static func readFully(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String, at offset: UInt64) throws(FileError) -> Int {
        guard let base = buffer.baseAddress else { return 0 }
        var done = 0
        while done < buffer.count {
            let n = Glibc.pread(fd, base + done, buffer.count - done, off_t(offset + UInt64(done)))
            if n > 0 { done += n; continue }
            if n == 0 { break }
            if errno == EINTR { continue }
            throw FileError(call: "pread", path: path, offset: offset + UInt64(done), errno: errno)
        }
        return done
    }

    /// `pwrite(2)` at `offset` until all of `bytes` is written (short writes are continued; a
    /// write of 0 bytes is reported as ENOSPC). Positioned writes keep the file's layout right
    /// after a failed write: the next write goes where the caller's byte count says, not where
    /// a partial write left the file offset.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String, offset: UInt64) throws(FileError) {
        guard var p = bytes.baseAddress else { return }
        var left = bytes.count
        var at = offset
        while left > 0 {
            let n = Glibc.pwrite(fd, p, left, off_t(at))
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(call: "write", path: path, offset: at, errno: errno)
            }
            if n == 0 { throw FileError(call: "write", path: path, offset: at, errno: ENOSPC) }
            p += n
            left -= n
            at += UInt64(n)
        }
    }

    /// `ftruncate(2)`.
    public static func truncate(_ fd: Int32, to length: UInt64, path: String) throws(FileError) {
        while Glibc.ftruncate(fd, off_t(length)) != 0 {
            if errno == EINTR { continue }
            throw FileError(call: "ftruncate", path: path, offset: length, errno: errno)
        }
    }

    /// `fsync(2)`.
    public static func fsync(_ fd: Int32, path: String) throws(FileError) {
        while Glibc.fsync(fd) != 0 {
            if errno == EINTR { continue }
            throw FileError(call: "fsync", path: path, errno: errno)
        }
    }

    /// `fsync(2)` of a folder, so a rename or create inside it survives a crash.
    public static func fsyncDirectory(_ path: String) throws(FileError) {
        let fd = try open(path, flags: O_RDONLY | O_DIRECTORY)
        defer { _ = Glibc.close(fd) }
        try fsync(fd, path: path)
    }

    /// `rename(2)`.
    public static func rename(_ from: String, _ to: String) throws(FileError) {
        while Glibc.rename(from, to) != 0 {
            if errno == EINTR { continue }
            throw FileError(call: "rename", path: "\(from) -> \(to)", errno: errno)
        }
    }

    /// `renameat2(2)` with `RENAME_EXCHANGE`: swaps two existing paths in one step.
    public static func exchange(_ a: String, _ b: String) throws(FileError) {
        while csystem_rename_exchange(a, b) != 0 {
            if errno == EINTR { continue }
            throw FileError(call: "renameat2(RENAME_EXCHANGE)", path: "\(a) <-> \(b)", errno: errno)
        }
    }

    /// `unlink(2)`; a missing file is fine.
    public static func unlinkIfPresent(_ path: String) throws(FileError) {
        if Glibc.unlink(path) != 0 && errno != ENOENT { throw FileError(call: "unlink", path: path, errno: errno) }
    }

    /// `mkdir(2)` of `path` and its missing parents; existing folders are fine (and keep
    /// their mode). A folder it creates gets exactly `mode` (`chmod(2)`), whatever the umask.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o750) throws(FileError) {
        if isDirectory(path) { return }
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += part
            if Glibc.mkdir(prefix, mode) == 0 {
                if chmod(prefix, mode) != 0 { throw FileError(call: "chmod", path: prefix, errno: errno) }
            } else if errno != EEXIST {
                throw FileError(call: "mkdir", path: prefix, errno: errno)
            }
            prefix += "/"
        }
    }

    /// Whether `path` names a folder (following links).
    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// `fstat(2)` of an open file.
    public static func status(_ fd: Int32, path: String) throws(FileError) -> stat {
        var st = stat()
        if fstat(fd, &st) != 0 { throw FileError(call: "fstat", path: path, errno: errno) }
        return st
    }

    /// Size in bytes from `fstat(2)`.
    public static func size(_ fd: Int32, path: String) throws(FileError) -> UInt64 {
        UInt64(try status(fd, path: path).st_size)
    }

    /// The folder part of a path ("." for a bare name).
    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    /// Reads a small text file (at most 64 KiB) whole.
    public static func readSmallFile(_ path: String) throws(FileError) -> String {
        let fd = try open(path, flags: O_RDONLY)
        defer { _ = Glibc.close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 8)
        defer { buffer.deallocate() }
        var used = 0
        while used < buffer.count {
            let n = try read(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[used...]), path: path, offset: UInt64(used))
            if n == 0 { break }
            used += n
        }
        return String(decoding: UnsafeRawBufferPointer(rebasing: buffer[..<used]), as: UTF8.self)
    }
}

/// Whole-file publication: write `<path>.tmp-<pid>`, fsync, rename over `path`, fsync the
/// folder. Readers see the old file or the new one, never a mix; every failure is thrown
/// (a failed folder fsync too: the rename may not survive a crash), and a failure before the
/// rename removes the temp file and leaves `path` untouched.
public enum AtomicFile {
    /// Publishes `bytes` at `path` with exactly `mode` (set with `fchmod`, not left to the umask).
    public static func write(_ bytes: some Collection<UInt8>, to path: String, mode: mode_t = 0o644) throws(FileError) {
        let tmp = "\(path).tmp-\(getpid())"
        let fd = try POSIXFile.open(tmp, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
        let written: Result<Void, FileError> = {
            let result = bytes.withContiguousStorageIfAvailable { buf in
                Result { () throws(FileError) in try POSIXFile.writeAll(fd, UnsafeRawBufferPointer(buf), path: tmp, offset: 0) }
            }
            if let result { return result }
            return Array(bytes).withUnsafeBytes { buf in
                Result { () throws(FileError) in try POSIXFile.writeAll(fd, buf, path: tmp, offset: 0) }
            }
        }()
        do throws(FileError) {
            try written.get()
        } catch {
            _ = Glibc.close(fd)
            _ = Glibc.unlink(tmp)
            throw error
        }
        try publish(fd, from: tmp, to: path)
    }

    /// Publishes a fully written temp file: fsync `fd`, close it, rename `tmp` over `path`,
    /// fsync the folder. `fd` is closed in every case; `tmp` is removed on a failure before
    /// the rename. A failure after it (the folder fsync) is thrown too: the new file is in
    /// place but may not survive a crash.
    public static func publish(_ fd: Int32, from tmp: String, to path: String) throws(FileError) {
        var failure: FileError?
        do throws(FileError) {
            try POSIXFile.fsync(fd, path: tmp)
        } catch {
            failure = error
        }
        do throws(FileError) {
            try POSIXFile.close(fd, path: tmp)
        } catch {
            failure = failure ?? error
        }
        if failure == nil {
            do throws(FileError) { try POSIXFile.rename(tmp, path) } catch { failure = error }
        }
        if let failure {
            _ = Glibc.unlink(tmp)
            throw failure
        }
        try POSIXFile.fsyncDirectory(POSIXFile.directory(of: path))
    }
}
