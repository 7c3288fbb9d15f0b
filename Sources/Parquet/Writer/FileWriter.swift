#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import RedlineBase
import Synchronization

/// Knobs of the writer. Defaults follow pyarrow's so files are comparable in size and shape.
public struct ParquetWriterOptions: Sendable {
    public var compression: Compression = .zstd
    /// zstd level; 1 is pyarrow's default.
    public var zstdLevel: Int32 = 1
    /// Dictionary-encode columns (all but BOOLEAN) until the dictionary exceeds `dictionaryPageLimit`.
    public var dictionary = true
    /// Dictionary size (PLAIN bytes) beyond which a chunk falls back to PLAIN. 1 MiB like pyarrow.
    public var dictionaryPageLimit = 1 << 20
    /// Fall back to PLAIN early when ≥ 75 % of a chunk's first 16 Ki values are distinct
    /// (Redline's rule; off = pyarrow's rule, dictionary size only).
    public var fallBackFromMostlyDistinctDictionaries = true
    /// Target encoded size of a data page's values, bytes.
    public var dataPageSize = 1 << 20
    /// A page is cut after this many levels even if small (all-null and tiny-value columns).
    public var maxLevelsPerPage = 1 << 20
    /// A row group is closed after this many rows (pyarrow: 1 Mi rows) …
    public var rowGroupRows = 1 << 20
    /// … or once its buffered, encoded size reaches this many bytes.
    public var rowGroupBytes = 128 << 20
    /// Mode of the file, set explicitly (`fchmod`), not left to the umask.
    public var fileMode: mode_t = 0o640
    /// Threads that encode and compress the columns of a batch (and of a row group's last
    /// pages) at once, each column on one thread at a time with that thread's zstd context:
    /// for a file whose writing is what a run waits for. The file's bytes do not depend on it.
    public var threads = 1

    public init() {}
}

/// Writes one Parquet file: file writer → row-group writer → column writers → encoders →
/// pages → footer (schemas/parquet.md). Data goes to `<path>.tmp-<pid>` in the same
/// directory; `close()` writes the footer, fsyncs, renames onto `path` and fsyncs the
/// directory, so `path` is either absent or a whole file. A writer that is dropped
/// without `close()` (or fails) removes its temp file.
///
/// Not thread-safe: one writer belongs to one task at a time.
public final class ParquetFileWriter {
    public static let writerVersion = RedlineVersion.current
    /// parquet-mr parses `created_by` as "<app> version <v> (build <b>)" and warns otherwise.
    public static let createdBy = "redline version \(writerVersion) (build parquet-v1)"

    public let path: String
    public let schema: ParquetSchema
    private let options: ParquetWriterOptions
    private let keyValues: [(String, String?)]
    private let tempPath: String
    private var fd: Int32 = -1
    private var offset: Int64 = 0
    /// One per thread encoding columns (`ParquetWriterOptions.threads`).
    private let compressors: [PageCompressor]
    private var columns: [ColumnChunkWriter] = []
    private var rowsInGroup = 0
    private var rowGroups: [RowGroupMeta] = []
    private var totalRows: Int64 = 0
    private var failed = false
    private var closed = false

    /// Rows handed to the column writers per step: bounds how far a page can overshoot its size.
    private static let sliceRows = 4096

    /// Opens the temp file. `metadata` becomes the footer's key-value metadata, after
    /// `redline.writer_version`.
    public init(path: String, schema: ParquetSchema, options: ParquetWriterOptions = ParquetWriterOptions(),
                metadata: [(String, String)] = []) throws(ParquetError) {
        try schema.validate()
        self.path = path
        self.schema = schema
        self.options = options
        keyValues = [("redline.writer_version", Self.writerVersion)] + metadata.map { ($0.0, $0.1) }
        tempPath = "\(path).tmp-\(getpid())"
        var compressors: [PageCompressor] = []
        for _ in 0..<max(1, min(options.threads, schema.fields.count)) {
            compressors.append(try PageCompressor(codec: options.compression, level: options.zstdLevel))
        }
        self.compressors = compressors
        do throws(FileError) {
            fd = try POSIXFile.open(tempPath, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: options.fileMode)
        } catch {
            throw ParquetError(error)
        }
        do throws(ParquetError) {
            try writeAll([0x50, 0x41, 0x52, 0x31])  // "PAR1"
        } catch {
            abandon()
            throw error
        }
        columns = schema.fields.map { ColumnChunkWriter(field: $0, options: options) }
    }

