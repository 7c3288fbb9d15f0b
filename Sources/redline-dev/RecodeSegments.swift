import ArgumentParser
import CRedlineABI
import Foundation
import Segments

/// `redline-dev recode-segments --from DIR --to DIR`: every sealed segment under DIR written again
/// with records v2 — each version-1 call as a slim call and, when it carries strings, a
/// `call_detail` — block for block (each source block ends a block of the copy), every other record
/// as it is. What the bytes of the same captured calls are on disk before and after records v2
/// (tools/bench/pipeline: the lab capture's line).
struct RecodeSegments: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recode-segments",
        abstract: "Write every sealed segment under --from again, with records v2, to the same relative path under --to (which must not hold them)."
    )

    @Option(help: "Root of the segments to read (sealed .rls files with version-1 calls).")
    var from: String

    @Option(help: "Root to write the copies under.")
    var to: String

    func run() throws {
        let root = URL(fileURLWithPath: from).standardizedFileURL.path
        guard let walk = FileManager.default.enumerator(atPath: root) else {
            throw ValidationError("\(from) is not a readable folder")
        }
        let files = walk.compactMap { $0 as? String }.filter { $0.hasSuffix(SegmentFormat.sealedSuffix) }.sorted()
        guard !files.isEmpty else { throw ValidationError("no sealed segments (*\(SegmentFormat.sealedSuffix)) under \(from)") }
        for relative in files {
            try Self.recode(root + "/" + relative, to: to + "/" + relative)
            print(to + "/" + relative)
        }
    }

    static func recode(_ source: String, to target: String) throws {
        let reader = try SegmentReader(path: source)
        guard reader.header.recordTypes.contains(RecordTypeVersion(.l7Call, version: 1))
                || !reader.header.recordTypes.contains(where: { $0.recordType == .l7Call }) else {
            throw ValidationError("\(source): its calls are records v2 already")
        }
        var header = reader.header
        header.recordTypes = RecordTypeVersion.current
        let writer = try SegmentWriter(finalPath: target, header: header)
        while let block = try reader.nextBlock() {
            if block.recordType == .l7Call {
                // A version-1 block's details come with it, named by the calls' detail_seq.
                var details: [UInt32: rl_call_detail] = [:]
                _ = reader.withCallDetails { for d in $0 { details[d.seq] = d } }
                try reader.withRecords(as: rl_l7_call.self) { calls in
                    for var c in calls {
                        let detail = c.detail_seq == 0 ? nil : details[c.detail_seq]
                        c.detail_seq = 0 // the writer numbers this segment's details itself
                        _ = try writer.append(call: c, detail: detail)
                    }
                }
            } else {
                try writer.appendRaw(type: block.recordType, records: reader.currentRawRecords)
            }
            try writer.flush()
        }
        _ = try writer.seal()
    }
}
