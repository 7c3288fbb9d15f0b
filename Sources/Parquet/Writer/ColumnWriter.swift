/// Writes one column chunk at a time: turns rows into repetition/definition levels and
/// dense values, cuts data pages (v1) at the page size, falls back from dictionary to PLAIN
/// when the dictionary outgrows its limit or does not pay, and on `finish` yields the
/// chunk's bytes (dictionary page first) and the numbers its ColumnMetaData needs. One
/// writer per column per file; `reset()` starts the next row group's chunk. Each call is given
/// the page compressor to use (the calling thread's), which does not change the bytes.
final class ColumnChunkWriter {
    let field: ParquetField
    private let options: ParquetWriterOptions
    private let encoder: ValueEncoder
    private let maxDef: Int, maxRep: Int
    private var defLevels = LevelBuffer()
    private var repLevels = LevelBuffer()
    private var pageLevels = 0
    private var dataPages = PageSink()
    private let dictionaryBody = ByteBuffer(capacity: 1 << 12)
    private var dictionarySink = PageSink()
    /// A page's body before compression; grown to the largest page this column cuts, not
    /// preallocated at the page size (most columns of a table file have small pages).
    private let body = ByteBuffer()
    private(set) var numLevels: Int64 = 0
    private(set) var nullCount: Int64 = 0
    private var pagesByEncoding: [Encoding: Int32] = [:]

    init(field: ParquetField, options: ParquetWriterOptions) {
        self.field = field
        self.options = options
        maxDef = field.maxDefinitionLevel
        maxRep = field.maxRepetitionLevel
        let dict = options.dictionary
        switch field.type.physicalType {
        case .boolean: encoder = BooleanEncoder()
        case .int32: encoder = FixedWidthEncoder<Int32>(unsigned: field.type.isUnsigned, dictionary: dict)
        case .int64, .int96: encoder = FixedWidthEncoder<Int64>(unsigned: field.type.isUnsigned, dictionary: dict)
        case .double, .float: encoder = FixedWidthEncoder<Double>(unsigned: false, dictionary: dict)
        case .byteArray: encoder = BytesEncoder(fixedWidth: nil, dictionary: dict)
        case .fixedLenByteArray:
            var w = 0
            if case let .fixedBinary(n) = field.type { w = n }
            encoder = BytesEncoder(fixedWidth: w, dictionary: dict)
        }
    }

    deinit {
        defLevels.release()
        repLevels.release()
    }

    /// Prepares for the next row group's chunk, keeping every buffer's memory (the
    /// previous `finish()` result must have been written out already).
    func reset() {
        encoder.reset()
        defLevels.removeAll()
        repLevels.removeAll()
        pageLevels = 0
        dataPages.reset()
        dictionarySink.reset()
        numLevels = 0
        nullCount = 0
        pagesByEncoding = [:]
        dictionaryProbed = false
    }

    /// Buffered bytes of this chunk so far (pages written + the open page + dictionary), for row-group sizing.
    var estimatedBytes: Int { dataPages.chunk.count + encoder.pageBytesEstimate + encoder.dictionaryBytes }

    /// Appends rows `rows` of `data`; `valueCursor` is the index of the first dense value
    /// of those rows and is advanced past them.
    func append(_ data: ColumnData, rows: Range<Int>, valueCursor: inout Int,
                compressor: PageCompressor) throws(ParquetError) {
        let first = valueCursor
        switch field.shape {
        case .required:
            valueCursor += rows.count
            pageLevels += rows.count
        case .optional:
            defLevels.reserve(rows.count)
            if let v = data.validity {
                var present = 0
                var def = defLevels
                for r in rows {
                    let p = v[r]
                    def.appendReserved(p ? 1 : 0)
                    present &+= p ? 1 : 0
                }
                defLevels = def
                nullCount += Int64(rows.count - present)
                valueCursor += present
            } else {
                defLevels.fillReserved(1, rows.count)
                valueCursor += rows.count
            }
            pageLevels += rows.count
        case let .list(nullable, elementNullable):
            let offsets = data.listOffsets!
            let listBase = UInt8(nullable ? 1 : 0)
            let full = UInt8(maxDef)
            var present = 0, levels = 0
            // At most one level per element slot plus one per empty or null row.
            let bound = offsets[rows.upperBound] - offsets[rows.lowerBound] + rows.count
            defLevels.reserve(bound)
            repLevels.reserve(bound)
            // Locals: the loop then writes through plain pointers, not class properties.
            var def = defLevels, rep = repLevels
            let validity = nullable ? data.validity : nil
            let elementValidity = elementNullable ? data.elementValidity : nil
            for r in rows {
                if let v = validity, !v[r] {
                    def.appendReserved(0); rep.appendReserved(0); levels += 1
                    continue
                }
                let s = offsets[r], e = offsets[r + 1]
                if s == e {
                    def.appendReserved(listBase); rep.appendReserved(0); levels += 1
                    continue
                }
                rep.appendReserved(0)
                rep.fillReserved(1, e - s - 1)
                if let ev = elementValidity {
                    for j in s..<e {
                        if ev[j] { def.appendReserved(full); present += 1 } else { def.appendReserved(full - 1) }
                    }
                } else {
                    def.fillReserved(full, e - s)
                    present += e - s
                }
                levels += e - s
            }
            defLevels = def
            repLevels = rep
            nullCount += Int64(levels - present)
            valueCursor += present
            pageLevels += levels
        }
        if valueCursor > first { encoder.append(data.values, first..<valueCursor) }

        if encoder.isDictionaryEncoding
            && (encoder.dictionaryBytes > options.dictionaryPageLimit || dictionaryDoesNotPay) {
            try flushPage(compressor)
            encoder.fallBackToPlain()
        } else if encoder.pageBytesEstimate >= options.dataPageSize || pageLevels >= options.maxLevelsPerPage {
            try flushPage(compressor)
        }
    }

