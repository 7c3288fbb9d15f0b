// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rl_lossy.bpf.c — test-only fault injector (netem is not available):
 * drops the next `drop_budget` TCP segments that carry payload to or from
 * `drop_port`, so tests can provoke real retransmissions. Never shipped
 * to hosts; tools/build-bpf builds it beside redline.bpf.o.
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

/* Set by the test before load or through the .data map. */
volatile __u32 drop_port = 0;   /* host order; 0 = drop nothing */
volatile __u32 drop_budget = 0; /* segments still to drop */
volatile __u32 dropped = 0;     /* segments dropped so far */

SEC("tc")
int rl_lossy(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	struct iphdr *ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->protocol != IPPROTO_TCP || ip->ihl != 5)
		return TC_ACT_OK;
	struct tcphdr *th = (void *)(ip + 1);
	if ((void *)(th + 1) > end)
		return TC_ACT_OK;
	__u32 payload = bpf_ntohs(ip->tot_len) - 20 - th->doff * 4;
	if (drop_port == 0 || payload == 0 ||
	    (bpf_ntohs(th->dest) != drop_port && bpf_ntohs(th->source) != drop_port))
		return TC_ACT_OK;
	if (drop_budget == 0)
		return TC_ACT_OK;
	__sync_fetch_and_sub(&drop_budget, 1);
	__sync_fetch_and_add(&dropped, 1);
	return TC_ACT_SHOT;
}
