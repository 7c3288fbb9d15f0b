// The subset of parquet-format's parquet.thrift that Redline writes and reads, as Swift
// values with their compact-protocol encoders and decoders. Field ids are the spec's;
// unknown fields are skipped on read so newer writers' files still parse.

/// Physical (storage) types, parquet.thrift `Type`.
public enum PhysicalType: Int32, Sendable, Equatable, Codable {
    case boolean = 0, int32 = 1, int64 = 2, int96 = 3, float = 4, double = 5
    case byteArray = 6, fixedLenByteArray = 7
}

/// parquet.thrift `Encoding` (the values Redline writes or reads).
enum Encoding: Int32, Sendable {
    case plain = 0, plainDictionary = 2, rle = 3, bitPacked = 4, rleDictionary = 8
}

/// parquet.thrift `CompressionCodec`.
public enum Compression: Int32, Sendable, Equatable {
    case uncompressed = 0, zstd = 6
}

enum PageType: Int32, Sendable { case dataPage = 0, indexPage = 1, dictionaryPage = 2, dataPageV2 = 3 }

/// parquet.thrift `FieldRepetitionType`.
enum Repetition: Int32, Sendable { case required = 0, optional = 1, repeated = 2 }

/// parquet.thrift `ConvertedType` values Redline writes alongside logical types, for old readers.
enum ConvertedType: Int32, Sendable {
    case utf8 = 0, list = 3, uint8 = 11, uint16 = 12, uint32 = 13, uint64 = 14
    case int8 = 15, int16 = 16, int32 = 17, int64 = 18
}

/// The logical-type annotations Redline uses (parquet.thrift `LogicalType` union members).
public enum LogicalType: Sendable, Equatable {
    case string
    case list
    /// TIMESTAMP(isAdjustedToUTC: true, unit: NANOS) — the only timestamp Redline writes.
    case timestampNanosUTC
    /// Other TIMESTAMP forms, accepted by the reader so it can report them.
    case timestamp(utc: Bool, unit: Int)
    case integer(bitWidth: Int8, signed: Bool)
}

struct Statistics: Sendable, Equatable {
    var nullCount: Int64?
    var minValue: [UInt8]?
    var maxValue: [UInt8]?

    func encode(_ w: inout ThriftWriter, field: Int16) {
        w.structField(field)
        if let n = nullCount { w.i64(3, n) }
        if let v = maxValue { w.binary(5, v) }
        if let v = minValue { w.binary(6, v) }
        w.endStruct()
    }

    static func decode(_ r: inout ThriftReader) throws(ParquetError) -> Statistics {
        var s = Statistics()
        var legacyMin: [UInt8]?, legacyMax: [UInt8]?
        try r.beginStruct()
        while let f = try r.nextField() {
            switch f.id {
            case 1: legacyMax = try r.readBinary(f.type)
            case 2: legacyMin = try r.readBinary(f.type)
            case 3: s.nullCount = try r.readI64(f.type)
            case 5: s.maxValue = try r.readBinary(f.type)
            case 6: s.minValue = try r.readBinary(f.type)
            default: try r.skip(f.type)
            }
        }
        r.endStruct()
        // Legacy min/max are signed-order; surfaced only when the new fields are absent.
        if s.minValue == nil { s.minValue = legacyMin }
        if s.maxValue == nil { s.maxValue = legacyMax }
        return s
    }
}

struct SchemaElement: Sendable, Equatable {
    var type: PhysicalType?
    var typeLength: Int32?
    var repetition: Repetition?
    var name: String
    var numChildren: Int32?
    var convertedType: ConvertedType?
    var logicalType: LogicalType?

    func encode(_ w: inout ThriftWriter) {
        w.listStruct()
        if let t = type { w.i32(1, t.rawValue) }
        if let l = typeLength { w.i32(2, l) }
        if let r = repetition { w.i32(3, r.rawValue) }
        w.string(4, name)
        if let n = numChildren { w.i32(5, n) }
        if let c = convertedType { w.i32(6, c.rawValue) }
        if let l = logicalType {
            w.structField(10)
            switch l {
            case .string: w.structField(1); w.endStruct()
            case .list: w.structField(3); w.endStruct()
            case .timestampNanosUTC, .timestamp:
                let (utc, unit): (Bool, Int16) = {
                    if case let .timestamp(u, n) = l { return (u, Int16(clamping: n)) }
                    return (true, 3)
                }()
                w.structField(8)
                w.bool(1, utc)
                w.structField(2)
                w.structField(unit); w.endStruct()
                w.endStruct()
                w.endStruct()
            case let .integer(bits, signed):
                w.structField(10)
                w.i8(1, bits)
                w.bool(2, signed)
                w.endStruct()
            }
            w.endStruct()
        }
        w.endStruct()
    }

