import CCompression

/// Redline's Parquet writer and reader (schemas/parquet.md).
public enum ParquetVersion { public static let createdBy = "redline" }
