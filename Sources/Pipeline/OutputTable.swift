import Aggregates
import Enrichment
import Parquet

/// One output table, declared once (recipe: schemas/tables/README.md, "Adding a table").
///
/// A conforming type is the whole definition of a table: its name, schema version and meaning,
/// its group key and cell, and its fields in file order. Everything else is derived from the
/// fields: the Parquet schema and `schemas/tables/<name>.json` (`schema`), the columns a run
/// writes (`columns(_:names:ranks:bucketSeconds:)`), the rows a merge-only run reads back from a
/// partial file (`rows(from:names:)`), the Spark and DuckDB merge SQL (`MergeSQL`), and the row
/// order: bucket first, then every key field in column order (names by their text, codes by
/// their decimal text), so a file's bytes depend only on its contents.
///
/// Records become cells in Sources/Aggregates (`HostAggregation` for the built-in tables, e.g.
/// `REDCell.add(call:)`; a `CallAggregator` for tables filled from calls elsewhere); partial rows
/// of several hosts merge by `Cell.merge` (`Mergeable`), the rule the generated SQL repeats
/// column by column.
public protocol OutputTable {
    associatedtype Key: TableKey
    associatedtype Cell: Mergeable & Equatable

    /// The table's folder name and `redline.table` value.
    static var name: String { get }
    /// Bumped on any column change; written to each file as `redline.schema_version`.
    static var version: Int { get }
    /// One sentence: what a row is.
    static var doc: String { get }
    /// The fields in file order: usually the key fields (`bucket`, `name`, `code`, `derived`)
    /// first, then the metric fields (`count`, `optionalCount`, `histogram`, `completeness`;
    /// a table computed from merged tables may use the unmerged `double`, `text`, `int64`,
    /// `int32`). Every key property must appear as a field, so keys and rows correspond one to
    /// one.
    static var fields: [OutputField<Key, Cell>] { get }
    /// The cell a new group starts from (all counts zero).
    static func emptyCell(histogramScale: Int) -> Cell
}

extension OutputTable {
    /// The table's schema: Parquet columns and the `schemas/tables/<name>.json` form.
    public static var schema: TableSchema {
        TableSchema(name: name, version: version, doc: doc, columns: fields.flatMap(\.columns))
    }

    /// The table's rows sorted for writing (see `OutputTable`).
    static func sortedRows(_ rows: Accumulator<Key, Row<Cell>>, ranks: NameRanks) -> [(key: Key, row: Row<Cell>)] {
        let orderFields = fields.compactMap(\.order)
        let width = orderFields.count + 1
        let entries = Array(rows.cells)
        var order = [Int64](repeating: 0, count: entries.count * width)
        for (i, e) in entries.enumerated() {
            order[i * width] = e.key.bucket
            for (j, f) in orderFields.enumerated() { order[i * width + j + 1] = f(e.key, ranks) }
        }
        let sortedIndices = entries.indices.sorted { a, b in
            for j in 0..<width where order[a * width + j] != order[b * width + j] {
                return order[a * width + j] < order[b * width + j]
            }
            return false
        }
        return sortedIndices.map { (key: entries[$0].key, row: entries[$0].value) }
    }

    /// The columns of a file holding `rows`, in schema order.
    public static func columns(_ rows: Accumulator<Key, Row<Cell>>, names: NamePool, ranks: NameRanks,
                               bucketSeconds: Int) -> [ColumnData] {
        let sorted = sortedRows(rows, ranks: ranks)
        return fields.flatMap { $0.write(sorted, names, Int32(bucketSeconds)) }
    }

    /// The rows of a file of this table (columns already checked against `schema`), names
    /// interned into `names`. Computed columns (quantiles, completeness ratio, derived key
    /// text) are not read: they follow from the others.
    static func rows(from columns: PartialColumns, names: inout NamePool) throws(PipelineError)
        -> [(key: Key, row: Row<Cell>)] {
        let n = columns.rowCount
        var keys = [Key](repeating: Key(), count: n)
        var rows = [Row<Cell>](repeating: Row(cell: emptyCell(histogramScale: ExponentialHistogram.defaultScale),
                                              completeness: Completeness()), count: n)
        var at = 0
        for f in fields {
            try f.read(columns, at, &keys, &rows, &names)
            at += f.columns.count
        }
        return zip(keys, rows).map { (key: $0, row: $1) }
    }
}

