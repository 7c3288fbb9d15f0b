// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rl_lossy.bpf.c — test-only fault injector (netem is not available here):
 * drops the next `budget` TCP segments that carry payload to or from `port`,
 * so tests can provoke real retransmissions. Never shipped to hosts.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

enum lossy_key {
	LOSSY_PORT = 0,    /* host order; 0 = drop nothing */
	LOSSY_BUDGET = 1,  /* segments still to drop */
	LOSSY_DROPPED = 2, /* segments dropped so far */
};

/* The injector's settings and its drop count, indexed by enum lossy_key. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u32);
} lossy_cfg SEC(".maps");

SEC("tc")
int rl_lossy(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_UNSPEC; /* later filters (an observer) still see what passes */
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_TCP || ip->ihl != 5)
		return TC_ACT_UNSPEC;
	struct tcphdr *th = (void *)(ip + 1);
	if ((void *)(th + 1) > end)
		return TC_ACT_UNSPEC;
	__u32 k = LOSSY_PORT;
	__u32 *port = bpf_map_lookup_elem(&lossy_cfg, &k);
	k = LOSSY_BUDGET;
	__u32 *budget = bpf_map_lookup_elem(&lossy_cfg, &k);
	k = LOSSY_DROPPED;
	__u32 *dropped = bpf_map_lookup_elem(&lossy_cfg, &k);
	if (!port || !budget || !dropped || *port == 0 || *budget == 0)
		return TC_ACT_UNSPEC;
	__u32 payload = bpf_ntohs(ip->tot_len) - 20 - th->doff * 4;
	if (payload == 0 || payload > 65535 ||
	    (bpf_ntohs(th->dest) != *port && bpf_ntohs(th->source) != *port))
		return TC_ACT_UNSPEC;
	__sync_fetch_and_sub(budget, 1);
	__sync_fetch_and_add(dropped, 1);
	return TC_ACT_SHOT;
}
