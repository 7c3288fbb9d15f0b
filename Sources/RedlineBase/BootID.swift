/// A boot of a host: the kernel's 128-bit `/proc/sys/kernel/random/boot_id`. Monotonic time
/// restarts at every boot, so kernel times are comparable only within one boot id, and time
/// mappings never cross boot ids. Segment headers store the 16 bytes.
public struct BootID: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// The 16 bytes in the order the UUID string spells them.
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) {
        precondition(bytes.count == 16, "a boot id is 16 bytes")
        self.bytes = bytes
    }

    /// Parses the canonical UUID form (`8-4-4-4-12` hex digits); nil if malformed.
    public init?(uuidString: String) {
        let chars = Array(uuidString)
        guard chars.count == 36 else { return nil }
        var out: [UInt8] = []
        var i = 0
        while i < 36 {
            if [8, 13, 18, 23].contains(i) {
                guard chars[i] == "-" else { return nil }
                i += 1
                continue
            }
            guard let h = chars[i].hexDigitValue, let l = chars[i + 1].hexDigitValue else { return nil }
            out.append(UInt8(h << 4 | l))
            i += 2
        }
        self.bytes = out
    }

    /// The boot id of the running kernel.
    /// - Throws: `FileError` if /proc cannot be read; nil if it holds no UUID.
    public static func current() throws(FileError) -> BootID? {
        BootID(uuidString: try POSIXFile.readSmallFile("/proc/sys/kernel/random/boot_id").trimmingWhitespace())
    }

    /// Lowercase UUID with dashes, as the kernel prints it.
    public var description: String {
        let hex = Array("0123456789abcdef")
        var out = ""
        for (i, b) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append("-") }
            out.append(hex[Int(b >> 4)])
            out.append(hex[Int(b & 0xF)])
        }
        return out
    }

    /// Byte order, which is also the order of the UUID strings.
    public static func < (a: BootID, b: BootID) -> Bool { a.bytes.lexicographicallyPrecedes(b.bytes) }
}

extension String {
    /// The string without leading and trailing spaces, tabs and newlines.
    public func trimmingWhitespace() -> String {
        let ws: Set<Character> = [" ", "\t", "\n", "\r"]
        guard let first = firstIndex(where: { !ws.contains($0) }),
              let last = lastIndex(where: { !ws.contains($0) }) else { return "" }
        return String(self[first...last])
    }
}