    /// A dictionary that is mostly distinct values only adds its indices to what PLAIN would
    /// store, so after `dictionaryProbeValues` values a chunk with ≥ 75 % distinct values
    /// falls back early (checked once per chunk).
    private var dictionaryProbed = false
    static let dictionaryProbeValues = 16 * 1024
    private var dictionaryDoesNotPay: Bool {
        guard options.fallBackFromMostlyDistinctDictionaries, !dictionaryProbed,
              encoder.encodedValueCount >= Self.dictionaryProbeValues else { return false }
        dictionaryProbed = true
        return encoder.dictionaryEntries * 4 >= encoder.encodedValueCount * 3
    }

    /// Writes the open page (levels + values) as a DATA_PAGE, if it holds any levels.
    private func flushPage(_ compressor: PageCompressor) throws(ParquetError) {
        guard pageLevels > 0 else { return }
        body.removeAll()
        if maxRep > 0 { writeLevels(repLevels, maxLevel: maxRep) }
        if maxDef > 0 { writeLevels(defLevels, maxLevel: maxDef) }
        let encoding = encoder.takePage(into: body)
        try dataPages.writePage(type: .dataPage, numValues: pageLevels, encoding: encoding, body: body.bytes,
                                compressor: compressor)
        pagesByEncoding[encoding, default: 0] += 1
        numLevels += Int64(pageLevels)
        pageLevels = 0
        defLevels.removeAll()
        repLevels.removeAll()
    }

    /// Data page v1 levels: 4-byte little-endian length, then the RLE/bit-packed hybrid.
    private func writeLevels(_ levels: LevelBuffer, maxLevel: Int) {
        let at = body.count
        body.appendUInt32LE(0)
        RLEHybrid.encode(levels.buffer, bitWidth: bitWidth(of: UInt64(maxLevel)), into: body)
        body.setUInt32LE(UInt32(body.count - at - 4), at: at)
    }

    /// A closed chunk: its bytes (in file order) and what the footer records about it.
    struct Finished {
        var dictionaryPage: ByteBuffer?
        var dataPages: ByteBuffer
        var uncompressedBytes: Int64
        var compressedBytes: Int64
        var meta: (Int64) -> ColumnMetaData
    }

    /// Flushes the last page and builds the dictionary page. The returned buffers belong to
    /// this writer: write them out before calling `reset()`.
    func finish(compressor: PageCompressor) throws(ParquetError) -> Finished {
        try flushPage(compressor)
        var dictSink: PageSink?
        dictionaryBody.removeAll()
        if pagesByEncoding[.rleDictionary] != nil, let n = encoder.dictionaryPage(into: dictionaryBody) {
            try dictionarySink.writePage(type: .dictionaryPage, numValues: n, encoding: .plain,
                                         body: dictionaryBody.bytes, compressor: compressor)
            dictSink = dictionarySink
        }
        let unc = dataPages.uncompressedBytes + (dictSink?.uncompressedBytes ?? 0)
        let comp = dataPages.compressedBytes + (dictSink?.compressedBytes ?? 0)
        var encodings: [Encoding] = [.rle]
        var stats: [PageEncodingStats] = []
        if dictSink != nil {
            encodings.append(.plain)
            stats.append(PageEncodingStats(pageType: .dictionaryPage, encoding: .plain, count: 1))
        }
        for e in [Encoding.plain, .rleDictionary] {
            guard let n = pagesByEncoding[e] else { continue }
            if !encodings.contains(e) { encodings.append(e) }
            stats.append(PageEncodingStats(pageType: .dataPage, encoding: e, count: n))
        }
        let minMax = encoder.statistics
        let statistics = Statistics(nullCount: nullCount, minValue: minMax?.min, maxValue: minMax?.max)
        let dictBytes = dictSink.map { Int($0.compressedBytes) } ?? 0
        let type = field.type.physicalType, path = field.leafPath, codec = options.compression
        let levels = numLevels
        return Finished(
            dictionaryPage: dictSink?.chunk, dataPages: dataPages.chunk,
            uncompressedBytes: unc, compressedBytes: comp,
            meta: { start in
                ColumnMetaData(type: type, encodings: encodings, pathInSchema: path, codec: codec, numValues: levels,
                               totalUncompressedSize: unc, totalCompressedSize: comp,
                               dataPageOffset: start + Int64(dictBytes),
                               dictionaryPageOffset: dictBytes > 0 ? start : nil,
                               statistics: statistics, encodingStats: stats)
            })
    }
}
