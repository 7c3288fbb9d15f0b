// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * redline.bpf.c — Redline's kernel data plane, one object so the programs
 * share their maps:
 *   rl_tc_egress / rl_tc_ingress  tc clsact: flow accounting, L7 rules, calls
 *   rl_tc_probe                   tc: parse + filter + classify only, for
 *                                 BPF_PROG_TEST_RUN (never attached)
 *   rl_sockops                    cgroup sockops: identity TCP option
 *   rl_tp_*                       TCP health tracepoints
 *   rl_iter_listeners             iter/tcp: identity option on existing listeners
 * Map documentation: rl_maps.h; configuration: redline_maps.h; README.md.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <linux/pkt_cls.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "redline_maps.h"
#include "rl_kernel_types.h"
#include "rl_maps.h"
#include "rl_emit.h"
#include "rl_parse.h"
#include "rl_rules.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define RL_DIR_EGRESS 1
#define RL_DIR_INGRESS 2
#define RL_TCP_LISTEN 10 /* kernel TCP_LISTEN */
#define RL_SOL_TCP 6
#define RL_TCP_SAVE_SYN 27
#define RL_DEFAULT_FLUSH_NS 1000000000ULL

/* ------------------------------------------------------------------ */
/* Identity helpers                                                    */
/* ------------------------------------------------------------------ */

/* cgroup v2 id of a full socket (through its cgroup's kernfs node). */
static __always_inline __u64 rl_sock_cgroup(struct sock *s)
{
	if (!s)
		return 0;
	return BPF_CORE_READ(s, sk_cgrp_data.cgroup, kn, id);
}

/* cgroup v2 id of any socket helpers can see: a full TCP socket, or a
 * request socket (its listener's cgroup). */
static __always_inline __u64 rl_skc_cgroup(void *skc)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);
	if (tp)
		return rl_sock_cgroup((struct sock *)tp);
	struct tcp_request_sock *trs = bpf_skc_to_tcp_request_sock(skc);
	if (trs)
		return rl_sock_cgroup(BPF_CORE_READ(trs, req.req.__req_common.skc_listener));
	return 0;
}

static __always_inline __u32 rl_service_of(__u64 cgroup_id)
{
	if (!cgroup_id)
		return 0;
	__u32 *sid = bpf_map_lookup_elem(&rl_cgroup_service, &cgroup_id);
	return sid ? *sid : 0;
}

/* ------------------------------------------------------------------ */
/* Filters                                                             */
/* ------------------------------------------------------------------ */

static __always_inline __u32 rl_filter_lookup_verdict(__u32 *v, __u64 bit, __u64 default_deny)
{
	if (v)
		return *v == RL_FILTER_DENY ? RL_FILTER_DENY : RL_FILTER_ALLOW;
	return (default_deny & bit) ? RL_FILTER_DENY : 0;
}

/* Whether records about the flow of `p` may leave the kernel.
 * `local_sends`: the local socket is the source side for the classid filter. */
static __always_inline __u32 rl_verdict(const struct rl_pkt *p, bool egress, bool local_sends,
					__u32 classid)
{
	__u64 l4mask = rl_cfg(RL_CFG_L4_MASK);
	if (l4mask && !(l4mask & (p->l4 == IPPROTO_TCP ? 1 : 2)))
		return RL_FILTER_DENY;
	__u64 active = rl_cfg(RL_CFG_FILTERS_ACTIVE);
	if (!active)
		return RL_FILTER_ALLOW;
	__u64 default_deny = rl_cfg(RL_CFG_DEFAULT_DENY);
	__u32 *v;
	if (active & RL_FILTER_CIDR) {
		struct rl_cidr_key k = {.prefixlen = 128};
		__builtin_memcpy(k.addr, egress ? p->daddr : p->saddr, 16);
		v = bpf_map_lookup_elem(&rl_filter_cidr, &k);
		if (rl_filter_lookup_verdict(v, RL_FILTER_CIDR, default_deny) == RL_FILTER_DENY)
			return RL_FILTER_DENY;
	}
	if (active & RL_FILTER_PORT) {
		struct rl_port_key k = {.port = egress ? p->dport : p->sport, .l4_proto = p->l4};
		v = bpf_map_lookup_elem(&rl_filter_port, &k);
		if (!v) {
			k.port = egress ? p->sport : p->dport;
			v = bpf_map_lookup_elem(&rl_filter_port, &k);
		}
		if (rl_filter_lookup_verdict(v, RL_FILTER_PORT, default_deny) == RL_FILTER_DENY)
			return RL_FILTER_DENY;
	}
	if (active & RL_FILTER_CLASSID) {
		struct rl_classid_key k = {
			.classid = classid,
			.dir = local_sends ? RL_CLASSID_SOURCE : RL_CLASSID_DESTINATION,
		};
		v = bpf_map_lookup_elem(&rl_filter_classid, &k);
		if (rl_filter_lookup_verdict(v, RL_FILTER_CLASSID, default_deny) == RL_FILTER_DENY)
			return RL_FILTER_DENY;
	}
	return RL_FILTER_ALLOW;
}

static __always_inline bool rl_l7_denied(__u8 proto)
{
	return (rl_cfg(RL_CFG_L7_DENY_MASK) >> (proto & 31)) & 1;
}

/* Whether a flow with no protocol yet and `misses` unmatched classifications
 * is still worth classifying: unknown traffic (sockperf, bulk TLS after the
 * handshake, ...) stops costing payload loads after a few exchanges. */
static __always_inline bool rl_l7_worth_trying(__u8 l7_proto, __u8 misses)
{
	if (l7_proto)
		return true;
	__u64 max = rl_cfg(RL_CFG_L7_MAX_MISSES);
	return misses < (max ? max : 8);
}

static __always_inline __u64 rl_flush_interval(void)
{
	__u64 v = rl_cfg(RL_CFG_FLUSH_INTERVAL_NS);
	return v ? v : RL_DEFAULT_FLUSH_NS;
}

/* Local/remote addresses and ports of `p` seen from the observing host. */
static __always_inline void rl_fill_endpoints(const struct rl_pkt *p, bool egress, __u8 *laddr,
					      __u8 *raddr, __u16 *lport, __u16 *rport)
{
	__builtin_memcpy(laddr, egress ? p->saddr : p->daddr, 16);
	__builtin_memcpy(raddr, egress ? p->daddr : p->saddr, 16);
	*lport = egress ? p->sport : p->dport;
	*rport = egress ? p->dport : p->sport;
}

/* ------------------------------------------------------------------ */
/* TCP: per-socket state in sk_storage                                 */
/* ------------------------------------------------------------------ */

static __always_inline bool rl_tcp_allowed(struct rl_sk_state *st, const struct rl_pkt *p,
					   bool egress, struct rl_kstats *stats)
{
	if (!st->verdict) {
		bool local_sends = st->side ? st->side == RL_SIDE_CLIENT : egress;
		st->verdict = rl_verdict(p, egress, local_sends, st->classid);
	}
	if (st->verdict == RL_FILTER_DENY) {
		if (stats)
			stats->filtered++;
		return false;
	}
	return true;
}

