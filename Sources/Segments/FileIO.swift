import Glibc
import RedlineBase

extension SegmentError {
    /// A failed system call of the file layer, as a segment error naming the call and path.
    init(_ e: FileError) { self = .io(path: e.path, offset: e.offset, call: e.call, errno: e.errno) }
}

/// Runs calls of the file layer (`POSIXFile`), reporting a failure as `SegmentError.io`.
@inline(__always)
func io<T>(_ body: @autoclosure () throws(FileError) -> T) throws(SegmentError) -> T {
    do throws(FileError) { return try body() } catch { throw SegmentError(error) }
}

/// Opens an existing file for reading, refusing at once anything but a regular file: a
/// FIFO would block `open(2)` and `read(2)` forever, a device could read without end.
/// (`O_NONBLOCK` makes the open itself return; it is cleared before reading.)
func openRegularForReading(_ path: String) throws(SegmentError) -> Int32 {
    let fd = try io(POSIXFile.open(path, flags: O_RDONLY | O_NONBLOCK))
    let st: stat
    do throws(FileError) { st = try POSIXFile.status(fd, path: path) } catch {
        _ = close(fd)
        throw SegmentError(error)
    }
    guard (st.st_mode & S_IFMT) == S_IFREG else {
        _ = close(fd)
        throw .invalidArgument(path: path, offset: 0, reason: "not a regular file (a FIFO, device, socket or folder); segments are regular files")
    }
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
    return fd
}
