import FuzzTargets
import Foundation

// Built two ways (tools/fuzz/run):
// - with `-sanitize=fuzzer,address -DREDLINE_FUZZ`: libFuzzer's driver runs the target named by
//   $REDLINE_FUZZ_TARGET. SwiftPM links an executable's entry point as `<module>_main`, so that
//   symbol starts the driver (LLVMFuzzerRunDriver) instead of leaving `main` to libFuzzer;
// - without: `redline-fuzz TARGET FILE...` runs the target once on each file (to replay a crash).

#if REDLINE_FUZZ
nonisolated(unsafe) private let target: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["REDLINE_FUZZ_TARGET"] ?? ""
    guard let t = FuzzTarget(rawValue: name) else {
        fatalError("set REDLINE_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return t
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    target.run(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size))
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<Int32>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

@_cdecl("redline_fuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var vector = argv
    return runFuzzerDriver(&count, &vector) { data, size in fuzzOneInput(data, size) }
}
#else
@main
struct FuzzReplay {
    static func main() {
        let args = CommandLine.arguments.dropFirst()
        guard let name = args.first, let target = FuzzTarget(rawValue: name), args.count >= 2 else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
            FileHandle.standardError.write(Data("usage: redline-fuzz \(names) FILE...\n".utf8))
            exit(2)
        }
        for file in args.dropFirst() {
            guard let data = FileManager.default.contents(atPath: file) else {
                FileHandle.standardError.write(Data("redline-fuzz: cannot read \(file)\n".utf8))
                exit(2)
            }
            data.withUnsafeBytes { target.run($0) }
            print("\(file): ok")
        }
    }
}
#endif
