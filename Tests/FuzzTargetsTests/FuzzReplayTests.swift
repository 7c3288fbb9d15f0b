import Foundation
import FuzzTargets
import Testing
import TestSupport

/// Replays, in the normal suite, every seed the fuzzers start from and every input a fuzzer
/// ever crashed on (Regressions/<target>/, one file per crash, added by whoever fixed it):
/// each must run through its target without a crash. tools/fuzz/run does the fuzzing.
@Suite("fuzz seeds and regressions replay cleanly")
struct FuzzReplayTests {
    static let root = Prerequisites.packageRoot

    /// The seed files of each target, as tools/fuzz/run gathers them (the same list).
    static func seeds(_ target: FuzzTarget) -> [String] {
        let lines = (try? String(contentsOfFile: root + "/tools/fuzz/seeds.txt", encoding: .utf8)) ?? ""
        var out: [String] = []
        for line in lines.split(separator: "\n") where !line.hasPrefix("#") {
            let f = line.split(separator: " ", maxSplits: 1).map(String.init)
            guard f.count == 2, f[0] == target.rawValue else { continue }
            out += files(under: root + "/" + f[1])
        }
        return out
    }

    static func files(under path: String) -> [String] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { return [] }
        guard isDir.boolValue else { return [path] }
        return (FileManager.default.enumerator(atPath: path)?.compactMap { $0 as? String } ?? [])
            .map { "\(path)/\($0)" }
            .filter { var d: ObjCBool = false; return FileManager.default.fileExists(atPath: $0, isDirectory: &d) && !d.boolValue }
            .sorted()
    }

    @Test("every target has seeds, and each seed runs through it", arguments: FuzzTarget.allCases)
    func seedsReplay(_ target: FuzzTarget) throws {
        let seeds = Self.seeds(target)
        #expect(!seeds.isEmpty, "tools/fuzz/seeds.txt names no seed files for \(target.rawValue)")
        for s in seeds {
            let data = try Data(contentsOf: URL(fileURLWithPath: s))
            data.withUnsafeBytes { target.run($0) }
        }
    }

    @Test("every input a fuzzer crashed on runs through its target", arguments: FuzzTarget.allCases)
    func regressionsReplay(_ target: FuzzTarget) throws {
        for f in Self.files(under: "\(Self.root)/Tests/FuzzTargetsTests/Regressions/\(target.rawValue)") {
            let data = try Data(contentsOf: URL(fileURLWithPath: f))
            data.withUnsafeBytes { target.run($0) }
        }
    }
}
