import CRedlineABI
import DevSupport
import Testing
@testable import Segments

/// A multi-block segment in memory, built by the real writer.
func sampleSegmentBytes(records: Int = 300, blockRawBytes: Int = 2048) throws -> [UInt8] {
    let dir = scratchDirectory()
    defer { removeTree(dir) }
    var options = WriterOptions()
    options.blockRawBytes = blockRawBytes
    options.durable = false
    let path = dir + "/s.rls"
    let writer = try SegmentWriter(finalPath: path, header: testHeader, options: options)
    var rng = SplitMix64(seed: 7)
    for i in 0..<records {
        let type = RecordType.allCases[i % RecordType.allCases.count]
        let bytes = randomRecords(type, count: 1, rng: &rng)
        try bytes.withBytes { (b) throws(SegmentError) in try writer.appendRaw(type: type, records: b) }
    }
    try writer.seal()
    return readFile(path)
}

@Suite("Segment decoder")
struct DecoderTests {
    @Test("the same bytes decoded whole, one byte at a time and in random splits agree")
    func splitsAgree() throws {
        let bytes = try sampleSegmentBytes()
        let whole = decode(bytes)
        #expect(whole.error == nil)
        #expect(whole.ending == .sealed)
        #expect(whole.blocks.count > 10)
        let byteByByte = decode(bytes, chunks: Array(repeating: 1, count: bytes.count))
        #expect(byteByByte == whole)
        var rng = SplitMix64(seed: 99)
        for _ in 0..<50 {
            var chunks: [Int] = []
            var total = 0
            while total < bytes.count {
                let n = Int(rng.below(rng.below(4) == 0 ? 3000 : 64)) + 1
                chunks.append(n)
                total += n
            }
            #expect(decode(bytes, chunks: chunks) == whole)
        }
    }

    @Test("the golden segment truncated at every byte offset recovers exactly its complete blocks, never crashing")
    func truncatedEverywhere() throws {
        let bytes = readFile(goldenPath)
        let whole = decode(bytes)
        #expect(whole.ending == .sealed)
        let blocks = whole.blocks
        let headerEnd = 104
        for cut in 0..<bytes.count {
            let d = decode(Array(bytes[..<cut]))
            let complete = cut < headerEnd ? 0 : blocks.filter { $0.offset + $0.encodedLength <= UInt64(cut) }.count
            #expect(d.blocks == Array(blocks.prefix(complete)), "cut at \(cut)")
            #expect(d.records == Array(whole.records.prefix(complete)), "cut at \(cut)")
            let atBoundary = cut == headerEnd || blocks.contains { $0.offset + $0.encodedLength == UInt64(cut) }
            if atBoundary {
                #expect(d.ending == .unsealed && d.error == nil, "cut at \(cut)")
            } else {
                guard case .truncated(_, let offset, _, _, _)? = d.error else {
                    Issue.record("cut at \(cut): expected truncated, got \(String(describing: d.error))")
                    continue
                }
                // The error names where the incomplete item starts: right after the last complete one.
                let expectedOffset = cut < headerEnd ? 0 : (blocks.prefix(complete).last.map { $0.offset + $0.encodedLength } ?? UInt64(headerEnd))
                #expect(offset == expectedOffset, "cut at \(cut)")
            }
        }
    }

    @Test("a single-bit flip anywhere in the golden segment is detected, with the region's error")
    func bitFlipsDetected() throws {
        let bytes = readFile(goldenPath)
        let whole = decode(bytes)
        let blocks = whole.blocks
        let footerOffset = Int(whole.events.compactMap { if case .footer(let f) = $0 { f.offset } else { nil } }.first!)
        for i in 0..<bytes.count {
            for bit in 0..<8 {
                var damaged = bytes
                damaged[i] ^= UInt8(1 << bit)
                let d = decode(damaged)
                guard let error = d.error else {
                    Issue.record("flip of bit \(bit) at byte \(i) went undetected")
                    continue
                }
                // Blocks before the damaged one are still delivered intact.
                let before = blocks.filter { Int($0.offset + $0.encodedLength) <= i }
                #expect(Array(d.blocks.prefix(before.count)) == before || i < 104, "byte \(i)")
                switch i {
                case 0..<8:
                    #expect({ if case .badMagic = error { true } else { false } }(), "byte \(i): \(error)")
                case 8..<10:
                    #expect({ if case .unsupportedVersion = error { true } else { false } }(), "byte \(i): \(error)")
                case 12..<16:
                    break // header_length: a bound, a fit or the CRC catches it, depending on the bit
                case 16..<104:
                    #expect({ if case .headerChecksumMismatch = error { true } else { false } }(), "byte \(i): \(error)")
                case 104..<footerOffset:
                    let block = blocks.last { Int($0.offset) <= i }!
                    let inHeaderMagic = i < Int(block.offset) + 4
                    let inLength = (Int(block.offset) + 20..<Int(block.offset) + 24).contains(i)
                    if inHeaderMagic {
                        #expect({ if case .badMagic = error { true } else { false } }(), "byte \(i): \(error)")
                    } else if !inLength {
                        #expect({ if case .blockChecksumMismatch = error { true } else { false } }(), "byte \(i): \(error)")
                    }
                default:
                    #expect(d.ending == nil, "byte \(i)")
                }
            }
        }
    }

