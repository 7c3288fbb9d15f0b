import CRedlineABI

/// The call details of the segment being read, for the aggregators that need names
/// (schemas/records-v2.md, "Joining a call to its detail"). `HostProcessor` adds every detail
/// it reads and holds a call block back until the details it names have been read (or the
/// segment ended); `L7Aggregation` looks each call's detail up by `detail_seq`. Details arrive
/// in `seq` order, so they are kept in that order and found by binary search; those of calls
/// already handled are dropped, so memory follows how far the call and detail blocks run apart,
/// not the segment's size.
///
/// A reference shared by the host's `HostProcessor` run and its `L7Aggregation`; used by that
/// one run's thread only (hence the unchecked `Sendable`).
final class CallDetailJoin: @unchecked Sendable {
    private var details: [rl_call_detail] = []
    /// Details before this index belong to calls already handled.
    private var start = 0
    /// The largest `seq` read in this segment (0 before the first).
    private(set) var highestSeq: UInt32 = 0

    /// Adds details read from the segment. One whose `seq` does not increase breaks the
    /// format's rule and is left out: its call then reads as having no names, never another's.
    func add(_ new: UnsafeBufferPointer<rl_call_detail>) {
        for d in new where d.seq > highestSeq {
            details.append(d)
            highestSeq = d.seq
        }
    }

    /// The detail numbered `seq`, or nil (no detail, or it was lost with a damaged block).
    func detail(_ seq: UInt32) -> rl_call_detail? {
        guard seq != 0 else { return nil }
        var lo = start, hi = details.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if details[mid].seq < seq { lo = mid + 1 } else { hi = mid }
        }
        return lo < details.count && details[lo].seq == seq ? details[lo] : nil
    }

    /// Drops the details numbered up to `seq`: their calls have been handled.
    func forget(through seq: UInt32) {
        while start < details.count && details[start].seq <= seq { start += 1 }
        if start > 4096 && start * 2 > details.count {
            details.removeFirst(start)
            start = 0
        }
    }

    /// Forgets everything: the next segment numbers its details afresh.
    func reset() {
        details.removeAll(keepingCapacity: true)
        start = 0
        highestSeq = 0
    }
}