/// One field of an output table: the column(s) it occupies, how a key or cell fills them, how
/// they are read back, and how partials of it merge (in Swift through `Cell.merge`, in SQL by
/// `MergeSQL`).
public struct OutputField<Key: TableKey, Cell: Mergeable & Equatable> {
    /// The columns, in file order (one, except `bucket`, `histogram` and `completeness`).
    public let columns: [TableColumn]
    let kind: Kind

    enum Kind {
        /// bucket_start and bucket_seconds.
        case bucket
        /// A name id of the key, written as its text.
        case name(WritableKeyPath<Key, Int32>)
        /// An int32 code of the key, written as is, ordered as its decimal text.
        case code(WritableKeyPath<Key, Int32>)
        /// Text that follows from the key (a code's name): written, grouped by in SQL, not read.
        case derived((Key) -> String)
        /// A count: int64 on disk, summed.
        case count(WritableKeyPath<Cell, UInt64>)
        /// A count that is null once any contribution did not know it: null absorbs in the sum.
        case optionalCount(WritableKeyPath<Cell, UInt64?>)
        /// An exponential histogram and the quantiles read from it (`histogramColumns`).
        case histogram(WritableKeyPath<Cell, ExponentialHistogram>, quantiles: [Double])
        /// The row's completeness counters and ratio (`Row.completeness`).
        case completeness
        /// bucket_start alone (the key's bucket), or bucket_seconds alone: for a table whose
        /// columns put something between them.
        case bucketStart, bucketSeconds
        /// A value of the cell written and read as is, not merged: for tables a stage computes
        /// from merged tables (no partials, no merge SQL).
        case value(write: ([(key: Key, row: Row<Cell>)]) -> ColumnData,
                   read: (PartialColumns, Int, inout [Row<Cell>]) throws(PipelineError) -> Void)
    }

    init(_ columns: [TableColumn], _ kind: Kind) {
        self.columns = columns
        self.kind = kind
    }

    /// bucket_start (UTC ns) and bucket_seconds.
    public static var bucket: Self {
        Self([TableColumn("bucket_start", .timestampNanos, unit: "ns since Unix epoch, UTC",
                          doc: "Start of the time bucket (corrected wall-clock time)."),
              TableColumn("bucket_seconds", .int32, unit: "s", doc: "Width of the bucket.")], .bucket)
    }

    /// A key name (service, datacenter, protocol…), a string column.
    public static func name(_ column: String, _ key: WritableKeyPath<Key, Int32>, doc: String) -> Self {
        Self([TableColumn(column, .string, doc: doc)], .name(key))
    }

    /// A key code, an int32 column.
    public static func code(_ column: String, _ key: WritableKeyPath<Key, Int32>, doc: String) -> Self {
        Self([TableColumn(column, .int32, doc: doc)], .code(key))
    }

    /// A string column computed from the key.
    public static func derived(_ column: String, doc: String, _ text: @escaping (Key) -> String) -> Self {
        Self([TableColumn(column, .string, doc: doc)], .derived(text))
    }

    /// A count column (int64, summed by the merge).
    public static func count(_ column: String, _ cell: WritableKeyPath<Cell, UInt64>, unit: String, doc: String) -> Self {
        Self([TableColumn(column, .int64, unit: unit, doc: doc)], .count(cell))
    }

    /// An optional count column (int64, null when unknown; null absorbs in the merge).
    public static func optionalCount(_ column: String, _ cell: WritableKeyPath<Cell, UInt64?>, unit: String,
                                     doc: String) -> Self {
        Self([TableColumn(column, .int64, .optional, unit: unit, doc: doc)], .optionalCount(cell))
    }

