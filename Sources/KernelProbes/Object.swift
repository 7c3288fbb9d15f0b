import CLibBPF
import Glibc

/// A BPF ELF object opened but not yet loaded: its programs and maps are
/// known from the file, nothing is in the kernel. Configure it (which
/// programs to load), then `load()` it into a `LoadedObject`, which consumes it.
///
/// Not thread-safe; owned by one task until loaded.
public final class ObjectSpec {
    fileprivate var object: OpaquePointer?
    fileprivate let logBuffer: UnsafeMutablePointer<CChar>
    fileprivate static let logSize = 4 << 20
    /// The ELF file this spec was read from.
    public let path: String

    /// Opens the ELF at `path` (`bpf_object__open_file`).
    /// - Throws: `KernelProbeError.openFailed` with libbpf's messages.
    public init(path: String) throws {
        self.path = path
        logBuffer = .allocate(capacity: Self.logSize)
        logBuffer.initialize(repeating: 0, count: Self.logSize)
        LibBPFMessages.begin()
        guard let obj = clibbpf_open_file(path, logBuffer, Self.logSize) else {
            let e = errno  // deinit frees logBuffer: every stored property is set
            throw KernelProbeError.openFailed(path: path, errno: e, libbpfLog: LibBPFMessages.text)
        }
        object = obj
    }

    deinit {
        if let object { bpf_object__close(object) }
        logBuffer.deallocate()
    }

    /// Names of the programs in the object, in ELF order.
    public var programNames: [String] {
        var names: [String] = []
        var prog = bpf_object__next_program(object, nil)
        while let p = prog {
            names.append(String(cString: bpf_program__name(p)))
            prog = bpf_object__next_program(object, p)
        }
        return names
    }

    /// Names of the maps in the object (including .bss/.data/.rodata).
    public var mapNames: [String] {
        var names: [String] = []
        var map = bpf_object__next_map(object, nil)
        while let m = map {
            names.append(String(cString: bpf_map__name(m)))
            map = bpf_object__next_map(object, m)
        }
        return names
    }

    /// Loads only the named programs (the others stay out of the kernel).
    /// - Throws: `noSuchProgram` for a name the object lacks.
    public func loadOnly(_ programs: Set<String>) throws {
        for name in programs where bpf_object__find_program_by_name(object, name) == nil {
            throw KernelProbeError.noSuchProgram(name)
        }
        var prog = bpf_object__next_program(object, nil)
        while let p = prog {
            bpf_program__set_autoload(p, programs.contains(String(cString: bpf_program__name(p))))
            prog = bpf_object__next_program(object, p)
        }
    }

    /// Sets the bound of map `name` before load (`bpf_map__set_max_entries`): for a ring
    /// buffer, its size in bytes (a power-of-two multiple of the page size).
    /// - Throws: `noSuchMap`, or `mapOperation` with libbpf's errno.
    public func setMaxEntries(map name: String, _ entries: UInt32) throws {
        guard let m = bpf_object__find_map_by_name(object, name) else { throw KernelProbeError.noSuchMap(name) }
        let ret = bpf_map__set_max_entries(m, entries)
        if ret != 0 {
            throw KernelProbeError.mapOperation(map: name, operation: "bpf_map__set_max_entries", errno: Errno.of(ret))
        }
    }

    /// Loads the object into the kernel (`bpf_object__load`), consuming the spec.
    /// - Throws: `KernelProbeError.loadFailed` carrying the verifier log.
    public func load() throws -> LoadedObject {
        guard let obj = object else { throw KernelProbeError.alreadyLoaded(path: path) }
        LibBPFMessages.begin()
        let ret = bpf_object__load(obj)
        if ret != 0 {
            let e = Errno.of(ret)
            let libbpfLog = LibBPFMessages.text
            throw KernelProbeError.classify(.loadFailed(
                program: Self.failingProgram(in: libbpfLog), errno: e,
                verifierLog: String(cString: logBuffer), libbpfLog: libbpfLog))
        }
        object = nil
        return LoadedObject(object: obj, path: path)
    }

    /// libbpf names the failing program as "prog 'NAME': failed to load".
    static func failingProgram(in log: String) -> String? {
        for line in log.split(separator: "\n") {
            let marker = "': failed to load"
            guard line.contains(marker), let start = line.firstRange(of: "prog '") else { continue }
            let rest = line[start.upperBound...]
            if let end = rest.firstIndex(of: "'") { return String(rest[..<end]) }
        }
        return nil
    }
}

/// A BPF object in the kernel: its programs and maps have file descriptors.
/// Closing it (deinit) unloads programs and maps that nothing else holds;
/// links and tc filters made from it must be detached first (they hold
/// their own references, see `Attachments`).
public final class LoadedObject {
    let object: OpaquePointer
    /// The ELF file it was loaded from.
    public let path: String

