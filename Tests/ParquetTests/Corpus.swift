import DevSupport
import Foundation
@testable import Parquet

/// How nulls fall in an optional column.
enum NullPattern { case none, all, alternate, random(Double) }

/// One corpus file: its schema, writer options and the batches written, in order.
struct CorpusFile {
    var name: String
    var schema: ParquetSchema
    var options: ParquetWriterOptions
    var batches: [[ColumnData]]

    /// What a reader must return for column `c`.
    func expected(_ c: Int) -> ColumnData {
        if batches.isEmpty { return ColumnData(.empty(schema.fields[c].type)).emptyShaped(schema.fields[c]) }
        return concat(batches.map { $0[c] })
    }

    /// Writes the file as `<name>.parquet` in `dir`, its `redline.table` metadata `table` (the name by default).
    func write(to dir: URL, table: String? = nil) throws -> String {
        let path = dir.appendingPathComponent("\(name).parquet").path
        let w = try ParquetFileWriter(path: path, schema: schema, options: options,
                                      metadata: [("redline.table", table ?? name), ("redline.schema_version", "1")])
        for b in batches { try w.write(b) }
        try w.close()
        return path
    }
}

extension ColumnData {
    func emptyShaped(_ f: ParquetField) -> ColumnData {
        if case .list = f.shape { return ColumnData(values, listOffsets: [0]) }
        return self
    }
}

let allTypes: [ValueType] = [.boolean, .int8, .int16, .int32, .int64, .uint8, .uint16, .uint32, .uint64, .double,
                             .string, .binary, .fixedBinary(16), .timestampNanos]

let words = ["alpha", "βeta", "γάμμα", "дельта", "東京", "🚀launch", "e\u{301}", "", "z", "ＺＥＲＯ", "עברית", "a\u{0}b"]

/// `n` random values of `t`; `cardinality` draws from a small pool instead.
func randomValues(_ t: ValueType, _ n: Int, _ rng: inout SplitMix64, cardinality: Int? = nil) -> ColumnValues {
    func pick() -> UInt64 {
        if let c = cardinality { var r = SplitMix64(seed: rng.below(UInt64(c)) &+ 77); return r.next() }
        return rng.next()
    }
    switch t {
    case .boolean: return .boolean((0..<n).map { _ in pick() & 1 == 1 })
    case .int8: return .int32((0..<n).map { _ in Int32(Int8(truncatingIfNeeded: pick())) })
    case .int16: return .int32((0..<n).map { _ in Int32(Int16(truncatingIfNeeded: pick())) })
    case .int32: return .int32((0..<n).map { _ in Int32(truncatingIfNeeded: pick()) })
    case .uint8: return .int32((0..<n).map { _ in Int32(UInt8(truncatingIfNeeded: pick())) })
    case .uint16: return .int32((0..<n).map { _ in Int32(UInt16(truncatingIfNeeded: pick())) })
    case .uint32: return .int32((0..<n).map { _ in Int32(bitPattern: UInt32(truncatingIfNeeded: pick())) })
    case .int64, .uint64: return .int64((0..<n).map { _ in Int64(bitPattern: pick()) })
    case .timestampNanos:
        return .int64((0..<n).map { i in 1_700_000_000_000_000_000 + Int64(i) * 1_000_003 + Int64(pick() % 1000) })
    case .double:
        let specials: [Double] = [-0.0, 0.0, 1.5, -2.25, 1e300, -1e-300, .infinity, 3.141592653589793]
        return .double((0..<n).map { _ in
            let r = pick()
            return r % 5 == 0 ? specials[Int(r >> 8) % specials.count] : Double(Int64(bitPattern: r) >> 11) / 1e3
        })
    case .string:
        var a = ByteArrays()
        for _ in 0..<n {
            let r = pick()
            a.append(words[Int(r % UInt64(words.count))] + (cardinality == nil ? String(r >> 40) : ""))
        }
        return .byteArray(a)
    case .binary:
        var a = ByteArrays()
        for _ in 0..<n {
            let r = pick()
            a.append(bytes: (0..<Int(r % 12)).map { UInt8(truncatingIfNeeded: r >> ($0 * 5)) })
        }
        return .byteArray(a)
    case .fixedBinary(let w):
        var b: [UInt8] = []
        for _ in 0..<n { let r = pick(); b += (0..<w).map { UInt8(truncatingIfNeeded: (r &* UInt64($0 + 1)) >> 13) } }
        return .fixedLenByteArray(width: w, bytes: b)
    }
}