    /// An exponential histogram: `columns` are, in order, its scale, zero count, offset, dense
    /// counts, sum, min, max, then one double column per quantile of `quantiles`.
    public static func histogram(_ cell: WritableKeyPath<Cell, ExponentialHistogram>, quantiles: [Double],
                                 columns: [TableColumn]) -> Self {
        precondition(columns.count == 7 + quantiles.count, "a histogram field has 7 + one column per quantile")
        return Self(columns, .histogram(cell, quantiles: quantiles))
    }

    /// events_observed, events_lost, events_lost_shared, completeness.
    public static var completeness: Self {
        Self([
            TableColumn("events_observed", .int64, unit: "events",
                        doc: "The row's own events the collectors read: calls, flow deltas or TCP events (schemas/tables/README.md)."),
            TableColumn("events_lost", .int64, unit: "events",
                        doc: "Events of the row's kind lost in its bucket and charged to it in proportion to its events: ring buffer full, rate caps, unpaired messages, shed by the collector."),
            TableColumn("events_lost_shared", .int64, unit: "events",
                        doc: "The part of events_lost that is a host-level share: losses whose service, protocol or side the kernel could not tell, spread over the host's rows of that kind."),
            TableColumn("completeness", .double, unit: "ratio 0..1",
                        doc: "events_observed / (events_observed + events_lost); 1 when both are 0."),
        ], .completeness)
    }

    /// bucket_start alone (the key's bucket).
    public static var bucketStart: Self { Self([bucket.columns[0]], .bucketStart) }

    /// bucket_seconds alone.
    public static var bucketSeconds: Self { Self([bucket.columns[1]], .bucketSeconds) }

    /// A double of the cell, not merged.
    public static func double(_ column: String, _ cell: WritableKeyPath<Cell, Double>, unit: String? = nil,
                              doc: String) -> Self {
        Self([TableColumn(column, .double, unit: unit, doc: doc)],
             .value(write: { rows in ColumnData(.double(rows.map { $0.row.cell[keyPath: cell] })) },
                    read: { c, i, rows throws(PipelineError) in
                        for (r, v) in try c.doubles(i).enumerated() { rows[r].cell[keyPath: cell] = v }
                    }))
    }

    /// A string of the cell, written as is (not interned), not merged.
    public static func text(_ column: String, _ cell: WritableKeyPath<Cell, String>, doc: String) -> Self {
        Self([TableColumn(column, .string, doc: doc)],
             .value(write: { rows in
                        var b = ByteArrays()
                        for r in rows { b.append(r.row.cell[keyPath: cell]) }
                        return ColumnData(.byteArray(b))
                    },
                    read: { c, i, rows throws(PipelineError) in
                        for (r, v) in try c.strings(i).enumerated() { rows[r].cell[keyPath: cell] = v }
                    }))
    }

    /// An int64 of the cell (`type` .int64 or .timestampNanos), not merged.
    public static func int64(_ column: String, _ cell: WritableKeyPath<Cell, Int64>, type: ValueType = .int64,
                             unit: String? = nil, doc: String) -> Self {
        precondition(type == .int64 || type == .timestampNanos, "an int64 field is int64 or timestamp_ns")
        return Self([TableColumn(column, type, unit: unit, doc: doc)],
                    .value(write: { rows in ColumnData(.int64(rows.map { $0.row.cell[keyPath: cell] })) },
                           read: { c, i, rows throws(PipelineError) in
                               for (r, v) in try c.int64(i).enumerated() { rows[r].cell[keyPath: cell] = v }
                           }))
    }

    /// An int32 of the cell, not merged.
    public static func int32(_ column: String, _ cell: WritableKeyPath<Cell, Int32>, unit: String? = nil,
                             doc: String) -> Self {
        Self([TableColumn(column, .int32, unit: unit, doc: doc)],
             .value(write: { rows in ColumnData(.int32(rows.map { $0.row.cell[keyPath: cell] })) },
                    read: { c, i, rows throws(PipelineError) in
                        for (r, v) in try c.int32(i).enumerated() { rows[r].cell[keyPath: cell] = v }
                    }))
    }

