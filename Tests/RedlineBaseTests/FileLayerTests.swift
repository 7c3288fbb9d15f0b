import Glibc
import RedlineBase
import Testing

@Suite("One POSIX file layer")
struct FileLayerTests {
    private func scratch() throws -> String {
        var template = Array("/tmp/redline-base-XXXXXX".utf8CString)
        let dir = try #require(template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) })
        return String(cString: dir)
    }

    @Test("AtomicFile publishes the bytes with the mode asked, leaving no temp file")
    func publishes() throws {
        let dir = try scratch()
        defer { _ = rmdir(dir) }
        let path = "\(dir)/a.txt"
        let old = umask(0o077)
        defer { umask(old) }
        try AtomicFile.write(Array("first\n".utf8), to: path, mode: 0o644)
        try AtomicFile.write(Array("second\n".utf8), to: path, mode: 0o644)
        defer { unlink(path) }
        #expect(try POSIXFile.readSmallFile(path) == "second\n")
        var st = stat()
        #expect(stat(path, &st) == 0 && st.st_mode & 0o777 == 0o644)
        let names = try listing(dir)
        #expect(names == ["a.txt"])
    }

    @Test("every failure is thrown naming the call and path, and the target stays untouched")
    func failuresAreTyped() throws {
        let dir = try scratch()
        defer { _ = rmdir(dir) }
        // A folder that does not exist: the temp file cannot be created.
        #expect(throws: FileError(call: "open", path: "\(dir)/missing/x.tmp-\(getpid())", errno: ENOENT)) {
            try AtomicFile.write(Array("x".utf8), to: "\(dir)/missing/x")
        }
        // A rename over a non-empty folder fails after the data is written: the temp file goes.
        try POSIXFile.makeDirectories("\(dir)/taken/inner")
        defer { _ = rmdir("\(dir)/taken/inner"); _ = rmdir("\(dir)/taken") }
        do {
            try AtomicFile.write(Array("x".utf8), to: "\(dir)/taken")
            Issue.record("a rename over a non-empty folder succeeded")
        } catch {
            #expect(error.call == "rename")
            #expect([EISDIR, ENOTEMPTY, EEXIST].contains(error.errno))
            #expect(error.description.contains("\(dir)/taken"))
        }
        #expect(try listing(dir) == ["taken"])
        #expect(POSIXFile.isDirectory("\(dir)/taken/inner"))
    }

    @Test("writeAll reports a full device as ENOSPC at the byte it failed")
    func fullDevice() throws {
        let fd = try POSIXFile.open("/dev/full", flags: O_WRONLY)
        defer { _ = close(fd) }
        let bytes = [UInt8](repeating: 1, count: 10)
        do {
            try bytes.withUnsafeBytes { b in Result { () throws(FileError) in try POSIXFile.writeAll(fd, b, path: "/dev/full", offset: 0) } }.get()
            Issue.record("writing /dev/full succeeded")
        } catch {
            #expect(error == FileError(call: "write", path: "/dev/full", offset: 0, errno: ENOSPC))
            #expect(error.description.hasPrefix("write /dev/full at byte 0: "))
        }
    }

    private func listing(_ dir: String) throws -> [String] {
        let d = try #require(opendir(dir))
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { out.append(name) }
        }
        return out.sorted()
    }
}