    init(object: OpaquePointer, path: String) {
        self.object = object
        self.path = path
    }

    deinit { bpf_object__close(object) }

    /// The loaded program named `name`.
    public func program(_ name: String) throws -> Program {
        guard let p = bpf_object__find_program_by_name(object, name) else {
            throw KernelProbeError.noSuchProgram(name)
        }
        let fd = bpf_program__fd(p)
        guard fd >= 0 else { throw KernelProbeError.noSuchProgram("\(name) (not loaded)") }
        return Program(name: name, handle: p, fd: fd, owner: self)
    }

    /// Whether the program `name` was loaded (false when absent or left out of `loadOnly`).
    public func hasProgram(_ name: String) -> Bool {
        guard let p = bpf_object__find_program_by_name(object, name) else { return false }
        return bpf_program__fd(p) >= 0
    }

    /// The map named `name`.
    public func map(_ name: String) throws -> Map {
        guard let m = bpf_object__find_map_by_name(object, name) else {
            throw KernelProbeError.noSuchMap(name)
        }
        return Map(
            name: name, fd: bpf_map__fd(m), type: bpf_map__type(m),
            keySize: Int(bpf_map__key_size(m)), valueSize: Int(bpf_map__value_size(m)),
            maxEntries: Int(bpf_map__max_entries(m)), owner: self)
    }
}

/// One loaded program. Holds its object alive.
public struct Program {
    /// The program's name in the ELF.
    public let name: String
    let handle: OpaquePointer
    /// Its file descriptor, valid while the object lives.
    public let fd: Int32
    let owner: LoadedObject

    /// Result of one `bpf_prog_test_run_opts` call.
    public struct TestRun: Sendable {
        /// The program's return value (for tc: TC_ACT_*, or what a test program encodes).
        public var retval: UInt32
        /// Average ns per run as the kernel measured it.
        public var durationNanoseconds: UInt32
        /// The packet after the program ran (it may rewrite it).
        public var dataOut: [UInt8]
    }

    /// Runs the program on `packet` (a whole frame for tc programs) `repeat` times
    /// in the kernel, without any network (`BPF_PROG_TEST_RUN`).
    public func testRun(packet: [UInt8], repeat count: UInt32 = 1) throws -> TestRun {
        var out = [UInt8](repeating: 0, count: max(packet.count, 64) + 256)
        var outSize = UInt32(out.count)
        var retval: UInt32 = 0
        var duration: UInt32 = 0
        let ret = packet.withUnsafeBytes { inp in
            out.withUnsafeMutableBytes { outp in
                clibbpf_prog_test_run(
                    fd, inp.baseAddress, UInt32(inp.count), outp.baseAddress, &outSize,
                    count, &retval, &duration)
            }
        }
        guard ret == 0 else { throw KernelProbeError.testRunFailed(program: name, errno: -ret) }
        return TestRun(
            retval: retval, durationNanoseconds: duration,
            dataOut: Array(out.prefix(Int(min(outSize, UInt32(out.count))))))
    }
}

extension Program {
    /// Runs an iterator program (`SEC("iter/...")`) once over everything it walks and returns
    /// what it wrote with `bpf_seq_write` / `bpf_seq_printf`: attaches it
    /// (`bpf_program__attach_iter`), opens an iterator (`bpf_iter_create`), reads to the end,
    /// and detaches. The walk sees the network namespace of the calling thread.
    /// - Throws: `KernelProbeError.attachFailed` (or `.notSupported`) naming the step that
    ///   failed (attach, `bpf_iter_create`, `read`) with its errno.
    public func runIterator() throws -> [UInt8] {
        LibBPFMessages.begin()
        guard let link = bpf_program__attach_iter(handle, nil), libbpf_get_error(UnsafeRawPointer(link)) == 0 else {
            throw KernelProbeError.classify(.attachFailed(what: "iterator \(name)", errno: errno, libbpfLog: LibBPFMessages.text))
        }
        defer { bpf_link__destroy(link) }
        let fd = bpf_iter_create(bpf_link__fd(link))
        guard fd >= 0 else {
            throw KernelProbeError.attachFailed(what: "bpf_iter_create(\(name))", errno: -fd, libbpfLog: "")
        }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw KernelProbeError.attachFailed(what: "read iterator \(name)", errno: errno, libbpfLog: "")
            }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }
}

/// One map of a loaded object. Keys and values are raw bytes of the C
/// layouts in redline_maps.h / redline_abi.h; the typed helpers copy Swift
/// imports of those structs. Per-CPU maps hold one value per possible CPU.
public struct Map {
    /// The map's name in the ELF.
    public let name: String
    /// Its file descriptor, valid while the object lives.
    public let fd: Int32
    /// `enum bpf_map_type`.
    public let type: bpf_map_type
    /// Bytes per key.
    public let keySize: Int
    /// Bytes per value (per CPU for per-CPU maps).
    public let valueSize: Int
    /// The map's bound.
    public let maxEntries: Int
    let owner: LoadedObject