    /// True for the fields that form the group key (and the SQL's GROUP BY).
    var isKey: Bool {
        switch kind {
        case .bucket, .bucketStart, .bucketSeconds, .name, .code, .derived: true
        case .count, .optionalCount, .histogram, .completeness, .value: false
        }
    }

    /// The field's place in the row order, after the bucket; nil when it adds nothing to it.
    var order: ((Key, NameRanks) -> Int64)? {
        switch kind {
        case .name(let k): { key, ranks in ranks[key[keyPath: k]] }
        case .code(let k): { key, _ in Self.textOrder(key[keyPath: k]) }
        default: nil
        }
    }

    /// An integer ordered as its `%011d` text was (the order of drop reasons in written files):
    /// negatives ("-…") first, by magnitude, then the others ascending.
    static func textOrder(_ x: Int32) -> Int64 { x < 0 ? Int64(x.magnitude) - (1 << 40) : Int64(x) }

    func write(_ rows: [(key: Key, row: Row<Cell>)], _ names: NamePool, _ bucketSeconds: Int32) -> [ColumnData] {
        func int64s(_ f: (Row<Cell>) -> UInt64) -> ColumnData { ColumnData(.int64(rows.map { Int64(clamping: f($0.row)) })) }
        func strings(_ f: (Key) -> String) -> ColumnData {
            var b = ByteArrays()
            for r in rows { b.append(f(r.key)) }
            return ColumnData(.byteArray(b))
        }
        func optionals<T>(_ values: [T?], _ make: ([T]) -> ColumnValues) -> ColumnData {
            ColumnData(make(values.compactMap { $0 }), validity: values.map { $0 != nil })
        }
        switch kind {
        case .bucket:
            return [ColumnData(.int64(rows.map(\.key.bucket))),
                    ColumnData(.int32([Int32](repeating: bucketSeconds, count: rows.count)))]
        case .name(let k):
            return [strings { names.name($0[keyPath: k]) }]
        case .code(let k):
            return [ColumnData(.int32(rows.map { $0.key[keyPath: k] }))]
        case .derived(let text):
            return [strings(text)]
        case .count(let c):
            return [int64s { $0.cell[keyPath: c] }]
        case .optionalCount(let c):
            return [optionals(rows.map { $0.row.cell[keyPath: c].map { Int64(clamping: $0) } }) { .int64($0) }]
        case let .histogram(c, quantiles):
            let h = rows.map { $0.row.cell[keyPath: c] }
            var counts: [Int64] = [], offsets = [0]
            for x in h {
                counts += x.counts.map { Int64(clamping: $0) }
                offsets.append(counts.count)
            }
            return [ColumnData(.int32(h.map { Int32($0.scale) })),
                    ColumnData(.int64(h.map { Int64(clamping: $0.zeroCount) })),
                    ColumnData(.int32(h.map { Int32($0.counts.isEmpty ? 0 : $0.offset) })),
                    ColumnData(.int64(counts), listOffsets: offsets),
                    ColumnData(.int64(h.map { Int64(clamping: $0.sum) })),
                    optionals(h.map { $0.min.map { Int64(clamping: $0) } }) { .int64($0) },
                    optionals(h.map { $0.max.map { Int64(clamping: $0) } }) { .int64($0) }]
                + quantiles.map { q in optionals(h.map { $0.quantile(q) }) { .double($0) } }
        case .completeness:
            return [int64s(\.completeness.observed), int64s(\.completeness.lost), int64s(\.completeness.shared),
                    ColumnData(.double(rows.map(\.row.completeness.ratio)))]
        case .bucketStart:
            return [ColumnData(.int64(rows.map(\.key.bucket)))]
        case .bucketSeconds:
            return [ColumnData(.int32([Int32](repeating: bucketSeconds, count: rows.count)))]
        case .value(let write, _):
            return [write(rows)]
        }
    }

