import RedlineBase
import Glibc

/// Turns what is left of an interrupted or damaged segment into a sealed one.
public enum SegmentRecovery {
    /// Copies the verified part of `path` — its header and every complete, verified block up to
    /// the first damage — to `destination` with a fresh footer and trailer, via a temporary file,
    /// fsync and rename (then an fsync of the directory). The source is left untouched.
    /// Returns the scan of the source: `blocks` were kept, `problem` says where and why the rest
    /// was dropped. Throws if the source has no readable header (nothing to keep) or on I/O errors.
    @discardableResult
    public static func seal(path: String, to destination: String, options: ReaderOptions = ReaderOptions()) throws(SegmentError) -> SegmentReport {
        var scanOptions = options
        scanOptions.decompress = true
        let report = SegmentReport.scan(path: path, options: scanOptions)
        guard report.header != nil else {
            throw report.problem ?? .truncated(path: path, offset: 0, region: .header, needed: 72, available: 0)
        }
        let temp = destination + ".tmp"
        let src = try io(POSIXFile.open(path, flags: O_RDONLY))
        defer { _ = close(src) }
        let dst = try io(POSIXFile.open(temp, flags: O_WRONLY | O_CREAT | O_TRUNC))
        do throws(SegmentError) {
            let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
            defer { chunk.deallocate() }
            var copied: UInt64 = 0
            while copied < report.validEnd {
                let want = Int(min(UInt64(chunk.count), report.validEnd - copied))
                let n = try io(POSIXFile.read(src, into: UnsafeMutableRawBufferPointer(rebasing: chunk[..<want]), path: path, offset: copied))
                guard n > 0 else {
                    throw SegmentError.truncated(path: path, offset: copied, region: .blockPayload,
                                                 needed: report.validEnd - copied, available: 0)
                }
                try io(POSIXFile.writeAll(dst, UnsafeRawBufferPointer(rebasing: chunk[..<n]), path: temp, offset: copied))
                copied += UInt64(n)
            }
            let footer = SegmentFooter(offset: report.validEnd, blocks: report.blocks).encodedWithTrailer()
            let result = footer.withUnsafeBytes { b in
                Result { () throws(SegmentError) in try io(POSIXFile.writeAll(dst, b, path: temp, offset: copied)) }
            }
            try result.get()
            try io(POSIXFile.fsync(dst, path: temp))
        } catch {
            _ = close(dst)
            _ = unlink(temp)
            throw error
        }
        _ = close(dst)
        try io(POSIXFile.rename(temp, destination))
        try io(POSIXFile.fsyncDirectory(POSIXFile.directory(of: destination)))
        return report
    }
}
