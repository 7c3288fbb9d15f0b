import Aggregates
import Enrichment
import Foundation
import Parquet

/// Per-host partial tables read back from Parquet, for `redline run --merge-only`: the
/// fleet path, where hosts (or one job per host) wrote their partials with
/// `--partials-only` and the merge runs elsewhere. Reading a partial gives back exactly
/// the rows the host's run held in memory (names, cells, histograms, completeness), so
/// merging them writes the same merged files a single-machine run writes.
enum PartialTables {
    /// The partial files of one partition under `tableRoot`, by host, and what the
    /// partials-only runs' manifests say about those hosts.
    struct Found {
        /// host → table → path
        var files: [String: [String: String]] = [:]
        var inputs: [InputSegment] = []
        var counters: [String: HostCounters] = [:]
        var warnings: [String] = []
        var watermark: Int64?
    }

    /// Lists `partials/<table>/<partition>/host=H/part-00000.parquet` for every table of
    /// `tables` and every host matching `hostGlobs`. A host must have every table (a
    /// partials-only run writes all of them, empty or not): a missing one is an error,
    /// never a silently smaller merge.
    static func discover(tableRoot: String, pipeline: String, tables: [String], hostGlobs: [String],
                         partition: Partition) throws(PipelineError) -> Found {
        var found = Found()
        let fm = FileManager.default
        var hostsPerTable: [String: Set<String>] = [:]
        for t in tables {
            let dir = "\(tableRoot)/partials/\(t)/\(partition.path)"
            let names = (try? fm.contentsOfDirectory(atPath: dir)) ?? []
            for d in names.sorted() where d.hasPrefix("host=") {
                let host = String(d.dropFirst(5))
                guard hostGlobs.contains(where: { Glob.matches($0, host) }) else { continue }
                let file = "\(dir)/\(d)/part-00000.parquet"
                guard fm.fileExists(atPath: file) else { continue }
                found.files[host, default: [:]][t] = file
                hostsPerTable[t, default: []].insert(host)
            }
        }
        let hosts = Set(found.files.keys)
        for t in tables {
            let missing = hosts.subtracting(hostsPerTable[t] ?? []).sorted()
            if !missing.isEmpty {
                throw .missingInput("partials of \(t) for \(partition.path) missing for host \(missing.joined(separator: ", ")) under \(tableRoot)/partials")
            }
        }
        for host in hosts.sorted() {
            found.inputs += try SegmentInputs.fingerprint(root: tableRoot, host: host,
                                                          files: tables.compactMap { found.files[host]?[$0] })
        }
        // Counters and warnings the partials-only runs recorded, when their manifests came along.
        let manifests = "\(tableRoot)/_manifests/\(pipeline)/partials/\(partition.path)"
        for name in ((try? fm.contentsOfDirectory(atPath: manifests)) ?? []).sorted() where name.hasSuffix(".json") {
            guard let m = Manifest.load("\(manifests)/\(name)") else {
                found.warnings.append("partials manifest \(manifests)/\(name) is unreadable; its hosts' counters are missing")
                continue
            }
            for (host, c) in m.hosts where hosts.contains(host) { found.counters[host] = c }
            found.warnings += m.warnings.filter { w in hosts.contains { w.hasPrefix("host \($0):") } }
            if let w = m.watermarkUTCNanos { found.watermark = max(found.watermark ?? w, w) }
        }
        return found
    }

    /// Reads one host's partial files into rows, interning names into `names`.
    static func read(_ files: [String: String], tableRoot: String, bucketSeconds: Int,
                     names: inout NamePool) throws(PipelineError) -> TableRows {
        var rows = TableRows()
        for (table, path) in files.sorted(by: { $0.key < $1.key }) {
            guard let t = PipelineTables.hourly.first(where: { $0.name == table }) else {
                throw .config("unknown table \(table)")
            }
            try read(t, path: path, tableRoot: tableRoot, bucketSeconds: bucketSeconds, into: &rows, names: &names)
        }
        return rows
    }

    private static func read<T: OutputTable>(_ table: T.Type, path: String, tableRoot: String, bucketSeconds: Int,
                                             into rows: inout TableRows, names: inout NamePool) throws(PipelineError) {
        let rel = path.hasPrefix(tableRoot + "/") ? String(path.dropFirst(tableRoot.count + 1)) : path
        let cols = try PartialColumns(reading: path, as: T.schema, relative: rel)
        let seconds = T.schema.columns.firstIndex { $0.name == "bucket_seconds" } ?? 1
        if let bad = try cols.int32(seconds).first(where: { Int($0) != bucketSeconds }) {
            throw .missingInput("\(rel): bucket_seconds \(bad), but the pipeline aggregates \(bucketSeconds) s buckets")
        }
        var read = Accumulator<T.Key, Row<T.Cell>>()
        try T.merge(partial: cols, into: &read, names: &names)
        rows.update(T.self) { acc in T.merge(&acc, read, renaming: nil) }
    }
}

