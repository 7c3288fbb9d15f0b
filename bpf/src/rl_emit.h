/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * rl_emit.h — config reads, statistics, per-CPU token buckets and the ring
 * buffer with batched wakeups. Every record leaves the kernel through
 * rl_reserve()/rl_submit(), so rate caps and loss counters cannot be skipped.
 */
#ifndef RL_EMIT_H
#define RL_EMIT_H

static __always_inline __u64 rl_cfg(__u32 key)
{
	__u64 *v = bpf_map_lookup_elem(&rl_config, &key);
	return v ? *v : 0;
}

static __always_inline struct rl_kstats *rl_stats(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&rl_kstats, &zero);
}

/* Takes one token of `type`'s bucket; true when the record may be emitted.
 * Tokens are kept in units of 1e-9 record so integer math is exact. */
static __always_inline bool rl_take_token(__u32 type, __u64 rate, __u64 burst)
{
	if (rate == 0)
		return true;
	struct rl_bucket *b = bpf_map_lookup_elem(&rl_buckets, &type);
	if (!b)
		return false;
	if (burst == 0)
		burst = rate;
	/* Only on emission, so the precise clock (tracing programs lack the coarse one). */
	__u64 now = bpf_ktime_get_ns();
	__u64 elapsed = now - b->last_ns;
	/* Cap the refill interval so elapsed * rate cannot overflow. */
	if (elapsed > 10000000000ULL)
		elapsed = 10000000000ULL;
	__u64 cap = burst * 1000000000ULL;
	__u64 tokens = b->tokens_ne + elapsed * rate;
	if (tokens > cap)
		tokens = cap;
	b->last_ns = now;
	if (tokens < 1000000000ULL) {
		b->tokens_ne = tokens;
		return false;
	}
	b->tokens_ne = tokens - 1000000000ULL;
	return true;
}

static __always_inline bool rl_rate_ok(__u32 type)
{
	__u64 rate, burst;
	switch (type) {
	case RL_REC_FLOW_DELTA:
		rate = rl_cfg(RL_CFG_RATE_FLOW);
		burst = rl_cfg(RL_CFG_BURST_FLOW);
		break;
	case RL_REC_L7_CALL:
		rate = rl_cfg(RL_CFG_RATE_CALL);
		burst = rl_cfg(RL_CFG_BURST_CALL);
		break;
	default:
		rate = rl_cfg(RL_CFG_RATE_TCP_EVENT);
		burst = rl_cfg(RL_CFG_BURST_TCP_EVENT);
		break;
	}
	return rl_take_token(type, rate, burst);
}

/* Counts one lost event of `type` for `reason` (a loss counter of enum
 * rl_stats_counter), owned by the local socket's `cgroup_id`, `l7_proto` and
 * `side` (0 where unknown): first in rl_loss under that owner and its
 * UTC-aligned second, when the map has room, then in the host totals of
 * rl_kstats, which cannot fail. The collector reads totals before the map, so
 * with this order a loss is never reported twice; one that found the map full
 * is reported by kind only. Not inlined: its key lives in its own frame, not in
 * the packet programs' (their call chains are near the 512-byte stack limit). */
static __noinline void rl_lost(struct rl_kstats *st, __u32 reason, __u32 type, __u32 l7_side,
			       __u64 cgroup_id)
{
	struct rl_loss_key k = {
		.cgroup_id = cgroup_id,
		.slot = (bpf_ktime_get_ns() + rl_cfg(RL_CFG_LOSS_SLOT_OFFSET_NS)) / RL_LOSS_SLOT_NS,
		.reason = reason,
		.record_type = type,
		.l7_proto = l7_side & 0xff,
		.side = l7_side >> 8,
	};
	__u64 *n = bpf_map_lookup_elem(&rl_loss, &k);
	if (n) {
		(*n)++;
	} else {
		__u64 one = 1;
		bpf_map_update_elem(&rl_loss, &k, &one, BPF_NOEXIST);
	}
	if (!st)
		return;
	switch (reason) {
	case RL_STAT_RINGBUF_DROPPED:
		st->ringbuf_dropped[type & (RL_KSTAT_TYPES - 1)]++;
		break;
	case RL_STAT_RATE_CAPPED:
		st->rate_capped[type & (RL_KSTAT_TYPES - 1)]++;
		break;
	case RL_STAT_UNPAIRED_REQUEST:
		st->unpaired_request[l7_side & (RL_KSTAT_PROTOS - 1)]++;
		break;
	default:
		st->unpaired_response[l7_side & (RL_KSTAT_PROTOS - 1)]++;
		break;
	}
}

/* The owner argument of rl_lost / rl_reserve: L7 protocol and side in one word. */
#define RL_OWNER(l7_proto, side) ((__u32)(l7_proto) | ((__u32)(side) << 8))

/* Reserves header + `size` bytes for a record of `type` (an rl_record_type;
 * `sample` is the ring sample type, equal to `type` except for kernel-only
 * samples) owned by RL_OWNER(l7, side) and `cgroup_id`. Returns the record's
 * first byte, or NULL when rate-capped or the ring is full (both counted
 * against that owner). */
static __always_inline void *rl_reserve(__u32 type, __u32 sample, __u32 size, __u32 owner,
					 __u64 cgroup_id, struct rl_kstats *st)
{
	if (!rl_rate_ok(type)) {
		rl_lost(st, RL_STAT_RATE_CAPPED, type, owner, cgroup_id);
		return NULL;
	}
	struct rl_ring_header *h = bpf_ringbuf_reserve(&rl_events, sizeof(*h) + size, 0);
	if (!h) {
		rl_lost(st, RL_STAT_RINGBUF_DROPPED, type, owner, cgroup_id);
		return NULL;
	}
	h->type = sample;
	h->size = size;
	h->reserved = 0;
	return h + 1;
}

/* rl_reserve without the loss count: returns NULL and sets *lost to the
 * reason (RL_STAT_RATE_CAPPED, RL_STAT_RINGBUF_DROPPED) for the caller to
 * count with rl_lost. For functions deep in a call chain: the count's frame
 * then hangs off their caller, not off them (the 512-byte stack limit). */
static __always_inline void *rl_reserve_or_reason(__u32 type, __u32 sample, __u32 size, __u32 *lost)
{
	if (!rl_rate_ok(type)) {
		*lost = RL_STAT_RATE_CAPPED;
		return NULL;
	}
	struct rl_ring_header *h = bpf_ringbuf_reserve(&rl_events, sizeof(*h) + size, 0);
	if (!h) {
		*lost = RL_STAT_RINGBUF_DROPPED;
		return NULL;
	}
	h->type = sample;
	h->size = size;
	h->reserved = 0;
	return h + 1;
}

/* Submits a record from rl_reserve(). Wakes the consumer only every
 * RL_CFG_WAKEUP_EVERY records per CPU (KERNEL-NOTES: 3x the throughput of
 * a wakeup per record); the consumer also polls on a timeout. */
static __always_inline void rl_submit(void *rec, __u32 type, struct rl_kstats *st)
{
	__u64 flags = BPF_RB_NO_WAKEUP;
	if (st) {
		st->emitted[type & (RL_KSTAT_TYPES - 1)]++;
		__u64 every = rl_cfg(RL_CFG_WAKEUP_EVERY);
		if (every == 0)
			every = 64;
		if (++st->since_wakeup >= every) {
			st->since_wakeup = 0;
			flags = BPF_RB_FORCE_WAKEUP;
		}
	}
	bpf_ringbuf_submit((struct rl_ring_header *)rec - 1, flags);
}

#endif /* RL_EMIT_H */
