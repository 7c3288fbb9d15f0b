import CCompression
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Defensive limits for reading untrusted files; safe defaults.
public struct ParquetReaderLimits: Sendable {
    /// Largest footer (Thrift FileMetaData) accepted.
    public var maxFooterBytes = 64 << 20
    /// Largest uncompressed page accepted.
    public var maxPageBytes = 512 << 20
    /// Largest file read into memory.
    public var maxFileBytes = 16 << 30
    /// Most levels (values incl. nulls) one page may declare; RLE can encode huge counts in a
    /// few bytes, so this bounds what a hostile header can make the reader allocate.
    public var maxValuesPerPage = 64 << 20
    public init() {}
}

/// Min/max/null count of one column chunk, decoded from the footer. `min`/`max` are the
/// PLAIN bytes of the value (no length prefix), as stored.
public struct ColumnChunkStatistics: Sendable, Equatable {
    public var nullCount: Int64?
    public var min: [UInt8]?
    public var max: [UInt8]?
}

/// Reads files in the subset Redline writes (schemas/parquet.md): flat columns and 3-level
/// lists, PLAIN / RLE_DICTIONARY, data page v1, zstd or uncompressed. The whole file is held
/// in memory; every offset and length is checked against it, and anything malformed or
/// outside the subset is a `ParquetError`, never a trap.
public struct ParquetFileReader: Sendable {
    private let file: [UInt8]
    private let meta: FileMetaData
    private let limits: ParquetReaderLimits
    public let schema: ParquetSchema

    public var numRows: Int64 { meta.numRows }
    public var rowGroupCount: Int { meta.rowGroups.count }
    public var createdBy: String? { meta.createdBy }
    public var keyValueMetadata: [(key: String, value: String?)] { meta.keyValueMetadata.map { (key: $0.0, value: $0.1) } }
    public func rowCount(rowGroup: Int) -> Int64 { meta.rowGroups[rowGroup].numRows }

    /// Reads and parses the file at `path`.
    public init(path: String, limits: ParquetReaderLimits = ParquetReaderLimits()) throws(ParquetError) {
        try self.init(bytes: try readWholeFile(path, limit: limits.maxFileBytes), limits: limits)
    }

    /// Parses a file image.
    public init(bytes: [UInt8], limits: ParquetReaderLimits = ParquetReaderLimits()) throws(ParquetError) {
        file = bytes
        self.limits = limits
        let n = bytes.count
        guard n >= 12 else { throw .fileTooSmall(size: n) }
        guard bytes[0..<4].elementsEqual([0x50, 0x41, 0x52, 0x31]),
              bytes[(n - 4)..<n].elementsEqual([0x50, 0x41, 0x52, 0x31]) else { throw .badMagic }
        let footerLen = Int(UInt32(bytes[n - 8]) | UInt32(bytes[n - 7]) << 8 | UInt32(bytes[n - 6]) << 16
                            | UInt32(bytes[n - 5]) << 24)
        guard footerLen <= limits.maxFooterBytes else { throw .limitExceeded("footer of \(footerLen) bytes") }
        guard footerLen <= n - 12 else {
            throw .outOfBounds(what: "footer", offset: n - 8 - footerLen, length: footerLen, limit: n)
        }
        let start = n - 8 - footerLen
        let result = bytes.withUnsafeBytes { all in
            Result { () throws(ParquetError) in
                try FileMetaData.decode(UnsafeRawBufferPointer(rebasing: all[start..<(n - 8)]))
            }
        }
        meta = try result.get()
        schema = try ParquetSchema.from(elements: meta.schema)
        var rows: Int64 = 0
        for (g, group) in meta.rowGroups.enumerated() {
            guard group.columns.count == schema.fields.count else {
                throw .invalidValue("row group \(g) has \(group.columns.count) columns, schema \(schema.fields.count)")
            }
            guard group.numRows >= 0 else { throw .invalidValue("row group \(g) has negative rows") }
            for (c, chunk) in group.columns.enumerated() {
                let field = schema.fields[c]
                guard chunk.metaData.type == field.type.physicalType, chunk.metaData.pathInSchema == field.leafPath else {
                    throw .invalidValue("row group \(g) column \(c) does not match the schema")
                }
            }
            rows += group.numRows
        }
        guard rows == meta.numRows else { throw .invalidValue("row groups hold \(rows) rows, footer says \(meta.numRows)") }
    }