static __always_inline void rl_tcp_flush(const struct rl_pkt *p, struct rl_sk_state *st,
					 bool egress, __u64 now, bool closing,
					 struct rl_kstats *stats)
{
	if (st->tx_packets == 0 && st->rx_packets == 0 && !closing)
		return;
	if (!rl_tcp_allowed(st, p, egress, stats))
		goto reset;
	struct rl_flow_delta *d = rl_reserve(RL_REC_FLOW_DELTA, RL_REC_FLOW_DELTA, sizeof(*d),
					     RL_OWNER(st->l7_proto, st->side), st->cgroup_id, stats);
	if (!d)
		goto reset; /* counted as dropped or capped; the next delta starts fresh */
	__builtin_memset(d, 0, sizeof(*d));
	d->start_ns = st->first_ns;
	d->end_ns = st->last_ns;
	d->cgroup_id = st->cgroup_id;
	rl_fill_endpoints(p, egress, d->laddr, d->raddr, &d->lport, &d->rport);
	d->family = p->family;
	d->l4_proto = IPPROTO_TCP;
	d->l7_proto = st->l7_proto;
	d->side = st->side;
	d->classid = st->classid;
	d->local_service = st->local_service;
	d->peer_service = st->peer_service;
	__u32 flags = 0;
	if (!(st->flags & RL_SK_OPENED_SENT))
		flags |= RL_FLOW_OPENED;
	if (closing)
		flags |= RL_FLOW_CLOSED;
	if (st->flags & RL_SK_ID_MISSING)
		flags |= RL_FLOW_ID_OPTION_MISSING;
	d->flags = flags;
	d->tx_bytes = st->tx_bytes;
	d->rx_bytes = st->rx_bytes;
	d->tx_packets = st->tx_packets;
	d->rx_packets = st->rx_packets;
	d->tx_payload_bytes = st->tx_payload_bytes;
	d->rx_payload_bytes = st->rx_payload_bytes;
	rl_submit(d, RL_REC_FLOW_DELTA, stats);
	st->flags |= RL_SK_OPENED_SENT;
reset:
	st->tx_bytes = 0;
	st->rx_bytes = 0;
	st->tx_packets = 0;
	st->rx_packets = 0;
	st->tx_payload_bytes = 0;
	st->rx_payload_bytes = 0;
	st->first_ns = 0;
	st->last_flush_ns = now;
}

/* True for exactly one caller per socket: the one that emits the closing delta.
 * tc (both FINs seen, or a RST) and sockops (TCP_CLOSE) can both see a socket
 * not yet closed from two CPUs; a plain flag test-and-set let both emit one, so
 * a connection could count as two closed flows. */
static __always_inline bool rl_claim_close(struct rl_sk_state *st)
{
	if (st->close_claim)
		return false;
	return __sync_fetch_and_add(&st->close_claim, 1) == 0;
}

/* Loads a request's first bytes at payload offset `off` into `dst`: the rule's
 * `want`, at most `avail` (what the segment holds) and RL_CAPTURE_MAX. dst->len
 * says how many (0: none). */
static __always_inline void rl_capture(struct __sk_buff *skb, __u32 off, __u32 avail, __u32 want,
				       struct rl_call_prefix *dst)
{
	__u32 cl = want;
	dst->len = 0;
	if (cl > avail)
		cl = avail;
	if (cl > RL_CAPTURE_MAX)
		cl = RL_CAPTURE_MAX;
	if (!cl)
		return;
	/* 1..256 in a form the verifier keeps (see rl_classify_payload). */
	cl = ((cl - 1) & (RL_CAPTURE_MAX - 1)) + 1;
	asm volatile("" : "+r"(cl));
	if (cl > 0 && cl <= RL_CAPTURE_MAX && bpf_skb_load_bytes(skb, off, dst->data, cl) == 0)
		dst->len = cl;
}

/* Copies the first `n` (at most RL_CAPTURE_MAX) bytes of a prefix in one of three
 * fixed sizes, each an unrolled memcpy: most captures are short (the shipped RESP
 * rules take 64), and under the FIFO's lock every instruction is held by both CPUs. */
static __always_inline void rl_copy_prefix(__u8 *dst, const __u8 *src, __u32 n)
{
	if (n <= 64)
		__builtin_memcpy(dst, src, 64);
	else if (n <= 128)
		__builtin_memcpy(dst, src, 128);
	else
		__builtin_memcpy(dst, src, RL_CAPTURE_MAX);
}

/* Emits one TCP call record of the flow of `st` (filters and L7 deny mask
 * applied), with the request's first bytes `px` when it has them (NULL or
 * len 0: none). A global function: verified once, not once per place a call
 * is made (message walking makes calls from many). `stats` may be NULL.
 * Returns 1 emitted, 0 filtered, or minus the loss reason (rate cap, ring
 * full): the caller counts that loss (rl_tcp_emit_counted), so the count's
 * frame is not stacked on this one at the end of the deepest call chain. */
__noinline int rl_tcp_emit(const struct rl_pkt *p, struct rl_sk_state *st, struct rl_kstats *stats,
			   const struct rl_call_out *o, const struct rl_call_prefix *px)
{
	if (!p || !st || !o)
		return 0;
	__u32 egress = o->egress;
	if (!rl_tcp_allowed(st, p, egress, stats))
		return 0;
	if (rl_l7_denied(o->proto)) {
		if (stats)
			stats->filtered++;
		return 0;
	}
	struct rl_l7_call *c;
	__u32 lost = 0;
	__u32 plen = px ? px->len : 0;
	if (plen > 0 && plen <= RL_CAPTURE_MAX) {
		c = rl_reserve_or_reason(RL_REC_L7_CALL, RL_KSAMPLE_CALL_WITH_PREFIX,
					 sizeof(*c) + sizeof(struct rl_call_prefix), &lost);
		if (!c)
			return -(int)lost;
		struct rl_call_prefix *out = (void *)(c + 1);
		out->len = plen;
		__builtin_memset(out->pad, 0, sizeof(out->pad));
		rl_copy_prefix(out->data, px->data, plen);
	} else {
		c = rl_reserve_or_reason(RL_REC_L7_CALL, RL_REC_L7_CALL, sizeof(*c), &lost);
		if (!c)
			return -(int)lost;
	}
	__builtin_memset(c, 0, sizeof(*c));
	c->start_ns = o->start_ns;
	c->duration_ns = o->duration_ns;
	c->cgroup_id = st->cgroup_id;
	rl_fill_endpoints(p, egress, c->laddr, c->raddr, &c->lport, &c->rport);
	c->family = p->family;
	c->l4_proto = IPPROTO_TCP;
	c->l7_proto = o->proto;
	c->side = o->req_dir == RL_DIR_EGRESS ? RL_SIDE_CLIENT : RL_SIDE_SERVER;
	c->status_code = o->status_code;
	c->status_class = o->status_class;
	c->flags = o->flags;
	c->req_rule = o->req_rule;
	c->resp_rule = o->resp_rule;
	c->req_bytes = o->req_bytes;
	c->resp_bytes = o->resp_bytes;
	c->local_service = st->local_service;
	c->peer_service = st->peer_service;
	rl_submit(c, RL_REC_L7_CALL, stats);
	return 1;
}

/* rl_tcp_emit, with a lost call (rate cap, ring full) counted against its
 * owner: the call's protocol, this socket's side of it and its cgroup. */
static __always_inline void rl_tcp_emit_counted(const struct rl_pkt *p, struct rl_sk_state *st,
						struct rl_kstats *stats, const struct rl_call_out *o,
						const struct rl_call_prefix *px)
{
	int r = rl_tcp_emit(p, st, stats, o, px);
	if (r < 0)
		rl_lost(stats, (__u32)-r, RL_REC_L7_CALL,
			RL_OWNER(o->proto, o->req_dir == RL_DIR_EGRESS ? RL_SIDE_CLIENT : RL_SIDE_SERVER),
			st->cgroup_id);
}

