/// A value that partial aggregates combine by: counts add, histograms merge.
/// `merge` must be associative and commutative, so partials from any number of
/// hosts combine to the same result in any order (the Swift merge and the
/// Spark SQL merge rely on it).
public protocol Mergeable: Sendable {
    mutating func merge(_ other: Self)
}

/// Rows of one table under construction: a key per group, a cell per key.
/// Memory is bounded by the number of groups, never by the number of input
/// records. Rows come out sorted by key so re-runs write identical bytes.
public struct Accumulator<Key: Hashable & Comparable & Sendable, Cell: Mergeable>: Sendable {
    @usableFromInline var storage: [Key: Cell] = [:]

    /// The groups so far.
    public var cells: [Key: Cell] { storage }

    public init() {}

    public var groupCount: Int { storage.count }

    /// Makes room for `groups` groups in all.
    public mutating func reserveCapacity(_ groups: Int) { storage.reserveCapacity(groups) }

    /// Updates the cell of `key`, creating it with `make` first if needed.
    @inlinable
    public mutating func update(_ key: Key, make: () -> Cell, _ body: (inout Cell) -> Void) {
        body(&storage[key, default: make()])
    }

    /// Changes every cell in place, given its key.
    public mutating func updateEach(_ body: (Key, inout Cell) -> Void) {
        var i = storage.startIndex
        while i != storage.endIndex {
            body(storage.keys[i], &storage.values[i])
            storage.formIndex(after: &i)
        }
    }

    /// Adds a partial cell (merge step). Inlinable, so that each table's key and cell types get
    /// their own specialisation where it is called (hashing through the generic form costs
    /// more than the merge).
    @inlinable
    public mutating func merge(_ key: Key, _ cell: Cell) {
        // One hash lookup, the cell changed in place (a new key takes `cell` as it is).
        var isNew = false
        update(key, make: { isNew = true; return cell }) { if !isNew { $0.merge(cell) } }
    }

    /// Adds every group of another accumulator.
    public mutating func merge(_ other: Accumulator) {
        for (k, c) in other.storage { merge(k, c) }
    }

    /// All groups, sorted by key.
    public func sortedRows() -> [(key: Key, cell: Cell)] {
        storage.sorted { $0.key < $1.key }.map { (key: $0.key, cell: $0.value) }
    }
}

extension ExponentialHistogram: Mergeable {}