    /// Footer statistics of a column chunk.
    public func statistics(column: Int, rowGroup: Int) -> ColumnChunkStatistics? {
        guard rowGroup < meta.rowGroups.count, column < schema.fields.count,
              let s = meta.rowGroups[rowGroup].columns[column].metaData.statistics else { return nil }
        return ColumnChunkStatistics(nullCount: s.nullCount, min: s.minValue, max: s.maxValue)
    }

    /// The whole column, all row groups concatenated.
    public func readColumn(_ column: Int) throws(ParquetError) -> ColumnData {
        guard column >= 0, column < schema.fields.count else { throw .invalidValue("no column \(column)") }
        var acc = ColumnAssembler(field: schema.fields[column])
        for g in 0..<meta.rowGroups.count { try readChunk(column: column, rowGroup: g, into: &acc) }
        return acc.result()
    }

    /// One column chunk.
    public func readColumn(_ column: Int, rowGroup: Int) throws(ParquetError) -> ColumnData {
        guard column >= 0, column < schema.fields.count else { throw .invalidValue("no column \(column)") }
        guard rowGroup >= 0, rowGroup < meta.rowGroups.count else { throw .invalidValue("no row group \(rowGroup)") }
        var acc = ColumnAssembler(field: schema.fields[column])
        try readChunk(column: column, rowGroup: rowGroup, into: &acc)
        return acc.result()
    }

    /// Every column, all row groups.
    public func readAll() throws(ParquetError) -> [ColumnData] {
        var out: [ColumnData] = []
        for c in 0..<schema.fields.count { out.append(try readColumn(c)) }
        return out
    }

    private func readChunk(column: Int, rowGroup: Int, into acc: inout ColumnAssembler) throws(ParquetError) {
        let field = schema.fields[column]
        let md = meta.rowGroups[rowGroup].columns[column].metaData
        let name = field.name
        var start = md.dataPageOffset
        if let d = md.dictionaryPageOffset, d > 0, d < start { start = d }
        let footerStart = file.count - 8
        guard start >= 4, md.totalCompressedSize >= 0, start <= Int64(footerStart),
              md.totalCompressedSize <= Int64(footerStart) - start else {
            throw .outOfBounds(what: "column chunk \(name)", offset: Int(clamping: start),
                               length: Int(clamping: md.totalCompressedSize), limit: footerStart)
        }
        guard md.numValues >= 0 else { throw .invalidValue("column \(name): negative num_values") }
        let end = Int(start + md.totalCompressedSize)
        var pos = Int(start)
        var dictionary: ColumnValues?
        var levelsRead: Int64 = 0
        let rowsBefore = acc.rows
        let result = file.withUnsafeBytes { all in
            Result { () throws(ParquetError) in
                let chunk = UnsafeRawBufferPointer(rebasing: all[0..<end])
                while levelsRead < md.numValues {
                    guard pos < end else { throw .corruptPage(column: name, reason: "chunk ends before num_values levels") }
                    let (header, headerLen) = try PageHeader.decode(chunk, at: pos)
                    pos += headerLen
                    let comp = Int(header.compressedSize)
                    guard comp <= end - pos else {
                        throw .outOfBounds(what: "page of \(name)", offset: pos, length: comp, limit: end)
                    }
                    guard Int(header.uncompressedSize) <= limits.maxPageBytes else {
                        throw .limitExceeded("page of \(header.uncompressedSize) bytes in \(name)")
                    }
                    let raw = UnsafeRawBufferPointer(rebasing: chunk[pos..<(pos + comp)])
                    let body = try decompress(raw, codec: md.codec, size: Int(header.uncompressedSize), column: name, at: pos)
                    pos += comp
                    try withBytes(body) { (b: UnsafeRawBufferPointer) throws(ParquetError) in
                        switch header.type {
                        case .dictionaryPage:
                            guard Int(header.numValues) <= limits.maxValuesPerPage else {
                                throw .limitExceeded("dictionary of \(header.numValues) entries in \(name)")
                            }
                            guard dictionary == nil else { throw .corruptPage(column: name, reason: "second dictionary page") }
                            guard header.encoding == .plain || header.encoding == .plainDictionary else {
                                throw .unsupported("dictionary encoding \(header.encoding)")
                            }
                            var d = ColumnValues.empty(field.type)
                            var p = 0
                            try decodePlain(b, at: &p, count: Int(header.numValues), into: &d, column: name)
                            dictionary = d
                        case .dataPage:
                            guard Int(header.numValues) <= limits.maxValuesPerPage else {
                                throw .limitExceeded("page of \(header.numValues) values in \(name)")
                            }
                            guard Int64(header.numValues) <= md.numValues - levelsRead else {
                                throw .corruptPage(column: name, reason: "more levels than the chunk's num_values")
                            }
                            try acc.decodeDataPage(b, header: header, dictionary: dictionary)
                            levelsRead += Int64(header.numValues)
                        case .indexPage, .dataPageV2:
                            throw .unsupported("page type \(header.type)")
                        }
                    }
                }
            }
        }
        do throws(ParquetError) {
            try result.get()
        } catch {
            if case let .corruptPage(c, r) = error, c.isEmpty { throw .corruptPage(column: name, reason: r) }
            throw error
        }
        guard Int64(acc.rows - rowsBefore) == meta.rowGroups[rowGroup].numRows else {
            throw .corruptPage(column: name, reason: "\(acc.rows - rowsBefore) rows, row group says \(meta.rowGroups[rowGroup].numRows)")
        }
    }

