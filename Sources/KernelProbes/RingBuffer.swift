import CLibBPF
import CRedlineABI
import Glibc

/// One ring-buffer sample: an `rl_ring_header` and the bytes it frames.
public struct RingSample: Sendable {
    /// `rl_ring_header.type`: an `rl_record_type`, or a kernel-only
    /// `rl_kernel_sample` such as RL_KSAMPLE_CALL_WITH_PREFIX.
    public var type: UInt16
    /// The record's bytes (`rl_ring_header.size` of them).
    public var record: [UInt8]

    /// A sample as read from the ring (or replayed from a capture).
    public init(type: UInt16, record: [UInt8]) {
        self.type = type
        self.record = record
    }
}

/// Reads the BPF ring buffer map `rl_events`. The kernel wakes the reader
/// only every RL_CFG_WAKEUP_EVERY records, so `poll` always drains what is
/// there after its timeout: a quiet ring is still read within one timeout.
///
/// Each `poll` hands at most `maxSamplesPerCall` samples to the handler and returns:
/// libbpf keeps reading for as long as the producer keeps writing, so without a bound a
/// consumer slower than the kernel (a failing disk) would never get back to its loop, its
/// signals and its timers.
///
/// Not thread-safe: one reader polls it.
public final class RingBufferReader {
    /// Samples one `poll` call hands to the handler at most.
    public var maxSamplesPerCall = 16_384

    private var ring: OpaquePointer?
    private let box: Unmanaged<SampleSink>
    /// Samples whose header was shorter than 8 bytes or lied about its size.
    public var malformed: Int { box.takeUnretainedValue().malformed }

    final class SampleSink {
        var handler: (RingSample) -> Void
        var malformed = 0
        var budget = Int.max
        var handled = 0
        init(_ handler: @escaping (RingSample) -> Void) { self.handler = handler }
    }

    /// Opens a reader on `map` (a BPF_MAP_TYPE_RINGBUF); `handler` runs on the
    /// polling thread for each sample.
    public init(map: Map, handler: @escaping (RingSample) -> Void) throws {
        box = Unmanaged.passRetained(SampleSink(handler))
        // Non-capturing: the sink travels through libbpf's ctx pointer.
        let callback: ring_buffer_sample_fn = { ctx, data, size in
            guard let ctx, let data else { return 0 }
            let sink = Unmanaged<SampleSink>.fromOpaque(ctx).takeUnretainedValue()
            let headerSize = MemoryLayout<rl_ring_header>.size
            guard size >= headerSize else {
                sink.malformed += 1
                return 0
            }
            let header = data.loadUnaligned(as: rl_ring_header.self)
            guard Int(header.size) <= size - headerSize else {
                sink.malformed += 1
                return 0
            }
            let record = Array(UnsafeRawBufferPointer(start: data + headerSize, count: Int(header.size)))
            sink.handler(RingSample(type: header.type, record: record))
            sink.handled += 1
            // A negative return makes libbpf stop after this (consumed) sample.
            return sink.handled >= sink.budget ? -ECANCELED : 0
        }
        guard let r = ring_buffer__new(map.fd, callback, box.toOpaque(), nil) else {
            let e = errno
            box.release()
            throw KernelProbeError.ringBuffer(operation: "ring_buffer__new(\(map.name))", errno: e)
        }
        ring = r
    }

    deinit {
        if let ring { ring_buffer__free(ring) }
        box.release()
    }

    /// Waits up to `timeoutMilliseconds` for a wakeup, then drains the ring.
    /// Returns the samples consumed.
    @discardableResult
    public func poll(timeoutMilliseconds: Int32) throws -> Int {
        let sink = box.takeUnretainedValue()
        sink.handled = 0
        sink.budget = max(1, maxSamplesPerCall)
        let n = ring_buffer__poll(ring, timeoutMilliseconds)
        if n == -ECANCELED { return sink.handled }
        if n < 0 && -n != EINTR {
            throw KernelProbeError.ringBuffer(operation: "ring_buffer__poll", errno: -n)
        }
        let drained = ring_buffer__consume(ring)
        if drained < 0 && drained != -ECANCELED {
            throw KernelProbeError.ringBuffer(operation: "ring_buffer__consume", errno: -drained)
        }
        return sink.handled
    }

    /// Reads what is in the ring without waiting, at most `limit` samples; returns the samples
    /// consumed.
    @discardableResult
    public func drain(upTo limit: Int = .max) throws -> Int {
        let sink = box.takeUnretainedValue()
        sink.handled = 0
        sink.budget = max(1, limit)
        let n = ring_buffer__consume(ring)
        if n < 0 && n != -ECANCELED { throw KernelProbeError.ringBuffer(operation: "ring_buffer__consume", errno: -n) }
        return sink.handled
    }
}
