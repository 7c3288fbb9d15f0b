#if _endian(big)
#error("Parquet's PLAIN encoding is little-endian; this writer copies host memory and assumes a little-endian host")
#endif

/// A growable byte buffer for encoders. A class so hot loops append through one
/// reference without copy-on-write checks; owned by one encoder, not thread-safe.
final class ByteBuffer {
    private(set) var base: UnsafeMutableRawPointer
    private(set) var count = 0
    private(set) var capacity: Int

    init(capacity: Int = 4096) {
        self.capacity = max(capacity, 64)
        base = .allocate(byteCount: self.capacity, alignment: 16)
    }
    deinit { base.deallocate() }

    @inline(__always) func reserve(_ extra: Int) {
        if count + extra > capacity { grow(count + extra) }
    }
    private func grow(_ needed: Int) {
        var c = capacity
        while c < needed { c *= 2 }
        let nb = UnsafeMutableRawPointer.allocate(byteCount: c, alignment: 16)
        nb.copyMemory(from: base, byteCount: count)
        base.deallocate()
        base = nb
        capacity = c
    }

    func removeAll() { count = 0 }

    @inline(__always) func append(_ b: UInt8) {
        reserve(1)
        base.storeBytes(of: b, toByteOffset: count, as: UInt8.self)
        count += 1
    }
    @inline(__always) func append(_ p: UnsafeRawPointer, _ n: Int) {
        reserve(n)
        (base + count).copyMemory(from: p, byteCount: n)
        count += n
    }
    func append(_ bytes: [UInt8]) { bytes.withUnsafeBytes { if $0.count > 0 { append($0.baseAddress!, $0.count) } } }
    func append(_ other: ByteBuffer) { if other.count > 0 { append(other.base, other.count) } }
    @inline(__always) func appendUInt32LE(_ v: UInt32) {
        reserve(4)
        (base + count).storeBytes(of: v.littleEndian, as: UInt32.self)
        count += 4
    }
    @inline(__always) func appendVarint(_ v: UInt64) {
        var v = v
        while v >= 0x80 { append(UInt8(truncatingIfNeeded: v) | 0x80); v >>= 7 }
        append(UInt8(v))
    }
    /// Overwrites 4 bytes at `offset` (used to back-fill a length prefix).
    func setUInt32LE(_ v: UInt32, at offset: Int) {
        precondition(offset + 4 <= count)
        (base + offset).storeBytes(of: v.littleEndian, as: UInt32.self)
    }
    /// Advances `count` after the caller wrote `n` bytes into `reserve`d space at `end`.
    @inline(__always) func didWrite(_ n: Int) { count += n }
    var end: UnsafeMutableRawPointer { base + count }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
    var array: [UInt8] { Array(bytes) }
}