    private func decompress(_ raw: UnsafeRawBufferPointer, codec: Compression, size: Int, column: String,
                            at offset: Int) throws(ParquetError) -> [UInt8] {
        switch codec {
        case .uncompressed:
            guard raw.count == size else { throw .corruptPage(column: column, reason: "size mismatch in uncompressed page") }
            return Array(raw)
        case .zstd:
            var out = [UInt8](repeating: 0, count: size)
            if size == 0 && raw.isEmpty { return out }
            let n = out.withUnsafeMutableBytes { dst in
                ccompression_zstd_decompress(raw.baseAddress, raw.count, dst.baseAddress, size)
            }
            guard n == size else { throw .decompressionFailed(column: column, offset: offset) }
            return out
        }
    }
}

/// `withUnsafeBytes` with the closure's typed error preserved.
func withBytes<R>(_ a: [UInt8], _ body: (UnsafeRawBufferPointer) throws(ParquetError) -> R) throws(ParquetError) -> R {
    let r = a.withUnsafeBytes { b in Result { () throws(ParquetError) in try body(b) } }
    return try r.get()
}

/// Reads a file fully, retrying on EINTR; typed errors name the failing call.
func readWholeFile(_ path: String, limit: Int) throws(ParquetError) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw .io(call: "open", path: path, errno: errno) }
    defer { _ = close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { throw .io(call: "fstat", path: path, errno: errno) }
    let size = Int(st.st_size)
    guard size <= limit else { throw .limitExceeded("file of \(size) bytes") }
    var bytes = [UInt8](repeating: 0, count: size)
    var done = 0
    var failure: Int32 = 0
    bytes.withUnsafeMutableBytes { b in
        while done < size {
            let n = read(fd, b.baseAddress! + done, size - done)
            if n < 0 { if errno == EINTR { continue }; failure = errno; return }
            if n == 0 { break }
            done += n
        }
    }
    guard failure == 0 else { throw .io(call: "read", path: path, errno: failure) }
    guard done == size else { throw .io(call: "read", path: path, errno: EIO) }
    return bytes
}