    static func decode(_ r: inout ThriftReader) throws(ParquetError) -> SchemaElement {
        var e = SchemaElement(name: "")
        var haveName = false
        try r.beginStruct()
        while let f = try r.nextField() {
            switch f.id {
            case 1:
                let raw = try r.readI32(f.type)
                guard let t = PhysicalType(rawValue: raw) else { throw .invalidValue("physical type \(raw)") }
                e.type = t
            case 2: e.typeLength = try r.readI32(f.type)
            case 3:
                let raw = try r.readI32(f.type)
                guard let rep = Repetition(rawValue: raw) else { throw .invalidValue("repetition \(raw)") }
                e.repetition = rep
            case 4: e.name = try r.readString(f.type); haveName = true
            case 5: e.numChildren = try r.readI32(f.type)
            case 6: e.convertedType = ConvertedType(rawValue: try r.readI32(f.type))
            case 10: e.logicalType = try decodeLogical(&r, f.type)
            default: try r.skip(f.type)
            }
        }
        r.endStruct()
        guard haveName else { throw .missingField(structName: "SchemaElement", field: "name") }
        return e
    }

    /// Decodes the LogicalType union; members Redline does not model read as nil.
    private static func decodeLogical(_ r: inout ThriftReader, _ t: ThriftType) throws(ParquetError) -> LogicalType? {
        guard t == .struct else { throw .malformedThrift("LogicalType is not a struct") }
        var result: LogicalType?
        try r.beginStruct()
        while let f = try r.nextField() {
            switch f.id {
            case 1: result = .string; try r.skip(f.type)
            case 3: result = .list; try r.skip(f.type)
            case 8:
                guard f.type == .struct else { throw .malformedThrift("TimestampType is not a struct") }
                var utc = false, unit = 0
                try r.beginStruct()
                while let g = try r.nextField() {
                    switch g.id {
                    case 1: utc = try r.readBool(g.type)
                    case 2:
                        guard g.type == .struct else { throw .malformedThrift("TimeUnit is not a struct") }
                        try r.beginStruct()
                        while let u = try r.nextField() { unit = Int(u.id); try r.skip(u.type) }
                        r.endStruct()
                    default: try r.skip(g.type)
                    }
                }
                r.endStruct()
                result = (utc && unit == 3) ? .timestampNanosUTC : .timestamp(utc: utc, unit: unit)
            case 10:
                guard f.type == .struct else { throw .malformedThrift("IntType is not a struct") }
                var bits: Int8 = 0, signed = true
                try r.beginStruct()
                while let g = try r.nextField() {
                    switch g.id {
                    case 1: bits = try r.readI8(g.type)
                    case 2: signed = try r.readBool(g.type)
                    default: try r.skip(g.type)
                    }
                }
                r.endStruct()
                result = .integer(bitWidth: bits, signed: signed)
            default: try r.skip(f.type)
            }
        }
        r.endStruct()
        return result
    }
}

struct PageEncodingStats: Sendable, Equatable {
    var pageType: PageType
    var encoding: Encoding
    var count: Int32
}

struct ColumnMetaData: Sendable, Equatable {
    var type: PhysicalType
    var encodings: [Encoding]
    var pathInSchema: [String]
    var codec: Compression
    var numValues: Int64
    var totalUncompressedSize: Int64
    var totalCompressedSize: Int64
    var dataPageOffset: Int64
    var dictionaryPageOffset: Int64?
    var statistics: Statistics?
    var encodingStats: [PageEncodingStats]

