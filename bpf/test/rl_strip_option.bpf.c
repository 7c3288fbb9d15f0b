// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Lab middlebox: removes Redline's identity TCP option (kind 254, ExID 0x524C) from the
 * packets on a tc hook, as a firewall or load balancer that drops unknown options would.
 * The option's 8 bytes become NOPs (kind 1) and the TCP checksum is fixed up; nothing
 * else changes. IPv4 (the lab's addresses) only. Built by tools/build-bpf (for its
 * BPF_PROG_TEST_RUN test) and per use by tools/lab/strip. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define OPT_KIND 254
#define OPT_LEN 8
#define OPT_EXID 0x524C
#define MAX_OPTS 40

SEC("tc")
int rl_lab_strip(struct __sk_buff *skb)
{
	struct iphdr ip;
	struct tcphdr th;
	if (skb->protocol != bpf_htons(ETH_P_IP) ||
	    bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) || ip.protocol != IPPROTO_TCP)
		return TC_ACT_UNSPEC;
	__u32 l4 = ETH_HLEN + ip.ihl * 4;
	if (bpf_skb_load_bytes(skb, l4, &th, sizeof(th)) || !th.syn)
		return TC_ACT_UNSPEC; /* the option rides on SYN and SYN-ACK only */
	__u32 optlen = th.doff * 4 > sizeof(th) ? th.doff * 4 - sizeof(th) : 0;
	__u8 opts[MAX_OPTS] = {};
	if (optlen > MAX_OPTS || optlen < OPT_LEN ||
	    bpf_skb_load_bytes(skb, l4 + sizeof(th), opts, optlen))
		return TC_ACT_UNSPEC;
	__u32 i = 0;
	for (int n = 0; n < MAX_OPTS && i + 1 < MAX_OPTS && i < optlen; n++) {
		__u8 kind = opts[i];
		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		__u8 len = opts[i + 1];
		if (len < 2)
			break;
		if (kind == OPT_KIND && len == OPT_LEN && i + OPT_LEN <= MAX_OPTS &&
		    opts[i + 2] == (OPT_EXID >> 8) && opts[i + 3] == (OPT_EXID & 0xff) && (i & 1) == 0) {
			__u8 old[OPT_LEN], nops[OPT_LEN];
			__builtin_memcpy(old, &opts[i], OPT_LEN);
			__builtin_memset(nops, 1, OPT_LEN);
			__s64 diff = bpf_csum_diff((__be32 *)old, OPT_LEN, (__be32 *)nops, OPT_LEN, 0);
			__u32 off = l4 + sizeof(th) + i;
			if (bpf_skb_store_bytes(skb, off, nops, OPT_LEN, 0) == 0)
				bpf_l4_csum_replace(skb, l4 + offsetof(struct tcphdr, check), 0, diff, 0);
			break;
		}
		i += len;
	}
	/* Not OK: OK would end the hook's filter list and hide the packet from later filters. */
	return TC_ACT_UNSPEC;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