/* A pending request that no response answered: charged to its protocol, side and cgroup. */
static __always_inline void rl_unpaired_request(struct rl_kstats *stats, const struct rl_sk_state *st)
{
	__u32 owner = RL_OWNER(st->req_proto, st->req_dir == RL_DIR_EGRESS ? RL_SIDE_CLIENT : RL_SIDE_SERVER);
	__u64 owner_cgroup = st->cgroup_id;
	rl_lost(stats, RL_STAT_UNPAIRED_REQUEST, RL_REC_L7_CALL, owner, owner_cgroup);
}

/* Emits the completed call of `st` (request and response seen). */
static __always_inline void rl_tcp_emit_call(const struct rl_pkt *p, struct rl_sk_state *st,
					     bool egress, struct rl_kstats *stats)
{
	st->call_state = 0;
	struct rl_call_out o = {
		.start_ns = st->req_start_ns,
		.duration_ns = st->resp_start_ns - st->req_start_ns,
		.req_bytes = st->req_bytes,
		.resp_bytes = st->resp_bytes,
		.req_rule = st->req_rule,
		.resp_rule = st->resp_rule,
		.status_code = st->status_code,
		.status_class = st->status_class,
		.proto = st->req_proto,
		.req_dir = st->req_dir,
		.egress = egress,
	};
	rl_tcp_emit_counted(p, st, stats, &o, &st->px);
}

/* Message walking (HTTP/1.x, RESP) uses rl_tcp_emit. */
#include "rl_stream.h"

/* Sequence check of a TCP payload segment against the direction's next
 * expected sequence number. Returns the payload offset where unseen bytes
 * begin (payload_len: a retransmission, nothing new) and in *gap the bytes
 * between the expected and the segment's first sequence number (never seen
 * here). */
static __always_inline __u32 rl_tcp_seq(struct rl_sk_state *st, const struct rl_pkt *p,
					bool egress, struct rl_kstats *stats, __u32 *gap)
{
	__u32 idx = egress ? 0 : 1;
	__u8 valid = egress ? RL_SEQ_TX_VALID : RL_SEQ_RX_VALID;
	__u32 len = p->payload_len;
	/* A SYN's payload (TCP Fast Open) starts one past its sequence number. */
	__u32 seq = p->seq + ((p->tcp_flags & RL_TCP_SYN) ? 1 : 0);
	__u32 end = seq + len;
	*gap = 0;
	if (!(st->seq_flags & valid)) {
		st->seq_flags |= valid;
		st->next_seq[idx] = end;
		return 0;
	}
	__u32 next = st->next_seq[idx];
	if ((__s32)(end - next) <= 0) {
		if (stats)
			stats->retransmits_skipped++;
		return len;
	}
	__u32 skip = 0;
	if ((__s32)(seq - next) < 0)
		skip = next - seq; /* a retransmission carrying new bytes too */
	else
		*gap = seq - next;
	st->next_seq[idx] = end;
	return skip;
}

/* A request rule matched on a flow whose protocol has a framing: from now on
 * its messages are walked (rl_stream.h). False when no state could be had. */
static __always_inline bool rl_tcp_start_framing(struct bpf_sock *sk, const struct rl_pkt *p,
						 struct rl_sk_state *st, const struct rl_rule *r,
						 bool egress, struct rl_kstats *stats)
{
	struct rl_stream *ss = bpf_sk_storage_get(&rl_sk_stream, sk, 0,
						  BPF_SK_STORAGE_GET_F_CREATE);
	if (!ss)
		return false;
	if (st->call_state == 2)
		rl_tcp_emit_call(p, st, egress, stats);
	else if (st->call_state == 1)
		rl_unpaired_request(stats, st);
	st->call_state = 0;
	st->px.len = 0;
	/* A new storage is zeroed; these are all a fresh stream needs. */
	ss->w[0].phase = RL_W_START;
	ss->w[1].phase = RL_W_START;
	ss->head = 0;
	ss->count = 0;
	ss->px_busy = 0;
	ss->overflow = 0;
	ss->answered = 0;
	ss->framing = rl_framing_of(r->l7_proto);
	ss->proto = r->l7_proto;
	ss->req_dir = egress ? RL_DIR_EGRESS : RL_DIR_INGRESS;
	st->seq_flags |= RL_SEQ_FRAMED;
	if (st->side == RL_SIDE_UNKNOWN)
		st->side = egress ? RL_SIDE_CLIENT : RL_SIDE_SERVER;
	return true;
}

/* Call pairing on a TCP payload segment. Rules are tested only on the first
 * payload after a change of direction: a message's later segments only add
 * bytes, so bulk transfers cost no payload loads. */
static __always_inline void rl_tcp_l7(struct __sk_buff *skb, struct bpf_sock *sk,
				      const struct rl_pkt *p, struct rl_sk_state *st, bool egress,
				      struct rl_kstats *stats, __u32 skip)
{
	__u8 dir = egress ? RL_DIR_EGRESS : RL_DIR_INGRESS;
	__u32 len = p->payload_len - skip;
	if (dir == st->last_dir) {
		if (st->call_state == 1 && dir == st->req_dir)
			st->req_bytes += len;
		else if (st->call_state == 2 && dir != st->req_dir)
			st->resp_bytes += len;
		return;
	}
	st->last_dir = dir;

	struct rl_match m;
	const struct rl_rule *r = NULL;
	if (rl_l7_worth_trying(st->l7_proto, st->l7_misses)) {
		r = rl_classify(skb, p, &m);
		if (!r && !st->l7_proto && st->l7_misses < 255)
			st->l7_misses++;
	}
	if (!r) {
		if (st->call_state == 1 && dir != st->req_dir &&
		    (st->req_flags & RL_RULE_PAIR_ANY_RESPONSE)) {
			st->resp_start_ns = bpf_ktime_get_ns();
			st->resp_rule = 0;
			st->status_code = 0;
			st->status_class = RL_STATUS_UNKNOWN;
			st->resp_bytes = len;
			st->call_state = 2;
		} else if (st->call_state == 1 && dir == st->req_dir) {
			st->req_bytes += len;
		} else if (st->call_state == 2 && dir != st->req_dir) {
			st->resp_bytes += len;
		}
		return;
	}
	if (!st->l7_proto)
		st->l7_proto = r->l7_proto;
	if (r->flags & RL_RULE_LABEL_ONLY)
		return;
	/* The caller walks this segment's messages from now on. */
	if (r->role == RL_ROLE_REQUEST && rl_framing_of(r->l7_proto) &&
	    rl_tcp_start_framing(sk, p, st, r, egress, stats))
		return;

	/* Symmetric framings (Thrift TTHeader, RESP arrays) look like requests both
	 * ways: with PAIR_ANY, the first payload back is the response whatever it matched. */
	if (r->role == RL_ROLE_REQUEST && st->call_state == 1 && dir != st->req_dir &&
	    (st->req_flags & RL_RULE_PAIR_ANY_RESPONSE) && r->l7_proto == st->req_proto) {
		st->resp_start_ns = bpf_ktime_get_ns();
		st->resp_rule = r->id;
		st->status_code = 0;
		st->status_class = RL_STATUS_UNKNOWN;
		st->resp_bytes = len;
		st->call_state = 2;
		return;
	}
	if (r->role == RL_ROLE_REQUEST) {
		if (st->call_state == 2)
			rl_tcp_emit_call(p, st, egress, stats);
		else if (st->call_state == 1)
			rl_unpaired_request(stats, st);
		st->req_start_ns = bpf_ktime_get_ns();
		st->req_rule = r->id;
		st->req_proto = r->l7_proto;
		st->req_dir = dir;
		st->req_flags = r->flags;
		st->req_bytes = len;
		st->resp_bytes = 0;
		st->resp_rule = 0;
		st->status_code = 0;
		st->status_class = 0;
		st->call_state = 1;
		if (st->side == RL_SIDE_UNKNOWN)
			st->side = egress ? RL_SIDE_CLIENT : RL_SIDE_SERVER;
		rl_capture(skb, p->payload_off, len, r->capture_len, &st->px);
		return;
	}