    func encode(_ w: inout ThriftWriter, field: Int16) {
        w.structField(field)
        w.i32(1, type.rawValue)
        w.listField(2, .i32, count: encodings.count)
        for e in encodings { w.listI32(e.rawValue) }
        w.listField(3, .binary, count: pathInSchema.count)
        for p in pathInSchema { w.listBinary(Array(p.utf8)) }
        w.i32(4, codec.rawValue)
        w.i64(5, numValues)
        w.i64(6, totalUncompressedSize)
        w.i64(7, totalCompressedSize)
        w.i64(9, dataPageOffset)
        if let d = dictionaryPageOffset { w.i64(11, d) }
        statistics?.encode(&w, field: 12)
        if !encodingStats.isEmpty {
            w.listField(13, .struct, count: encodingStats.count)
            for s in encodingStats {
                w.listStruct()
                w.i32(1, s.pageType.rawValue)
                w.i32(2, s.encoding.rawValue)
                w.i32(3, s.count)
                w.endStruct()
            }
        }
        w.endStruct()
    }

    static func decode(_ r: inout ThriftReader) throws(ParquetError) -> ColumnMetaData {
        var type: PhysicalType?, codec: Compression?
        var encodings: [Encoding] = [], path: [String] = []
        var numValues: Int64?, unc: Int64?, comp: Int64?, dataOff: Int64?, dictOff: Int64?
        var stats: Statistics?
        try r.beginStruct()
        while let f = try r.nextField() {
            switch f.id {
            case 1:
                let raw = try r.readI32(f.type)
                guard let t = PhysicalType(rawValue: raw) else { throw .invalidValue("physical type \(raw)") }
                type = t
            case 2:
                let (et, n) = try r.listHeader(f.type)
                for _ in 0..<n {
                    // Unknown encodings are listed but only matter if a page uses them.
                    if let e = Encoding(rawValue: try r.listI32(et)) { encodings.append(e) }
                }
            case 3:
                let (et, n) = try r.listHeader(f.type)
                for _ in 0..<n { path.append(try r.readString(et)) }
            case 4:
                let raw = try r.readI32(f.type)
                guard let c = Compression(rawValue: raw) else { throw .unsupported("compression codec \(raw)") }
                codec = c
            case 5: numValues = try r.readI64(f.type)
            case 6: unc = try r.readI64(f.type)
            case 7: comp = try r.readI64(f.type)
            case 9: dataOff = try r.readI64(f.type)
            case 11: dictOff = try r.readI64(f.type)
            case 12:
                guard f.type == .struct else { throw .malformedThrift("Statistics is not a struct") }
                stats = try Statistics.decode(&r)
            default: try r.skip(f.type)
            }
        }
        r.endStruct()
        guard let type else { throw .missingField(structName: "ColumnMetaData", field: "type") }
        guard let codec else { throw .missingField(structName: "ColumnMetaData", field: "codec") }
        guard let numValues, let unc, let comp, let dataOff else {
            throw .missingField(structName: "ColumnMetaData", field: "num_values/sizes/data_page_offset")
        }
        return ColumnMetaData(type: type, encodings: encodings, pathInSchema: path, codec: codec,
                              numValues: numValues, totalUncompressedSize: unc, totalCompressedSize: comp,
                              dataPageOffset: dataOff, dictionaryPageOffset: dictOff, statistics: stats,
                              encodingStats: [])
    }
}

struct ColumnChunkMeta: Sendable, Equatable {
    var fileOffset: Int64
    var metaData: ColumnMetaData
}

struct RowGroupMeta: Sendable, Equatable {
    var columns: [ColumnChunkMeta]
    var totalByteSize: Int64
    var numRows: Int64
    var fileOffset: Int64?
    var totalCompressedSize: Int64?
    var ordinal: Int16?
}

struct FileMetaData: Sendable, Equatable {
    var version: Int32
    var schema: [SchemaElement]
    var numRows: Int64
    var rowGroups: [RowGroupMeta]
    var keyValueMetadata: [(String, String?)]
    var createdBy: String?

    static func == (a: FileMetaData, b: FileMetaData) -> Bool {
        a.version == b.version && a.schema == b.schema && a.numRows == b.numRows && a.rowGroups == b.rowGroups
            && a.createdBy == b.createdBy && a.keyValueMetadata.elementsEqual(b.keyValueMetadata, by: { $0 == $1 })
    }

