import CRedlineABI
import Foundation
import RedlineBase
import Segments
import Timebase

/// Where the collector's records go: one open segment per time window,
/// rotated at the window's end (aligned to UTC, e.g. every minute) or when it
/// outgrows `maxSegmentBytes`, each beginning with a clock anchor and the
/// cgroup mappings so every segment can be read on its own.
///
/// Every sealed segment is reported through `onSeal` (metrics, disk budget).
///
/// A failed write (a full or failing disk) *suspends* the sink: every failure is reported
/// through `onWriteError`, and until `retryIntervalNanos` has passed every call throws
/// `SegmentSinkSuspended` at once, without touching the disk, so the caller can keep
/// consuming (and counting what it sheds) at memory speed. Only `tick` retries (rotating,
/// sealing what is due, writing the pending blocks) and, when that works, resumes the sink;
/// `close` always tries. The writer keeps its file whole across failures (see `SegmentWriter`).
/// Not thread-safe: the collector's poll thread owns it.
public final class SegmentSink {
    public let root: String
    public let host: String
    public let bootID: BootID
    public let windowNanos: Int64
    public let maxSegmentBytes: Int
    public let sampler: AnchorSampler
    public let writerOptions: WriterOptions
    /// CLOCK_REALTIME in ns; injectable so tests can cross window boundaries without waiting.
    let realtime: () -> Int64

    /// Called after each seal with the sealed path and its footer.
    public var onSeal: ((String, SegmentFooter) -> Void)?
    /// Called for every write that failed, with the error (its call, path and errno).
    public var onWriteError: ((SegmentError) -> Void)?
    /// Called when writing works again after a suspension.
    public var onResume: (() -> Void)?
    /// How long a suspension lasts before `tick` tries the disk again.
    public var retryIntervalNanos: UInt64 = 1_000_000_000
    /// CLOCK_MONOTONIC of the next retry while suspended; nil while writing works.
    public private(set) var suspendedUntil: UInt64?
    /// True while writes are suspended after a failure.
    public var isSuspended: Bool { suspendedUntil != nil }
    /// Records written at the start of every segment (cgroup mappings known so far).
    public var preamble: () -> [rl_cgroup_mapping] = { [] }

    private var writer: SegmentWriter?
    private var sealAnchorAppended = false
    private var windowStart: Int64 = 0
    private var sequence: UInt32 = 0
    public private(set) var lastAnchor: ClockAnchor?
    public private(set) var sealedCount = 0
    public private(set) var sealedBytes: UInt64 = 0

    public init(root: String, host: String, bootID: BootID, windowSeconds: Int, maxSegmentBytes: Int,
                sampler: AnchorSampler = AnchorSampler(), writerOptions: WriterOptions = WriterOptions(),
                realtime: @escaping () -> Int64 = SegmentSink.realtimeNow) {
        self.realtime = realtime
        self.root = root
        self.host = host
        self.bootID = bootID
        self.windowNanos = Int64(windowSeconds) * 1_000_000_000
        self.maxSegmentBytes = maxSegmentBytes
        self.sampler = sampler
        self.writerOptions = writerOptions
    }

    /// Path of the segment being written, if any.
    public var openPath: String? { writer?.openPath }

    /// Appends raw records of one type (the ring buffer's bytes, already framed per record).
    public func append(type: RecordType, records: UnsafeRawBufferPointer) throws {
        try guarded {
            try ensureOpen()
            try writer!.appendRaw(type: type, records: records)
            // Compressed bytes on disk so far; a pending block adds at most `blockRawBytes` more.
            if Int(writer!.bytesWritten) >= maxSegmentBytes { try rotate(sameWindow: true) }
        }
    }

    /// Appends one call and its detail, if it has one: the detail gets the open segment's next
    /// `seq` (`SegmentWriter.append(call:detail:)`), so a call and its detail always land in the
    /// same segment and the numbering restarts with every segment (schemas/records-v2.md).
    public func append(call: rl_l7_call, detail: rl_call_detail?) throws {
        try guarded {
            try ensureOpen()
            try writer!.append(call: call, detail: detail)
            if Int(writer!.bytesWritten) >= maxSegmentBytes { try rotate(sameWindow: true) }
        }
    }

    /// Appends one record.
    public func append<T: ABIRecord>(_ record: T) throws {
        try withUnsafeBytes(of: record) { try append(type: T.recordType, records: $0) }
    }

    /// Takes a clock anchor now and writes it.
    @discardableResult
    public func anchor(reason: AnchorReason) throws -> ClockAnchor {
        try guarded {
            try ensureOpen()
            let a = try sampler.sample(reason: reason)
            try writer!.append(a.record)
            try writer!.flush()
            lastAnchor = a
            return a
        }
    }

