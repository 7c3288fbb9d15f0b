import Foundation
import Glibc

/// What a test needs that the machine or the build did not provide, or a helper that failed.
public struct TestSupportError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A program run to completion: its exit status (or the signal that ended it, when
/// `signalled`), and everything it wrote to stdout and stderr.
public struct ProcessOutput: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    public var signalled = false

    public init(status: Int32, stdout: String, stderr: String, signalled: Bool = false) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.signalled = signalled
    }
}

/// Path of an executable product of this build (`redline`, `redline-dev`), found beside the
/// test bundle: SwiftPM puts every product of a build in the same bin folder, and
/// `swift build --build-tests` (which tools/test runs) builds them all. Throws, naming the
/// path, when it is not there.
public func builtProduct(_ name: String) throws -> String {
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
    // Inside a bundle (…/X.xctest/Contents/MacOS) walk up to the bin folder.
    while dir.path.contains(".xctest") { dir.deleteLastPathComponent() }
    let candidate = dir.appendingPathComponent(name).path
    guard FileManager.default.isExecutableFile(atPath: candidate) else {
        throw TestSupportError("\(name) executable not found at \(candidate); build it first (swift build, or tools/test)")
    }
    return candidate
}

/// A fresh, empty folder under the temporary directory, named `<prefix>-<uuid>`; the caller
/// removes it.
public func makeScratchDirectory(_ prefix: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Runs `executable` with `arguments` to completion (Foundation's `Process`) and returns its
/// output. Output goes through files, not pipes, so a child that writes a lot cannot stall on
/// a full pipe. `environment` nil inherits the test's; `directory` nil keeps the test's.
public func runToCompletion(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                            directory: String? = nil) throws -> ProcessOutput {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    if let environment { p.environment = environment }
    if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
    let dir = try makeScratchDirectory("redline-process")
    defer { try? FileManager.default.removeItem(at: dir) }
    let outURL = dir.appendingPathComponent("stdout"), errURL = dir.appendingPathComponent("stderr")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    p.standardOutput = try FileHandle(forWritingTo: outURL)
    p.standardError = try FileHandle(forWritingTo: errURL)
    try p.run()
    p.waitUntilExit()
    return ProcessOutput(status: p.terminationStatus,
                         stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
                         stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self),
                         signalled: p.terminationReason == .uncaughtSignal)
}

/// Runs a command to completion through system(3), stdout and stderr together into a file,
/// and returns its exit status and that output; throws with the output's tail on a non-zero
/// status unless `allowFailure`. Not Foundation's `Process`: commands that leave daemons
/// running (the lab's services) would have them inherit the pipe `Process` uses to learn that
/// its child exited, and it would wait for them too.
@discardableResult
public func shell(_ args: [String], allowFailure: Bool = false) throws -> (status: Int32, output: String) {
    let out = FileManager.default.temporaryDirectory.appendingPathComponent("rl-sh-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: out) }
    func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
    let raw = system(args.map(quote).joined(separator: " ") + " >" + quote(out) + " 2>&1 </dev/null")
    let status: Int32 = raw == -1 ? -1 : (raw >> 8) & 0xFF
    let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
    if status != 0 && !allowFailure {
        throw TestSupportError("\(args.joined(separator: " ")) exited \(status):\n\(text.suffix(3000))")
    }
    return (status, text)
}

/// A tmpfs of a fixed size mounted at a folder (root only), for tests of a full disk.
/// `unmount()` when done (in a `defer`).
public struct Tmpfs {
    public let path: String

    /// Mounts a tmpfs of `size` (mount(8) syntax: `64k`, `256k`) at the existing folder `path`.
    public init(at path: String, size: String) throws {
        self.path = path
        let r = try runToCompletion("/usr/bin/env", ["mount", "-t", "tmpfs", "-o", "size=\(size)", "tmpfs", path])
        guard r.status == 0 else { throw TestSupportError("mount tmpfs at \(path) exited \(r.status): \(r.stderr)") }
    }

    /// Grows (or shrinks) the mounted filesystem to `size`: "space returns".
    public func resize(to size: String) throws {
        let r = try runToCompletion("/usr/bin/env", ["mount", "-o", "remount,size=\(size)", path])
        guard r.status == 0 else { throw TestSupportError("remount tmpfs at \(path) exited \(r.status): \(r.stderr)") }
    }

    public func unmount() {
        _ = try? runToCompletion("/usr/bin/env", ["umount", path])
    }
}