    func encode() -> [UInt8] {
        var w = ThriftWriter()
        w.beginStruct()
        w.i32(1, version)
        w.listField(2, .struct, count: schema.count)
        for e in schema { e.encode(&w) }
        w.i64(3, numRows)
        w.listField(4, .struct, count: rowGroups.count)
        for g in rowGroups {
            w.listStruct()
            w.listField(1, .struct, count: g.columns.count)
            for c in g.columns {
                w.listStruct()
                w.i64(2, c.fileOffset)
                c.metaData.encode(&w, field: 3)
                w.endStruct()
            }
            w.i64(2, g.totalByteSize)
            w.i64(3, g.numRows)
            if let o = g.fileOffset { w.i64(5, o) }
            if let t = g.totalCompressedSize { w.i64(6, t) }
            if let o = g.ordinal { w.i16(7, o) }
            w.endStruct()
        }
        if !keyValueMetadata.isEmpty {
            w.listField(5, .struct, count: keyValueMetadata.count)
            for (k, v) in keyValueMetadata {
                w.listStruct()
                w.string(1, k)
                if let v { w.string(2, v) }
                w.endStruct()
            }
        }
        if let c = createdBy { w.string(6, c) }
        // One TypeDefinedOrder per leaf column: tells readers min_value/max_value follow
        // the type's own order (unsigned for UINT_*, byte-wise for strings).
        let leaves = schema.filter { $0.numChildren == nil && $0.type != nil }.count
        w.listField(7, .struct, count: leaves)
        for _ in 0..<leaves {
            w.listStruct()
            w.structField(1); w.endStruct()
            w.endStruct()
        }
        w.endStruct()
        return w.bytes
    }

    static func decode(_ bytes: UnsafeRawBufferPointer) throws(ParquetError) -> FileMetaData {
        var r = ThriftReader(bytes)
        var version: Int32?, numRows: Int64?, createdBy: String?
        var schema: [SchemaElement] = [], groups: [RowGroupMeta] = [], kv: [(String, String?)] = []
        var haveSchema = false, haveGroups = false
        try r.beginStruct()
        while let f = try r.nextField() {
            switch f.id {
            case 1: version = try r.readI32(f.type)
            case 2:
                haveSchema = true
                let (et, n) = try r.listHeader(f.type)
                guard et == .struct else { throw .malformedThrift("schema list of \(et)") }
                for _ in 0..<n { schema.append(try SchemaElement.decode(&r)) }
            case 3: numRows = try r.readI64(f.type)
            case 4:
                haveGroups = true
                let (et, n) = try r.listHeader(f.type)
                guard et == .struct else { throw .malformedThrift("row group list of \(et)") }
                for _ in 0..<n { groups.append(try decodeRowGroup(&r)) }
            case 5:
                let (et, n) = try r.listHeader(f.type)
                guard et == .struct else { throw .malformedThrift("key-value list of \(et)") }
                for _ in 0..<n {
                    var k: String?, v: String?
                    try r.beginStruct()
                    while let g = try r.nextField() {
                        switch g.id {
                        case 1: k = try r.readString(g.type)
                        case 2: v = try r.readString(g.type)
                        default: try r.skip(g.type)
                        }
                    }
                    r.endStruct()
                    guard let k else { throw .missingField(structName: "KeyValue", field: "key") }
                    kv.append((k, v))
                }
            case 6: createdBy = try r.readString(f.type)
            default: try r.skip(f.type)
            }
        }
        r.endStruct()
        guard let version else { throw .missingField(structName: "FileMetaData", field: "version") }
        guard haveSchema else { throw .missingField(structName: "FileMetaData", field: "schema") }
        guard let numRows else { throw .missingField(structName: "FileMetaData", field: "num_rows") }
        guard haveGroups else { throw .missingField(structName: "FileMetaData", field: "row_groups") }
        return FileMetaData(version: version, schema: schema, numRows: numRows, rowGroups: groups,
                            keyValueMetadata: kv, createdBy: createdBy)
    }