/// Typed access to the columns of one table file; a column of the wrong shape is an input error
/// naming the file.
public struct PartialColumns {
    let columns: [ColumnData]
    let file: String

    /// Reads the file at `path` (named `relative` in errors), which must have `schema`.
    init(reading path: String, as schema: TableSchema, relative: String) throws(PipelineError) {
        do {
            let r = try ParquetFileReader(path: path)
            guard r.schema == schema.parquetSchema else {
                throw Self.wrongSchema(relative, schema)
            }
            columns = try r.readAll()
        } catch let e as PipelineError {
            throw e
        } catch {
            throw .missingInput("\(relative): \(error)")
        }
        file = relative
    }

    /// The error for a file of another schema (another table or version).
    static func wrongSchema(_ relative: String, _ schema: TableSchema) -> PipelineError {
        .missingInput("\(relative) does not have the \(schema.name) v\(schema.version) schema")
    }

    var rowCount: Int { columns.first?.rowCount ?? 0 }

    func bad(_ i: Int) -> PipelineError { .missingInput("\(file): column \(i) is not what the schema says") }

    func int64(_ i: Int) throws(PipelineError) -> [Int64] {
        guard case .int64(let v) = columns[i].values, columns[i].validity == nil, v.count == rowCount else { throw bad(i) }
        return v
    }

    /// A count column: int64 on disk, never negative.
    func uint64(_ i: Int) throws(PipelineError) -> [UInt64] {
        let v = try int64(i)
        if let r = v.firstIndex(where: { $0 < 0 }) {
            throw .missingInput("\(file): row \(r): column \(i) holds \(v[r]), a count cannot be negative")
        }
        return v.map { UInt64($0) }
    }

    func int32(_ i: Int) throws(PipelineError) -> [Int32] {
        guard case .int32(let v) = columns[i].values, columns[i].validity == nil, v.count == rowCount else { throw bad(i) }
        return v
    }

    func doubles(_ i: Int) throws(PipelineError) -> [Double] {
        guard case .double(let v) = columns[i].values, columns[i].validity == nil, v.count == rowCount else { throw bad(i) }
        return v
    }

    func strings(_ i: Int) throws(PipelineError) -> [String] {
        guard case .byteArray(let b) = columns[i].values, b.count == rowCount else { throw bad(i) }
        return b.strings
    }

    /// An optional int64 column, one entry per row (values are stored only for non-null rows).
    func optionalInt64(_ i: Int) throws(PipelineError) -> [UInt64?] {
        guard case .int64(let v) = columns[i].values else { throw bad(i) }
        guard let valid = columns[i].validity else {
            guard v.count == rowCount else { throw bad(i) }
            return v.map { UInt64(clamping: $0) }
        }
        guard valid.count == rowCount, valid.filter({ $0 }).count == v.count else { throw bad(i) }
        var next = 0
        return valid.map { ok in
            guard ok else { return nil }
            defer { next += 1 }
            return UInt64(clamping: v[next])
        }
    }

    func completeness(from i: Int) throws(PipelineError) -> [Completeness] {
        let (observed, lost, shared) = (try uint64(i), try uint64(i + 1), try uint64(i + 2))
        return (0..<rowCount).map { Completeness(observed: observed[$0], lost: lost[$0], shared: shared[$0]) }
    }

    /// The histogram columns starting at `i` (scale, zero count, offset, counts, sum, min, max;
    /// the quantiles after them are recomputed from the merged histogram, never read).
    func histograms(from i: Int) throws(PipelineError) -> [ExponentialHistogram] {
        let (scale, zero, offset) = (try int32(i), try uint64(i + 1), try int32(i + 2))
        guard case .int64(let counts) = columns[i + 3].values, let offsets = columns[i + 3].listOffsets,
              offsets.count == rowCount + 1, offsets.last == counts.count, !counts.contains(where: { $0 < 0 })
        else { throw bad(i + 3) }
        let sum = try uint64(i + 4)
        let (minNs, maxNs) = (try optionalInt64(i + 5), try optionalInt64(i + 6))
        var out: [ExponentialHistogram] = []
        out.reserveCapacity(rowCount)
        for r in 0..<rowCount {
            do {
                out.append(try ExponentialHistogram(scale: Int(scale[r]), zeroCount: zero[r], offset: Int(offset[r]),
                                                    counts: counts[offsets[r]..<offsets[r + 1]].map { UInt64($0) },
                                                    sum: sum[r], min: minNs[r], max: maxNs[r]))
            } catch {
                throw .missingInput("\(file): row \(r): latency histogram: \(error)")
            }
        }
        return out
    }
}
