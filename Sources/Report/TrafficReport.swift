import Foundation
import Segments
import RedlineBase

/// `redline report`'s library: reads a table root's committed Parquet files for a selection
/// and renders one self-contained HTML page (inline CSS and SVG, no scripts, no network).
/// The same tables and selection always give the same bytes: nothing on the page depends on
/// the clock, the path of the table root, or hash order.
public enum TrafficReport {
    /// The figures the page shows, for callers that want them without HTML.
    public static func data(tables root: String, selection: ReportSelection) throws(ReportError) -> ReportData {
        try ReportLoader(root: root, selection: selection).load()
    }

    /// The page for `selection` over the tables under `root`.
    public static func html(tables root: String, selection: ReportSelection) throws(ReportError) -> String {
        Page(try data(tables: root, selection: selection)).html()
    }

    /// Renders and publishes the page at `path` atomically (temp file, fsync, rename): a reader
    /// sees the previous file or the new one, never half a page.
    public static func write(tables root: String, selection: ReportSelection, to path: String) throws(ReportError) -> ReportData {
        let d = try data(tables: root, selection: selection)
        do {
            try AtomicFile.write(Array(Page(d).html().utf8), to: path)
        } catch {
            throw .io("cannot write \(path): \(error.description)")
        }
        return d
    }
}
