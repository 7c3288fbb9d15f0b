import Foundation
import Testing
import TestSupport

/// Bad input through the real executable: each is refused at once with exit 2 (usage) or 3
/// (bad file), and the message names the file and the position (line, or JSON byte offset),
/// or the failing call, path and errno text.
@Suite("bad input is refused with the file and position (end to end)")
struct BadInputCLITests {
    static let capture = CommitFaultCLITests.capture
    static var partition: String {
        (try? String(contentsOfFile: capture + "/PARTITION", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)) ?? ""
    }

    static func file(_ name: String, _ text: String) throws -> String {
        let p = try makeScratchDirectory("redline-cli").appendingPathComponent(name).path
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }

    @Test("bare `redline` is a usage error: exit 2 with the usage")
    func noArguments() throws {
        let r = try InspectCLITests.redline()
        #expect(r.status == 2)
        #expect(r.stderr.contains("USAGE: redline"), "\(r.stderr)")
    }

    @Test("collect --duration -1 says the value is invalid (not missing)")
    func negativeDuration() throws {
        let r = try InspectCLITests.redline("collect", "--config", "/nonexistent.yaml", "--duration", "-1")
        #expect(r.status == 2)
        #expect(r.stderr.contains("--duration -1.0 is invalid"), "\(r.stderr)")
    }

    @Test("inspect refuses a FIFO at once (it would block forever)")
    func inspectFIFO() throws {
        let dir = try makeScratchDirectory("redline-cli").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(mkfifo(dir + "/x.rls", 0o600) == 0)
        let r = try InspectCLITests.redline("inspect", dir + "/x.rls")
        #expect(r.status == 2)
        #expect(r.stderr.contains("x.rls is not a regular file"), "\(r.stderr)")
        // Found by a folder walk: listed as damaged, named, not opened for reading.
        let walk = try InspectCLITests.redline("inspect", dir)
        #expect(walk.status == 1)
        #expect(walk.stdout.contains("not a regular file"), "\(walk.stdout)")
    }

    @Test("a filter CIDR with host bits set is refused like datacenters.yaml refuses it, with its line")
    func cidrHostBits() throws {
        let p = try Self.file("c.yaml", "version: 1\nsegments: {root: /tmp/x}\nfilters:\n  - {action: allow, cidr: 198.19.210.1/24}\n")
        let r = try InspectCLITests.redline("collect", "--config", p)
        #expect(r.status == 3)
        #expect(r.stderr.contains("c.yaml:4: filters[0].cidr: '198.19.210.1/24' has host bits set; the block is 198.19.210.0/24"), "\(r.stderr)")
    }

    @Test("a duplicate YAML key names the line of the duplicate")
    func duplicateKey() throws {
        let p = try Self.file("p.yaml", "version: 1\nname: x\nkind: hourly\nname: y\n")
        let r = try InspectCLITests.redline("run", p, "--partition", "date=2026-01-02/hour=03")
        #expect(r.status == 3)
        #expect(r.stderr.contains("p.yaml:4: duplicate key 'name'"), "\(r.stderr)")
    }

    @Test("invalid JSON in pods.json names the line and byte offset")
    func podsJSON() throws {
        let meta = try makeScratchDirectory("redline-cli").path
        defer { try? FileManager.default.removeItem(atPath: meta) }
        try "{\"kind\": \"List\",\n \"items\": [,]}\n".write(toFile: meta + "/pods.json", atomically: true, encoding: .utf8)
        let out = try makeScratchDirectory("redline-cli").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try InspectCLITests.redline("run", Prerequisites.packageRoot + "/pipelines/hourly.yaml", "--partition", Self.partition,
                                            "--segments", Self.capture + "/segments", "--metadata", meta, "--out", out, "--quiet")
        #expect(r.status == 3)
        #expect(r.stderr.contains("pods.json:2: invalid JSON at byte 28"), "\(r.stderr)")
    }

    @Test("an hour with no segments at all exits 3 saying so, and commits nothing")
    func noSegments() throws {
        let out = try makeScratchDirectory("redline-cli").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try InspectCLITests.redline("run", Prerequisites.packageRoot + "/pipelines/hourly.yaml", "--partition", "date=2020-01-01/hour=00",
                                            "--segments", Self.capture + "/segments", "--out", out, "--quiet")
        #expect(r.status == 3)
        #expect(r.stderr.contains("no segments for date=2020-01-01/hour=00"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out + "/_manifests/hourly/date=2020-01-01/hour=00.json"))
        // Timers that expect empty hours say so: an empty partition, committed, with the warning.
        let allowed = try InspectCLITests.redline("run", Prerequisites.packageRoot + "/pipelines/hourly.yaml", "--partition", "date=2020-01-01/hour=00",
                                                  "--segments", Self.capture + "/segments", "--out", out, "--quiet", "--allow-empty")
        #expect(allowed.status == 0, "\(allowed.stderr)")
        #expect(allowed.stderr.contains("writing an empty partition (--allow-empty)"), "\(allowed.stderr)")
        #expect(FileManager.default.fileExists(atPath: out + "/_manifests/hourly/date=2020-01-01/hour=00.json"))
    }

