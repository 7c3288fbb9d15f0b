/// Writes one column chunk: turns rows into repetition/definition levels and dense values,
/// cuts data pages (v1) at the page size, falls back from dictionary to PLAIN when the
/// dictionary outgrows its limit, and on `finish` yields the chunk's bytes (dictionary
/// page first) and the numbers its ColumnMetaData needs.
final class ColumnChunkWriter {
    let field: ParquetField
    private let options: ParquetWriterOptions
    private let compressor: PageCompressor
    private let encoder: ValueEncoder
    private let maxDef: Int, maxRep: Int
    private var defLevels: [UInt8] = []
    private var repLevels: [UInt8] = []
    private var pageLevels = 0
    private var dataPages = PageSink()
    private let body = ByteBuffer(capacity: 1 << 20)
    private(set) var numLevels: Int64 = 0
    private(set) var nullCount: Int64 = 0
    private var pagesByEncoding: [Encoding: Int32] = [:]

    init(field: ParquetField, options: ParquetWriterOptions, compressor: PageCompressor) {
        self.field = field
        self.options = options
        self.compressor = compressor
        maxDef = field.maxDefinitionLevel
        maxRep = field.maxRepetitionLevel
        let dict = options.dictionary
        let limit = options.dictionaryPageLimit
        switch field.type.physicalType {
        case .boolean: encoder = BooleanEncoder()
        case .int32: encoder = FixedWidthEncoder<Int32>(unsigned: field.type.isUnsigned, dictionary: dict, dictionaryLimit: limit)
        case .int64, .int96: encoder = FixedWidthEncoder<Int64>(unsigned: field.type.isUnsigned, dictionary: dict, dictionaryLimit: limit)
        case .double, .float: encoder = FixedWidthEncoder<Double>(unsigned: false, dictionary: dict, dictionaryLimit: limit)
        case .byteArray: encoder = BytesEncoder(fixedWidth: nil, dictionary: dict, dictionaryLimit: limit)
        case .fixedLenByteArray:
            var w = 0
            if case let .fixedBinary(n) = field.type { w = n }
            encoder = BytesEncoder(fixedWidth: w, dictionary: dict, dictionaryLimit: limit)
        }
    }

    /// Buffered bytes of this chunk so far (pages written + the open page + dictionary), for row-group sizing.
    var estimatedBytes: Int { dataPages.chunk.count + encoder.pageBytesEstimate + encoder.dictionaryBytes }

    /// Appends rows `rows` of `data`; `valueCursor` is the index of the first dense value
    /// of those rows and is advanced past them.
    func append(_ data: ColumnData, rows: Range<Int>, valueCursor: inout Int) throws(ParquetError) {
        let first = valueCursor
        switch field.shape {
        case .required:
            valueCursor += rows.count
            pageLevels += rows.count
        case .optional:
            if let v = data.validity {
                defLevels.reserveCapacity(defLevels.count + rows.count)
                var present = 0
                for r in rows {
                    let p = v[r]
                    defLevels.append(p ? 1 : 0)
                    present &+= p ? 1 : 0
                }
                nullCount += Int64(rows.count - present)
                valueCursor += present
            } else {
                defLevels.append(contentsOf: repeatElement(1, count: rows.count))
                valueCursor += rows.count
            }
            pageLevels += rows.count
        case let .list(nullable, elementNullable):
            let offsets = data.listOffsets!
            let listBase = UInt8(nullable ? 1 : 0)
            let full = UInt8(maxDef)
            var present = 0, levels = 0
            for r in rows {
                if nullable, let v = data.validity, !v[r] {
                    defLevels.append(0); repLevels.append(0); levels += 1
                    continue
                }
                let s = offsets[r], e = offsets[r + 1]
                if s == e {
                    defLevels.append(listBase); repLevels.append(0); levels += 1
                    continue
                }
                for j in s..<e {
                    repLevels.append(j == s ? 0 : 1)
                    if elementNullable, let ev = data.elementValidity, !ev[j] {
                        defLevels.append(full - 1)
                    } else {
                        defLevels.append(full)
                        present += 1
                    }
                }
                levels += e - s
            }
            nullCount += Int64(levels - present)
            valueCursor += present
            pageLevels += levels
        }
        if valueCursor > first { encoder.append(data.values, first..<valueCursor) }

        if encoder.isDictionaryEncoding && encoder.dictionaryBytes > options.dictionaryPageLimit {
            try flushPage()
            encoder.fallBackToPlain()
        } else if encoder.pageBytesEstimate >= options.dataPageSize || pageLevels >= options.maxLevelsPerPage {
            try flushPage()
        }
    }

    /// Writes the open page (levels + values) as a DATA_PAGE, if it holds any levels.
    private func flushPage() throws(ParquetError) {
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
        defLevels.removeAll(keepingCapacity: true)
        repLevels.removeAll(keepingCapacity: true)
    }

    /// Data page v1 levels: 4-byte little-endian length, then the RLE/bit-packed hybrid.
    private func writeLevels(_ levels: [UInt8], maxLevel: Int) {
        let at = body.count
        body.appendUInt32LE(0)
        levels.withUnsafeBufferPointer { RLEHybrid.encode($0, bitWidth: bitWidth(of: UInt64(maxLevel)), into: body) }
        body.setUInt32LE(UInt32(body.count - at - 4), at: at)
    }

    /// A closed chunk: its bytes (in file order) and what the footer records about it.
    struct Finished {
        var dictionaryPage: ByteBuffer?
        var dataPages: ByteBuffer
        var dictionaryPageBytes: Int
        var uncompressedBytes: Int64
        var compressedBytes: Int64
        var meta: (Int64) -> ColumnMetaData
    }

    /// Flushes the last page and builds the dictionary page. The writer is spent afterwards.
    func finish() throws(ParquetError) -> Finished {
        try flushPage()
        var dictSink: PageSink?
        let dictBody = ByteBuffer(capacity: 1 << 12)
        if pagesByEncoding[.rleDictionary] != nil, let n = encoder.dictionaryPage(into: dictBody) {
            var sink = PageSink()
            try sink.writePage(type: .dictionaryPage, numValues: n, encoding: .plain, body: dictBody.bytes,
                               compressor: compressor)
            dictSink = sink
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
        let type = field.type.physicalType, path = field.leafPath, codec = compressor.codec
        let levels = numLevels
        return Finished(
            dictionaryPage: dictSink?.chunk, dataPages: dataPages.chunk, dictionaryPageBytes: dictBytes,
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
