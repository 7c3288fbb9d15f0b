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
    /// The columns of a file holding `rows`, in schema order, a range of the file's rows at a
    /// time (`ranges(rowCount)`, consecutive from 0): each range's columns are built on one of
    /// up to `threads` threads and handed to `write` in order, with at most `threads` ranges
    /// built and not yet written. Implemented once, in the extension below; a requirement so
    /// that a run's call through `any OutputTable.Type` reaches code compiled for the table's
    /// own key and cell types, not the unspecialised generic form.
    static func columns(_ rows: Accumulator<Key, Row<Cell>>, names: NamePool, ranks: NameRanks, bucketSeconds: Int,
                        threads: Int, ranges: (_ rowCount: Int) -> [Range<Int>],
                        write: ([ColumnData]) throws(PipelineError) -> Void) throws(PipelineError)
    /// Adds `other`'s rows to `rows`, key by key (`Cell.merge`); with `map`, each name id `i`
    /// of `other`'s keys is read as `map[i]` (`NamePool.translation(of:)`). Implemented once, in
    /// the extension below; a requirement for the same reason as `columns`: the merge hashes
    /// every key, which through the unspecialised generic form costs more than the merge.
    static func merge(_ rows: inout Accumulator<Key, Row<Cell>>, _ other: Accumulator<Key, Row<Cell>>,
                      renaming map: [Int32]?)
    /// Adds the rows of a partial file of this table (`rows(from:names:)`) to `rows`, names
    /// interned into `names`. Implemented once, in the extension below; a requirement for the
    /// same reason as `merge`.
    static func merge(partial columns: PartialColumns, into rows: inout Accumulator<Key, Row<Cell>>,
                      names: inout NamePool) throws(PipelineError)
}

extension OutputTable {
    /// The table's schema: Parquet columns and the `schemas/tables/<name>.json` form.
    public static var schema: TableSchema {
        TableSchema(name: name, version: version, doc: doc, columns: fields.flatMap(\.columns))
    }

    /// The columns of a file holding `rows`, in schema order, built on this thread.
    public static func columns(_ rows: Accumulator<Key, Row<Cell>>, names: NamePool, ranks: NameRanks,
                               bucketSeconds: Int) -> [ColumnData] {
        var all: [ColumnData] = []
        do {
            try columns(rows, names: names, ranks: ranks, bucketSeconds: bucketSeconds, threads: 1,
                        ranges: { [0..<$0] }, write: { all = $0 })
        } catch {
            preconditionFailure("collecting columns throws nothing: \(error)")
        }
        return all
    }

    public static func columns(_ rows: Accumulator<Key, Row<Cell>>, names: NamePool, ranks: NameRanks, bucketSeconds: Int,
                               threads: Int, ranges: (_ rowCount: Int) -> [Range<Int>],
                               write: ([ColumnData]) throws(PipelineError) -> Void) throws(PipelineError) {
        let fields = fields
        let file = FileRows(rows, order: fields.compactMap(\.order), ranks: ranks)
        let parts = ranges(file.count)
        func build(_ part: Int) -> [ColumnData] {
            let rows = parts.count == 1 ? file : file.rows(parts[part])
            var out: [ColumnData] = []
            out.reserveCapacity(fields.reduce(0) { $0 + $1.columns.count })
            for f in fields { out += f.write(rows, names, Int32(bucketSeconds)) }
            return out
        }
        guard threads > 1 && parts.count > 1 else {
            for i in parts.indices { try write(build(i)) }
            return
        }
        try HostJobs<[ColumnData]>(count: parts.count, jobs: threads).run { i throws(PipelineError) in
            build(i)
        } fold: { _, columns throws(PipelineError) in
            try write(columns)
        }
    }

    public static func merge(_ rows: inout Accumulator<Key, Row<Cell>>, _ other: Accumulator<Key, Row<Cell>>,
                             renaming map: [Int32]?) {
        // A map that keeps every id (the first host folded into the run's still empty pool)
        // renames nothing; into no rows, the other rows are the result as they are.
        let rename = map.flatMap { m in m.indices.allSatisfy { m[$0] == Int32($0) } ? nil : keyRenaming(m) }
        guard let rename else {
            guard rows.groupCount > 0 else { rows = other; return }
            for (k, r) in other.cells { rows.merge(k, r) }
            return
        }
        for (k, r) in other.cells { rows.merge(rename(k), r) }
    }

