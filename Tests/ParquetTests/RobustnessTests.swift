import DevSupport
import Foundation
import Testing
import TestSupport
@testable import Parquet

@Suite("Reader never crashes on malformed files")
struct RobustnessTests {
    func sampleFile() throws -> [UInt8] {
        let dir = try makeScratchDirectory("redline-parquet-robust")
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = corpus().first { $0.name == "lists_dict_zstd" }!
        var small = file
        small.batches = makeBatches(file.schema, rows: [40], seed: 5)
        return try readWholeFile(try small.write(to: dir), limit: 1 << 30)
    }

    /// Reads everything; any outcome but a trap is acceptable, errors must be ParquetError.
    func readEverything(_ bytes: [UInt8]) -> ParquetError? {
        do {
            let r = try ParquetFileReader(bytes: bytes)
            _ = try r.readAll()
            return nil
        } catch { return error }
    }

    @Test("every truncation is a typed error")
    func truncations() throws {
        let bytes = try sampleFile()
        #expect(readEverything(bytes) == nil)
        for n in 0..<bytes.count {
            #expect(readEverything(Array(bytes[0..<n])) != nil, "truncated to \(n) bytes was accepted")
        }
        #expect(readEverything([]) == .fileTooSmall(size: 0))
        #expect(readEverything(Array(repeating: 0, count: 64)) == .badMagic)
    }

    @Test("random byte corruption never crashes the reader")
    func corruption() throws {
        let bytes = try sampleFile()
        var rng = SplitMix64(seed: 2024)
        var rejected = 0
        for _ in 0..<3000 {
            var b = bytes
            for _ in 0..<(1 + rng.below(4)) { b[Int(rng.below(UInt64(b.count)))] = UInt8(truncatingIfNeeded: rng.next()) }
            if readEverything(b) != nil { rejected += 1 }
        }
        // Flips inside values can go unnoticed (Parquet v1 pages carry no checksum); flips in
        // headers, levels and lengths must be caught.
        #expect(rejected > 300, "only \(rejected) of 3000 corrupted files were rejected")
        // A footer length pointing before the file start.
        var b = bytes
        b[b.count - 8] = 0xFF; b[b.count - 7] = 0xFF; b[b.count - 6] = 0xFF; b[b.count - 5] = 0x00
        guard case .outOfBounds? = readEverything(b) else { Issue.record("huge footer length accepted"); return }
    }

    @Test("reader limits: a page declaring more values than allowed is refused, not allocated")
    func pageValueLimit() throws {
        let bytes = try sampleFile()
        var limits = ParquetReaderLimits()
        limits.maxValuesPerPage = 10
        let r = try ParquetFileReader(bytes: bytes, limits: limits)
        #expect {
            _ = try r.readAll()
        } throws: { e in
            if case .limitExceeded? = e as? ParquetError { return true }
            return false
        }
        limits.maxFooterBytes = 16
        #expect(throws: ParquetError.self) { try ParquetFileReader(bytes: bytes, limits: limits) }
    }

    @Test("a group without the LIST annotation is not taken for a list")
    func unannotatedGroupRejected() throws {
        var elements = ParquetSchema([ParquetField("l", .int64, .list(nullable: true, elementNullable: false))]).schemaElements
        #expect(try ParquetSchema.from(elements: elements).fields[0].shape == .list(nullable: true, elementNullable: false))
        elements[1].logicalType = nil
        elements[1].convertedType = nil
        #expect(throws: ParquetError.self) { try ParquetSchema.from(elements: elements) }
    }

    @Test("hostile Thrift: deep nesting and huge list sizes are rejected")
    func hostileThrift() {
        let deep = [UInt8](repeating: 0x1C, count: 500)  // field 1, struct, nested 500 times
        let r1 = deep.withUnsafeBytes { b in Result { () throws(ParquetError) in try FileMetaData.decode(b) } }
        #expect(throws: ParquetError.self) { try r1.get() }
        let bigList: [UInt8] = [0x29, 0xFC, 0xFF, 0xFF, 0xFF, 0x0F]  // field 2 list of 2^32-1 structs
        let r2 = bigList.withUnsafeBytes { b in Result { () throws(ParquetError) in try FileMetaData.decode(b) } }
        #expect(throws: ParquetError.self) { try r2.get() }
    }
}