    deinit { if !closed { abandon() } }


    /// Appends a batch of rows: one `ColumnData` per schema field, in order, all with the
    /// same row count. Row groups are cut by `rowGroupRows` / `rowGroupBytes` as needed.
    public func write(_ batch: [ColumnData]) throws(ParquetError) {
        guard !closed, !failed else { throw .writerClosed }
        guard batch.count == schema.fields.count else {
            throw .schemaMismatch("\(batch.count) columns for a \(schema.fields.count)-column schema")
        }
        let rows = batch.first?.rowCount ?? 0
        for (data, field) in zip(batch, schema.fields) {
            try data.validate(against: field)
            guard data.rowCount == rows else {
                throw .schemaMismatch("column \(field.name) has \(data.rowCount) rows, expected \(rows)")
            }
        }
        // Each column's cursor is touched by the thread appending to that column only.
        let cursors = UnsafeMutableBufferPointer<Int>.allocate(capacity: batch.count)
        cursors.initialize(repeating: 0)
        defer { cursors.deallocate() }
        do throws(ParquetError) {
            var row = 0
            while row < rows {
                let n = min(Self.sliceRows, rows - row, options.rowGroupRows - rowsInGroup)
                try eachColumn { c, compressor throws(ParquetError) in
                    try columns[c].append(batch[c], rows: row..<(row + n), valueCursor: &cursors[c], compressor: compressor)
                }
                row += n
                rowsInGroup += n
                if rowsInGroup >= options.rowGroupRows || estimatedRowGroupBytes >= options.rowGroupBytes {
                    try flushRowGroup()
                }
            }
        } catch {
            failed = true
            throw error
        }
    }

    /// Row ranges, about `preferredRows` each, to hand to `write` one after the other for the
    /// next `rows` rows, so that a caller builds and holds one range's columns at a time: the
    /// file is byte-identical to one `write` of all the rows. That holds when every range but
    /// the last is a whole number of the slices `write` cuts, starting on a slice boundary, and
    /// the rows do not reach the end of the row group (where a slice is cut short); otherwise
    /// the answer is one range.
    public func batchRanges(rows: Int, preferredRows: Int) -> [Range<Int>] {
        let step = preferredRows / Self.sliceRows * Self.sliceRows
        guard step > 0, rows > step, rowsInGroup % Self.sliceRows == 0, rowsInGroup + rows <= options.rowGroupRows
        else { return [0..<rows] }
        return stride(from: 0, to: rows, by: step).map { $0..<min(rows, $0 + step) }
    }

    /// Convenience for one-column-per-array callers.
    public func write(_ batch: ColumnData...) throws(ParquetError) { try write(batch) }

    /// `body(c, compressor)` for every column `c`: in column order on this thread, or, with
    /// several compressors, on as many threads, each taking the next column not yet taken and
    /// using its own compressor. Every column runs; the first error in column order is thrown.
    private func eachColumn(_ body: (Int, PageCompressor) throws(ParquetError) -> Void) throws(ParquetError) {
        guard compressors.count > 1 else {
            for c in columns.indices { try body(c, compressors[0]) }
            return
        }
        let count = columns.count, compressors = compressors
        let errors = UnsafeMutableBufferPointer<ParquetError?>.allocate(capacity: count)
        errors.initialize(repeating: nil)
        defer {
            _ = errors.deinitialize()
            errors.deallocate()
        }
        let next = Atomic<Int>(0)
        withoutActuallyEscaping(body) { body in
            let shared = UnsafeShared((body: body, compressors: compressors, errors: errors))
            DispatchQueue.concurrentPerform(iterations: compressors.count) { w in
                let (body, compressors, errors) = shared.value
                while true {
                    let c = next.add(1, ordering: .relaxed).oldValue
                    guard c < count else { return }
                    do throws(ParquetError) { try body(c, compressors[w]) } catch { errors[c] = error }
                }
            }
        }
        if let e = errors.lazy.compactMap({ $0 }).first { throw e }
    }