    public static func merge(partial columns: PartialColumns, into rows: inout Accumulator<Key, Row<Cell>>,
                             names: inout NamePool) throws(PipelineError) {
        for r in try self.rows(from: columns, names: &names) { rows.merge(r.key, r.row) }
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
        case value(write: (FileRows<Key, Cell>) -> ColumnData,
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
             .value(write: { file in ColumnData(.double(file.cells(cell))) },
                    read: { c, i, rows throws(PipelineError) in
                        for (r, v) in try c.doubles(i).enumerated() { rows[r].cell[keyPath: cell] = v }
                    }))
    }

    /// A string of the cell, written as is (not interned), not merged.
    public static func text(_ column: String, _ cell: WritableKeyPath<Cell, String>, doc: String) -> Self {
        Self([TableColumn(column, .string, doc: doc)],
             .value(write: { file in ColumnData(.byteArray(ByteArrays(strings: file.cells(cell)))) },
                    read: { c, i, rows throws(PipelineError) in
                        for (r, v) in try c.strings(i).enumerated() { rows[r].cell[keyPath: cell] = v }
                    }))
    }

    /// An int64 of the cell (`type` .int64 or .timestampNanos), not merged.
    public static func int64(_ column: String, _ cell: WritableKeyPath<Cell, Int64>, type: ValueType = .int64,
                             unit: String? = nil, doc: String) -> Self {
        precondition(type == .int64 || type == .timestampNanos, "an int64 field is int64 or timestamp_ns")
        return Self([TableColumn(column, type, unit: unit, doc: doc)],
                    .value(write: { file in ColumnData(.int64(file.cells(cell))) },
                           read: { c, i, rows throws(PipelineError) in
                               for (r, v) in try c.int64(i).enumerated() { rows[r].cell[keyPath: cell] = v }
                           }))
    }

