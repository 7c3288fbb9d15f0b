/// Why a configuration or metadata file could not be used. Names the file and,
/// where the parser knows it, the line (1-based) and the offending field, so a
/// user can go straight to the mistake.
public struct ConfigError: Error, Equatable, CustomStringConvertible {
    public let file: String
    public let line: Int?
    public let field: String?
    public let message: String

    public init(file: String, line: Int? = nil, field: String? = nil, _ message: String) {
        self.file = file
        self.line = line
        self.field = field
        self.message = message
    }

    public var description: String {
        var s = file
        if let line { s += ":\(line)" }
        s += ": "
        if let field, !field.isEmpty { s += "\(field): " }
        return s + message
    }
}