    /// A value shared by `eachColumn`'s threads, each using it for its own columns only.
    private struct UnsafeShared<T>: @unchecked Sendable {
        let value: T
        init(_ value: T) { self.value = value }
    }

    private var estimatedRowGroupBytes: Int { columns.reduce(0) { $0 + $1.estimatedBytes } }

    /// Closes the current row group (if it has rows): chunks go to the file column by column.
    public func flushRowGroup() throws(ParquetError) {
        guard rowsInGroup > 0 else { return }
        let groupStart = offset
        var chunks: [ColumnChunkMeta] = []
        var uncompressed: Int64 = 0, compressed: Int64 = 0
        // The chunks' last pages are encoded on the encoding threads, then written in column order.
        let finished = UnsafeMutableBufferPointer<ColumnChunkWriter.Finished?>.allocate(capacity: columns.count)
        finished.initialize(repeating: nil)
        defer {
            _ = finished.deinitialize()
            finished.deallocate()
        }
        try eachColumn { c, compressor throws(ParquetError) in finished[c] = try columns[c].finish(compressor: compressor) }
        for f in finished {
            let f = f!
            let start = offset
            if let d = f.dictionaryPage { try writeAll(d.bytes) }
            try writeAll(f.dataPages.bytes)
            chunks.append(ColumnChunkMeta(fileOffset: start, metaData: f.meta(start)))
            uncompressed += f.uncompressedBytes
            compressed += f.compressedBytes
        }
        rowGroups.append(RowGroupMeta(columns: chunks, totalByteSize: uncompressed, numRows: Int64(rowsInGroup),
                                      fileOffset: groupStart, totalCompressedSize: compressed,
                                      ordinal: Int16(clamping: rowGroups.count)))
        totalRows += Int64(rowsInGroup)
        rowsInGroup = 0
        // Column writers (and their buffers) are reused by the next row group.
        for column in columns { column.reset() }
    }

    /// Writes the footer and publishes the file atomically at `path`.
    public func close() throws(ParquetError) {
        guard !closed, !failed else { throw .writerClosed }
        do throws(ParquetError) {
            try flushRowGroup()
            let meta = FileMetaData(version: 2, schema: schema.schemaElements, numRows: totalRows,
                                    rowGroups: rowGroups, keyValueMetadata: keyValues,
                                    createdBy: Self.createdBy).encode()
            try writeAll(meta)
            var tail = [UInt8](repeating: 0, count: 8)
            withUnsafeBytes(of: UInt32(meta.count).littleEndian) { for i in 0..<4 { tail[i] = $0[i] } }
            tail[4] = 0x50; tail[5] = 0x41; tail[6] = 0x52; tail[7] = 0x31
            try writeAll(tail)
            let file = fd
            fd = -1
            do throws(FileError) {
                try AtomicFile.publish(file, from: tempPath, to: path)
            } catch {
                throw ParquetError(error)
            }
            closed = true
        } catch {
            if !closed { failed = true; abandon() }
            throw error
        }
    }

    /// Discards the temp file; `path` is left untouched.
    public func abandon() {
        if fd >= 0 { _ = Glibc.close(fd); fd = -1 }
        if !closed { unlink(tempPath) }
        failed = true
    }

    /// Number of bytes written to the temp file so far.
    public var bytesWritten: Int64 { offset }

    private func writeAll(_ bytes: [UInt8]) throws(ParquetError) {
        let result = bytes.withUnsafeBytes { b in Result { () throws(ParquetError) in try writeAll(b) } }
        try result.get()
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws(ParquetError) {
        do throws(FileError) {
            try POSIXFile.writeAll(fd, bytes, path: tempPath, offset: UInt64(offset))
        } catch {
            throw ParquetError(error)
        }
        offset += Int64(bytes.count)
    }
}

extension ParquetError {
    /// A failed call of the file layer.
    init(_ e: FileError) { self = .io(call: e.call, path: e.path, errno: e.errno) }
}