    /// An int32 of the cell, not merged.
    public static func int32(_ column: String, _ cell: WritableKeyPath<Cell, Int32>, unit: String? = nil,
                             doc: String) -> Self {
        Self([TableColumn(column, .int32, unit: unit, doc: doc)],
             .value(write: { file in ColumnData(.int32(file.cells(cell))) },
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

    /// The field's place in the row order, after the bucket, for each of `keys`; nil when it
    /// adds nothing to it.
    var order: ((_ keys: [Key], _ ranks: NameRanks) -> [Int64])? {
        switch kind {
        case .name(let k): { keys, ranks in gather(k, of: keys).map { ranks[$0] } }
        case .code(let k): { keys, _ in gather(k, of: keys).map(Self.textOrder) }
        default: nil
        }
    }

    /// An integer ordered as its `%011d` text was (the order of drop reasons in written files):
    /// negatives ("-…") first, by magnitude, then the others ascending.
    static func textOrder(_ x: Int32) -> Int64 { x < 0 ? Int64(x.magnitude) - (1 << 40) : Int64(x) }

    /// The field's columns for the rows of one file.
    func write(_ file: FileRows<Key, Cell>, _ names: NamePool, _ bucketSeconds: Int32) -> [ColumnData] {
        func strings(_ ids: [Int32]) -> ColumnData {
            var b = ByteArrays()
            b.offsets.reserveCapacity(ids.count + 1)
            for id in ids { b.append(names.name(id)) }
            return ColumnData(.byteArray(b))
        }
        func optionals<T>(_ values: [T?], _ make: ([T]) -> ColumnValues) -> ColumnData {
            ColumnData(make(values.compactMap { $0 }), validity: values.map { $0 != nil })
        }
        func counts(_ values: [UInt64]) -> ColumnData { ColumnData(.int64(values.map { Int64(clamping: $0) })) }
        let seconds = { ColumnData(.int32([Int32](repeating: bucketSeconds, count: file.count))) }
        switch kind {
        case .bucket:
            return [ColumnData(.int64(file.keys.map(\.bucket))), seconds()]
        case .name(let k):
            return [strings(gather(k, of: file.keys))]
        case .code(let k):
            return [ColumnData(.int32(gather(k, of: file.keys)))]
        case .derived(let text):
            var b = ByteArrays()
            for k in file.keys { b.append(text(k)) }
            return [ColumnData(.byteArray(b))]
        case .count(let c):
            return [counts(file.cells(c))]
        case .optionalCount(let c):
            return [optionals(file.cells(c).map { $0.map { Int64(clamping: $0) } }) { .int64($0) }]
        case let .histogram(c, quantiles):
            return file.withCells(c) { Self.histogramColumns($0, quantiles: quantiles) }
        case .completeness:
            let c = file.rows(\.completeness)
            return [counts(c.map(\.observed)), counts(c.map(\.lost)), counts(c.map(\.shared)),
                    ColumnData(.double(c.map(\.ratio)))]
        case .bucketStart:
            return [ColumnData(.int64(file.keys.map(\.bucket)))]
        case .bucketSeconds:
            return [seconds()]
        case .value(let write, _):
            return [write(file)]
        }
    }

    /// The columns of a histogram field (`histogram(_:quantiles:columns:)`), all in one pass
    /// over the rows: each histogram is taken once (a property or method of a histogram of
    /// another module reached through a pointer copies the whole histogram first), the dense
    /// counts of all rows go into one list column.
    static func histogramColumns(_ h: [UnsafePointer<ExponentialHistogram>], quantiles: [Double]) -> [ColumnData] {
        var scales: [Int32] = [], zeros: [Int64] = [], offsets: [Int32] = [], sums: [Int64] = []
        var counts: [Int64] = [], listOffsets: [Int] = [0]
        var mins: [Int64] = [], maxs: [Int64] = [], hasMin: [Bool] = [], hasMax: [Bool] = []
        var quantileValues = [[Double]](repeating: [], count: quantiles.count)
        var quantileValid = [[Bool]](repeating: [], count: quantiles.count)
        // The dense counts are most of a table's bytes: sized once, not grown by doubling.
        counts.reserveCapacity(h.reduce(0) { $0 + $1.pointee.bucketCount })
        scales.reserveCapacity(h.count)
        zeros.reserveCapacity(h.count)
        offsets.reserveCapacity(h.count)
        sums.reserveCapacity(h.count)
        listOffsets.reserveCapacity(h.count + 1)
        hasMin.reserveCapacity(h.count)
        hasMax.reserveCapacity(h.count)
        for p in h {
            let x = p.pointee
            scales.append(Int32(x.scale))
            zeros.append(Int64(clamping: x.zeroCount))
            let buckets = x.bucketCount
            offsets.append(Int32(buckets == 0 ? 0 : x.offset))
            sums.append(Int64(clamping: x.sum))
            // Read in place: `counts` assembles a new array from the histogram's 32-bit words.
            for k in 0..<buckets { counts.append(Int64(clamping: x.count(atPosition: k))) }
            listOffsets.append(counts.count)
            if let lo = x.min { mins.append(Int64(clamping: lo)) }
            if let hi = x.max { maxs.append(Int64(clamping: hi)) }
            hasMin.append(x.min != nil)
            hasMax.append(x.max != nil)
            for (j, q) in quantiles.enumerated() {
                let v = x.quantile(q)
                if let v { quantileValues[j].append(v) }
                quantileValid[j].append(v != nil)
            }
        }
        return [ColumnData(.int32(scales)), ColumnData(.int64(zeros)), ColumnData(.int32(offsets)),
                ColumnData(.int64(counts), listOffsets: listOffsets), ColumnData(.int64(sums)),
                ColumnData(.int64(mins), validity: hasMin), ColumnData(.int64(maxs), validity: hasMax)]
            + quantiles.indices.map { ColumnData(.double(quantileValues[$0]), validity: quantileValid[$0]) }
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

/// The rows of one file in file order (`OutputTable`: bucket, then every key field in column
/// order), read column by column: the keys sorted, the rows copied once out of the accumulator
/// into one block and left there, `positions` giving the file's order of them. Each column then
/// reads its property of every row from that block; no row is copied again.
struct FileRows<Key: TableKey, Cell: Mergeable & Equatable> {
    /// The keys, in file order.
    let keys: [Key]
    /// The rows, in the accumulator's order.
    private let stored: [Row<Cell>]
    /// `stored[positions[i]]` is the file's row i.
    private let positions: [Int]

    var count: Int { keys.count }

    private init(keys: [Key], stored: [Row<Cell>], positions: [Int]) {
        self.keys = keys
        self.stored = stored
        self.positions = positions
    }

    /// The file's rows `range` (the rows themselves shared, not copied).
    func rows(_ range: Range<Int>) -> Self {
        Self(keys: Array(keys[range]), stored: stored, positions: Array(positions[range]))
    }

    /// `order`: the order fields' values for given keys (`OutputField.order`), after the bucket.
    init(_ rows: Accumulator<Key, Row<Cell>>, order: [(_ keys: [Key], _ ranks: NameRanks) -> [Int64]],
         ranks: NameRanks) {
        // Keys and values of one dictionary come in the same order; copied in bulk, not pair by pair.
        let cells = rows.cells
        let keys = Array(cells.keys), stored = Array(cells.values)
        // Each row's sort words side by side, so that a comparison reads adjacent memory.
        let width = order.count + 1
        var words = [Int64](repeating: 0, count: keys.count * width)
        for (i, k) in keys.enumerated() { words[i * width] = k.bucket }
        for (j, f) in order.enumerated() {
            for (i, v) in f(keys, ranks).enumerated() { words[i * width + j + 1] = v }
        }
        let positions = Self.packedOrder(words, width: width, count: keys.count) ?? words.withUnsafeBufferPointer { w in
            keys.indices.sorted { a, b in
                for j in 0..<width where w[a * width + j] != w[b * width + j] { return w[a * width + j] < w[b * width + j] }
                return false
            }
        }
        self.keys = positions.map { keys[$0] }
        self.stored = stored
        self.positions = positions
    }

    /// The order of `count` rows by their sort words (`width` a row, compared word by word,
    /// ties by row index: what a stable sort on the words gives), computed on one integer per
    /// row; nil when the words do not fit one. Each word column becomes its offset from the
    /// column's minimum divided by the offsets' greatest common divisor (bucket starts are
    /// multiples of the bucket width, ranks are dense), in the fewest bits that hold it, the
    /// columns packed most significant first, so comparing the integers compares the words.
    /// With the row index in the low bits, sorting plain integers is the whole sort.
    static func packedOrder(_ words: [Int64], width: Int, count: Int) -> [Int]? {
        guard count > 1 else { return Array(0..<count) }
        var lo = [Int64](repeating: .max, count: width)
        for i in 0..<count { for j in 0..<width { lo[j] = min(lo[j], words[i * width + j]) } }
        var divisor = [UInt64](repeating: 0, count: width), top = [UInt64](repeating: 0, count: width)
        for i in 0..<count {
            for j in 0..<width {
                let d = UInt64(bitPattern: words[i * width + j] &- lo[j])
                top[j] = max(top[j], d)
                if divisor[j] != 1 { divisor[j] = gcd(divisor[j], d) }
            }
        }
        let bits = (0..<width).map { j in divisor[j] == 0 ? 0 : 64 - (top[j] / divisor[j]).leadingZeroBitCount }
        let indexBits = 64 - UInt64(count - 1).leadingZeroBitCount
        let keyBits = bits.reduce(0, +)
        guard keyBits <= 64 else { return nil }
        var packed = [UInt64](repeating: 0, count: count)
        for i in 0..<count {
            var k: UInt64 = 0
            for j in 0..<width where bits[j] > 0 {
                k = k << UInt64(bits[j]) | UInt64(bitPattern: words[i * width + j] &- lo[j]) / divisor[j]
            }
            packed[i] = k
        }
        guard keyBits + indexBits <= 64 else {
            return (0..<count).sorted { packed[$0] < packed[$1] || (packed[$0] == packed[$1] && $0 < $1) }
        }
        for i in 0..<count { packed[i] = packed[i] << UInt64(indexBits) | UInt64(i) }
        packed.sort()
        let mask = UInt64(1) << UInt64(indexBits) - 1
        return packed.map { Int($0 & mask) }
    }

    /// Property `path` of every row's cell, in file order.
    func cells<Value>(_ path: KeyPath<Cell, Value>) -> [Value] { rows((\Row<Cell>.cell).appending(path: path)) }

    /// `body` with a pointer to property `path` of every row's cell, in file order: the values
    /// read where they are (a histogram's counts are neither copied nor retained per row).
    func withCells<Value, Result>(_ path: KeyPath<Cell, Value>,
                                  _ body: (_ values: [UnsafePointer<Value>]) -> Result) -> Result {
        guard let offset = MemoryLayout<Row<Cell>>.offset(of: (\Row<Cell>.cell).appending(path: path)) else {
            let copies = cells(path)
            return copies.withUnsafeBufferPointer { b in body(b.indices.map { b.baseAddress! + $0 }) }
        }
        let stride = MemoryLayout<Row<Cell>>.stride
        return stored.withUnsafeBytes { raw in
            body(positions.map { (raw.baseAddress! + $0 * stride + offset).assumingMemoryBound(to: Value.self) })
        }
    }

    /// Property `path` of every row, in file order.
    func rows<Value>(_ path: KeyPath<Row<Cell>, Value>) -> [Value] { gather(path, of: stored, at: positions) }
}

/// `elements[i][keyPath: path]` for every `i` of `indices` (of every element when nil). A stored
/// property is read at its byte offset: projecting a key path per element costs more than all
/// the rest of building a column.
@inline(__always)
func gather<Root, Value>(_ path: KeyPath<Root, Value>, of elements: [Root], at indices: [Int]? = nil) -> [Value] {
    guard let offset = MemoryLayout<Root>.offset(of: path) else {
        return indices.map { $0.map { elements[$0][keyPath: path] } } ?? elements.map { $0[keyPath: path] }
    }
    let stride = MemoryLayout<Root>.stride
    return elements.withUnsafeBytes { raw in
        guard let indices else { return (0..<elements.count).map { raw.load(fromByteOffset: $0 * stride + offset, as: Value.self) } }
        return indices.map { raw.load(fromByteOffset: $0 * stride + offset, as: Value.self) }
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

    /// Adds a host's rows whose name ids are of the host's own pool, each id `i` read as
    /// `map[i]` (the run's id of the same name, `NamePool.translation(of:)`): the fold of a host
    /// into the merge, in one pass, without a renamed copy of its rows.
    public mutating func merge(_ other: TableRows, renaming map: [Int32]) {
        for (name, theirs) in other.tables {
            var mine = tables.removeValue(forKey: name) ?? theirs.empty
            mine.merge(theirs, renaming: map)
            tables[name] = mine
        }
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
    /// No rows, of the same table.
    var empty: any AnyTableRows { get }
    mutating func merge(_ other: any AnyTableRows)
    mutating func merge(_ other: any AnyTableRows, renaming map: [Int32])
}

struct TableRowsOf<T: OutputTable>: AnyTableRows {
    var rows = Accumulator<T.Key, Row<T.Cell>>()
    var empty: any AnyTableRows { Self() }
    mutating func merge(_ other: any AnyTableRows) {
        if let o = other as? Self { T.merge(&rows, o.rows, renaming: nil) }
    }
    mutating func merge(_ other: any AnyTableRows, renaming map: [Int32]) {
        if let o = other as? Self { T.merge(&rows, o.rows, renaming: map) }
    }
}

/// The greatest common divisor (gcd(0, b) = b).
func gcd(_ a: UInt64, _ b: UInt64) -> UInt64 {
    var (a, b) = (a, b)
    while b != 0 { (a, b) = (b, a % b) }
    return a
}