	/* A response: it answers a pending request of its protocol sent the other way. */
	if (st->call_state == 1 && dir != st->req_dir && r->l7_proto == st->req_proto) {
		st->resp_start_ns = bpf_ktime_get_ns();
		st->resp_rule = r->id;
		st->status_code = m.status_code;
		st->status_class = m.status_class;
		st->resp_bytes = len;
		st->call_state = 2;
	} else if (st->call_state == 2 && dir != st->req_dir && r->l7_proto == st->req_proto) {
		st->resp_bytes += len;
	} else {
		__u32 owner = RL_OWNER(r->l7_proto, egress ? RL_SIDE_SERVER : RL_SIDE_CLIENT);
		__u64 owner_cgroup = st->cgroup_id;
		rl_lost(stats, RL_STAT_UNPAIRED_RESPONSE, RL_REC_L7_CALL, owner, owner_cgroup);
	}
}

/* Link accounting of one packet. A GSO packet (egress) or a GRO packet
 * (ingress) of N segments crosses the link as N packets, each with its own
 * IP and L4 headers: count them so, so bytes and packets do not depend on
 * offload settings. gso_segs is 0 or 1 for a plain packet. */
static __always_inline void rl_count(struct __sk_buff *skb, const struct rl_pkt *p,
				     __u64 *bytes, __u32 *packets, __u64 *payload)
{
	__u32 segs = skb->gso_segs;
	if (segs < 2 || !skb->gso_size)
		segs = 1;
	/* Headers from the offsets, payload from the IP length: a UDP GSO packet's
	 * UDP length is one segment's, not the packet's. */
	__u32 headers = p->payload_off - sizeof(struct ethhdr);
	*bytes += p->l3_len + (__u64)(segs - 1) * headers;
	*packets += segs;
	*payload += p->l3_len - headers;
}

/* First sight of a socket: identity and the side, when the handshake shows it. */
static __always_inline void rl_tcp_init(struct rl_sk_state *st, struct bpf_sock *sk,
					const struct rl_pkt *p, bool egress, __u64 now)
{
	st->last_flush_ns = now;
	if (!st->cgroup_id) {
		st->cgroup_id = rl_skc_cgroup(sk);
		st->local_service = rl_service_of(st->cgroup_id);
	}
	if (p->tcp_flags & RL_TCP_SYN) {
		bool ack = p->tcp_flags & RL_TCP_ACK;
		st->side = (egress != ack) ? RL_SIDE_CLIENT : RL_SIDE_SERVER;
	}
}

/* Accounting, pairing and message walking of one TCP packet of local socket
 * `sk` (held by the caller for the whole call). */
static __always_inline void rl_tcp_sock(struct __sk_buff *skb, struct rl_pkt *p,
					struct bpf_sock *sk, bool egress, __u64 now)
{
	struct rl_sk_state *st =
		bpf_sk_storage_get(&rl_sk_state, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!st)
		return;
	if (!st->last_flush_ns)
		rl_tcp_init(st, sk, p, egress, now);
	if (egress && !(st->flags & RL_SK_CLASSID_READ)) {
		st->classid = bpf_get_cgroup_classid(skb);
		st->flags |= RL_SK_CLASSID_READ;
	}

	if (!st->first_ns)
		st->first_ns = now;
	st->last_ns = now;
	if (egress)
		rl_count(skb, p, &st->tx_bytes, &st->tx_packets, &st->tx_payload_bytes);
	else
		rl_count(skb, p, &st->rx_bytes, &st->rx_packets, &st->rx_payload_bytes);

	struct rl_kstats *stats = NULL;
	struct rl_stream *ss = NULL;
	/* Walked flows' stream state, only for packets that need it (pure ACKs don't). */
	if ((st->seq_flags & RL_SEQ_FRAMED) &&
	    (p->payload_len || (p->tcp_flags & (RL_TCP_FIN | RL_TCP_RST))))
		ss = bpf_sk_storage_get(&rl_sk_stream, sk, 0, 0);
	if (p->payload_len) {
		stats = rl_stats();
		/* Retransmitted bytes were classified, walked and counted the first
		 * time: only bytes past the next expected sequence number are new. */
		__u32 gap;
		__u32 skip = rl_tcp_seq(st, p, egress, stats, &gap);
		if (skip < p->payload_len && !(st->seq_flags & RL_SEQ_FRAMED)) {
			rl_tcp_l7(skb, sk, p, st, egress, stats, skip);
			if (st->seq_flags & RL_SEQ_FRAMED) { /* this segment's request started it */
				ss = bpf_sk_storage_get(&rl_sk_stream, sk, 0, 0);
				gap = 0;
			}
		}
		if (skip < p->payload_len && ss)
			rl_stream_segment(skb, p, st, ss, egress, skip, gap);
	}

	bool closing = false;
	if (p->tcp_flags & (RL_TCP_FIN | RL_TCP_RST)) {
		if (p->tcp_flags & RL_TCP_RST)
			closing = true;
		st->flags |= egress ? RL_SK_FIN_TX : RL_SK_FIN_RX;
		if ((st->flags & (RL_SK_FIN_TX | RL_SK_FIN_RX)) == (RL_SK_FIN_TX | RL_SK_FIN_RX))
			closing = true;
		if (ss && !(st->flags & RL_SK_CLOSED)) {
			if (!stats)
				stats = rl_stats();
			rl_stream_fin(p, st, ss, egress);
		}
	}
	if (closing && rl_claim_close(st)) {
		if (!stats)
			stats = rl_stats();
		if (ss)
			rl_stream_close(p, st, ss, egress, stats, rl_scratch(0));
		else if (st->call_state == 2)
			rl_tcp_emit_call(p, st, egress, stats);
		else if (st->call_state == 1)
			rl_unpaired_request(stats, st);
		st->call_state = 0;
		st->flags |= RL_SK_CLOSED;
		rl_tcp_flush(p, st, egress, now, true, stats);
		return;
	}
	/* Our own FIN flushes too: an orphaned socket's active close turns it into a
	 * timewait sock, which no lookup returns, so the peer's FIN (the closing
	 * delta) may never be seen and the connection's last counts would go with
	 * the socket. What follows our FIN (the peer's FIN and ACK) is then lost. */
	bool local_fin = egress && (p->tcp_flags & RL_TCP_FIN);
	if ((local_fin || now - st->last_flush_ns >= rl_flush_interval()) && !(st->flags & RL_SK_CLOSED)) {
		if (!stats)
			stats = rl_stats();
		rl_tcp_flush(p, st, egress, now, false, stats);
	}
}

