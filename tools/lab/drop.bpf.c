// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Lab fault injection: drop DROP_PERMILLE / 1000 of the packets on a tc hook.
 * netem is not available on this kernel; this is the lab's packet-loss knob.
 * Built per use by tools/lab/drop with -DDROP_PERMILLE=N. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#ifndef DROP_PERMILLE
#error "build with -DDROP_PERMILLE=N (0..1000)"
#endif

/* Packets this program dropped: the lab's truth for the drop count
 * (tools/lab/drop count prints `ip`, the IPv4/IPv6 packets among them: a drop
 * log of IP traffic can report those, not the ARP packets the fault also hits). */
struct {
	__u64 all;
	__u64 ip;
} dropped = {};

SEC("tc")
int rl_lab_drop(struct __sk_buff *skb)
{
	if (bpf_get_prandom_u32() % 1000 < DROP_PERMILLE) {
		__sync_fetch_and_add(&dropped.all, 1);
		if (skb->protocol == bpf_htons(0x0800) || skb->protocol == bpf_htons(0x86DD))
			__sync_fetch_and_add(&dropped.ip, 1);
		return TC_ACT_SHOT;
	}
	/* Not OK: OK would end the hook's filter list and hide the packet from
	 * the collector's filter after this one. */
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