    func read(_ c: PartialColumns, _ i: Int, _ keys: inout [Key], _ rows: inout [Row<Cell>],
              _ names: inout NamePool) throws(PipelineError) {
        switch kind {
        case .bucket:
            for (r, b) in try c.int64(i).enumerated() { keys[r].bucket = b }
        case .name(let k):
            for (r, s) in try c.strings(i).enumerated() { keys[r][keyPath: k] = names.id(s) }
        case .code(let k):
            for (r, v) in try c.int32(i).enumerated() { keys[r][keyPath: k] = v }
        case .derived:
            break
        case .count(let f):
            for (r, v) in try c.uint64(i).enumerated() { rows[r].cell[keyPath: f] = v }
        case .optionalCount(let f):
            for (r, v) in try c.optionalInt64(i).enumerated() { rows[r].cell[keyPath: f] = v }
        case .histogram(let f, _):
            for (r, h) in try c.histograms(from: i).enumerated() { rows[r].cell[keyPath: f] = h }
        case .completeness:
            for (r, v) in try c.completeness(from: i).enumerated() { rows[r].completeness = v }
        case .bucketStart:
            for (r, b) in try c.int64(i).enumerated() { keys[r].bucket = b }
        case .bucketSeconds:
            break
        case .value(_, let read):
            try read(c, i, &rows)
        }
    }
}

/// Each name id's position in the names' sorted order: comparing ranks orders rows exactly as
/// comparing the names would (names in a pool are distinct), without building strings.
public struct NameRanks: Sendable {
    let ranks: [Int64]

    public init(_ names: NamePool) {
        var r = [Int64](repeating: 0, count: names.names.count)
        for (pos, id) in names.names.indices.sorted(by: { names.names[$0] < names.names[$1] }).enumerated() {
            r[id] = Int64(pos)
        }
        ranks = r
    }

    subscript(_ id: Int32) -> Int64 { ranks[Int(id)] }
}

/// The rows of every table of a run, by table: partial rows carry their host's completeness;
/// merging adds rows key by key. Tables are reached by their declaration:
/// `rows[RedService.self]`, `rows.update(RedService.self) { … }`.
public struct TableRows: Sendable {
    private var tables: [String: any AnyTableRows] = [:]

    public init() {}

    /// The rows of table `T` (empty when none were added).
    public subscript<T: OutputTable>(_ table: T.Type) -> Accumulator<T.Key, Row<T.Cell>> {
        (tables[T.name] as? TableRowsOf<T>)?.rows ?? Accumulator()
    }

    /// Changes the rows of table `T` in place (no copy of the table).
    public mutating func update<T: OutputTable>(_ table: T.Type, _ body: (inout Accumulator<T.Key, Row<T.Cell>>) -> Void) {
        var box = tables.removeValue(forKey: T.name) as? TableRowsOf<T> ?? TableRowsOf<T>()
        body(&box.rows)
        tables[T.name] = box
    }

    /// The same rows with every name id `i` of their keys replaced by `map[i]` (a host's own
    /// name pool translated into the run's, `NamePool.translation(of:)`).
    public func renamed(_ map: [Int32]) -> TableRows {
        var out = TableRows()
        out.tables = tables.mapValues { $0.renamed(map) }
        return out
    }

    /// Adds another set of rows (the merge across hosts).
    public mutating func merge(_ other: TableRows) {
        for (name, theirs) in other.tables {
            if var mine = tables.removeValue(forKey: name) {
                mine.merge(theirs)
                tables[name] = mine
            } else {
                tables[name] = theirs
            }
        }
    }
}

/// One table's rows behind `TableRows`' type erasure.
protocol AnyTableRows: Sendable {
    mutating func merge(_ other: any AnyTableRows)
    func renamed(_ map: [Int32]) -> any AnyTableRows
}

struct TableRowsOf<T: OutputTable>: AnyTableRows {
    var rows = Accumulator<T.Key, Row<T.Cell>>()
    mutating func merge(_ other: any AnyTableRows) {
        if let o = other as? Self { rows.merge(o.rows) }
    }
    func renamed(_ map: [Int32]) -> any AnyTableRows {
        let rename = T.keyRenaming(map)
        var out = Self()
        for (k, r) in rows.cells { out.rows.merge(rename(k), r) }
        return out
    }
}