/// A column of `rows` rows for `field`, nulls placed by `nulls`.
func makeColumn(_ field: ParquetField, rows: Int, _ rng: inout SplitMix64, nulls: NullPattern = .random(0.3),
                cardinality: Int? = nil) -> ColumnData {
    func isNull(_ i: Int) -> Bool {
        switch nulls {
        case .none: return false
        case .all: return true
        case .alternate: return i % 2 == 0
        case .random(let p): return rng.chance(p)
        }
    }
    switch field.shape {
    case .required:
        return ColumnData(randomValues(field.type, rows, &rng, cardinality: cardinality))
    case .optional:
        let validity = (0..<rows).map { !isNull($0) }
        let present = validity.filter { $0 }.count
        return ColumnData(randomValues(field.type, present, &rng, cardinality: cardinality), validity: validity).canonical
    case let .list(nullable, elementNullable):
        var offsets = [0], validity: [Bool] = [], elemValidity: [Bool] = []
        for r in 0..<rows {
            // The first rows pin the edge cases: null list, empty list, one element, [null].
            var len = Int(rng.below(5))
            var valid = !(nullable && rng.chance(0.15))
            if r == 0 { valid = !nullable; len = 0 }
            if r == 1 { valid = true; len = 0 }
            if r == 2 { valid = true; len = 1 }
            if r == 3 { valid = true; len = 1 }
            if !valid { len = 0 }
            validity.append(valid)
            for j in 0..<len { elemValidity.append(!(elementNullable && (r == 3 || (j > 0 && rng.chance(0.2))))) }
            offsets.append(offsets.last! + len)
        }
        let present = elemValidity.filter { $0 }.count
        return ColumnData(randomValues(field.type, present, &rng, cardinality: cardinality), validity: validity,
                          listOffsets: offsets, elementValidity: elementNullable ? elemValidity : nil).canonical
    }
}

func makeBatches(_ schema: ParquetSchema, rows: [Int], seed: UInt64, nulls: (Int) -> NullPattern = { _ in .random(0.3) },
                 cardinality: (Int) -> Int? = { _ in nil }) -> [[ColumnData]] {
    var rng = SplitMix64(seed: seed)
    return rows.map { n in
        schema.fields.enumerated().map { i, f in makeColumn(f, rows: n, &rng, nulls: nulls(i), cardinality: cardinality(i)) }
    }
}

func options(compression: Compression = .zstd, dictionary: Bool = true, _ edit: (inout ParquetWriterOptions) -> Void = { _ in })
    -> ParquetWriterOptions {
    var o = ParquetWriterOptions()
    o.compression = compression
    o.dictionary = dictionary
    edit(&o)
    return o
}