static __always_inline void rl_tcp(struct __sk_buff *skb, struct rl_pkt *p, bool egress)
{
	struct bpf_sock *sk;
	__u64 now = bpf_ktime_get_coarse_ns();

	if (egress) {
		/* Egress: skb->sk is the local socket (a request sock for a SYN-ACK). */
		sk = skb->sk;
		if (!sk)
			return;
		sk = bpf_sk_fullsock(sk);
		if (!sk || sk->state == RL_TCP_LISTEN)
			return;
		rl_tcp_sock(skb, p, sk, true, now);
		return;
	}
	/* Ingress: skb->sk is NULL, or on veth the *sender's* socket; find ours. */
	struct bpf_sock_tuple t = {};
	__u32 tlen;
	if (p->family == RL_FAMILY_INET) {
		t.ipv4.saddr = p->saddr[3];
		t.ipv4.daddr = p->daddr[3];
		t.ipv4.sport = bpf_htons(p->sport);
		t.ipv4.dport = bpf_htons(p->dport);
		tlen = sizeof(t.ipv4);
	} else {
		__builtin_memcpy(t.ipv6.saddr, p->saddr, 16);
		__builtin_memcpy(t.ipv6.daddr, p->daddr, 16);
		t.ipv6.sport = bpf_htons(p->sport);
		t.ipv6.dport = bpf_htons(p->dport);
		tlen = sizeof(t.ipv6);
	}
	sk = bpf_sk_lookup_tcp(skb, &t, tlen, BPF_F_CURRENT_NETNS, 0);
	if (!sk)
		return;
	if (sk->state != RL_TCP_LISTEN)
		rl_tcp_sock(skb, p, sk, false, now);
	bpf_sk_release(sk);
}

/* ------------------------------------------------------------------ */
/* UDP: per-CPU flow counters in an LRU hash                           */
/* ------------------------------------------------------------------ */

static __always_inline void rl_udp_key_of(const struct rl_pkt *p, bool egress,
					  struct rl_udp_key *k)
{
	__builtin_memcpy(k->laddr, egress ? p->saddr : p->daddr, 16);
	__builtin_memcpy(k->raddr, egress ? p->daddr : p->saddr, 16);
	k->lport = egress ? p->sport : p->dport;
	k->rport = egress ? p->dport : p->sport;
	k->family = p->family;
}

/* Call pairing on a UDP datagram. `k` is the flow's key, made the pending entry's
 * key in place (rl_udp_pending_key); the caller clears its padding afterwards. */
static __always_inline void rl_udp_l7(struct __sk_buff *skb, const struct rl_pkt *p,
				      struct rl_udp_pending_key *k, struct rl_udp_flow *f,
				      bool egress, struct rl_kstats *stats)
{
	if (!rl_l7_worth_trying(f->l7_proto, f->l7_misses))
		return;
	struct rl_match m;
	const struct rl_rule *r = rl_classify(skb, p, &m);
	if (!r) {
		if (!f->l7_proto && f->l7_misses < 255)
			f->l7_misses++;
		return;
	}
	if (!f->l7_proto)
		f->l7_proto = r->l7_proto;
	if (r->flags & RL_RULE_LABEL_ONLY)
		return;
	__u8 dir = egress ? RL_DIR_EGRESS : RL_DIR_INGRESS;
	k->id = 0;
	if (r->l7_proto == RL_L7_DNS && p->payload_len >= 2)
		bpf_skb_load_bytes(skb, p->payload_off, &k->id, sizeof(k->id));
	struct rl_udp_pending *pend = bpf_map_lookup_elem(&rl_udp_pending, k);
	if (r->role == RL_ROLE_REQUEST) {
		if (pend) {
			__u32 owner = RL_OWNER(pend->proto, pend->dir == RL_DIR_EGRESS ? RL_SIDE_CLIENT : RL_SIDE_SERVER);
			__u64 owner_cgroup = 0;
			rl_lost(stats, RL_STAT_UNPAIRED_REQUEST, RL_REC_L7_CALL, owner, owner_cgroup);
		}
		__u32 zero = 0;
		struct rl_udp_pending *np = bpf_map_lookup_elem(&rl_udp_scratch, &zero);
		if (!np)
			return;
		np->start_ns = bpf_ktime_get_ns();
		np->bytes = p->payload_len;
		np->rule = r->id;
		np->proto = r->l7_proto;
		np->dir = dir;
		rl_capture(skb, p->payload_off, p->payload_len, r->capture_len, &np->px);
		bpf_map_update_elem(&rl_udp_pending, k, np, BPF_ANY);
		return;
	}
	if (!pend || pend->dir == dir || pend->proto != r->l7_proto) {
		__u32 owner = RL_OWNER(r->l7_proto, egress ? RL_SIDE_SERVER : RL_SIDE_CLIENT);
		__u64 owner_cgroup = 0;
		rl_lost(stats, RL_STAT_UNPAIRED_RESPONSE, RL_REC_L7_CALL, owner, owner_cgroup);
		return;
	}
	/* The request's fields, not its prefix: that is copied from the entry straight
	 * into the ring record, before the entry is deleted. */
	struct {
		__u64 start_ns;
		__u32 bytes;
		__u16 rule;
		__u8 proto;
		__u8 dir;
	} req = {.start_ns = pend->start_ns, .bytes = pend->bytes, .rule = pend->rule,
		 .proto = pend->proto, .dir = pend->dir};
	__u32 plen = pend->px.len;
	if (rl_verdict(p, egress, req.dir == RL_DIR_EGRESS, 0) == RL_FILTER_DENY ||
	    rl_l7_denied(req.proto)) {
		bpf_map_delete_elem(&rl_udp_pending, k);
		if (stats)
			stats->filtered++;
		return;
	}
	/* UDP sockets are not looked up: the loss has no cgroup. */
	__u32 owner = RL_OWNER(req.proto, req.dir == RL_DIR_EGRESS ? RL_SIDE_CLIENT : RL_SIDE_SERVER);
	__u64 owner_cgroup = 0;
	struct rl_l7_call *c;
	if (plen > 0 && plen <= RL_CAPTURE_MAX) {
		c = rl_reserve(RL_REC_L7_CALL, RL_KSAMPLE_CALL_WITH_PREFIX,
			       sizeof(*c) + sizeof(struct rl_call_prefix), owner, owner_cgroup, stats);
		if (c) {
			struct rl_call_prefix *px = (void *)(c + 1);
			px->len = plen;
			__builtin_memset(px->pad, 0, sizeof(px->pad));
			__builtin_memcpy(px->data, pend->px.data, RL_CAPTURE_MAX);
		}
	} else {
		c = rl_reserve(RL_REC_L7_CALL, RL_REC_L7_CALL, sizeof(*c), owner, owner_cgroup, stats);
	}
	bpf_map_delete_elem(&rl_udp_pending, k);
	if (!c)
		return;
	__builtin_memset(c, 0, sizeof(*c));
	c->start_ns = req.start_ns;
	c->duration_ns = bpf_ktime_get_ns() - req.start_ns;
	__builtin_memcpy(c->laddr, k->laddr, 16);
	__builtin_memcpy(c->raddr, k->raddr, 16);
	c->lport = k->lport;
	c->rport = k->rport;
	c->family = k->family;
	c->l4_proto = IPPROTO_UDP;
	c->l7_proto = req.proto;
	c->side = req.dir == RL_DIR_EGRESS ? RL_SIDE_CLIENT : RL_SIDE_SERVER;
	c->status_code = m.status_code;
	c->status_class = m.status_class;
	c->req_rule = req.rule;
	c->resp_rule = r->id;
	c->req_bytes = req.bytes;
	c->resp_bytes = p->payload_len;
	rl_submit(c, RL_REC_L7_CALL, stats);
}

