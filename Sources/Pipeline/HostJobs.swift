import Aggregates
import Enrichment
import Foundation

/// Runs one piece of work per host on up to `jobs` threads and hands the results to the calling
/// thread in host order (`redline run --jobs`); the merge stage runs its merged tables through it
/// the same way, one table per piece of work.
///
/// Hosts are independent until the merge, so each worker runs a whole host (its own name pool,
/// its own partial files); the caller folds the results in host order, which makes the run's
/// output independent of `jobs` and of thread timing. A host is only started while fewer than
/// `jobs` hosts are running or waiting to be folded, so memory stays within `jobs` hosts'
/// working sets plus the merge, whatever the number of hosts.
struct HostJobs<Result> {
    let count: Int
    let jobs: Int

    init(count: Int, jobs: Int) {
        self.count = count
        self.jobs = max(1, jobs)
    }

    /// Calls `work(i)` for every host index on the worker threads and `fold(i, result)` on the
    /// calling thread for i = 0, 1, … in order. The first error (of `work` in host order, or of
    /// `fold`) stops the workers from starting more hosts, waits for those running, and is
    /// rethrown.
    func run(work: @escaping (Int) throws(PipelineError) -> Result,
             fold: (Int, Result) throws(PipelineError) -> Void) throws(PipelineError) {
        guard count > 0 else { return }
        let state = State(count: count, window: jobs)
        var failure: PipelineError?
        // `work` reads the run's inputs only; results travel through `state`, whose lock orders
        // every access, and `run` returns only after the workers left (`stopAndJoin`).
        do {
            let shared = UnsafeTransfer(work)
            var threads: [Thread] = []
            for _ in 0..<min(jobs, count) {
                let t = Thread {
                    while let i = state.next() {
                        let r: Swift.Result<Result, PipelineError>
                        do throws(PipelineError) { r = .success(try shared.value(i)) } catch { r = .failure(error) }
                        state.finish(i, UnsafeTransfer(r))
                    }
                    state.exit()
                }
                // Foundation's default stack for secondary threads is smaller than the main thread's.
                t.stackSize = 8 << 20
                threads.append(t)
            }
            threads.forEach { $0.start() }
            defer { state.stopAndJoin() }
            do throws(PipelineError) {
                for i in 0..<count {
                    switch state.take(i).value {
                    case .success(let r): try fold(i, r)
                    case .failure(let e): throw e
                    }
                }
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
    }

    /// A value handed between threads by `State`'s lock (the lock orders the accesses).
    struct UnsafeTransfer<T>: @unchecked Sendable {
        let value: T
        init(_ value: T) { self.value = value }
    }

    /// The scheduler's shared state: which host starts next, results waiting to be folded.
    final class State: @unchecked Sendable {
        private let cond = NSCondition()
        private let count: Int
        private let window: Int
        private var started = 0
        private var folded = 0
        private var stopped = false
        private var running: Int
        private var results: [UnsafeTransfer<Swift.Result<Result, PipelineError>>?]

        init(count: Int, window: Int) {
            self.count = count
            self.window = window
            self.running = min(window, count)
            self.results = Array(repeating: nil, count: count)
        }

        /// The next host for a worker, once the window allows it; nil when there is none.
        func next() -> Int? {
            cond.lock()
            defer { cond.unlock() }
            while !stopped && started < count && started >= folded + window { cond.wait() }
            guard !stopped && started < count else { return nil }
            started += 1
            return started - 1
        }

        func finish(_ i: Int, _ r: UnsafeTransfer<Swift.Result<Result, PipelineError>>) {
            cond.lock()
            results[i] = r
            cond.broadcast()
            cond.unlock()
        }

        func exit() {
            cond.lock()
            running -= 1
            cond.broadcast()
            cond.unlock()
        }

        /// Host `i`'s result, once a worker has it; frees its slot in the window.
        func take(_ i: Int) -> UnsafeTransfer<Swift.Result<Result, PipelineError>> {
            cond.lock()
            defer { cond.unlock() }
            while results[i] == nil { cond.wait() }
            let r = results[i]!
            results[i] = nil
            folded += 1
            cond.broadcast()
            return r
        }

        /// Lets no more hosts start and waits for the workers to leave.
        func stopAndJoin() {
            cond.lock()
            stopped = true
            cond.broadcast()
            while running > 0 { cond.wait() }
            cond.unlock()
        }
    }
}

extension NamePool {
    /// For each id of `other`, the id of the same name here (added when new): translates a
    /// host's own pool into the run's. Names are added in `other`'s id order, so folding hosts in
    /// order gives the ids one pool shared by all hosts would have given.
    mutating func translation(of other: NamePool) -> [Int32] {
        other.names.map { id($0) }
    }
}

extension OutputTable {
    /// A function mapping the name fields of a key through `map`: each name id is read and
    /// written at its byte offset in the key (a key path per field and key would cost more
    /// than the merge it serves).
    static func keyRenaming(_ map: [Int32]) -> (Key) -> Key {
        let paths = fields.compactMap { f -> WritableKeyPath<Key, Int32>? in
            if case .name(let p) = f.kind { p } else { nil }
        }
        let offsets = paths.compactMap { MemoryLayout<Key>.offset(of: $0) }
        guard offsets.count == paths.count else {
            return { key in
                var k = key
                for p in paths { k[keyPath: p] = map[Int(k[keyPath: p])] }
                return k
            }
        }
        return { key in
            var k = key
            withUnsafeMutableBytes(of: &k) { raw in
                for o in offsets { raw.storeBytes(of: map[Int(raw.load(fromByteOffset: o, as: Int32.self))], toByteOffset: o, as: Int32.self) }
            }
            return k
        }
    }
}
