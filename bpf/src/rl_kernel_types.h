/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * rl_kernel_types.h — the few kernel-internal types Redline reads, kept by
 * hand with preserve_access_index so libbpf relocates every field access
 * against the running kernel's BTF at load time (CO-RE). Only the fields
 * used are declared; their order and the structs' sizes do not matter.
 * Why not a generated vmlinux.h: see bpf/README.md ("Kernel types").
 */
#ifndef RL_KERNEL_TYPES_H
#define RL_KERNEL_TYPES_H

#include <linux/in6.h>

#define RL_CORE __attribute__((preserve_access_index))

struct kernfs_node {
	__u64 id;
} RL_CORE;

struct cgroup {
	struct kernfs_node *kn;
	int level;                  /* depth below the root (0) */
	struct cgroup *ancestors[]; /* ancestors[i]: the ancestor at level i (6.1+) */
} RL_CORE;

/* Before 6.1 a cgroup kept its ancestors' ids instead of pointers. */
struct cgroup___ids {
	int level;
	__u64 ancestor_ids[];
} RL_CORE;

struct sock_cgroup_data {
	struct cgroup *cgroup;
	__u32 classid;
} RL_CORE;

struct ns_common {
	unsigned int inum; /* the namespace's inode number (as /proc/PID/ns/net shows) */
} RL_CORE;

struct net {
	struct ns_common ns;
	__u64 net_cookie; /* what bpf_get_netns_cookie returns */
} RL_CORE;

typedef struct {
	struct net *net;
} RL_CORE possible_net_t;

struct net_device {
	possible_net_t nd_net;
} RL_CORE;

struct sock_common {
	__u32 skc_daddr;
	__u32 skc_rcv_saddr;
	__u16 skc_dport; /* network order */
	__u16 skc_num;   /* host order */
	unsigned short skc_family;
	possible_net_t skc_net;
	struct sock *skc_listener; /* request socks: their listener */
	volatile unsigned char skc_state;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
} RL_CORE;

struct sock {
	struct sock_common __sk_common;
	struct sock_cgroup_data sk_cgrp_data;
	__u16 sk_protocol;
} RL_CORE;

struct tcp_sock {
	__u32 snd_una;
} RL_CORE;

struct request_sock {
	struct sock_common __req_common; /* rsk_listener is __req_common.skc_listener */
} RL_CORE;

struct inet_request_sock {
	struct request_sock req;
} RL_CORE;

struct tcp_request_sock {
	struct inet_request_sock req;
} RL_CORE;

struct sk_buff {
	unsigned char *head;
	__u16 transport_header;
	__u16 network_header;
	__u16 protocol; /* network order */
	struct sock *sk;
	struct net_device *dev;
} RL_CORE;

struct seq_file;

struct bpf_iter_meta {
	struct seq_file *seq;
} RL_CORE;

/* Context of an iter/tcp program: one socket of the opener's netns per call. */
struct bpf_iter__tcp {
	struct bpf_iter_meta *meta;
	struct sock_common *sk_common;
} RL_CORE;

#endif /* RL_KERNEL_TYPES_H */
