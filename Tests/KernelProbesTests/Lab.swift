import Foundation
import Glibc
import KernelProbes

/// Two network namespaces joined by a veth pair (198.18.<n>.1 ↔ 198.18.<n>.2),
/// two cgroup v2 groups for the processes on each side, and every process the
/// test starts. `tearDown()` ends those processes by PID and removes the
/// namespaces (and with them the veth and its qdiscs) and cgroups.
final class NetnsLab {
    let client: String
    let server: String
    let clientAddr: String
    let serverAddr: String
    let cgroupRoot: String
    var clientCgroup: String { cgroupRoot + "/client" }
    var serverCgroup: String { cgroupRoot + "/server" }
    private var started: [Process] = []

    struct CommandFailed: Error, CustomStringConvertible {
        var command: String
        var status: Int32
        var output: String
        var description: String { "`\(command)` exited \(status): \(output)" }
    }

    init(tag: String, subnet: Int) throws {
        let id = "\(getpid())-\(tag)"
        client = "rl-\(id)-c"
        server = "rl-\(id)-s"
        clientAddr = "198.18.\(subnet).1"
        serverAddr = "198.18.\(subnet).2"
        cgroupRoot = "/sys/fs/cgroup/unified/redline-test-\(id)"
        let vc = "rlc\(subnet)", vs = "rls\(subnet)"
        clientIf = vc
        serverIf = vs
        for cmd in [
            "ip netns add \(client)", "ip netns add \(server)",
            "ip link add \(vc) netns \(client) type veth peer name \(vs) netns \(server)",
            "ip -n \(client) addr add \(clientAddr)/30 dev \(vc)", "ip -n \(server) addr add \(serverAddr)/30 dev \(vs)",
            "ip -n \(client) link set lo up", "ip -n \(server) link set lo up",
            "ip -n \(client) link set \(vc) up", "ip -n \(server) link set \(vs) up",
            "mkdir -p \(cgroupRoot)/client \(cgroupRoot)/server",
        ] {
            do { _ = try Self.sh(cmd) } catch {
                tearDown()
                throw error
            }
        }
    }
    let clientIf: String
    let serverIf: String
    var clientNetns: String { "/run/netns/\(client)" }
    var serverNetns: String { "/run/netns/\(server)" }

    /// The cgroup v2 id of a cgroup directory (its inode number).
    static func cgroupID(_ path: String) throws -> UInt64 {
        var st = stat()
        guard stat(path, &st) == 0 else { throw KernelProbeError.fileOpen(path: path, errno: errno) }
        return UInt64(st.st_ino)
    }

    /// Runs a shell command to completion; throws with its output on failure.
    @discardableResult
    static func sh(_ command: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let out = String(decoding: data, as: UTF8.self)
        guard p.terminationStatus == 0 else { throw CommandFailed(command: command, status: p.terminationStatus, output: out) }
        return out
    }

    /// Runs `command` inside `netns` and `cgroup` to completion.
    @discardableResult
    func run(in netns: String, cgroup: String, _ command: String) throws -> String {
        try Self.sh("echo $$ > \(cgroup)/cgroup.procs && exec ip netns exec \(netns) \(command)")
    }

    /// Starts a long-running `command` inside `netns` and `cgroup`; tearDown ends it.
    func start(in netns: String, cgroup: String, _ command: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "echo $$ > \(cgroup)/cgroup.procs && exec ip netns exec \(netns) \(command)"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        started.append(p)
    }

    /// Waits until `addr:port` accepts a TCP connection from the client namespace.
    func waitForPort(_ port: Int, attempts: Int = 200) throws {
        for _ in 0..<attempts {
            if (try? Self.sh("ip netns exec \(client) bash -c 'exec 3<>/dev/tcp/\(serverAddr)/\(port)'")) != nil { return }
            usleep(20_000)  // pacing between readiness probes, not synchronisation
        }
        throw CommandFailed(command: "wait for \(serverAddr):\(port)", status: -1, output: "never accepted")
    }

    func tearDown() {
        for p in started where p.isRunning {
            kill(p.processIdentifier, SIGTERM)
        }
        // Bounded wait for a clean exit, then SIGKILL: a test must never hang on teardown.
        for p in started {
            var polls = 0
            while p.isRunning && polls < 100 {
                usleep(20_000)
                polls += 1
            }
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
        }
        started.removeAll()
        _ = try? Self.sh("ip netns del \(client) 2>/dev/null; ip netns del \(server) 2>/dev/null; true")
        // Processes are gone; the (now empty) cgroups can go.
        _ = try? Self.sh("rmdir \(cgroupRoot)/client \(cgroupRoot)/server \(cgroupRoot) 2>/dev/null; true")
    }

    deinit { tearDown() }
}

/// Polls `reader` until `done` holds or `maxPolls` polls of 100 ms pass.
func pollUntil(_ reader: RingBufferReader, maxPolls: Int = 100, _ done: () -> Bool) throws {
    var polls = 0
    while !done() && polls < maxPolls {
        try reader.poll(timeoutMilliseconds: 100)
        polls += 1
    }
}
