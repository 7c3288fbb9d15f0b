import Foundation
import Segments
import RedlineBase

/// Human and JSON renderings of a `SegmentReport`.
enum Summary {
    static func text(_ r: SegmentReport, blocks showBlocks: Bool, into out: inout Output) {
        out.line(r.path)
        guard let h = r.header else {
            out.line("  verdict      DAMAGED: \(r.problem.map(String.init(describing:)) ?? "unreadable")")
            out.line("  recoverable  nothing (no readable header)")
            return
        }
        let state = r.footer != nil ? "sealed" : "no footer"
        out.line("  format       v\(h.formatVersion), \(state), \(r.fileSize) bytes")
        out.line("  host         \(h.hostID)  boot \(h.bootID)")
        out.line("  window       \(iso(h.windowStartNs)) … \(iso(h.windowEndNs)) (\(seconds(h.windowEndNs - h.windowStartNs)) s), "
            + "opened at monotonic \(h.openedMonotonicNs) ns")
        out.line("  types        " + h.recordTypes.map { "\($0.recordType) v\($0.version)" }.joined(separator: ", "))
        let raw = r.blocks.reduce(UInt64(0)) { $0 + UInt64($1.rawLength) }
        let stored = r.blocks.reduce(UInt64(0)) { $0 + UInt64($1.compressedLength) }
        let ratio = stored > 0 ? String(format: "%.2f", Double(raw) / Double(stored)) : "-"
        out.line("  blocks       \(r.blocks.count) verified; \(raw) raw bytes → \(stored) stored (LZ4 ratio \(ratio))")
        if showBlocks {
            out.line("      seq       offset  type             records   raw bytes  stored  min kernel ns         max kernel ns")
            for b in r.blocks {
                out.line("    " + [col(b.sequence, 5), col(b.offset, 12), "  " + b.recordType.description.padding(toLength: 14, withPad: " ", startingAt: 0),
                                    col(b.recordCount, 8), col(b.rawLength, 11), col(b.compressedLength, 8),
                                    col(b.minKernelNs, 21), col(b.maxKernelNs, 21)].joined())
            }
        }
        for t in r.typeCounts {
            out.line("  records      \(t.recordType.description.padding(toLength: 15, withPad: " ", startingAt: 0))\(col(t.records, 10)) in \(t.blocks) block\(t.blocks == 1 ? "" : "s")")
        }
        out.line("  records      total          \(col(r.recordCount, 10))")
        if let range = r.kernelTimeRange {
            out.line("  time range   monotonic \(range.min) … \(range.max) ns (\(seconds(Int64(range.max - range.min))) s)")
        } else {
            out.line("  time range   (no records)")
        }
        switch r.verdict {
        case .intact:
            out.line("  verdict      INTACT")
        case .open:
            out.line("  verdict      OPEN: no footer yet, ends cleanly after block \(r.blocks.count) (nothing lost)")
        case .damaged:
            out.line("  verdict      DAMAGED: \(r.problem.map(String.init(describing:)) ?? "unknown")")
            out.line("  recoverable  \(r.blocks.count) complete block\(r.blocks.count == 1 ? "" : "s") (\(r.recordCount) records), "
                + "bytes 0…\(r.validEnd) of \(r.fileSize)")
        }
    }

    static func json(_ r: SegmentReport) -> String {
        var o: [String: Any] = [
            "path": r.path, "file_bytes": r.fileSize, "verdict": r.verdict.rawValue,
            "blocks": r.blocks.count, "records": r.recordCount, "valid_end": r.validEnd,
            "sealed": r.footer != nil,
        ]
        if let h = r.header {
            o["format_version"] = Int(h.formatVersion)
            o["host"] = h.hostID
            o["boot_id"] = h.bootID.description
            o["window_start_ns"] = h.windowStartNs
            o["window_end_ns"] = h.windowEndNs
            o["opened_monotonic_ns"] = h.openedMonotonicNs
        }
        o["counts"] = Dictionary(uniqueKeysWithValues: r.typeCounts.map { ($0.recordType.description, ["blocks": Int($0.blocks), "records": Int($0.records)]) })
        if let range = r.kernelTimeRange {
            o["min_kernel_ns"] = range.min
            o["max_kernel_ns"] = range.max
        }
        if let p = r.problem {
            o["problem"] = String(describing: p)
            o["problem_offset"] = p.offset
        }
        let data = (try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    private static func iso(_ ns: Int64) -> String { utcISO8601(ns: ns) }

    private static func seconds(_ ns: Int64) -> String {
        String(format: "%.3f", Double(ns) / 1e9)
    }

    private static func col<I: BinaryInteger>(_ v: I, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? " " + s : String(repeating: " ", count: width - s.count) + s
    }
}