/// Every file the cross-reader tests write: each type, encoding, codec, null pattern,
/// LIST shape, empty and single-row tables, long and non-ASCII strings, many row groups.
func corpus() -> [CorpusFile] {
    let required = ParquetSchema(allTypes.enumerated().map { ParquetField("c\($0)_\($1.schemaName.filter(\.isLetter))", $1) })
    let optional = ParquetSchema(required.fields.map { ParquetField($0.name, $0.type, .optional) })
    let patterns: [NullPattern] = [.random(0.3), .alternate, .all, .none]
    let listSchema = ParquetSchema([
        ParquetField("l_i64", .int64, .list(nullable: true, elementNullable: true)),
        ParquetField("l_str", .string, .list(nullable: false, elementNullable: false)),
        ParquetField("l_f64", .double, .list(nullable: true, elementNullable: false)),
        ParquetField("l_i32", .int32, .list(nullable: false, elementNullable: true)),
        ParquetField("l_ts", .timestampNanos, .list(nullable: true, elementNullable: true)),
        ParquetField("l_bool", .boolean, .list(nullable: true, elementNullable: true)),
        ParquetField("l_u64", .uint64, .list(nullable: false, elementNullable: false)),
        ParquetField("l_fx", .fixedBinary(16), .list(nullable: true, elementNullable: true)),
        ParquetField("id", .int64),
    ])
    var strings = ByteArrays()
    let longStrings = ["", "a", String(repeating: "x", count: 100_000), String(repeating: "é", count: 2_500),
                       "🚀🌍👩‍👩‍👧‍👦", "東京都渋谷区", "e\u{301}\u{302}", "עברית RTL", "nul\u{0}inside",
                       String(repeating: "長", count: 5_000) + "end", "Zürich", "ZZZ"]
    for s in longStrings { strings.append(s) }
    let longSchema = ParquetSchema([ParquetField("s", .string), ParquetField("s_opt", .string, .optional),
                                    ParquetField("s_list", .string, .list(nullable: true, elementNullable: true))])
    var rngL = SplitMix64(seed: 99)
    let longBatch = [ColumnData(.byteArray(strings)),
                     ColumnData(.byteArray(ByteArrays(strings: longStrings.enumerated().filter { $0.offset % 3 != 0 }.map(\.element))),
                                validity: longStrings.indices.map { $0 % 3 != 0 }),
                     makeColumn(longSchema.fields[2], rows: longStrings.count, &rngL)]
    let shortLong = ParquetSchema([ParquetField("short", .string), ParquetField("n", .int64)])
    let manySchema = ParquetSchema([ParquetField("id", .int64), ParquetField("name", .string),
                                    ParquetField("v", .double, .optional),
                                    ParquetField("buckets", .int64, .list(nullable: false, elementNullable: false))])
    let fallbackSchema = ParquetSchema([ParquetField("hi_card", .int64), ParquetField("hi_str", .string),
                                        ParquetField("lo_str", .string), ParquetField("opt", .int32, .optional)])
    return [
        CorpusFile(name: "types_required_dict_zstd", schema: required, options: options(),
                   batches: makeBatches(required, rows: [600], seed: 1)),
        CorpusFile(name: "types_required_plain_uncompressed", schema: required,
                   options: options(compression: .uncompressed, dictionary: false),
                   batches: makeBatches(required, rows: [300, 300], seed: 2)),
        CorpusFile(name: "types_optional_plain_uncompressed", schema: optional,
                   options: options(compression: .uncompressed, dictionary: false),
                   batches: makeBatches(optional, rows: [200, 1, 399], seed: 3, nulls: { patterns[$0 % 4] })),
        CorpusFile(name: "types_optional_dict_zstd", schema: optional, options: options(),
                   batches: makeBatches(optional, rows: [600], seed: 4, nulls: { patterns[($0 + 1) % 4] },
                                        cardinality: { $0 % 2 == 0 ? 7 : nil })),
        CorpusFile(name: "types_optional_dict_uncompressed", schema: optional, options: options(compression: .uncompressed),
                   batches: makeBatches(optional, rows: [250], seed: 5, nulls: { patterns[($0 + 2) % 4] },
                                        cardinality: { _ in 5 })),
        CorpusFile(name: "lists_dict_zstd", schema: listSchema, options: options(),
                   batches: makeBatches(listSchema, rows: [300, 200], seed: 6)),
        CorpusFile(name: "lists_plain_uncompressed", schema: listSchema,
                   options: options(compression: .uncompressed, dictionary: false),
                   batches: makeBatches(listSchema, rows: [400], seed: 7)),
        CorpusFile(name: "empty_table", schema: ParquetSchema(optional.fields + listSchema.fields.prefix(2)),
                   options: options(), batches: []),
        CorpusFile(name: "single_row", schema: ParquetSchema(optional.fields + listSchema.fields),
                   options: options(),
                   batches: makeBatches(ParquetSchema(optional.fields + listSchema.fields), rows: [1], seed: 8, nulls: { _ in .none })),
        CorpusFile(name: "strings_long_nonascii_dict", schema: longSchema, options: options(), batches: [longBatch]),
        CorpusFile(name: "strings_long_nonascii_plain", schema: longSchema, options: options(dictionary: false),
                   batches: [longBatch]),
        CorpusFile(name: "many_row_groups", schema: manySchema,
                   options: options { $0.rowGroupRows = 97; $0.dataPageSize = 200 },
                   batches: makeBatches(manySchema, rows: [1000, 2000], seed: 9, cardinality: { $0 == 1 ? 40 : nil })),
        CorpusFile(name: "row_groups_by_bytes", schema: shortLong,
                   options: options(dictionary: false) { $0.rowGroupBytes = 16 << 10 },
                   batches: makeBatches(shortLong, rows: [5000], seed: 10)),
        CorpusFile(name: "dictionary_fallback", schema: fallbackSchema,
                   options: options { $0.dictionaryPageLimit = 2048; $0.dataPageSize = 4096 },
                   batches: makeBatches(fallbackSchema, rows: [3000, 3000], seed: 11,
                                        cardinality: { $0 == 2 ? 12 : nil })),
    ]
}
