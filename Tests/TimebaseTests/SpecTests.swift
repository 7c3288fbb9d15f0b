#if canImport(Glibc)
import Glibc
#endif
import CRedlineABI
import Testing
import RedlineBase
import Timebase

/// schemas/time.md, read from the package root (derived from this file's path).
private func specText() throws -> String {
    let root = String(#filePath).split(separator: "/", omittingEmptySubsequences: false)
        .dropLast(3).joined(separator: "/")
    let path = root + "/schemas/time.md"
    guard let file = fopen(path, "r") else { throw SpecError("cannot open \(path)") }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = fread(&buffer, 1, buffer.count, file)
        if n == 0 { break }
        bytes += buffer[0..<n]
    }
    return String(decoding: bytes, as: UTF8.self)
}

private struct SpecError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// The lines of the fenced block that opens with ```` ```<tag> ````.
private func block(_ tag: String, in text: String) throws -> [Substring] {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    guard let open = lines.firstIndex(where: { $0 == "```" + tag }) else { throw SpecError("no ```\(tag) block") }
    guard let close = lines[(open + 1)...].firstIndex(where: { $0 == "```" }) else { throw SpecError("unclosed block") }
    return Array(lines[(open + 1)..<close])
}

/// The worked example of schemas/time.md, parsed.
private struct WorkedExample {
    var records: [rl_clock_anchor] = []
    var dispositions: [Int: String] = [:]
    var steps: [[String]] = []
    var corrections: [(UInt64, Int64, UInt64)] = []
    var failures: [(UInt64, String, UInt64, TimebaseOptions)] = []

    init(_ lines: [Substring]) throws {
        for line in lines where !line.hasPrefix("#") && !line.isEmpty {
            let f = line.split(separator: " ").map(String.init)
            switch f[0] {
            case "anchor":
                let reason = AnchorReason.allCases.first { "\($0)" == f[2] }!
                records.append(rl_clock_anchor(
                    realtime_ns: Int64(f[4])!, monotonic_ns: UInt64(f[3])!, boottime_ns: UInt64(f[5])!,
                    uncertainty_ns: UInt64(f[6])!, samples: UInt32(f[7])!, reason: reason.rawValue))
            case "disposition": dispositions[Int(f[1])!] = f[2...].joined(separator: " ")
            case "step": steps.append(Array(f[1...]))
            case "correct": corrections.append((UInt64(f[1])!, Int64(f[2])!, UInt64(f[3])!))
            case "fail":
                var options = TimebaseOptions()
                for kv in f.dropFirst(4) where kv.hasPrefix("maxExtrapolationNanos=") {
                    options.maxExtrapolationNanos = UInt64(kv.dropFirst("maxExtrapolationNanos=".count))!
                }
                failures.append((UInt64(f[1])!, f[2], UInt64(f[3])!, options))
            default: throw SpecError("unknown line: \(line)")
            }
        }
    }
}

@Suite("schemas/time.md agrees with the code")
struct SpecTests {
    let boot = BootID(uuidString: "3f1c0d6e-5b7a-4c2e-9d41-0a8b6c2f7e19")!

    @Test("the worked example: dispositions, steps, corrected times and bounds")
    func workedExample() throws {
        let example = try WorkedExample(try block("worked-example", in: try specText()))
        #expect(example.records.count == 6 && example.corrections.count == 5 && example.failures.count == 2)
        let timeline = Timeline(bootID: boot, anchors: example.records.map(ClockAnchor.init))

        for (i, entry) in timeline.dispositions.enumerated() {
            let text: String
            switch entry.disposition {
            case .accepted: text = "accepted"
            case .duplicate(let of): text = "duplicate \(of)"
            case .rejected(let why): text = "rejected \(why.code)"
            }
            #expect(example.dispositions[i] == text, "anchor \(i)")
        }
        #expect(timeline.discontinuities.map {
            [String($0.beforeFileIndex), String($0.afterFileIndex), $0.kind == .step ? "step" : "suspend",
             String($0.offsetChangeNanos), String($0.slewAllowanceNanos)]
        } == example.steps)
        for (t, utc, bound) in example.corrections {
            #expect(timeline.correct(monotonicNanos: t) == .success(CorrectedTime(utcNanos: utc, uncertaintyNanos: bound)),
                    "t=\(t)")
        }
        for (t, side, by, options) in example.failures {
            let limited = Timeline(bootID: boot, anchors: example.records.map(ClockAnchor.init), options: options)
            let e = options.maxExtrapolationNanos
            let expected: TimeCorrectionError = side == "after"
                ? .afterLastAnchor(byNanos: by, limitNanos: e) : .beforeFirstAnchor(byNanos: by, limitNanos: e)
            #expect(limited.correct(monotonicNanos: t) == .failure(expected), "t=\(t)")
        }
    }

    @Test("the inspect --time sample in §6 is what TimeReport renders for the example")
    func renderedReport() throws {
        let spec = try specText()
        let example = try WorkedExample(try block("worked-example", in: spec))
        let report = TimeReport(bootID: boot, records: example.records)
        let rendered = report.render()
        let documented = try block("text", in: spec).joined(separator: "\n") + "\n"
        #expect(rendered == documented)
        // The structured form carries the same facts.
        #expect(report.steps.count == 1)
        #expect(report.rejected.map(\.reason.code) == ["boottime-before-monotonic"])
        #expect(report.uncertainty.anchorMinNanos == 40 && report.uncertainty.anchorMaxNanos == 60)
        #expect(report.uncertainty.worstInsideStepNanos.map { $0 >= 500_000_000 } == true)
        #expect(report.uncertainty.atExtrapolationLimitNanos == 300_000_041)
    }
}
