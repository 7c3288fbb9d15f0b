/// Redline's version: the CLI's `--version`, the manifests, the Parquet files' `created_by` and
/// key-value metadata. Declared once; a release changes it here.
public enum RedlineVersion {
    public static let current = "0.1.0"
}