/// Decodes `count` PLAIN values from `b` at `pos`, appending to `out`, advancing `pos`.
func decodePlain(_ b: UnsafeRawBufferPointer, at pos: inout Int, count: Int, into out: inout ColumnValues,
                 column: String) throws(ParquetError) {
    func need(_ n: Int) throws(ParquetError) {
        guard n >= 0, n <= b.count - pos else {
            throw .corruptPage(column: column, reason: "PLAIN values need \(n) bytes, \(b.count - pos) left")
        }
    }
    // `take` moves each array out of `out` so appends do not copy the accumulated column;
    // on a thrown error `out` is left as a placeholder (the read fails as a whole).
    switch out {
    case .boolean:
        var a = take(&out, { if case .boolean(let a) = $0 { return a }; return nil })!
        try need((count + 7) / 8)
        for i in 0..<count { a.append(b[pos + i / 8] >> UInt8(i % 8) & 1 == 1) }
        pos += (count + 7) / 8
        out = .boolean(a)
    case .int32:
        var a = take(&out, { if case .int32(let a) = $0 { return a }; return nil })!
        let (n, o) = count.multipliedReportingOverflow(by: 4)
        guard !o else { throw .corruptPage(column: column, reason: "value count overflow") }
        try need(n)
        for i in 0..<count { a.append(Int32(littleEndian: b.loadUnaligned(fromByteOffset: pos + 4 * i, as: Int32.self))) }
        pos += n
        out = .int32(a)
    case .int64:
        var a = take(&out, { if case .int64(let a) = $0 { return a }; return nil })!
        let (n, o) = count.multipliedReportingOverflow(by: 8)
        guard !o else { throw .corruptPage(column: column, reason: "value count overflow") }
        try need(n)
        for i in 0..<count { a.append(Int64(littleEndian: b.loadUnaligned(fromByteOffset: pos + 8 * i, as: Int64.self))) }
        pos += n
        out = .int64(a)
    case .double:
        var a = take(&out, { if case .double(let a) = $0 { return a }; return nil })!
        let (n, o) = count.multipliedReportingOverflow(by: 8)
        guard !o else { throw .corruptPage(column: column, reason: "value count overflow") }
        try need(n)
        for i in 0..<count {
            a.append(Double(bitPattern: UInt64(littleEndian: b.loadUnaligned(fromByteOffset: pos + 8 * i, as: UInt64.self))))
        }
        pos += n
        out = .double(a)
    case .byteArray:
        var a = take(&out, { if case .byteArray(let a) = $0 { return a }; return nil })!
        for _ in 0..<count {
            try need(4)
            let len = Int(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: pos, as: UInt32.self)))
            pos += 4
            try need(len)
            a.append(bytes: UnsafeRawBufferPointer(rebasing: b[pos..<(pos + len)]))
            pos += len
        }
        out = .byteArray(a)
    case .fixedLenByteArray(let w, _):
        var bytes = take(&out, { if case .fixedLenByteArray(_, let a) = $0 { return a }; return nil })!
        let (n, o) = count.multipliedReportingOverflow(by: w)
        guard !o else { throw .corruptPage(column: column, reason: "value count overflow") }
        try need(n)
        bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[pos..<(pos + n)]))
        pos += n
        out = .fixedLenByteArray(width: w, bytes: bytes)
    }
}

/// Moves the array out of `out` (leaving a placeholder), so appends to it mutate a uniquely
/// owned buffer instead of copying the accumulated column once per page.
@inline(__always) func take<T>(_ out: inout ColumnValues, _ extract: (ColumnValues) -> T?) -> T? {
    guard let v = extract(out) else { return nil }
    out = .boolean([])
    return v
}

/// Appends dictionary entries `indices` (checked against the dictionary size) to `out`.
func gather(_ dict: ColumnValues, _ indices: [UInt32], into out: inout ColumnValues, column: String) throws(ParquetError) {
    let n = dict.count
    for i in indices where Int(i) >= n {
        throw .corruptPage(column: column, reason: "dictionary index \(i) ≥ \(n) entries")
    }
    switch dict {
    case .boolean(let d):
        if var a = take(&out, { if case .boolean(let a) = $0 { return a }; return nil }) {
            for i in indices { a.append(d[Int(i)]) }
            out = .boolean(a)
            return
        }
    case .int32(let d):
        if var a = take(&out, { if case .int32(let a) = $0 { return a }; return nil }) {
            for i in indices { a.append(d[Int(i)]) }
            out = .int32(a)
            return
        }
    case .int64(let d):
        if var a = take(&out, { if case .int64(let a) = $0 { return a }; return nil }) {
            for i in indices { a.append(d[Int(i)]) }
            out = .int64(a)
            return
        }
    case .double(let d):
        if var a = take(&out, { if case .double(let a) = $0 { return a }; return nil }) {
            for i in indices { a.append(d[Int(i)]) }
            out = .double(a)
            return
        }
    case .byteArray(let d):
        if var a = take(&out, { if case .byteArray(let a) = $0 { return a }; return nil }) {
            d.bytes.withUnsafeBufferPointer { src in
                for i in indices {
                    let s = d.offsets[Int(i)], e = d.offsets[Int(i) + 1]
                    a.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: src[s..<e]))
                    a.offsets.append(a.bytes.count)
                }
            }
            out = .byteArray(a)
            return
        }
    case .fixedLenByteArray(let w, let d):
        if var a = take(&out, { if case .fixedLenByteArray(_, let a) = $0 { return a }; return nil }) {
            d.withUnsafeBufferPointer { src in
                for i in indices { a.append(contentsOf: UnsafeBufferPointer(rebasing: src[(Int(i) * w)..<(Int(i) * w + w)])) }
            }
            out = .fixedLenByteArray(width: w, bytes: a)
            return
        }
    }
    throw .corruptPage(column: column, reason: "dictionary type differs from column type")
}