static __always_inline void rl_udp_flush(const struct rl_udp_key *k, const struct rl_pkt *p,
					 struct rl_udp_flow *f, bool egress, __u64 now,
					 struct rl_kstats *stats)
{
	if (f->verdict == RL_FILTER_DENY) {
		if (stats)
			stats->filtered++;
		goto reset;
	}
	__u32 owner = RL_OWNER(f->l7_proto, 0);
	__u64 owner_cgroup = 0;
	struct rl_flow_delta *d =
		rl_reserve(RL_REC_FLOW_DELTA, RL_REC_FLOW_DELTA, sizeof(*d), owner, owner_cgroup, stats);
	if (!d)
		goto reset;
	__builtin_memset(d, 0, sizeof(*d));
	d->start_ns = f->first_ns;
	d->end_ns = f->last_ns;
	__builtin_memcpy(d->laddr, k->laddr, 16);
	__builtin_memcpy(d->raddr, k->raddr, 16);
	d->lport = k->lport;
	d->rport = k->rport;
	d->family = k->family;
	d->l4_proto = IPPROTO_UDP;
	d->l7_proto = f->l7_proto;
	d->flags = f->opened_sent ? 0 : RL_FLOW_OPENED;
	d->tx_bytes = f->tx_bytes;
	d->rx_bytes = f->rx_bytes;
	d->tx_packets = f->tx_packets;
	d->rx_packets = f->rx_packets;
	d->tx_payload_bytes = f->tx_payload_bytes;
	d->rx_payload_bytes = f->rx_payload_bytes;
	rl_submit(d, RL_REC_FLOW_DELTA, stats);
	f->opened_sent = 1;
reset:
	f->tx_bytes = 0;
	f->rx_bytes = 0;
	f->tx_packets = 0;
	f->rx_packets = 0;
	f->tx_payload_bytes = 0;
	f->rx_payload_bytes = 0;
	f->first_ns = 0;
	f->last_flush_ns = now;
}

static __always_inline void rl_udp(struct __sk_buff *skb, struct rl_pkt *p, bool egress)
{
	struct rl_udp_key k = {};
	rl_udp_key_of(p, egress, &k);
	__u64 now = bpf_ktime_get_coarse_ns();
	struct rl_udp_flow *f = bpf_map_lookup_elem(&rl_udp_flows, &k);
	if (!f) {
		/* Filters are evaluated once per flow (per CPU), not per packet. */
		struct rl_udp_flow z = {.last_flush_ns = now,
					.verdict = rl_verdict(p, egress, egress, 0)};
		bpf_map_update_elem(&rl_udp_flows, &k, &z, BPF_NOEXIST);
		f = bpf_map_lookup_elem(&rl_udp_flows, &k);
		if (!f)
			return;
	}
	if (!f->first_ns)
		f->first_ns = now;
	f->last_ns = now;
	if (egress)
		rl_count(skb, p, &f->tx_bytes, &f->tx_packets, &f->tx_payload_bytes);
	else
		rl_count(skb, p, &f->rx_bytes, &f->rx_packets, &f->rx_payload_bytes);
	struct rl_kstats *stats = NULL;
	if (p->payload_len) {
		stats = rl_stats();
		rl_udp_l7(skb, p, (struct rl_udp_pending_key *)&k, f, egress, stats);
		__builtin_memset(k.pad, 0, sizeof(k.pad));
	}
	if (now - f->last_flush_ns >= rl_flush_interval()) {
		if (!stats)
			stats = rl_stats();
		rl_udp_flush(&k, p, f, egress, now, stats);
	}
}

/* ------------------------------------------------------------------ */
/* tc programs                                                         */
/* ------------------------------------------------------------------ */

static __always_inline int rl_tc(struct __sk_buff *skb, bool egress)
{
	struct rl_pkt p = {};
	int r = rl_parse(skb, &p);
	switch (r) {
	case RL_PARSE_V4_TCP:
	case RL_PARSE_V6_TCP: {
		__u64 l4mask = rl_cfg(RL_CFG_L4_MASK);
		if (!l4mask || (l4mask & 1))
			rl_tcp(skb, &p, egress);
		break;
	}
	case RL_PARSE_V4_UDP:
	case RL_PARSE_V6_UDP: {
		__u64 l4mask = rl_cfg(RL_CFG_L4_MASK);
		if (!l4mask || (l4mask & 2))
			rl_udp(skb, &p, egress);
		break;
	}
	case RL_PARSE_BOGUS: {
		struct rl_kstats *stats = rl_stats();
		if (stats)
			stats->parse_errors++;
		break;
	}
	default:
		break;
	}
	/* TC_ACT_UNSPEC: an observer never decides a packet's fate; the filters
	 * after ours on the hook (a CNI's, a firewall's) still run. */
	return TC_ACT_UNSPEC;
}

SEC("tc")
int rl_tc_egress(struct __sk_buff *skb)
{
	return rl_tc(skb, true);
}

SEC("tc")
int rl_tc_ingress(struct __sk_buff *skb)
{
	return rl_tc(skb, false);
}

/* Test entry: parse, filter and classify one packet as if sent (egress),
 * touching no flow state. Result bits (enum rl_probe_bits in README):
 * [3:0] rl_parse_result, [4] denied by filters, [5] payload present,
 * [15:6] status code, [23:16] rule id, [26:24] status class. */
SEC("tc")
int rl_tc_probe(struct __sk_buff *skb)
{
	struct rl_pkt p = {};
	int r = rl_parse(skb, &p);
	__u32 out = r;
	if (r != RL_PARSE_V4_TCP && r != RL_PARSE_V4_UDP && r != RL_PARSE_V6_TCP &&
	    r != RL_PARSE_V6_UDP)
		return out;
	if (rl_verdict(&p, true, true, bpf_get_cgroup_classid(skb)) == RL_FILTER_DENY)
		out |= 1 << 4;
	if (p.payload_len) {
		out |= 1 << 5;
		struct rl_match m;
		const struct rl_rule *rule = rl_classify(skb, &p, &m);
		if (rule) {
			out |= ((__u32)rule->id & 0xff) << 16;
			out |= ((__u32)m.status_code & 0x3ff) << 6;
			out |= ((__u32)m.status_class & 7) << 24;
		}
	}
	return out;
}

/* ------------------------------------------------------------------ */
/* sockops: identity option                                            */
/* ------------------------------------------------------------------ */

static __always_inline void rl_sockops_established(struct bpf_sock_ops *skops, __u64 flags)
{
	struct bpf_sock *sk = skops->sk;
	if (!sk)
		return;
	struct rl_sk_state *st = bpf_sk_storage_get(&rl_sk_state, sk, 0,
						    BPF_SK_STORAGE_GET_F_CREATE);
	/* Options are only written on SYN / SYN-ACK: stop the per-segment callbacks.
	 * State changes are wanted: the close (rl_sockops_closed). */
	bpf_sock_ops_cb_flags_set(skops, (skops->bpf_sock_ops_cb_flags &
					  ~BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG) |
					 BPF_SOCK_OPS_STATE_CB_FLAG);
	if (!st)
		return;
	if (!st->cgroup_id) {
		st->cgroup_id = rl_skc_cgroup(sk);
		st->local_service = rl_service_of(st->cgroup_id);
	}
	__u8 opt[RL_ID_OPT_LEN] = {RL_ID_OPT_KIND, 4, RL_ID_OPT_EXID >> 8, RL_ID_OPT_EXID & 0xff};
	long n = bpf_load_hdr_opt(skops, opt, sizeof(opt), flags);
	struct rl_kstats *stats = rl_stats();
	st->flags |= RL_SK_ID_CHECKED;
	if (n == RL_ID_OPT_LEN && opt[1] == RL_ID_OPT_LEN) {
		st->peer_service = ((__u32)opt[4] << 24) | ((__u32)opt[5] << 16) |
				   ((__u32)opt[6] << 8) | opt[7];
		if (stats)
			stats->id_option_seen++;
	} else if (rl_cfg(RL_CFG_ID_OPTION_EXPECTED)) {
		st->flags |= RL_SK_ID_MISSING;
		if (stats)
			stats->id_option_missing++;
	}
}

