/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * rl_parse.h — bounds-checked parsing of Ethernet, IPv4, IPv6, TCP, UDP.
 * Every header access is checked against data_end; a packet whose headers
 * are not in the linear area, truncated, or inconsistent is RL_PARSE_BOGUS.
 */
#ifndef RL_PARSE_H
#define RL_PARSE_H

/* Outcome of rl_parse(); also the low nibble of rl_tc_probe's result. */
enum rl_parse_result {
	RL_PARSE_NOT_IP = 0,   /* not IPv4/IPv6 (ARP, ...) */
	RL_PARSE_V4_TCP = 1,
	RL_PARSE_V4_UDP = 2,
	RL_PARSE_V6_TCP = 3,
	RL_PARSE_V6_UDP = 4,
	RL_PARSE_V4_OTHER = 5, /* other L4 protocol or a non-first fragment */
	RL_PARSE_V6_OTHER = 6, /* other next header (extension headers included) */
	RL_PARSE_BOGUS = 7,    /* truncated or inconsistent headers */
};

/* A parsed packet, addresses as they appear on the wire. */
struct rl_pkt {
	__u32 saddr[4];     /* network order, IPv4-mapped for IPv4 */
	__u32 daddr[4];
	__u16 sport;        /* host order */
	__u16 dport;
	__u8 family;        /* enum rl_family */
	__u8 l4;            /* IPPROTO_TCP / IPPROTO_UDP */
	__u8 tcp_flags;     /* FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10 */
	__u8 pad;
	__u32 l3_len;       /* IP header + payload bytes */
	__u32 payload_off;  /* offset of the L4 payload from the frame start */
	__u32 payload_len;  /* L4 payload bytes */
	__u32 seq;          /* TCP: sequence number of the first payload byte, host order */
	__u32 pad2;
};

#define RL_TCP_FIN 0x01
#define RL_TCP_SYN 0x02
#define RL_TCP_RST 0x04
#define RL_TCP_ACK 0x10

static __always_inline void rl_map4(__u32 *dst, __u32 a)
{
	dst[0] = 0;
	dst[1] = 0;
	dst[2] = bpf_htonl(0xffff);
	dst[3] = a;
}

static __always_inline int rl_parse(struct __sk_buff *skb, struct rl_pkt *p)
{
	void *data = (void *)(long)skb->data;
	void *end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) > end)
		return RL_PARSE_BOGUS;

	__u32 l4_off;
	__u32 l4_len;
	bool v6;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		if ((void *)(ip + 1) > end)
			return RL_PARSE_BOGUS;
		__u32 ihl = ip->ihl * 4;
		__u32 tot = bpf_ntohs(ip->tot_len);
		if (ip->version != 4 || ihl < sizeof(*ip))
			return RL_PARSE_BOGUS;
		/* GSO super-packets may carry tot_len 0 (BIG TCP): use the skb length. */
		if (tot == 0)
			tot = skb->len - sizeof(*eth);
		if (tot < ihl || tot > skb->len - sizeof(*eth))
			return RL_PARSE_BOGUS;
		if (ip->frag_off & bpf_htons(0x1fff))
			return RL_PARSE_V4_OTHER;
		p->family = RL_FAMILY_INET;
		p->l4 = ip->protocol;
		p->l3_len = tot;
		rl_map4(p->saddr, ip->saddr);
		rl_map4(p->daddr, ip->daddr);
		l4_off = sizeof(*eth) + ihl;
		l4_len = tot - ihl;
		v6 = false;
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		if ((void *)(ip6 + 1) > end)
			return RL_PARSE_BOGUS;
		if (ip6->version != 6)
			return RL_PARSE_BOGUS;
		__u32 plen = bpf_ntohs(ip6->payload_len);
		if (plen == 0)
			plen = skb->len - sizeof(*eth) - sizeof(*ip6);
		if (sizeof(*eth) + sizeof(*ip6) + plen > skb->len)
			return RL_PARSE_BOGUS;
		p->family = RL_FAMILY_INET6;
		p->l4 = ip6->nexthdr;
		p->l3_len = sizeof(*ip6) + plen;
		__builtin_memcpy(p->saddr, &ip6->saddr, 16);
		__builtin_memcpy(p->daddr, &ip6->daddr, 16);
		l4_off = sizeof(*eth) + sizeof(*ip6);
		l4_len = plen;
		v6 = true;
	} else {
		return RL_PARSE_NOT_IP;
	}

	if (l4_off > 60 + sizeof(struct ethhdr))
		return RL_PARSE_BOGUS;
	if (p->l4 == IPPROTO_TCP) {
		struct tcphdr *th = data + l4_off;
		if ((void *)(th + 1) > end)
			return RL_PARSE_BOGUS;
		__u32 doff = th->doff * 4;
		if (doff < sizeof(*th) || doff > l4_len)
			return RL_PARSE_BOGUS;
		p->sport = bpf_ntohs(th->source);
		p->dport = bpf_ntohs(th->dest);
		p->tcp_flags = ((__u8 *)th)[13];
		p->seq = bpf_ntohl(th->seq);
		p->payload_off = l4_off + doff;
		p->payload_len = l4_len - doff;
		return v6 ? RL_PARSE_V6_TCP : RL_PARSE_V4_TCP;
	}
	if (p->l4 == IPPROTO_UDP) {
		struct udphdr *uh = data + l4_off;
		if ((void *)(uh + 1) > end)
			return RL_PARSE_BOGUS;
		__u32 ulen = bpf_ntohs(uh->len);
		/* UDP GSO packets carry the segment's length; trust the IP length then. */
		if (ulen < sizeof(*uh) || ulen > l4_len)
			return RL_PARSE_BOGUS;
		p->sport = bpf_ntohs(uh->source);
		p->dport = bpf_ntohs(uh->dest);
		p->tcp_flags = 0;
		p->payload_off = l4_off + sizeof(*uh);
		p->payload_len = ulen - sizeof(*uh);
		return v6 ? RL_PARSE_V6_UDP : RL_PARSE_V4_UDP;
	}
	return v6 ? RL_PARSE_V6_OTHER : RL_PARSE_V4_OTHER;
}

#endif /* RL_PARSE_H */