@Suite("Encodings")
struct EncodingTests {
    @Test("RLE/bit-packed hybrid round-trips runs, literals and mixes at every width")
    func rleRoundTrip() throws {
        var rng = SplitMix64(seed: 7)
        for width in [0, 1, 2, 3, 5, 8, 13, 17, 32] {
            let maxV: UInt64 = width == 0 ? 0 : (width == 32 ? UInt64(UInt32.max) : (1 << UInt64(width)) - 1)
            for shape in 0..<4 {
                let n = [1, 7, 8, 9, 100, 1031][Int(rng.below(6))] * (shape + 1)
                var values: [UInt32] = []
                while values.count < n {
                    let v = UInt32(maxV == 0 ? 0 : rng.next() % (maxV + 1))
                    let run = shape == 0 ? 1 : (shape == 1 ? 1 + Int(rng.below(20)) : (rng.chance(0.5) ? 9 + Int(rng.below(30)) : 1))
                    values += Array(repeating: v, count: min(run, n - values.count))
                }
                let out = ByteBuffer()
                values.withUnsafeBufferPointer { RLEHybrid.encode($0, bitWidth: width, into: out) }
                var decoded: [UInt32] = []
                try RLEHybrid.decode(out.bytes, from: 0, to: out.count, bitWidth: width, count: n, into: &decoded)
                #expect(decoded == values, "width \(width) shape \(shape) n \(n)")
            }
        }
    }

    @Test("RLE runs of ≥ 8 equal values are RLE-encoded (2 bytes for 1000 zeros at width 1)")
    func rleCompactsRuns() {
        let out = ByteBuffer()
        [UInt8](repeating: 1, count: 1000).withUnsafeBufferPointer { RLEHybrid.encode($0, bitWidth: 1, into: out) }
        #expect(out.array == [0xD0, 0x0F, 0x01])  // varint(1000 << 1), value 1
    }

    @Test("Thrift compact: footer metadata round-trips through encoder and decoder")
    func thriftRoundTrip() throws {
        let schema = ParquetSchema([ParquetField("a", .timestampNanos), ParquetField("b", .uint16, .optional),
                                    ParquetField("c", .string, .list(nullable: true, elementNullable: false))])
        let md = ColumnMetaData(type: .int64, encodings: [.rle, .plain, .rleDictionary], pathInSchema: ["a"], codec: .zstd,
                                numValues: 1 << 40, totalUncompressedSize: 123_456, totalCompressedSize: 7,
                                dataPageOffset: 4, dictionaryPageOffset: nil,
                                statistics: Statistics(nullCount: 3, minValue: [1, 2], maxValue: [0xFF]), encodingStats: [])
        let fm = FileMetaData(version: 2, schema: schema.schemaElements, numRows: 5,
                              rowGroups: [RowGroupMeta(columns: [ColumnChunkMeta(fileOffset: 4, metaData: md)],
                                                       totalByteSize: 10, numRows: 5, fileOffset: 4,
                                                       totalCompressedSize: 99, ordinal: nil)],
                              keyValueMetadata: [("k", "v"), ("empty", nil)], createdBy: "x version 1 (build y)")
        let bytes = fm.encode()
        let back = try bytes.withUnsafeBytes { b in try FileMetaData.decode(b) }
        #expect(back == fm)
        #expect(try ParquetSchema.from(elements: back.schema) == schema)
    }
}

@Suite("Atomic publish")
struct PublishTests {
    @Test("close() publishes by rename; no temp file is left; abandoning leaves no file")
    func atomicPublish() throws {
        let dir = try makeScratchDirectory("redline-parquet-publish")
        defer { try? FileManager.default.removeItem(at: dir) }
        let schema = ParquetSchema([ParquetField("x", .int64)])
        let path = dir.appendingPathComponent("t.parquet").path
        let w = try ParquetFileWriter(path: path, schema: schema)
        try w.write([ColumnData(.int64([1, 2, 3]))])
        #expect(!FileManager.default.fileExists(atPath: path), "visible before close")
        #expect(FileManager.default.fileExists(atPath: "\(path).tmp-\(getpid())"))
        try w.close()
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["t.parquet"])
        #expect(try ParquetFileReader(path: path).readColumn(0) == ColumnData(.int64([1, 2, 3])))