/* The socket reached TCP_CLOSE. tc reports a close when it sees both FINs or
 * a RST, but a side that closes first and is orphaned becomes a timewait
 * mini-socket when its FIN is acked, and the peer's FIN that follows finds no
 * full socket at tc ingress: such a flow's last delta (and, for walked
 * protocols, its requests left unanswered) is emitted here. */
static __always_inline void rl_sockops_closed(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk = skops->sk;
	if (!sk)
		return;
	struct rl_sk_state *st = bpf_sk_storage_get(&rl_sk_state, sk, 0, 0);
	if (!st || !st->last_flush_ns || !rl_claim_close(st))
		return;
	/* Context fields are read one by one at fixed offsets (the verifier refuses
	 * loads through a pointer into the context that clang computed). */
	struct rl_pkt p = {.l4 = IPPROTO_TCP};
	__u32 family = skops->family;
	asm volatile("" : "+r"(family));
	if (family == RL_FAMILY_INET) {
		p.family = RL_FAMILY_INET;
		__u32 l = skops->local_ip4;
		asm volatile("" : "+r"(l));
		__u32 r = skops->remote_ip4;
		asm volatile("" : "+r"(r));
		rl_map4(p.saddr, l);
		rl_map4(p.daddr, r);
	} else {
		p.family = RL_FAMILY_INET6;
		p.saddr[0] = skops->local_ip6[0];
		asm volatile("" ::: "memory");
		p.saddr[1] = skops->local_ip6[1];
		asm volatile("" ::: "memory");
		p.saddr[2] = skops->local_ip6[2];
		asm volatile("" ::: "memory");
		p.saddr[3] = skops->local_ip6[3];
		asm volatile("" ::: "memory");
		p.daddr[0] = skops->remote_ip6[0];
		asm volatile("" ::: "memory");
		p.daddr[1] = skops->remote_ip6[1];
		asm volatile("" ::: "memory");
		p.daddr[2] = skops->remote_ip6[2];
		asm volatile("" ::: "memory");
		p.daddr[3] = skops->remote_ip6[3];
	}
	p.sport = skops->local_port;
	p.dport = bpf_ntohl(skops->remote_port); /* network order in the upper 16 bits */
	struct rl_kstats *stats = rl_stats();
	if (st->seq_flags & RL_SEQ_FRAMED) {
		struct rl_stream *ss = bpf_sk_storage_get(&rl_sk_stream, sk, 0, 0);
		if (ss)
			rl_stream_close(&p, st, ss, true, stats, rl_scratch(1));
	} else if (st->call_state == 2) {
		rl_tcp_emit_call(&p, st, true, stats);
	} else if (st->call_state == 1 && stats) {
		stats->unpaired_request[st->req_proto & (RL_KSTAT_PROTOS - 1)]++;
	}
	st->call_state = 0;
	st->flags |= RL_SK_CLOSED;
	rl_tcp_flush(&p, st, true, bpf_ktime_get_coarse_ns(), true, stats);
}

/* The listener key of `skops`'s socket: netns, local port and local address
 * (IPv4 mapped; all zero for a wildcard bind). */
static __always_inline void rl_listen_key_of(struct bpf_sock_ops *skops, struct rl_listen_key *k)
{
	k->netns_cookie = bpf_get_netns_cookie(skops);
	k->port = skops->local_port;
	if (skops->family == RL_FAMILY_INET6) {
		/* One 32-bit load each: the context allows no wider access, and the
		 * compiler would merge two of them into one 64-bit load. */
		__u32 a[4];
		a[0] = *(volatile __u32 *)&skops->local_ip6[0];
		a[1] = *(volatile __u32 *)&skops->local_ip6[1];
		a[2] = *(volatile __u32 *)&skops->local_ip6[2];
		a[3] = *(volatile __u32 *)&skops->local_ip6[3];
		__builtin_memcpy(k->addr, a, 16);
	} else {
		__u32 a4 = skops->local_ip4;
		if (a4) {
			k->addr[10] = 0xff;
			k->addr[11] = 0xff;
			__builtin_memcpy(&k->addr[12], &a4, 4);
		}
	}
}

SEC("sockops")
int rl_sockops(struct bpf_sock_ops *skops)
{
	int one = 1;
	switch (skops->op) {
	case BPF_SOCK_OPS_TCP_LISTEN_CB: {
		/* Keep the SYN so PASSIVE_ESTABLISHED can read the client's option. */
		bpf_setsockopt(skops, RL_SOL_TCP, RL_TCP_SAVE_SYN, &one, sizeof(one));
		struct bpf_sock *sk = skops->sk;
		if (sk) {
			__u32 sid = rl_service_of(rl_skc_cgroup(sk));
			struct rl_listen_key k = {};
			rl_listen_key_of(skops, &k);
			if (sid)
				bpf_map_update_elem(&rl_listen_service, &k, &sid, BPF_ANY);
			else
				bpf_map_delete_elem(&rl_listen_service, &k);
		}
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags |
						 BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
		break;
	}
	case BPF_SOCK_OPS_TCP_CONNECT_CB:
		bpf_sock_ops_cb_flags_set(skops, skops->bpf_sock_ops_cb_flags |
						 BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG);
		break;
	case BPF_SOCK_OPS_HDR_OPT_LEN_CB:
		if (skops->skb_tcp_flags & RL_TCP_SYN)
			bpf_reserve_hdr_opt(skops, RL_ID_OPT_LEN, 0);
		break;
	case BPF_SOCK_OPS_WRITE_HDR_OPT_CB: {
		if (!(skops->skb_tcp_flags & RL_TCP_SYN))
			break;
		__u32 sid = 0;
		struct bpf_sock *sk = skops->sk;
		if (sk) {
			sid = rl_service_of(rl_skc_cgroup(sk)); /* SYN: the connecting socket */
		} else {
			/* SYN-ACK: only the request socket exists; its listener's service:
			 * the listener bound to the address the SYN reached, else the
			 * port's wildcard listener. */
			struct rl_listen_key k = {};
			rl_listen_key_of(skops, &k);
			__u32 *v = bpf_map_lookup_elem(&rl_listen_service, &k);
			if (!v) {
				__builtin_memset(k.addr, 0, sizeof(k.addr));
				v = bpf_map_lookup_elem(&rl_listen_service, &k);
			}
			sid = v ? *v : 0;
		}
		if (!sid)
			break;
		__u8 opt[RL_ID_OPT_LEN] = {
			RL_ID_OPT_KIND, RL_ID_OPT_LEN, RL_ID_OPT_EXID >> 8, RL_ID_OPT_EXID & 0xff,
			sid >> 24, sid >> 16, sid >> 8, sid,
		};
		bpf_store_hdr_opt(skops, opt, sizeof(opt), 0);
		break;
	}
	case BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB:
		rl_sockops_established(skops, 0);
		break;
	case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
		rl_sockops_established(skops, BPF_LOAD_HDR_OPT_TCP_SYN);
		break;
	case BPF_SOCK_OPS_STATE_CB:
		if (skops->args[1] == BPF_TCP_CLOSE)
			rl_sockops_closed(skops);
		break;
	default:
		break;
	}
	return 1;
}

/* ------------------------------------------------------------------ */
/* TCP health tracepoints                                              */
/* ------------------------------------------------------------------ */