    private static func decodeRowGroup(_ r: inout ThriftReader) throws(ParquetError) -> RowGroupMeta {
        var cols: [ColumnChunkMeta] = []
        var total: Int64?, rows: Int64?, fileOffset: Int64?, comp: Int64?
        var haveCols = false
        try r.beginStruct()
        while let f = try r.nextField() {
            switch f.id {
            case 1:
                haveCols = true
                let (et, n) = try r.listHeader(f.type)
                guard et == .struct else { throw .malformedThrift("column chunk list of \(et)") }
                for _ in 0..<n {
                    var off: Int64 = 0, md: ColumnMetaData?
                    try r.beginStruct()
                    while let g = try r.nextField() {
                        switch g.id {
                        case 1: throw .unsupported("column chunk in another file (file_path)")
                        case 2: off = try r.readI64(g.type)
                        case 3:
                            guard g.type == .struct else { throw .malformedThrift("ColumnMetaData is not a struct") }
                            md = try ColumnMetaData.decode(&r)
                        default: try r.skip(g.type)
                        }
                    }
                    r.endStruct()
                    guard let md else { throw .missingField(structName: "ColumnChunk", field: "meta_data") }
                    cols.append(ColumnChunkMeta(fileOffset: off, metaData: md))
                }
            case 2: total = try r.readI64(f.type)
            case 3: rows = try r.readI64(f.type)
            case 5: fileOffset = try r.readI64(f.type)
            case 6: comp = try r.readI64(f.type)
            default: try r.skip(f.type)
            }
        }
        r.endStruct()
        guard haveCols, let total, let rows else {
            throw .missingField(structName: "RowGroup", field: "columns/total_byte_size/num_rows")
        }
        return RowGroupMeta(columns: cols, totalByteSize: total, numRows: rows, fileOffset: fileOffset,
                            totalCompressedSize: comp, ordinal: nil)
    }
}

struct PageHeader: Sendable, Equatable {
    var type: PageType
    var uncompressedSize: Int32
    var compressedSize: Int32
    /// For data pages: level count and value encoding. For dictionary pages: entry count and encoding.
    var numValues: Int32
    var encoding: Encoding

    func encode() -> [UInt8] {
        var w = ThriftWriter()
        w.beginStruct()
        w.i32(1, type.rawValue)
        w.i32(2, uncompressedSize)
        w.i32(3, compressedSize)
        switch type {
        case .dictionaryPage:
            w.structField(7)
            w.i32(1, numValues)
            w.i32(2, encoding.rawValue)
            w.endStruct()
        default:
            w.structField(5)
            w.i32(1, numValues)
            w.i32(2, encoding.rawValue)
            w.i32(3, Encoding.rle.rawValue)
            w.i32(4, Encoding.rle.rawValue)
            w.endStruct()
        }
        w.endStruct()
        return w.bytes
    }

    /// Decodes a page header at `offset`; returns it and the header's length in bytes.
    static func decode(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(ParquetError) -> (PageHeader, Int) {
        var r = ThriftReader(bytes, offset: offset)
        var type: PageType?, unc: Int32?, comp: Int32?
        var numValues: Int32?, encoding: Encoding?
        try r.beginStruct()
        while let f = try r.nextField() {
            switch f.id {
            case 1:
                let raw = try r.readI32(f.type)
                guard let t = PageType(rawValue: raw) else { throw .invalidValue("page type \(raw)") }
                type = t
            case 2: unc = try r.readI32(f.type)
            case 3: comp = try r.readI32(f.type)
            case 5, 7:
                guard f.type == .struct else { throw .malformedThrift("page header body is not a struct") }
                try r.beginStruct()
                while let g = try r.nextField() {
                    switch g.id {
                    case 1: numValues = try r.readI32(g.type)
                    case 2:
                        let raw = try r.readI32(g.type)
                        guard let e = Encoding(rawValue: raw) else { throw .unsupported("page encoding \(raw)") }
                        encoding = e
                    case 3 where f.id == 5, 4 where f.id == 5:
                        // DataPageHeader's level encodings; in DictionaryPageHeader field 3 is is_sorted.
                        let raw = try r.readI32(g.type)
                        if raw != Encoding.rle.rawValue { throw .unsupported("level encoding \(raw) (only RLE)") }
                    default: try r.skip(g.type)
                    }
                }
                r.endStruct()
            default: try r.skip(f.type)
            }
        }
        r.endStruct()
        guard let type, let unc, let comp else {
            throw .missingField(structName: "PageHeader", field: "type/sizes")
        }
        guard unc >= 0, comp >= 0 else { throw .invalidValue("negative page size") }
        if type == .dataPageV2 { throw .unsupported("data page v2") }
        if type == .indexPage { throw .unsupported("index page") }
        guard let numValues, let encoding, numValues >= 0 else {
            throw .missingField(structName: "PageHeader", field: "data/dictionary page header")
        }
        return (PageHeader(type: type, uncompressedSize: unc, compressedSize: comp, numValues: numValues,
                           encoding: encoding), r.pos - offset)
    }
}