        // A batch that does not fit is rejected before anything is buffered: the writer stays usable.
        let path2 = dir.appendingPathComponent("u.parquet").path
        let w2 = try ParquetFileWriter(path: path2, schema: schema)
        try w2.write([ColumnData(.int64([1]))])
        #expect(throws: ParquetError.self) { try w2.write([ColumnData(.double([1]))]) }
        try w2.write([ColumnData(.int64([2]))])
        try w2.close()
        #expect(throws: ParquetError.writerClosed) { try w2.close() }
        #expect(try ParquetFileReader(path: path2).readColumn(0) == ColumnData(.int64([1, 2])))

        // A writer dropped without close() removes its temp file; nothing appears at its path.
        let path3 = dir.appendingPathComponent("v.parquet").path
        do {
            let w3 = try ParquetFileWriter(path: path3, schema: schema)
            try w3.write([ColumnData(.int64([1]))])
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["t.parquet", "u.parquet"])
    }

    @Test("data that does not fit the schema is a typed error naming the column")
    func schemaMismatch() throws {
        let dir = try makeScratchDirectory("redline-parquet-mismatch")
        defer { try? FileManager.default.removeItem(at: dir) }
        let schema = ParquetSchema([ParquetField("x", .int64, .optional),
                                    ParquetField("l", .int32, .list(nullable: false, elementNullable: false))])
        let w = try ParquetFileWriter(path: dir.appendingPathComponent("m.parquet").path, schema: schema)
        let good = ColumnData(.int32([1, 2]), listOffsets: [0, 2])
        #expect(throws: ParquetError.self) { try w.write([ColumnData(.int64([1, 2]), validity: [true, false]), good]) }
        #expect(throws: ParquetError.self) { try w.write([ColumnData(.int64([1])), ColumnData(.int32([1]), listOffsets: [0, 2])]) }
        #expect(throws: ParquetError.self) { try ParquetFileWriter(path: "/nonexistent-dir/x.parquet", schema: schema) }
        #expect(throws: ParquetError.self) {
            try ParquetFileWriter(path: dir.appendingPathComponent("z.parquet").path, schema: ParquetSchema([]))
        }
        let narrow = try ParquetFileWriter(path: dir.appendingPathComponent("n.parquet").path,
                                           schema: ParquetSchema([ParquetField("u8", .uint8), ParquetField("i16", .int16)]))
        #expect(throws: ParquetError.schemaMismatch("column u8: 256 does not fit uint8")) {
            try narrow.write([ColumnData(.int32([1, 256])), ColumnData(.int32([1, 2]))])
        }
        #expect(throws: ParquetError.self) { try narrow.write([ColumnData(.int32([1])), ColumnData(.int32([40000]))]) }
        try narrow.write([ColumnData(.int32([255])), ColumnData(.int32([-32768]))])
        narrow.abandon()
        w.abandon()
    }
}

@Suite("Writer output does not depend on leftover memory")
struct DeterminismTests {
    @Test("bit-packed runs whose zero padding spans several words are written the same over any stale buffer")
    func paddingIsZeroed() {
        var rng = SystemRandomNumberGenerator()
        for width in 1...32 {
            for n in [1, 3, 7, 9, 15] {
                let values = (0..<n).map { _ in UInt32.random(in: 0...(width == 32 ? .max : (1 << UInt32(width)) - 1), using: &rng) }
                var outputs: [[UInt8]] = []
                for garbage: UInt8 in [0x00, 0xAB, 0xFF] {
                    let out = ByteBuffer(capacity: 64)
                    out.append([UInt8](repeating: garbage, count: 4096))
                    out.removeAll()
                    values.withUnsafeBufferPointer { RLEHybrid.encode($0, bitWidth: width, into: out) }
                    outputs.append(out.array)
                }
                #expect(outputs[0] == outputs[1] && outputs[1] == outputs[2], "width \(width), \(n) values")
            }
        }
    }
}
