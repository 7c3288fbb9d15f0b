import Foundation

/// bpf/include/redline_abi.h read as text, so tests can check Swift vocabularies (protocol
/// names, record types) against the header the kernel programs compile, not a copy of it.
public enum ABIHeader {
    public struct Constant: Equatable, Sendable {
        public var name: String
        public var value: Int
        /// The line's `/* … */` comment, trimmed ("" if none).
        public var comment: String
    }

    /// The ABI header; its neighbour redline_maps.h holds the map keys and config enum.
    public static let path: String = include("redline_abi.h")

    /// A header of bpf/include/.
    public static func include(_ file: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../bpf/include/\(file)").standardized.path
    }

    public struct MissingEnum: Error, CustomStringConvertible {
        public let name: String
        public let header: String
        public var description: String { "enum \(name) is not in \(header)" }
    }

    /// The constants of `enum <name>` in `header` (default: the ABI header), in order: each
    /// `NAME = value,` line between `enum <name> {` and `};`.
    public static func enumConstants(_ name: String, in header: String = path) throws -> [Constant] {
        let text = try String(contentsOfFile: header, encoding: .utf8)
        guard let start = text.range(of: "enum \(name) {"),
              let end = text.range(of: "};", range: start.upperBound..<text.endIndex) else {
            throw MissingEnum(name: name, header: header)
        }
        var out: [Constant] = []
        for line in text[start.upperBound..<end.lowerBound].split(separator: "\n") {
            let halves = line.split(separator: "/*", maxSplits: 1)
            let parts = halves[0].split(separator: "=").map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, let v = Int(parts[1].trimmingCharacters(in: CharacterSet(charactersIn: ", "))) else { continue }
            let comment = halves.count > 1 ? halves[1].replacingOccurrences(of: "*/", with: "").trimmingCharacters(in: .whitespaces) : ""
            out.append(Constant(name: parts[0], value: v, comment: comment))
        }
        return out
    }
}
