import CRedlineABI
import DevSupport
import Foundation
import Glibc
@testable import Segments

/// What decoding a byte stream produced: every event, the raw records of every block, and how
/// the stream ended (or the error that stopped it).
struct Decoded: Equatable {
    var events: [SegmentEvent] = []
    var records: [[UInt8]] = []
    var ending: SegmentEnding?
    var error: SegmentError?

    var blocks: [BlockInfo] {
        events.compactMap { if case .block(let b) = $0 { b } else { nil } }
    }
}

/// Decodes `bytes` fed in chunks of the given sizes (the rest in one final chunk), draining
/// events after every chunk, then calls `finish()`.
func decode(_ bytes: [UInt8], chunks: [Int] = [], options: ReaderOptions = ReaderOptions()) -> Decoded {
    let d = SegmentDecoder(source: "mem", options: options)
    var out = Decoded()
    func drain() throws(SegmentError) {
        while let e = try d.next() {
            out.events.append(e)
            if case .block = e { out.records.append(Array(d.currentRawRecords)) }
        }
    }
    do {
        var at = 0
        try bytes.withBytes { (all) throws(SegmentError) in
            for size in chunks where at < all.count {
                let n = min(size, all.count - at)
                d.feed(UnsafeRawBufferPointer(rebasing: all[at..<(at + n)]))
                at += n
                try drain()
            }
            d.feed(UnsafeRawBufferPointer(rebasing: all[at...]))
            try drain()
        }
        out.ending = try d.finish()
    } catch {
        out.error = error
    }
    return out
}

extension Array where Element == UInt8 {
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws(SegmentError) -> R) throws(SegmentError) -> R {
        let result: Result<R, SegmentError> = self.withUnsafeBufferPointer { b in
            Result { () throws(SegmentError) -> R in try body(UnsafeRawBufferPointer(b)) }
        }
        return try result.get()
    }
}

/// A fresh scratch directory under /tmp, removed by the caller with `removeTree`.
func scratchDirectory() -> String {
    var template = Array("/tmp/redline-segments-test-XXXXXX".utf8CString)
    let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    return String(cString: p!)
}

func removeTree(_ path: String) {
    try? FileManager.default.removeItem(atPath: path)
}

func readFile(_ path: String) -> [UInt8] {
    guard let f = fopen(path, "rb") else { return [] }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buf, 1, buf.count, f)
        if n == 0 { break }
        out.append(contentsOf: buf[..<n])
    }
    return out
}

func writeFile(_ path: String, _ bytes: [UInt8]) {
    let f = fopen(path, "wb")!
    _ = bytes.withUnsafeBufferPointer { fwrite($0.baseAddress, 1, $0.count, f) }
    fclose(f)
}

/// Path of the golden fixture checked in beside the tests.
let goldenPath: String = {
    let here = "\(#filePath)"
    return String(here[..<here.lastIndex(of: "/")!]) + "/Fixtures/golden-v1.rls"
}()

let testHeader = SegmentHeader(hostID: "test-host", bootID: BootID(bytes: Array(0..<16)),
                               windowStartNs: 1_767_323_040_000_000_000, windowEndNs: 1_767_323_100_000_000_000,
                               openedMonotonicNs: 1_000)

/// Random records of every type, as raw bytes per type, with plausible kernel times.
func randomRecords(_ type: RecordType, count: Int, rng: inout SplitMix64) -> [UInt8] {
    var bytes = [UInt8](repeating: 0, count: count * type.recordSize)
    for i in 0..<bytes.count { bytes[i] = UInt8(truncatingIfNeeded: rng.next() % 7 == 0 ? rng.next() : 0) }
    bytes.withUnsafeMutableBytes { b in
        for r in 0..<count {
            let t = 1_000_000 + UInt64(r) * 1000 + rng.below(500)
            let base = r * type.recordSize
            switch type {
            case .flowDelta:
                b.storeBytes(of: t, toByteOffset: base, as: UInt64.self)
                b.storeBytes(of: t + rng.below(10_000), toByteOffset: base + 8, as: UInt64.self)
            case .l7Call:
                b.storeBytes(of: t, toByteOffset: base, as: UInt64.self)
                b.storeBytes(of: rng.below(10_000), toByteOffset: base + 8, as: UInt64.self)
            case .clockAnchor:
                b.storeBytes(of: t, toByteOffset: base + 8, as: UInt64.self)
            default:
                b.storeBytes(of: t, toByteOffset: base, as: UInt64.self)
            }
        }
    }
    return bytes
}
