#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Open-addressing hash tables that map values to dictionary indices. Linear probing,
// power-of-two capacity, load factor ≤ 1/2. One table per column chunk; not thread-safe.

@inline(__always) private func mix64(_ x: UInt64) -> UInt64 {
    var z = x &* 0x9E37_79B9_7F4A_7C15
    z ^= z >> 29
    return z
}

/// Maps 64-bit keys (a value's bit pattern) to dense indices 0, 1, 2, … in insertion order.
final class FixedKeyTable {
    private var keys: UnsafeMutablePointer<UInt64>
    private var slots: UnsafeMutablePointer<Int32>   // -1 = empty
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 1024) {
        var c = 16
        while c < capacity * 2 { c *= 2 }
        keys = .allocate(capacity: c)
        slots = .allocate(capacity: c)
        slots.initialize(repeating: -1, count: c)
        mask = c - 1
    }
    deinit { keys.deallocate(); slots.deallocate() }

    /// Index of `key`, inserting it (as index `count`) if new. `inserted` tells which.
    @inline(__always) func index(of key: UInt64, inserted: inout Bool) -> UInt32 {
        var i = Int(truncatingIfNeeded: mix64(key) >> 20) & mask
        while true {
            let s = slots[i]
            if s < 0 {
                slots[i] = Int32(count)
                keys[i] = key
                count += 1
                inserted = true
                if count * 2 > mask { grow() }
                return UInt32(count - 1)
            }
            if keys[i] == key { return UInt32(s) }
            i = (i + 1) & mask
        }
    }

    private func grow() {
        let oldCap = mask + 1, oldKeys = keys, oldSlots = slots
        let c = oldCap * 2
        keys = .allocate(capacity: c)
        slots = .allocate(capacity: c)
        slots.initialize(repeating: -1, count: c)
        mask = c - 1
        for j in 0..<oldCap where oldSlots[j] >= 0 {
            var i = Int(truncatingIfNeeded: mix64(oldKeys[j]) >> 20) & mask
            while slots[i] >= 0 { i = (i + 1) & mask }
            slots[i] = oldSlots[j]
            keys[i] = oldKeys[j]
        }
        oldKeys.deallocate()
        oldSlots.deallocate()
    }
}

/// Hash of a byte string, 8 bytes at a time.
@inline(__always) func hashBytes(_ p: UnsafeRawPointer, _ n: Int) -> UInt64 {
    var h: UInt64 = 0x243F_6A88_85A3_08D3 ^ UInt64(n)
    var i = 0
    while i + 8 <= n {
        h = (h ^ p.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 32
        i += 8
    }
    if i < n {
        var tail: UInt64 = 0
        var s: UInt64 = 0
        while i < n { tail |= UInt64(p.load(fromByteOffset: i, as: UInt8.self)) << s; s += 8; i += 1 }
        h = (h ^ tail) &* 0x9E37_79B9_7F4A_7C15
    }
    h ^= h >> 29
    return h &* 0xBF58_476D_1CE4_E5B9
}

/// Maps byte strings to dense indices in insertion order and owns the distinct strings
/// (back to back in `bytes`, bounded by `offsets`), which become the dictionary page.
final class BytesKeyTable {
    private var hashes: UnsafeMutablePointer<UInt64>
    private var slots: UnsafeMutablePointer<Int32>
    private var mask: Int
    private(set) var offsets: [Int] = [0]
    let bytes = ByteBuffer(capacity: 1 << 16)
    var count: Int { offsets.count - 1 }

    init(capacity: Int = 1024) {
        var c = 16
        while c < capacity * 2 { c *= 2 }
        hashes = .allocate(capacity: c)
        slots = .allocate(capacity: c)
        slots.initialize(repeating: -1, count: c)
        mask = c - 1
    }
    deinit { hashes.deallocate(); slots.deallocate() }

    @inline(__always) func index(of p: UnsafeRawPointer, _ n: Int, inserted: inout Bool) -> UInt32 {
        let h = hashBytes(p, n)
        var i = Int(truncatingIfNeeded: h >> 20) & mask
        while true {
            let s = slots[i]
            if s < 0 {
                slots[i] = Int32(count)
                hashes[i] = h
                bytes.append(p, n)
                offsets.append(bytes.count)
                inserted = true
                if count * 2 > mask { grow() }
                return UInt32(count - 1)
            }
            if hashes[i] == h {
                let start = offsets[Int(s)], len = offsets[Int(s) + 1] - start
                if len == n && (n == 0 || memcmp(bytes.base + start, p, n) == 0) { return UInt32(s) }
            }
            i = (i + 1) & mask
        }
    }

    private func grow() {
        let oldCap = mask + 1, oldHashes = hashes, oldSlots = slots
        let c = oldCap * 2
        hashes = .allocate(capacity: c)
        slots = .allocate(capacity: c)
        slots.initialize(repeating: -1, count: c)
        mask = c - 1
        for j in 0..<oldCap where oldSlots[j] >= 0 {
            var i = Int(truncatingIfNeeded: oldHashes[j] >> 20) & mask
            while slots[i] >= 0 { i = (i + 1) & mask }
            slots[i] = oldSlots[j]
            hashes[i] = oldHashes[j]
        }
        oldHashes.deallocate()
        oldSlots.deallocate()
    }
}
