// parquet-bench: writes the benchmark table (CallSampleTable, N rows, deterministic) with
// Redline's Parquet writer, `--reps` times, and prints one JSON line with the timings.
// tools/bench/parquet/run then has pyarrow write the very same rows (read back from this
// file) and compares. It also reads the file back with Redline's reader and exits 1
// unless the data is identical. Generation is outside the timed region; the timed region is
// ParquetFileWriter init → write → close (footer, fsync, rename, directory fsync).
import Foundation
import Parquet

struct Args {
    var rows = 10_000_000
    var out = "/tmp/redline-parquet-bench"
    var reps = 3
    /// Only the dictionary-size fallback, as pyarrow: isolates encoder speed from encoding choice.
    var pyarrowDictionaryRule = false
    init() {
        var it = CommandLine.arguments.dropFirst().makeIterator()
        while let a = it.next() {
            switch a {
            case "--rows": rows = Int(it.next() ?? "") ?? rows
            case "--out": out = it.next() ?? out
            case "--reps": reps = Int(it.next() ?? "") ?? reps
            case "--pyarrow-dictionary-rule": pyarrowDictionaryRule = true
            default:
                FileHandle.standardError.write(Data("usage: parquet-bench [--rows N] [--out DIR] [--reps K] [--pyarrow-dictionary-rule]\n".utf8))
                exit(64)
            }
        }
    }
}

/// SplitMix64: the benchmark's deterministic source of values.
struct Rng {
    var s: UInt64
    mutating func next() -> UInt64 {
        s &+= 0x9E37_79B9_7F4A_7C15
        var z = s
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The benchmark table: calls with nanosecond timestamps, int64 ids and sizes, low-cardinality
/// service and route names (skewed), log-normal-ish durations (µs resolution), and 0–6
/// histogram bucket indexes per call.
func generate(rows n: Int) -> [ColumnData] {
    var rng = Rng(s: 42)
    let services = (0..<40).map { "svc-\(["checkout", "cart", "auth", "search", "ads", "payments", "users", "feed"][$0 % 8])-\($0)" }
    let routes = (0..<200).map { "\(["GET", "POST", "PUT", "DELETE"][$0 % 4]) /api/v\($0 % 3 + 1)/resource\($0)/{id}" }
    var ts = [Int64](repeating: 0, count: n), ids = ts, bytes = ts
    var durations = [Double](repeating: 0, count: n)
    var svc = ByteArrays(), route = ByteArrays()
    svc.bytes.reserveCapacity(n * 16)
    route.bytes.reserveCapacity(n * 30)
    svc.offsets.reserveCapacity(n + 1)
    route.offsets.reserveCapacity(n + 1)
    var offsets = [0], buckets: [Int64] = []
    offsets.reserveCapacity(n + 1)
    buckets.reserveCapacity(n * 3)
    var t: Int64 = 1_767_225_600_000_000_000
    for i in 0..<n {
        let r = rng.next()
        t += 50_000 + Int64(r & 0xFFFF)
        ts[i] = t
        ids[i] = 1 << 40 + Int64(i)
        bytes[i] = Int64(200 + (r >> 16) % 4096) << ((r >> 28) % 8)
        // Skewed choice: low indexes far more often (service) / moderately (route).
        let s = Int((r >> 32) % 40), s2 = Int((r >> 40) % 40)
        svc.append(services[min(s, s2)])
        route.append(routes[Int((r >> 48) % 200) % (min(s, s2) * 5 + 5)])
        let u = Double((r >> 11) & 0xFFFFF) / Double(0x100000)
        durations[i] = (exp(u * 8) * 1000).rounded() / 1000
        let k = Int(r >> 61) & 7
        for j in 0..<min(k, 6) { buckets.append(Int64((r >> (j * 6)) & 0x3F) + 20) }
        offsets.append(buckets.count)
    }
    return [ColumnData(.int64(ts)), ColumnData(.int64(ids)), ColumnData(.int64(bytes)),
            ColumnData(.byteArray(svc)), ColumnData(.byteArray(route)), ColumnData(.double(durations)),
            ColumnData(.int64(buckets), listOffsets: offsets)]
}

let args = Args()
try FileManager.default.createDirectory(atPath: args.out, withIntermediateDirectories: true)
let genStart = DispatchTime.now()
let data = generate(rows: args.rows)
let genSeconds = Double(DispatchTime.now().uptimeNanoseconds - genStart.uptimeNanoseconds) / 1e9
let path = "\(args.out)/redline.parquet"
/// CPU time of this process, seconds: robust to other load on a shared machine (the writer is single-threaded).
func cpuSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
var seconds: [Double] = [], cpu: [Double] = []
for _ in 0..<args.reps {
    let start = DispatchTime.now(), cpuStart = cpuSeconds()
    var options = ParquetWriterOptions()
    options.fallBackFromMostlyDistinctDictionaries = !args.pyarrowDictionaryRule
    let w = try CallSampleTable.schema.makeWriter(path: path, options: options)
    try w.write(data)
    try w.close()
    cpu.append(cpuSeconds() - cpuStart)
    seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9)
}
// Not part of the comparison: the Swift reader must return exactly what was written.
let readStart = cpuSeconds()
let readBack = try ParquetFileReader(path: path).readAll()
let readCPU = cpuSeconds() - readStart
guard readBack == data else {
    FileHandle.standardError.write(Data("parquet-bench: the Swift reader returned different data\n".utf8))
    exit(1)
}
let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? -1
let json: [String: Any] = ["rows": args.rows, "path": path, "seconds": seconds, "cpu_seconds": cpu, "file_bytes": size,
                           "generate_seconds": genSeconds, "read_cpu_seconds": readCPU]
print(String(decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), as: UTF8.self))