/// Rebuilds `ColumnData` from pages: levels → validity / list offsets, values appended densely.
struct ColumnAssembler {
    let field: ParquetField
    let maxDef: Int, maxRep: Int
    var values: ColumnValues
    var validity: [Bool] = []
    var offsets: [Int] = [0]
    var elementValidity: [Bool] = []
    var requiredRows = 0

    init(field: ParquetField) {
        self.field = field
        maxDef = field.maxDefinitionLevel
        maxRep = field.maxRepetitionLevel
        values = ColumnValues.empty(field.type)
    }

    var rows: Int {
        switch field.shape {
        case .required: return requiredRows
        case .optional: return validity.count
        case .list: return offsets.count - 1
        }
    }

    mutating func decodeDataPage(_ b: UnsafeRawBufferPointer, header: PageHeader, dictionary: ColumnValues?) throws(ParquetError) {
        let name = field.name
        let n = Int(header.numValues)
        var pos = 0
        func levels(_ maxLevel: Int) throws(ParquetError) -> [UInt32] {
            guard b.count - pos >= 4 else { throw .corruptPage(column: name, reason: "level length truncated") }
            let len = Int(UInt32(littleEndian: b.loadUnaligned(fromByteOffset: pos, as: UInt32.self)))
            pos += 4
            guard len <= b.count - pos else { throw .corruptPage(column: name, reason: "levels overrun the page") }
            var out: [UInt32] = []
            try RLEHybrid.decode(b, from: pos, to: pos + len, bitWidth: bitWidth(of: UInt64(maxLevel)), count: n, into: &out)
            pos += len
            for l in out where l > UInt32(maxLevel) { throw .corruptPage(column: name, reason: "level \(l) > max \(maxLevel)") }
            return out
        }
        let rep = maxRep > 0 ? try levels(maxRep) : []
        let def = maxDef > 0 ? try levels(maxDef) : []
        let present = maxDef > 0 ? def.reduce(0) { $0 + ($1 == UInt32(maxDef) ? 1 : 0) } : n

        switch header.encoding {
        case .plain:
            try decodePlain(b, at: &pos, count: present, into: &values, column: name)
        case .rleDictionary, .plainDictionary:
            guard let dictionary else { throw .corruptPage(column: name, reason: "dictionary-encoded page without dictionary") }
            guard pos < b.count || present == 0 else { throw .corruptPage(column: name, reason: "missing index bit width") }
            var idx: [UInt32] = []
            if present > 0 {
                let w = Int(b[pos])
                pos += 1
                try RLEHybrid.decode(b, from: pos, to: b.count, bitWidth: w, count: present, into: &idx)
            }
            try gather(dictionary, idx, into: &values, column: name)
        default:
            throw .unsupported("value encoding \(header.encoding)")
        }

        switch field.shape {
        case .required: requiredRows += n
        case .optional: validity.append(contentsOf: def.map { $0 == 1 })
        case .list(let nullable, _):
            let listBase = UInt32(nullable ? 1 : 0)
            for i in 0..<n {
                if rep[i] == 0 {
                    offsets.append(offsets.last!)
                    if def[i] < listBase {
                        validity.append(false)
                        continue
                    }
                    validity.append(true)
                    if def[i] == listBase { continue }
                } else {
                    guard offsets.count > 1, validity.last == true else {
                        throw .corruptPage(column: name, reason: "repeated level continues a null or missing list")
                    }
                    guard def[i] > listBase else { throw .corruptPage(column: name, reason: "empty-list level inside a list") }
                }
                offsets[offsets.count - 1] += 1
                elementValidity.append(def[i] == UInt32(maxDef))
            }
        }
    }

    /// The assembled column in canonical form: all-true validities are nil.
    func result() -> ColumnData {
        switch field.shape {
        case .required: return ColumnData(values)
        case .optional: return ColumnData(values, validity: validity.allSatisfy { $0 } ? nil : validity)
        case .list:
            return ColumnData(values, validity: validity.allSatisfy { $0 } ? nil : validity, listOffsets: offsets,
                              elementValidity: elementValidity.allSatisfy { $0 } ? nil : elementValidity)
        }
    }
}

extension ColumnData {
    /// The same data with all-true validity arrays dropped (the reader's form).
    public var canonical: ColumnData {
        var c = self
        if let v = c.validity, v.allSatisfy({ $0 }) { c.validity = nil }
        if let v = c.elementValidity, v.allSatisfy({ $0 }) { c.elementValidity = nil }
        return c
    }
}
