import CCompression

/// Compresses page bodies. One per file writer: the zstd context and scratch buffer are
/// reused for every page of every column (allocation-free after warm-up). Not thread-safe.
final class PageCompressor {
    let codec: Compression
    private let level: Int32
    private var cctx: OpaquePointer?
    private let scratch = ByteBuffer(capacity: 1 << 20)

    init(codec: Compression, level: Int32) throws(ParquetError) {
        self.codec = codec
        self.level = level
        if codec == .zstd {
            guard let c = ccompression_zstd_cctx_create() else { throw .compressionFailed }
            cctx = c
        }
    }
    deinit { if let cctx { ccompression_zstd_cctx_free(cctx) } }

    /// The compressed form of `body`, valid until the next call.
    func compress(_ body: UnsafeRawBufferPointer) throws(ParquetError) -> UnsafeRawBufferPointer {
        guard codec == .zstd, let cctx else { return body }
        let bound = ccompression_zstd_bound(body.count)
        scratch.removeAll()
        scratch.reserve(bound)
        let n = ccompression_zstd_compress_cctx(cctx, body.baseAddress, body.count, scratch.base, bound, level)
        guard n > 0 else { throw .compressionFailed }
        return UnsafeRawBufferPointer(start: scratch.base, count: n)
    }
}

/// Frames pages into a column chunk's bytes: Thrift PageHeader, then the (compressed) body.
/// Counts the sizes the footer needs (parquet.thrift: totals include the headers).
struct PageSink {
    let chunk = ByteBuffer(capacity: 1 << 16)
    var uncompressedBytes: Int64 = 0
    var compressedBytes: Int64 = 0

    /// Empties the sink for the next chunk, keeping its buffer.
    mutating func reset() {
        chunk.removeAll()
        uncompressedBytes = 0
        compressedBytes = 0
    }

    mutating func writePage(type: PageType, numValues: Int, encoding: Encoding, body: UnsafeRawBufferPointer,
                            compressor: PageCompressor) throws(ParquetError) {
        let compressed = try compressor.compress(body)
        guard body.count <= Int32.max, compressed.count <= Int32.max, numValues <= Int32.max else {
            throw .limitExceeded("page larger than 2 GiB")
        }
        let header = PageHeader(type: type, uncompressedSize: Int32(body.count), compressedSize: Int32(compressed.count),
                                numValues: Int32(numValues), encoding: encoding).encode()
        chunk.append(header)
        if compressed.count > 0 { chunk.append(compressed.baseAddress!, compressed.count) }
        uncompressedBytes += Int64(header.count + body.count)
        compressedBytes += Int64(header.count + compressed.count)
    }
}
