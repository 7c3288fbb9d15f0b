import ArgumentParser
import CRedlineABI
import DevSupport
import Foundation
import RedlineBase
import Segments

/// `redline-dev bench-segments`: write and read throughput of the segment path on the same
/// records, against three peers measured in the same run on exactly the raw bytes the segment
/// writer compressed:
/// - liblz4 in memory (what `lz4 -b` measures): `LZ4_compress_default` / `LZ4_decompress_safe`
///   on the segment's own raw blocks (≈ 256 KiB each), no I/O, no checksum. The goal is the
///   segment path within 1.2× of this.
/// - the `lz4` CLI matched to the segment format: 256 KiB independent blocks (`-B5`) with a
///   checksum per block (`-BX`, xxHash32 of the compressed block, as the segment's CRC32C is)
///   and no whole-content checksum (`--no-frame-crc`).
/// - the `lz4` CLI's defaults (4 MiB blocks, xxHash32 over all content), for reference only: it
///   is the configuration earlier versions of this benchmark compared against, and flatters us.
/// It also measures the floor under the segment path that the library does not pay: CRC32C of
/// the stored blocks, and `write(2)` / `read(2)` of the file through the page cache.
/// tools/bench/segments/run drives it.
struct BenchSegments: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-segments",
        abstract: "Benchmark the segment writer and reader against liblz4 in memory and the lz4 CLI on the same bytes."
    )

    @Option(help: "Records to write (mixed: 4 flow deltas per L7 call).")
    var records = 5_000_000

    @Option(help: "Scratch directory (segment, raw dump, lz4 files); must be on the disk under test.")
    var dir: String

    @Option(help: "Repetitions of each measurement; the best is kept.")
    var repeats = 3

    @Option(help: "Write a Markdown results table to this file.")
    var results: String?

    @Option(help: "Path of the lz4 command-line tool.")
    var lz4 = "/usr/bin/lz4"

    /// The segment path alone, for a profiler: `write` generates the records and writes the
    /// segment `repeats` times; `read` reads the segment a full run left in `dir` `repeats` times.
    enum Profile: String, ExpressibleByArgument { case write, read }

    @Option(help: "Run only the segment path's write, or read of DIR/bench.rls, `repeats` times, and no peer (for perf record).")
    var profile: Profile?

    /// The lz4 CLI configuration closest to the segment format (see the type's comment).
    static let matchedFlags = ["-q", "-1", "-B5", "-BX", "--no-frame-crc"]

    /// Best time (s) of each measurement over the rounds.
    struct Best {
        var segmentWrite = Double.infinity, segmentRead = Double.infinity
        var libCompress = Double.infinity, libDecompress = Double.infinity
        var cliMatchedCompress = Double.infinity, cliMatchedDecompress = Double.infinity
        var cliDefaultCompress = Double.infinity, cliDefaultDecompress = Double.infinity
        var crc = Double.infinity, fileWrite = Double.infinity, fileRead = Double.infinity
    }

    func run() throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let segment = dir + "/bench.rls"
        if profile == .read {
            for _ in 0..<repeats { _ = try readSegment(segment) }
            return
        }
        let (flows, calls, details) = makeRecords(records)
        defer { flows.deallocate(); calls.deallocate(); details.deallocate() }
        var options = WriterOptions()
        // The peers do not fsync; neither does this measurement (seal's fsyncs are a disk cost).
        options.durable = false
        if profile == .write {
            for _ in 0..<repeats { _ = try writeSegment(segment, flows, calls, details, options) }
            return
        }

        let rawPath = dir + "/bench.raw"
        var best = Best()
        var bufferBytes = 0
        var checksum: UInt64 = 0
        var raw = RawBlocks()
        defer { raw.deallocate() }
        // Every measurement is interleaved, round after round, so drift in the machine's speed
        // (a shared VM) hits all sides alike; the best round of each is kept.
        for round in 0..<repeats {
            var t = monotonicSeconds()
            let w = try writeSegment(segment, flows, calls, details, options)
            best.segmentWrite = min(best.segmentWrite, monotonicSeconds() - t)
            bufferBytes = w.bufferBytes

            if round == 0 {
                // The peers' input: exactly the raw bytes the writer compressed, block by block.
                raw = try RawBlocks(segment: segment)
                try raw.write(to: rawPath)
            }

            t = monotonicSeconds()
            let (n, sum) = try readSegment(segment)
            best.segmentRead = min(best.segmentRead, monotonicSeconds() - t)
            checksum = sum
            // Records v2: every call is written with its detail, a record of its own.
            guard n == records + details.count else {
                throw ValidationError("read \(n) records, wrote \(records + details.count) (\(records) flows and calls, \(details.count) call details)")
            }

            best.libCompress = min(best.libCompress, try raw.compressAll())
            best.libDecompress = min(best.libDecompress, try raw.decompressAll(verify: round == 0))
            best.crc = min(best.crc, raw.checksumCompressed())
            best.fileWrite = min(best.fileWrite, try raw.writeCompressed(to: dir + "/bench.packed"))
            best.fileRead = min(best.fileRead, try readWhole(segment))

            best.cliMatchedCompress = min(best.cliMatchedCompress,
                                          try timeProcess(lz4, Self.matchedFlags + ["-f", rawPath, rawPath + ".matched.lz4"]))
            // To /dev/null: the segment reader hands records to its caller in memory and writes nothing.
            best.cliMatchedDecompress = min(best.cliMatchedDecompress,
                                            try timeProcess(lz4, ["-d", "-c", "-q", rawPath + ".matched.lz4"], stdout: "/dev/null"))
            best.cliDefaultCompress = min(best.cliDefaultCompress, try timeProcess(lz4, ["-1", "-f", "-q", rawPath, rawPath + ".default.lz4"]))
            best.cliDefaultDecompress = min(best.cliDefaultDecompress,
                                            try timeProcess(lz4, ["-d", "-c", "-q", rawPath + ".default.lz4"], stdout: "/dev/null"))
        }
        let segmentBytes = try fileSize(segment)
        var lz4Bytes: [String: UInt64] = [:]
        for kind in ["matched", "default"] {
            let packed = rawPath + ".\(kind).lz4", out = rawPath + ".\(kind).out"
            _ = try timeProcess(lz4, ["-d", "-f", "-q", packed, out])
            guard FileManager.default.contentsEqual(atPath: rawPath, andPath: out) else {
                throw ValidationError("lz4 round trip (\(kind)) differs from the raw bytes")
            }
            lz4Bytes[kind] = try fileSize(packed)
            try FileManager.default.removeItem(atPath: out)
        }
        let crossCheck = try lz4InMemoryBenchmark(rawPath)

        let rawBytes = raw.totalRawBytes
        let mb = Double(rawBytes) / 1e6
        func row(_ name: String, _ secs: Double, _ vs: Double?) -> String {
            "| \(name) | \(String(format: "%.3f", secs)) | \(String(format: "%.2f M", Double(records) / secs / 1e6)) | "
                + "\(String(format: "%.0f", mb / secs)) | \(vs.map { String(format: "%.2f", $0) } ?? "") |\n"
        }
        let header = "| path | seconds (best of \(repeats)) | records/s | MB/s (raw) | segment time ÷ this |\n|---|---:|---:|---:|---:|\n"
        var table = header
        table += row("**segment write** (append + LZ4 + CRC32C + write(2))", best.segmentWrite, nil)
        table += row("liblz4 in memory: LZ4_compress_default, same blocks", best.libCompress, best.segmentWrite / best.libCompress)
        table += row("lz4 CLI matched: `lz4 \(Self.matchedFlags.dropFirst().joined(separator: " "))`", best.cliMatchedCompress, best.segmentWrite / best.cliMatchedCompress)
        table += row("lz4 CLI defaults: `lz4 -1` (4 MiB blocks, content checksum)", best.cliDefaultCompress, best.segmentWrite / best.cliDefaultCompress)
        table += row("**segment read** (read(2) + CRC32C + LZ4 + typed scan)", best.segmentRead, nil)
        table += row("liblz4 in memory: LZ4_decompress_safe, same blocks", best.libDecompress, best.segmentRead / best.libDecompress)
        table += row("lz4 CLI matched: `lz4 -d -c > /dev/null`", best.cliMatchedDecompress, best.segmentRead / best.cliMatchedDecompress)
        table += row("lz4 CLI defaults: `lz4 -d -c > /dev/null`", best.cliDefaultDecompress, best.segmentRead / best.cliDefaultDecompress)

        let writeVsLib = best.segmentWrite / best.libCompress
        let readVsLib = best.segmentRead / best.libDecompress
        let writeFloor = best.libCompress + best.crc + best.fileWrite
        let readFloor = best.libDecompress + best.crc + best.fileRead
        func verdict(_ ratio: Double) -> String { ratio <= 1.2 ? "met" : "MISSED" }
        let stored = Double(segmentBytes) / 1e6
        let floors = """
            | floor component (in memory unless said) | seconds (best of \(repeats)) | MB/s |
            |---|---:|---:|
            | CRC32C of the stored blocks (\(String(format: "%.0f", stored)) MB) | \(String(format: "%.3f", best.crc)) | \(String(format: "%.0f", stored / best.crc)) |
            | write(2) of the stored blocks to a file (page cache) | \(String(format: "%.3f", best.fileWrite)) | \(String(format: "%.0f", stored / best.fileWrite)) |
            | read(2) of the segment file (page cache) | \(String(format: "%.3f", best.fileRead)) | \(String(format: "%.0f", stored / best.fileRead)) |
            | write floor: liblz4 compress + CRC32C + write(2) | \(String(format: "%.3f", writeFloor)) | ÷ library \(String(format: "%.2f", writeFloor / best.libCompress)) |
            | read floor: liblz4 decompress + CRC32C + read(2) | \(String(format: "%.3f", readFloor)) | ÷ library \(String(format: "%.2f", readFloor / best.libDecompress)) |

            """
        func verdictLine(_ path: String, _ ratio: Double, _ floor: Double, _ extra: String) -> String {
            let goal = ratio <= 1.2 ? "goal (≤ 1.20× liblz4 in memory) **met**" : "goal (≤ 1.20× liblz4 in memory) **missed**"
            return "- \(path): \(String(format: "%.2f", ratio))× the library, \(goal). Its floor — the library plus \(extra), each "
                + "measured alone — is \(String(format: "%.2f", floor))× the library; the segment path takes "
                + "\(String(format: "%.2f", ratio / floor))× that floor."
        }
        let verdicts = verdictLine("Write", writeVsLib, writeFloor / best.libCompress, "CRC32C and write(2) into the page cache")
            + "\n" + verdictLine("Read", readVsLib, readFloor / best.libDecompress, "CRC32C and read(2) out of the page cache")
            + "\n\nA path at about 1.0× its floor spends nothing beyond the format's checksum and the kernel's copy, "
            + "costs an in-memory library does not pay; a floor above 1.20× is why such a goal is missed. "
            + "This VM is shared (2 vCPUs, other builds running): the page-cache costs vary most between runs.\n"
        let summary = """
            records: \(records) (\(flows.count) flow_delta × \(MemoryLayout<rl_flow_delta>.size) B, \(calls.count) l7_call × \(MemoryLayout<rl_l7_call>.size) B + call_detail × \(MemoryLayout<rl_call_detail>.size) B); raw \(rawBytes) bytes in \(raw.count) blocks
            segment: \(segmentBytes) bytes (ratio \(String(format: "%.2f", Double(rawBytes) / Double(segmentBytes)))); liblz4 blocks: \(raw.totalCompressedBytes) bytes
            lz4 CLI files: matched \(lz4Bytes["matched"] ?? 0) bytes, defaults \(lz4Bytes["default"] ?? 0) bytes
            writer buffer memory: \(bufferBytes) bytes (one 256 KiB block per record type in use + one compression buffer)
            write: \(String(format: "%.2f", writeVsLib))× liblz4 in memory (goal ≤ 1.20: \(verdict(writeVsLib))); \(String(format: "%.2f", best.segmentWrite / writeFloor))× its floor; \(String(format: "%.2f", best.cliMatchedCompress / best.segmentWrite))× the matched CLI's speed
            read:  \(String(format: "%.2f", readVsLib))× liblz4 in memory (goal ≤ 1.20: \(verdict(readVsLib))); \(String(format: "%.2f", best.segmentRead / readFloor))× its floor; \(String(format: "%.2f", best.cliMatchedDecompress / best.segmentRead))× the matched CLI's speed
            cross-check, the CLI's own in-memory benchmark on the raw bytes (`lz4 -b1 -B5 -i1`): \(crossCheck)
            (scan checksum \(checksum))
            """
        print(table)
        print(floors)
        print(summary)
        if let results {
            let host = ProcessInfo.processInfo.hostName
            let cpus = ProcessInfo.processInfo.activeProcessorCount
            let doc = """
                # Segment path benchmark

                Produced by `tools/bench/segments/run` on \(host) (\(cpus) CPUs), \(utcISO8601(ns: Int64(Date().timeIntervalSince1970 * 1e9))),
                with \(lz4Version()). All sides work on exactly the raw record bytes the segment writer
                compressed, in the same run, measurements interleaved round by round (best of \(repeats)
                kept for each). The segment path runs single-threaded in process over records already in
                memory: write appends record by record as the collector does, then LZ4-compresses each
                ≈ 256 KiB block, CRC32C-checks it and writes it; read verifies every CRC32C, decompresses
                every block into one reused buffer and touches every record through the typed zero-copy
                view. Neither side fsyncs (seal's fsync is a disk cost, not a format cost).

                Peers: **liblz4 in memory** is what `lz4 -b` measures — `LZ4_compress_default` and
                `LZ4_decompress_safe` on the segment's own blocks, no file, no checksum: the goal is the
                segment path within 1.2× of it. The **matched CLI** is the `lz4` tool set up as its best
                users would for this data: the same 256 KiB independent blocks (`-B5`), a checksum per
                block (`-BX`: xxHash32 of each compressed block, as the segment's CRC32C covers each
                stored block) and no content checksum (`--no-frame-crc`); timed as a whole process
                (start-up included, negligible at this size) reading its input from the page cache and
                writing its output file, or /dev/null when decompressing (the segment reader hands records
                to its caller in memory). The **CLI defaults** (4 MiB blocks, xxHash32 over all content:
                what this benchmark compared against before) are kept for reference: they cost the tool
                a second pass over every byte and flatter the segment path.

                \(table)
                What the segment path does that the library does not, measured alone on the same bytes:

                \(floors)
                \(verdicts)

                ```
                \(summary)
                ```
                """
            try doc.write(toFile: results, atomically: true, encoding: .utf8)
        }
    }

    /// Writes the segment as the collector would: one record at a time, 4 flow deltas per call,
    /// each call with its detail.
    private func writeSegment(_ path: String, _ flows: UnsafeMutableBufferPointer<rl_flow_delta>,
                              _ calls: UnsafeMutableBufferPointer<rl_l7_call>, _ details: UnsafeMutableBufferPointer<rl_call_detail>,
                              _ options: WriterOptions) throws -> SegmentWriter {
        try? FileManager.default.removeItem(atPath: path)
        let w = try SegmentWriter(finalPath: path, header: header(), options: options)
        var f = 0
        var c = 0
        while f < flows.count || c < calls.count {
            for _ in 0..<4 where f < flows.count {
                try w.append(flows[f])
                f += 1
            }
            if c < calls.count {
                try w.append(call: calls[c], detail: details[c])
                c += 1
            }
        }
        try w.seal()
        return w
    }

    /// Reads the segment: every CRC verified, every block decompressed, every record touched
    /// through the typed view. Returns the records read and a sum over them.
    private func readSegment(_ path: String) throws -> (records: Int, sum: UInt64) {
        let reader = try SegmentReader(path: path)
        var sum: UInt64 = 0
        var n = 0
        while let block = try reader.nextBlock() {
            n += Int(block.recordCount)
            _ = reader.withRecords(as: rl_flow_delta.self) { for r in $0 { sum &+= r.tx_bytes } }
            _ = reader.withRecords(as: rl_l7_call.self) { for r in $0 { sum &+= r.duration_ns } }
            _ = reader.withRecords(as: rl_call_detail.self) { for r in $0 { sum &+= UInt64(r.seq) } }
        }
        return (n, sum)
    }

    private func header() -> SegmentHeader {
        SegmentHeader(hostID: "bench", bootID: BootID(bytes: Array(repeating: 7, count: 16)),
                      windowStartNs: 1_767_323_040_000_000_000, windowEndNs: 1_767_323_100_000_000_000,
                      openedMonotonicNs: 1_000_000_000_000)
    }

    /// Realistic-looking records: a few hundred connections, counters and times that move the way
    /// a busy host's do (so compression sees real structure, not repeated bytes).
    /// Every call has a detail (trace context, host, route), as a traced HTTP call does.
    private func makeRecords(_ n: Int) -> (UnsafeMutableBufferPointer<rl_flow_delta>, UnsafeMutableBufferPointer<rl_l7_call>,
                                           UnsafeMutableBufferPointer<rl_call_detail>) {
        let callCount = n / 5
        let flows = UnsafeMutableBufferPointer<rl_flow_delta>.allocate(capacity: n - callCount)
        let calls = UnsafeMutableBufferPointer<rl_l7_call>.allocate(capacity: callCount)
        let details = UnsafeMutableBufferPointer<rl_call_detail>.allocate(capacity: callCount)
        var rng = SplitMix64(seed: 42)
        var t: UInt64 = 1_000_000_000_000
        for i in 0..<flows.count {
            t += rng.below(2000)
            var f = rl_flow_delta()
            f.start_ns = t
            f.end_ns = t + rng.below(1_000_000_000)
            f.cgroup_id = 9000 + rng.below(40)
            let conn = rng.below(512)
            SyntheticSegments.setAddress(&f.laddr, (198, 18, 0, UInt8(1 + conn % 8)))
            SyntheticSegments.setAddress(&f.raddr, (198, 19, UInt8(conn / 64), UInt8(conn % 250)))
            f.lport = UInt16(32768 + conn * 37 % 28000)
            f.rport = [80, 443, 6379, 3306, 9092][Int(conn % 5)]
            f.family = 2
            f.l4_proto = 6
            f.l7_proto = UInt8(1 + conn % 5)
            f.side = 1
            f.local_service = UInt32(1 + conn % 8)
            f.peer_service = UInt32(20 + conn % 13)
            f.tx_packets = 1 + rng.below(60)
            f.rx_packets = 1 + rng.below(60)
            f.tx_bytes = f.tx_packets * (66 + rng.below(1400))
            f.rx_bytes = f.rx_packets * (66 + rng.below(1400))
            flows[i] = f
        }
        t = 1_000_000_000_000
        let routes = ["/v1/items", "/v1/orders", "/v1/users/profile", "/api/cart/checkout", "/healthz"]
        for i in 0..<callCount {
            t += rng.below(10000)
            var c = rl_l7_call()
            c.start_ns = t
            c.duration_ns = 100_000 + rng.below(5_000_000)
            c.cgroup_id = 9000 + rng.below(40)
            let conn = rng.below(512)
            SyntheticSegments.setAddress(&c.laddr, (198, 18, 0, UInt8(1 + conn % 8)))
            SyntheticSegments.setAddress(&c.raddr, (198, 19, UInt8(conn / 64), UInt8(conn % 250)))
            c.lport = UInt16(32768 + conn * 37 % 28000)
            c.rport = 80
            c.family = 2
            c.l4_proto = 6
            c.l7_proto = 1
            c.side = 1
            let failed = rng.below(100) < 2
            c.status_code = failed ? 503 : 200
            c.status_class = failed ? 3 : 1
            c.flags = 3
            c.req_rule = 1
            c.resp_rule = 2
            c.req_bytes = UInt32(80 + rng.below(900))
            c.resp_bytes = UInt32(100 + rng.below(20000))
            c.local_service = UInt32(1 + conn % 8)
            c.peer_service = UInt32(20 + conn % 13)
            var d = rl_call_detail()
            withUnsafeMutableBytes(of: &d.trace_id) { b in for j in 0..<16 { b[j] = UInt8(truncatingIfNeeded: rng.next()) } }
            withUnsafeMutableBytes(of: &d.span_id) { b in for j in 0..<8 { b[j] = UInt8(truncatingIfNeeded: rng.next()) } }
            SyntheticSegments.setString(&d.host, "api.dc\(1 + conn % 3).lab")
            SyntheticSegments.setString(&d.route, routes[Int(conn % 5)])
            calls[i] = c
            details[i] = d
        }
        return (flows, calls, details)
    }

    /// Reads `path` front to back with `read(2)` in 1 MiB chunks into one reused buffer, as the
    /// segment reader does (the page cache's copy cost); seconds.
    private func readWhole(_ path: String) throws -> Double {
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        memset(buffer, 0, chunk)
        let t = monotonicSeconds()
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ValidationError("open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        while true {
            let n = read(fd, buffer, chunk)
            guard n >= 0 else { throw ValidationError("read \(path): \(String(cString: strerror(errno)))") }
            if n == 0 { break }
        }
        return monotonicSeconds() - t
    }

    private func fileSize(_ path: String) throws -> UInt64 {
        try FileManager.default.attributesOfItem(atPath: path)[.size] as! UInt64
    }

    /// `lz4 -b1 -B5 -i1 FILE`: the tool's own in-memory compress and decompress speeds (its last
    /// progress line, e.g. "688000000 -> 234000000 (2.94), 420.1 MB/s , 2900.3 MB/s").
    private func lz4InMemoryBenchmark(_ path: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: lz4)
        p.arguments = ["-b1", "-B5", "-i1", path]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        let lines = text.split(whereSeparator: { $0 == "\r" || $0 == "\n" }).filter { $0.filter({ $0 == "," }).count >= 2 }
        guard let last = lines.last, let colon = last.lastIndex(of: ":") else { return "no result (\(text.suffix(200)))" }
        return last[last.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }

    private func timeProcess(_ tool: String, _ args: [String], stdout: String? = nil) throws -> Double {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        if let stdout { p.standardOutput = FileHandle(forWritingAtPath: stdout) }
        let t = monotonicSeconds()
        try p.run()
        p.waitUntilExit()
        let elapsed = monotonicSeconds() - t
        guard p.terminationStatus == 0 else {
            throw ValidationError("\(tool) \(args.joined(separator: " ")) exited \(p.terminationStatus)")
        }
        return elapsed
    }

    private func lz4Version() -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: lz4)
        p.arguments = ["--version"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        guard (try? p.run()) != nil else { return "version unknown" }
        p.waitUntilExit()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return text.split(separator: ",").first.map { $0.replacingOccurrences(of: "*** ", with: "").trimmingCharacters(in: .whitespaces) } ?? "version unknown"
    }
}
