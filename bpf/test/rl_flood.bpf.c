// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* rl_flood.bpf.c — the collector ingest benchmark's record source
 * (tools/bench/collector-ingest). Loaded with the collector's own rl_events,
 * rl_kstats, rl_loss, rl_config and rl_buckets maps (reused by id) and run through
 * BPF_PROG_TEST_RUN: every run emits one record through rl_reserve() /
 * rl_submit(), exactly as the data plane does, so batched wakeups, rate caps
 * and the emitted / ring-full counters are the real ones.
 *
 * The mix is production-shaped: of every four records three are HTTP calls
 * carrying a captured request prefix (the collector parses host, route and
 * traceparent from it) and one is a flow delta. Addresses are 198.18.0.0/15;
 * ports and ids vary per run so no two records are alike. */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <stdbool.h>
#include <bpf/bpf_helpers.h>

#include "redline_maps.h"
#include "rl_maps.h"
#include "rl_emit.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Every record belongs to one HTTP server in one cgroup (losses are charged to it). */
#define OWNER RL_OWNER(RL_L7_HTTP1, RL_SIDE_SERVER)
#define CGROUP 4242

static const char prefix[] =
	"GET /api/v1/orders/42 HTTP/1.1\r\nHost: shop.rlov.test\r\n"
	"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\n"
	"User-Agent: rlov-flood\r\n\r\n";

static __always_inline void endpoints(__u8 *l, __u8 *r, __u32 n)
{
	/* IPv4-mapped 198.18.x.y (rl_flow_delta's encoding). */
	__builtin_memset(l, 0, 16);
	__builtin_memset(r, 0, 16);
	l[10] = r[10] = 0xff;
	l[11] = r[11] = 0xff;
	l[12] = r[12] = 198;
	l[13] = r[13] = 18;
	l[14] = 1;
	l[15] = 1;
	r[14] = 2;
	r[15] = (__u8)(n & 0xff);
}

SEC("tc")
int rl_flood(struct __sk_buff *skb)
{
	struct rl_kstats *st = rl_stats();
	if (!st)
		return TC_ACT_OK;
	__u64 n = st->emitted[RL_REC_L7_CALL] + st->emitted[RL_REC_FLOW_DELTA] +
		  st->ringbuf_dropped[RL_REC_L7_CALL] + st->ringbuf_dropped[RL_REC_FLOW_DELTA];
	__u64 now = bpf_ktime_get_ns();
	if (n % 4 == 3) {
		struct rl_flow_delta *d = rl_reserve(RL_REC_FLOW_DELTA, RL_REC_FLOW_DELTA, sizeof(*d),
						   OWNER, CGROUP, st);
		if (!d)
			return TC_ACT_OK;
		__builtin_memset(d, 0, sizeof(*d));
		d->start_ns = now - 1000000;
		d->end_ns = now;
		d->cgroup_id = CGROUP;
		endpoints(d->laddr, d->raddr, (__u32)n);
		d->lport = 8080;
		d->rport = 32768 + (__u16)(n & 0x3fff);
		d->family = RL_FAMILY_INET;
		d->l4_proto = IPPROTO_TCP;
		d->l7_proto = RL_L7_HTTP1;
		d->side = RL_SIDE_SERVER;
		d->tx_bytes = 1400 + (n & 0xff);
		d->rx_bytes = 180;
		d->tx_packets = 2;
		d->rx_packets = 1;
		rl_submit(d, RL_REC_FLOW_DELTA, st);
		return TC_ACT_OK;
	}
	struct rl_l7_call *c = rl_reserve(RL_REC_L7_CALL, RL_KSAMPLE_CALL_WITH_PREFIX,
					  sizeof(*c) + sizeof(struct rl_call_prefix), OWNER, CGROUP, st);
	if (!c)
		return TC_ACT_OK;
	struct rl_call_prefix *px = (void *)(c + 1);
	__builtin_memset(c, 0, sizeof(*c));
	__builtin_memset(px, 0, sizeof(*px));
	px->len = sizeof(prefix) - 1;
	__builtin_memcpy(px->data, prefix, sizeof(prefix) - 1);
	c->start_ns = now - 250000 - (n & 0xffff);
	c->duration_ns = 250000 + (n & 0xffff);
	c->cgroup_id = CGROUP;
	endpoints(c->laddr, c->raddr, (__u32)n);
	c->lport = 8080;
	c->rport = 32768 + (__u16)(n & 0x3fff);
	c->family = RL_FAMILY_INET;
	c->l4_proto = IPPROTO_TCP;
	c->l7_proto = RL_L7_HTTP1;
	c->side = RL_SIDE_SERVER;
	c->status_code = (n % 50) ? 200 : 503;
	c->status_class = (n % 50) ? RL_STATUS_OK : RL_STATUS_SERVER_ERROR;
	c->req_rule = 1;
	c->resp_rule = 8;
	c->req_bytes = 180;
	c->resp_bytes = 1400 + (n & 0xff);
	rl_submit(c, RL_REC_L7_CALL, st);
	return TC_ACT_OK;
}