    /// Whether values are per CPU.
    public var isPerCPU: Bool {
        [BPF_MAP_TYPE_PERCPU_ARRAY, BPF_MAP_TYPE_PERCPU_HASH, BPF_MAP_TYPE_LRU_PERCPU_HASH]
            .contains(type)
    }

    /// Possible CPUs (slots of a per-CPU value).
    public static let possibleCPUs: Int = max(1, Int(clibbpf_num_possible_cpus()))

    /// Bytes `lookup` returns: the value, or one 8-byte-aligned slot per CPU.
    public var lookupSize: Int {
        isPerCPU ? ((valueSize + 7) / 8 * 8) * Self.possibleCPUs : valueSize
    }

    private func check(key: Int) throws {
        guard key == keySize else {
            throw KernelProbeError.keyOrValueSize(map: name, expected: keySize, actual: key)
        }
    }

    /// The value at `key`, or nil when absent (`bpf_map_lookup_elem`).
    public func lookup(key: [UInt8]) throws -> [UInt8]? {
        try check(key: key.count)
        var value = [UInt8](repeating: 0, count: lookupSize)
        let ret = key.withUnsafeBytes { k in
            value.withUnsafeMutableBytes { v in bpf_map_lookup_elem(fd, k.baseAddress, v.baseAddress) }
        }
        if ret != 0 {
            let e = Errno.of(ret)
            if e == ENOENT { return nil }
            throw KernelProbeError.mapOperation(map: name, operation: "bpf_map_lookup_elem", errno: e)
        }
        return value
    }

    /// Writes `value` at `key` (`bpf_map_update_elem`, BPF_ANY). For per-CPU maps
    /// `value` may be one slot (copied to every CPU) or all slots.
    public func update(key: [UInt8], value: [UInt8]) throws {
        try check(key: key.count)
        var full = value
        if isPerCPU && value.count == valueSize {
            let slot = (valueSize + 7) / 8 * 8
            full = []
            for _ in 0..<Self.possibleCPUs {
                full += value + [UInt8](repeating: 0, count: slot - valueSize)
            }
        }
        guard full.count == lookupSize else {
            throw KernelProbeError.keyOrValueSize(map: name, expected: lookupSize, actual: full.count)
        }
        let ret = key.withUnsafeBytes { k in
            full.withUnsafeBytes { v in bpf_map_update_elem(fd, k.baseAddress, v.baseAddress, UInt64(BPF_ANY)) }
        }
        if ret != 0 {
            throw KernelProbeError.mapOperation(map: name, operation: "bpf_map_update_elem", errno: Errno.of(ret))
        }
    }

    /// Deletes `key`; returns false when it was absent (`bpf_map_delete_elem`).
    @discardableResult
    public func delete(key: [UInt8]) throws -> Bool {
        try check(key: key.count)
        let ret = key.withUnsafeBytes { k in bpf_map_delete_elem(fd, k.baseAddress) }
        if ret != 0 {
            let e = Errno.of(ret)
            if e == ENOENT { return false }
            throw KernelProbeError.mapOperation(map: name, operation: "bpf_map_delete_elem", errno: e)
        }
        return true
    }

    /// Every key of a hash-like map (`bpf_map_get_next_key`); bounded by `maxEntries`.
    public func keys() throws -> [[UInt8]] {
        var result: [[UInt8]] = []
        var prev: [UInt8]? = nil
        var next = [UInt8](repeating: 0, count: keySize)
        while result.count < maxEntries {
            let ret: Int32 = next.withUnsafeMutableBytes { n in
                if let p = prev {
                    return p.withUnsafeBytes { bpf_map_get_next_key(fd, $0.baseAddress, n.baseAddress) }
                }
                return bpf_map_get_next_key(fd, nil, n.baseAddress)
            }
            if ret != 0 {
                let e = Errno.of(ret)
                if e == ENOENT { break }
                throw KernelProbeError.mapOperation(map: name, operation: "bpf_map_get_next_key", errno: e)
            }
            result.append(next)
            prev = next
        }
        return result
    }
}

/// Raw bytes of a bitwise-copyable value (a C struct imported into Swift).
public func bytes<T: BitwiseCopyable>(of value: T) -> [UInt8] {
    withUnsafeBytes(of: value) { Array($0) }
}

/// A bitwise-copyable value read from the first `MemoryLayout<T>.size` bytes.
/// Returns nil when there are fewer bytes.
public func load<T: BitwiseCopyable>(_ type: T.Type, from bytes: some Collection<UInt8>, offset: Int = 0) -> T? {
    let array = Array(bytes)
    guard offset >= 0, array.count - offset >= MemoryLayout<T>.size else { return nil }
    return array.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: T.self) }
}
