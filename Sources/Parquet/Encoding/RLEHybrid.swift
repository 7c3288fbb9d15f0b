// RLE / bit-packed hybrid encoding (parquet-format Encodings.md, "RLE = 3"), used for
// definition and repetition levels and for dictionary indices.
//
//   encoded   := run*
//   run       := rle-run | bit-packed-run
//   rle-run   := varint(count << 1)  value (ceil(bitWidth / 8) bytes, little-endian)
//   bit-packed-run := varint(groups << 1 | 1)  groups × 8 values, each bitWidth bits,
//                     packed LSB first (a group of 8 values is exactly bitWidth bytes)
//
// Runs of at least 8 equal values become RLE runs; everything else is bit-packed in
// groups of 8. Only the final group may be padded (with zeros): readers stop at the
// page's value count.

/// Bits needed to store `maxValue` (0 for 0).
@inline(__always) func bitWidth(of maxValue: UInt64) -> Int { 64 - maxValue.leadingZeroBitCount }

enum RLEHybrid {
    /// Appends the hybrid encoding of `values` (each < 2^bitWidth, bitWidth ≤ 32) to `out`.
    /// No length prefix.
    static func encode<T: FixedWidthInteger & UnsignedInteger>(
        _ values: UnsafeBufferPointer<T>, bitWidth: Int, into out: ByteBuffer
    ) {
        let n = values.count
        guard n > 0 else { return }
        if bitWidth == 0 {
            // All values are zero: one RLE run with a zero-byte value.
            out.appendVarint(UInt64(n) << 1)
            return
        }
        let valueBytes = (bitWidth + 7) / 8
        var literalStart = 0
        var i = 0
        while i < n {
            let v = values[i]
            var j = i + 1
            while j < n && values[j] == v { j += 1 }
            var run = j - i
            if run >= 8 {
                // Pad the pending literals to a multiple of 8 by borrowing from this run.
                let pending = i - literalStart
                let pad = (8 - pending % 8) % 8
                if pending > 0 {
                    if run - pad < 8 { i = j; continue }
                    bitPack(values, literalStart..<(i + pad), bitWidth: bitWidth, into: out)
                    i += pad
                    run -= pad
                }
                out.appendVarint(UInt64(run) << 1)
                var x = UInt64(v)
                for _ in 0..<valueBytes { out.append(UInt8(truncatingIfNeeded: x)); x >>= 8 }
                i += run
                literalStart = i
            } else {
                i = j
            }
        }
        if literalStart < n { bitPack(values, literalStart..<n, bitWidth: bitWidth, into: out) }
    }

    /// One bit-packed run over `range`, zero-padded to whole groups of 8. Bits collect in a
    /// 64-bit word that is stored whole (little-endian) each time it fills.
    private static func bitPack<T: FixedWidthInteger & UnsignedInteger>(
        _ values: UnsafeBufferPointer<T>, _ range: Range<Int>, bitWidth: Int, into out: ByteBuffer
    ) {
        let groups = (range.count + 7) / 8
        out.appendVarint(UInt64(groups) << 1 | 1)
        let bytes = groups * bitWidth
        out.reserve(bytes + 8)
        var dst = out.end
        var acc: UInt64 = 0
        var bits = 0
        for idx in range {
            let v = UInt64(values[idx])
            acc |= v << UInt64(bits)
            bits += bitWidth
            if bits >= 64 {
                dst.storeBytes(of: acc.littleEndian, as: UInt64.self)
                dst += 8
                bits -= 64
                acc = bits > 0 ? v >> UInt64(bitWidth - bits) : 0
            }
        }
        // Padding values are zeros. The padding can span more than the word in `acc`
        // (e.g. 3 values of 20 bits pad to 8 values, 20 bytes), so zero the rest of
        // the run first: the buffer's memory is not initialized, and stale bytes would
        // make two runs over the same data write different files.
        let written = dst - out.end
        let rest = bytes - written
        if rest > 0 {
            dst.initializeMemory(as: UInt8.self, repeating: 0, count: rest)
            dst.storeBytes(of: acc.littleEndian, as: UInt64.self)
        }
        out.didWrite(bytes)
    }

    /// Decodes exactly `count` values from `input[start..<end]` into `out` (appending).
    /// Throws on truncation or on values that need more bits than `bitWidth` allows.
    static func decode(_ input: UnsafeRawBufferPointer, from start: Int, to end: Int, bitWidth: Int,
                       count: Int, into out: inout [UInt32]) throws(ParquetError) {
        guard bitWidth >= 0 && bitWidth <= 32 else { throw .invalidValue("RLE bit width \(bitWidth)") }
        guard start >= 0, end <= input.count, start <= end else {
            throw .outOfBounds(what: "RLE data", offset: start, length: end - start, limit: input.count)
        }
        var pos = start
        var remaining = count
        let valueBytes = (bitWidth + 7) / 8
        let mask: UInt64 = bitWidth == 64 ? ~0 : (1 << UInt64(bitWidth)) - 1
        while remaining > 0 {
            var header: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard pos < end else { throw .corruptPage(column: "", reason: "RLE run header truncated") }
                let b = input[pos]; pos += 1
                guard shift < 63 else { throw .corruptPage(column: "", reason: "RLE run header too long") }
                header |= UInt64(b & 0x7F) << shift
                if b & 0x80 == 0 { break }
                shift += 7
            }
            if header & 1 == 0 {
                let run = header >> 1
                guard run > 0 else { throw .corruptPage(column: "", reason: "empty RLE run") }
                guard end - pos >= valueBytes else { throw .corruptPage(column: "", reason: "RLE value truncated") }
                var v: UInt64 = 0
                for k in 0..<valueBytes { v |= UInt64(input[pos + k]) << UInt64(8 * k) }
                pos += valueBytes
                guard v <= mask else { throw .corruptPage(column: "", reason: "RLE value exceeds bit width") }
                let take = Int(min(run, UInt64(remaining)))
                out.append(contentsOf: repeatElement(UInt32(v), count: take))
                remaining -= take
            } else {
                let groups = header >> 1
                guard groups > 0, groups <= UInt64(end - pos) else {
                    throw .corruptPage(column: "", reason: "bit-packed run overruns its data")
                }
                let bytes = Int(groups) * bitWidth
                guard bytes <= end - pos else { throw .corruptPage(column: "", reason: "bit-packed run truncated") }
                let values = Int(groups) * 8
                let take = min(values, remaining)
                var acc: UInt64 = 0, bits = 0, p = pos
                for _ in 0..<take {
                    while bits < bitWidth {
                        acc |= UInt64(input[p]) << UInt64(bits)
                        p += 1
                        bits += 8
                    }
                    out.append(UInt32(truncatingIfNeeded: acc & mask))
                    acc >>= UInt64(bitWidth)
                    bits -= bitWidth
                }
                pos += bytes
                remaining -= take
            }
        }
    }
}