/* Tracepoints fire for every namespace on the host; a collector reports its
 * own (RL_CFG_NETNS_INO), so collectors in several namespaces never count an
 * event twice. */
static __always_inline bool rl_netns_wanted(__u32 inum)
{
	__u64 want = rl_cfg(RL_CFG_NETNS_INO);
	return want == 0 || want == inum;
}

static __always_inline __u32 rl_sk_netns(struct sock *sk)
{
	return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
}

static __always_inline void rl_emit_tcp_event_sk(struct sock *sk, __u8 kind, __u32 reason)
{
	struct rl_kstats *stats = rl_stats();
	struct rl_sk_state *st = bpf_sk_storage_get(&rl_sk_state, sk, 0, 0);
	__u32 owner = RL_OWNER(0, 0);
	__u64 owner_cgroup = st ? st->cgroup_id : 0;
	struct rl_tcp_event *e =
		rl_reserve(RL_REC_TCP_EVENT, RL_REC_TCP_EVENT, sizeof(*e), owner, owner_cgroup, stats);
	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->kind = kind;
	e->drop_reason = reason;
	e->count = 1;
	e->l4_proto = IPPROTO_TCP;
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	if (family == 2) {
		__u32 a = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 b = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		rl_map4((__u32 *)e->laddr, a);
		rl_map4((__u32 *)e->raddr, b);
	} else {
		BPF_CORE_READ_INTO(&e->laddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO(&e->raddr, sk, __sk_common.skc_v6_daddr);
	}
	e->family = family;
	e->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	e->tcp_state = BPF_CORE_READ(sk, __sk_common.skc_state);
	if (st) {
		e->cgroup_id = st->cgroup_id;
		e->local_service = st->local_service;
		e->peer_service = st->peer_service;
	}
	rl_submit(e, RL_REC_TCP_EVENT, stats);
}

/* An event about a packet, addresses from the skb's own headers, oriented as
 * the host where it happened sees them (local = that host's end), and
 * reported only by that host's collector:
 *   - `sk` (the skb's owner, may be NULL) is the local socket that received it
 *     when the packet came from the socket's peer port: local = dst;
 *   - else `sk` sent it. A packet that crossed a veth keeps its *sender's*
 *     socket (KERNEL-NOTES, "What a tc program can see"): when the skb's
 *     device is in another namespace than that socket, the packet was
 *     dropped on the receiving side, which is the observer: local = dst;
 *     otherwise the sender is: local = src;
 *   - without a socket the packet was received on skb->dev: local = dst. */
static __always_inline void rl_emit_tcp_event_skb(struct sk_buff *skb, __u8 kind, __u32 reason,
						  struct sock *sk)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u16 th = BPF_CORE_READ(skb, transport_header);
	__u16 proto = BPF_CORE_READ(skb, protocol);
	__u8 family, l4;
	__u32 src[4], dst[4];
	__u16 ports[2] = {};
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;
		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh))
			return;
		family = RL_FAMILY_INET;
		l4 = ip.protocol;
		rl_map4(src, ip.saddr);
		rl_map4(dst, ip.daddr);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;
		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh))
			return;
		family = RL_FAMILY_INET6;
		l4 = ip6.nexthdr;
		__builtin_memcpy(src, &ip6.saddr, 16);
		__builtin_memcpy(dst, &ip6.daddr, 16);
	} else {
		return;
	}
	if (l4 != IPPROTO_TCP && l4 != IPPROTO_UDP)
		return;
	/* transport_header is ~0 when unset; the ports are then left zero. */
	if (th != 0xffff && th > nh)
		bpf_probe_read_kernel(ports, sizeof(ports), head + th);

	bool local_is_dst = true;
	__u8 tcp_state = 0;
	__u32 netns;
	if (sk) {
		__u32 sk_netns = rl_sk_netns(sk);
		/* Received by the socket: it came from the socket's peer port. The local
		 * port is no witness: a closing socket's is already 0 when its queues are
		 * purged. An unconnected socket (no peer port) received what came to its port. */
		__u16 peer_port = BPF_CORE_READ(sk, __sk_common.skc_dport);
		bool received = peer_port ? ports[0] == peer_port
					  : bpf_ntohs(ports[1]) == BPF_CORE_READ(sk, __sk_common.skc_num);
		/* skb->dev is read only for a packet the socket sent: on a UDP receive
		 * queue the same word holds dev_scratch, not a device. */
		__u32 dev_netns = 0;
		if (!received)
			dev_netns = BPF_CORE_READ(skb, dev, nd_net.net, ns.inum);
		if (received || !dev_netns || dev_netns == sk_netns) {
			netns = sk_netns;
			local_is_dst = received;
			tcp_state = BPF_CORE_READ(sk, __sk_common.skc_state);
		} else {
			netns = dev_netns;
		}
	} else {
		netns = BPF_CORE_READ(skb, dev, nd_net.net, ns.inum);
	}
	if (!rl_netns_wanted(netns))
		return;

	struct rl_kstats *stats = rl_stats();
	__u32 owner = RL_OWNER(0, 0);
	__u64 owner_cgroup = 0;
	struct rl_tcp_event *e =
		rl_reserve(RL_REC_TCP_EVENT, RL_REC_TCP_EVENT, sizeof(*e), owner, owner_cgroup, stats);
	if (!e)
		return;
	__builtin_memset(e, 0, sizeof(*e));
	e->ts_ns = bpf_ktime_get_ns();
	e->kind = kind;
	e->drop_reason = reason;
	e->count = 1;
	e->family = family;
	e->l4_proto = l4;
	e->tcp_state = tcp_state;
	__builtin_memcpy(e->laddr, local_is_dst ? dst : src, 16);
	__builtin_memcpy(e->raddr, local_is_dst ? src : dst, 16);
	e->lport = bpf_ntohs(local_is_dst ? ports[1] : ports[0]);
	e->rport = bpf_ntohs(local_is_dst ? ports[0] : ports[1]);
	rl_submit(e, RL_REC_TCP_EVENT, stats);
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(rl_tp_retransmit, struct sock *sk, struct sk_buff *skb)
{
	if (sk && rl_netns_wanted(rl_sk_netns(sk)))
		rl_emit_tcp_event_sk(sk, RL_TCP_RETRANSMIT, 0);
	return 0;
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(rl_tp_send_reset, struct sock *sk, struct sk_buff *skb)
{
	if (sk) {
		if (rl_netns_wanted(rl_sk_netns(sk)))
			rl_emit_tcp_event_sk(sk, RL_TCP_RESET_SENT, 0);
	} else if (skb) {
		/* No socket: the reset answers this received packet. */
		rl_emit_tcp_event_skb(skb, RL_TCP_RESET_SENT, 0, NULL);
	}
	return 0;
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(rl_tp_receive_reset, struct sock *sk)
{
	if (sk && rl_netns_wanted(rl_sk_netns(sk)))
		rl_emit_tcp_event_sk(sk, RL_TCP_RESET_RECEIVED, 0);
	return 0;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(rl_tp_kfree_skb, struct sk_buff *skb, void *location, int reason)
{
	__u64 min = rl_cfg(RL_CFG_DROP_REASON_MIN);
	if (min == 0)
		min = 2;
	if ((__u64)(__u32)reason < min || !skb)
		return 0;
	rl_emit_tcp_event_skb(skb, RL_TCP_DROP, (__u32)reason, BPF_CORE_READ(skb, sk));
	return 0;
}

/* ------------------------------------------------------------------ */
/* iter/tcp: the identity option on listeners older than the collector */
/* ------------------------------------------------------------------ */
#include "rl_listeners.h"