    @Test("an unknown format version is rejected naming the version found and the versions supported")
    func unknownVersion() throws {
        var bytes = readFile(goldenPath)
        bytes[8] = 2
        let length = 104
        let crc = bytes.withUnsafeBytes { crc32c(0, UnsafeRawBufferPointer(rebasing: $0[0..<(length - 4)])) }
        withUnsafeBytes(of: crc.littleEndian) { for k in 0..<4 { bytes[length - 4 + k] = $0[k] } }
        let d = decode(bytes)
        #expect(d.error == .unsupportedVersion(path: "mem", offset: 8, found: 2, supported: [1]))
        #expect(d.error.map(String.init(describing:)) == "mem: unsupported segment format version 2 at byte 8; this reader supports version 1")
        #expect(d.events.isEmpty)
    }

    @Test("an unknown record layout version in the header is rejected clearly")
    func unknownRecordVersion() throws {
        var header = testHeader
        header.recordTypes[1].version = 9
        let d = decode(header.encoded())
        #expect(d.error == .unsupportedRecordVersion(path: "mem", offset: 70, recordType: 2, found: 9, supported: 2))
    }

    @Test("lengths are checked against the reader's limits before anything is allocated or awaited")
    func limits() throws {
        let bytes = readFile(goldenPath)
        var options = ReaderOptions()
        options.maxHostIDBytes = 4
        #expect({ if case .lengthOutOfBounds(_, 56, "host_id_length", 11, 4)? = decode(bytes, options: options).error { true } else { false } }())

        // A block header claiming a 4 GiB payload: rejected at once, not waited for.
        var huge = Array(bytes[..<152])
        huge[124] = 0xFF; huge[125] = 0xFF; huge[126] = 0xFF; huge[127] = 0xFF
        let d = SegmentDecoder(source: "mem")
        huge.withUnsafeBytes { d.feed($0) }
        #expect(throws: SegmentError.lengthOutOfBounds(path: "mem", offset: 124, field: "compressed_length",
                                                       value: 0xFFFF_FFFF, limit: UInt64(ccompressionBound(16 << 20)))) {
            while try d.next() != nil {}
        }

        var small = ReaderOptions()
        small.maxRecordsPerBlock = 1
        #expect({ if case .lengthOutOfBounds(_, _, "record_count", 2, 1)? = decode(bytes, options: small).error { true } else { false } }())
    }

    @Test("garbage after the trailer and a missing footer in a sealed file are damage")
    func trailingAndMissingFooter() throws {
        let bytes = readFile(goldenPath)
        let d = decode(bytes + [0])
        #expect(d.error == .trailingBytes(path: "mem", offset: UInt64(bytes.count), count: 1))
        #expect(d.blocks.count == 8)
    }

    @Test("every error names its path and offset and reads as a sentence")
    func errorDescriptions() {
        let e = SegmentError.blockChecksumMismatch(path: "/x.rls", offset: 104, block: 0, stored: 1, computed: 2)
        #expect(e.path == "/x.rls" && e.offset == 104)
        #expect(e.description == "/x.rls: block 0 CRC32C mismatch at byte 104 (stored 0x1, computed 0x2)")
        let t = SegmentError.truncated(path: "p", offset: 9, region: .blockPayload, needed: 100, available: 3)
        #expect(t.description == "p: truncated block payload at byte 9: needs 100 bytes, 3 present")
    }
}

func ccompressionBound(_ n: Int) -> Int {
    (n + n / 255 + 16)
}