    @Test("an output root that cannot be created names the folder and the errno text")
    func unwritableRoot() throws {
        let dir = try makeScratchDirectory("redline-cli").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        FileManager.default.createFile(atPath: dir + "/plain-file", contents: Data("x".utf8))
        let r = try InspectCLITests.redline("run", Prerequisites.packageRoot + "/pipelines/hourly.yaml", "--partition", Self.partition,
                                            "--segments", Self.capture + "/segments", "--out", dir + "/plain-file/tables", "--quiet")
        #expect(r.status == 5)
        #expect(r.stderr.contains("cannot create folder \(dir)/plain-file/tables: mkdir: Not a directory"), "\(r.stderr)")
    }

    @Test("table files and folders get 0640/0750 whatever the umask (here 000), and write.file_mode/dir_mode change them")
    func modesAreExplicit() throws {
        let dir = try makeScratchDirectory("redline-cli").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        func run(_ pipeline: String, _ out: String) throws -> Int32 {
            // umask is per process: the shell sets 000 and execs redline.
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", "umask 000; exec \"$0\" run \"$1\" --partition \"$2\" --segments \"$3\" --metadata \"$4\" --out \"$5\" --quiet",
                           try builtProduct("redline"), pipeline, Self.partition, Self.capture + "/segments", Self.capture + "/metadata", out]
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            p.waitUntilExit()
            return p.terminationStatus
        }
        func modes(_ root: String) -> (files: Set<UInt16>, folders: Set<UInt16>) {
            var files: Set<UInt16> = [], folders: Set<UInt16> = []
            for case let p as String in FileManager.default.enumerator(atPath: root)! where !p.hasSuffix(".redline.lock") {
                var st = stat()
                guard lstat("\(root)/\(p)", &st) == 0 else { continue }
                let m = UInt16(st.st_mode & 0o7777)
                if (st.st_mode & S_IFMT) == S_IFDIR { folders.insert(m) } else { files.insert(m) }
            }
            return (files, folders)
        }
        #expect(try run(Prerequisites.packageRoot + "/pipelines/hourly.yaml", dir + "/default") == 0)
        let d = modes(dir + "/default")
        #expect(d.files == [0o640] && d.folders == [0o750], "files \(d.files.map { String($0, radix: 8) }), folders \(d.folders.map { String($0, radix: 8) })")

        var text = try String(contentsOfFile: Prerequisites.packageRoot + "/pipelines/hourly.yaml", encoding: .utf8)
        text = text.replacingOccurrences(of: "- stage: write", with: "- stage: write\n    file_mode: \"0600\"\n    dir_mode: \"0700\"")
        #expect(text.contains("file_mode"))
        let custom = dir + "/custom.yaml"
        try text.write(toFile: custom, atomically: true, encoding: .utf8)
        #expect(try run(custom, dir + "/custom") == 0)
        let c = modes(dir + "/custom")
        #expect(c.files == [0o600] && c.folders == [0o700], "files \(c.files.map { String($0, radix: 8) }), folders \(c.folders.map { String($0, radix: 8) })")
    }

    @Test("collector start-up checks name the file and line: a missing rules file, an interface matching nothing; an unwritable segment root names the call, path and errno",
          .requiresRootBPF)
    func collectorStartupErrors() throws {
        let rules = try Self.file("c.yaml", "version: 1\nhost: h1\nrules: /nonexistent/rules.yaml\nsegments: {root: /tmp/x}\n")
        let r = try InspectCLITests.redline("collect", "--config", rules, "--duration", "1")
        #expect(r.status == 3)
        #expect(r.stderr.contains("c.yaml:3: rules: rules file /nonexistent/rules.yaml: No such file or directory"), "\(r.stderr)")

        let iface = try Self.file("c.yaml", "version: 1\nhost: h1\ninterfaces: [lo, rlnope9]\nsegments: {root: /tmp/x}\n")
        let i = try InspectCLITests.redline("collect", "--config", iface, "--duration", "1")
        #expect(i.status == 3)
        #expect(i.stderr.contains("c.yaml:3: interfaces[1]: 'rlnope9' matches no interface here"), "\(i.stderr)")

        let dir = try makeScratchDirectory("redline-cli").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        FileManager.default.createFile(atPath: dir + "/plain-file", contents: Data("x".utf8))
        let root = try Self.file("c.yaml", "version: 1\nhost: h1\nsegments: {root: \(dir)/plain-file/segments}\n")
        let u = try InspectCLITests.redline("collect", "--config", root, "--duration", "1")
        #expect(u.status == 5)
        #expect(u.stderr.contains("\(dir)/plain-file/segments: mkdir failed: Not a directory (errno 20)"), "\(u.stderr)")
        #expect(!u.stderr.contains("at byte"), "\(u.stderr)")
    }
}