    /// The regular check: rotates at the window's end, flushes blocks older than
    /// `flushAfterNanos` of kernel time so a quiet type's records reach the disk.
    /// While suspended, it is the retry: once the retry interval has passed it rotates if the
    /// window ended, opens a segment if none is open and writes every pending block; success
    /// resumes the sink.
    public func tick(monotonicNowNanos: UInt64, flushAfterNanos: UInt64 = 1_000_000_000) throws {
        if let until = suspendedUntil {
            guard monotonicNowNanos >= until else { throw SegmentSinkSuspended() }
            try guarded(retrying: true) {
                if writer != nil, realtime() >= windowStart + windowNanos { try rotate(sameWindow: false) }
                try ensureOpen()
                try writer!.flush()
            }
            return
        }
        try guarded {
            if writer != nil, realtime() >= windowStart + windowNanos {
                try rotate(sameWindow: false)
            }
            if let w = writer, monotonicNowNanos > flushAfterNanos {
                try w.flush(olderThan: monotonicNowNanos - flushAfterNanos)
            }
        }
    }

    /// Writes every pending block now (a configuration boundary: what was collected
    /// under the old configuration reaches the disk before the new one applies).
    public func flush() throws {
        try guarded { try writer?.flush() }
    }

    /// Seals the open segment (with a final anchor); nothing is open afterwards. Tries even
    /// while suspended (shutdown seals what it can); a failure leaves the segment open.
    public func close() throws {
        try guarded(retrying: true) { try seal() }
    }

    private func seal() throws {
        guard let w = writer else { return }
        // Appended once: a seal retried after a failure does not add a second final anchor.
        if !sealAnchorAppended {
            let a = try sampler.sample(reason: .seal)
            try w.append(a.record)
            lastAnchor = a
            sealAnchorAppended = true
        }
        let footer = try w.seal()
        writer = nil
        sealedCount += 1
        sealedBytes += w.bytesWritten
        onSeal?(w.finalPath, footer)
    }

    /// Runs `body`; a segment error suspends the sink (reported through `onWriteError`), and
    /// success after a suspension resumes it. While suspended and not `retrying`, throws at once.
    private func guarded<T>(retrying: Bool = false, _ body: () throws -> T) throws -> T {
        if suspendedUntil != nil && !retrying { throw SegmentSinkSuspended() }
        do {
            let r = try body()
            if suspendedUntil != nil {
                suspendedUntil = nil
                onResume?()
            }
            return r
        } catch let e as SegmentError {
            suspendedUntil = Self.monotonicNow() + retryIntervalNanos
            onWriteError?(e)
            throw e
        }
    }

    private func rotate(sameWindow: Bool) throws {
        try close()
        if sameWindow { sequence += 1 }
        try ensureOpen()
    }

    private func ensureOpen() throws {
        if writer != nil { return }
        let now = realtime()
        let start = now - ((now % windowNanos) + windowNanos) % windowNanos
        if start != windowStart {
            windowStart = start
            sequence = 0
        }
        var mono = timespec()
        clock_gettime(CLOCK_MONOTONIC, &mono)
        let header = SegmentHeader(hostID: host, bootID: bootID, windowStartNs: windowStart,
                                   windowEndNs: windowStart + windowNanos,
                                   openedMonotonicNs: UInt64(mono.tv_sec) * 1_000_000_000 + UInt64(mono.tv_nsec))
        // A crash can leave an .rls.open of the same name: never overwrite it, take the next sequence.
        var w: SegmentWriter?
        while w == nil {
            let path = try SegmentPath(root: root, host: host, windowStartNs: windowStart, sequence: sequence)
            if FileManager.default.fileExists(atPath: path.open) || FileManager.default.fileExists(atPath: path.sealed) {
                sequence += 1
                continue
            }
            w = try SegmentWriter(root: root, header: header, sequence: sequence, options: writerOptions)
        }
        writer = w
        sealAnchorAppended = false
        let a = try sampler.sample(reason: lastAnchor == nil ? .start : .periodic)
        try w!.append(a.record)
        lastAnchor = a
        for m in preamble() { try w!.append(m) }
        // Put the anchor and mappings on disk first: a .rls.open left by a crash
        // then still carries what its records need to be placed in time and joined.
        try w!.flush()
    }

    static func monotonicNow() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    public static func realtimeNow() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
    }
}

/// Thrown by a suspended `SegmentSink` instead of writing: the disk failed a moment ago and
/// the retry is not due yet. Nothing was written; the caller counts the records as shed.
public struct SegmentSinkSuspended: Error, CustomStringConvertible {
    public var description: String { "segment writes suspended after a write error (retried every second)" }
}
