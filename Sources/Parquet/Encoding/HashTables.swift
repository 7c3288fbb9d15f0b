#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Open-addressing hash tables that map values to dictionary indices. Linear probing,
// power-of-two capacity, load factor ≤ 1/2. They are structs over manually managed
// memory so the per-value loops run on a local copy without dynamic exclusivity checks;
// exactly one copy is live at a time and its owner calls `release()` once.

@inline(__always) private func mix64(_ x: UInt64) -> UInt64 {
    var z = x &* 0x9E37_79B9_7F4A_7C15
    z ^= z >> 29
    return z
}

/// Maps 64-bit keys (a value's bit pattern) to dense indices 0, 1, 2, … in insertion order.
struct FixedKeyTable {
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

    func release() { keys.deallocate(); slots.deallocate() }

    /// Forgets every key, keeping the memory.
    mutating func removeAll() {
        slots.update(repeating: -1, count: mask + 1)
        count = 0
    }

    /// Index of `key`, inserting it (as index `count`) if new; `inserted` is set to true then.
    @inline(__always) mutating func index(of key: UInt64, inserted: inout Bool) -> UInt32 {
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

    private mutating func grow() {
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

@inline(__always) func bytesEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    var i = 0
    while i + 8 <= n {
        if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
            return false
        }
        i += 8
    }
    while i < n {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i += 1
    }
    return true
}

/// Maps byte strings to dense indices in insertion order and owns the distinct strings,
/// back to back in `storage` with entry `i` at `offsets[i] ..< offsets[i + 1]`; they become
/// the dictionary page.
struct BytesKeyTable {
    private var hashes: UnsafeMutablePointer<UInt64>
    private var slots: UnsafeMutablePointer<Int32>
    private var mask: Int
    private(set) var offsets: UnsafeMutablePointer<Int>
    private var offsetsCapacity: Int
    private(set) var storage: UnsafeMutableRawPointer
    private var storageCapacity: Int
    private(set) var count = 0
    var storageBytes: Int { offsets[count] }

    init(capacity: Int = 1024) {
        var c = 16
        while c < capacity * 2 { c *= 2 }
        hashes = .allocate(capacity: c)
        slots = .allocate(capacity: c)
        slots.initialize(repeating: -1, count: c)
        mask = c - 1
        offsetsCapacity = capacity + 1
        offsets = .allocate(capacity: offsetsCapacity)
        offsets[0] = 0
        storageCapacity = 1 << 16
        storage = .allocate(byteCount: storageCapacity, alignment: 8)
    }

    func release() { hashes.deallocate(); slots.deallocate(); offsets.deallocate(); storage.deallocate() }

    @inline(__always) mutating func index(of p: UnsafeRawPointer, _ n: Int, inserted: inout Bool) -> UInt32 {
        let h = hashBytes(p, n)
        var i = Int(truncatingIfNeeded: h >> 20) & mask
        while true {
            let s = slots[i]
            if s < 0 {
                insert(at: i, hash: h, p, n)
                inserted = true
                return UInt32(count - 1)
            }
            if hashes[i] == h {
                let start = offsets[Int(s)]
                if offsets[Int(s) + 1] - start == n && bytesEqual(storage + start, p, n) { return UInt32(s) }
            }
            i = (i + 1) & mask
        }
    }

    private mutating func insert(at i: Int, hash h: UInt64, _ p: UnsafeRawPointer, _ n: Int) {
        slots[i] = Int32(count)
        hashes[i] = h
        let end = offsets[count]
        if end + n > storageCapacity {
            var c = storageCapacity * 2
            while c < end + n { c *= 2 }
            let s = UnsafeMutableRawPointer.allocate(byteCount: c, alignment: 8)
            s.copyMemory(from: storage, byteCount: end)
            storage.deallocate()
            storage = s
            storageCapacity = c
        }
        (storage + end).copyMemory(from: p, byteCount: n)
        if count + 2 > offsetsCapacity {
            let c = offsetsCapacity * 2
            let o = UnsafeMutablePointer<Int>.allocate(capacity: c)
            o.update(from: offsets, count: count + 1)
            offsets.deallocate()
            offsets = o
            offsetsCapacity = c
        }
        count += 1
        offsets[count] = end + n
        if count * 2 > mask { grow() }
    }

    private mutating func grow() {
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

/// Growable buffer of dictionary indices over manual memory (no per-append uniqueness
/// checks). Owned by one encoder, which calls `release()` once; copies are transient.
struct IndexBuffer {
    private(set) var base: UnsafeMutablePointer<UInt32>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int = 1 << 14) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }
    func release() { base.deallocate() }

    @inline(__always) mutating func reserve(_ extra: Int) {
        if count + extra > capacity {
            var c = capacity * 2
            while c < count + extra { c *= 2 }
            let b = UnsafeMutablePointer<UInt32>.allocate(capacity: c)
            b.update(from: base, count: count)
            base.deallocate()
            base = b
            capacity = c
        }
    }
    /// Appends without a capacity check: call `reserve` first.
    @inline(__always) mutating func appendReserved(_ v: UInt32) {
        base[count] = v
        count += 1
    }
    mutating func removeAll() { count = 0 }
    var buffer: UnsafeBufferPointer<UInt32> { UnsafeBufferPointer(start: base, count: count) }
}

/// Growable buffer of repetition or definition levels over manual memory. Owned by one
/// column writer, which calls `release()` once; copies are transient.
struct LevelBuffer {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int = 1 << 14) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }
    func release() { base.deallocate() }

    @inline(__always) mutating func reserve(_ extra: Int) {
        if count + extra > capacity {
            var c = capacity * 2
            while c < count + extra { c *= 2 }
            let b = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
            b.update(from: base, count: count)
            base.deallocate()
            base = b
            capacity = c
        }
    }
    /// Appends without a capacity check: call `reserve` first.
    @inline(__always) mutating func appendReserved(_ v: UInt8) {
        base[count] = v
        count += 1
    }
    /// Appends `n` copies of `v` without a capacity check: call `reserve` first.
    @inline(__always) mutating func fillReserved(_ v: UInt8, _ n: Int) {
        (base + count).update(repeating: v, count: n)
        count += n
    }
    mutating func removeAll() { count = 0 }
    var buffer: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }
}
