/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * rl_maps.h — every map of redline.bpf.o, one line each on what it is for.
 * All are bounded: fixed-size arrays, LRU hashes where entries could leak,
 * sk_storage that lives and dies with its socket.
 */
#ifndef RL_MAPS_H
#define RL_MAPS_H

/* Per-socket TCP state, kernel-only: counters since the last flow delta, the
 * pending call, identity. Lives in rl_sk_state (sk_storage). */
struct rl_sk_state {
	__u64 first_ns;       /* coarse ns of the first packet of the current delta, 0 = none */
	__u64 last_ns;        /* coarse ns of the last packet counted */
	__u64 last_flush_ns;  /* coarse ns of the last delta (or of the state's creation) */
	__u64 tx_bytes;       /* written by egress only */
	__u64 rx_bytes;       /* written by ingress only */
	__u32 tx_packets;
	__u32 rx_packets;
	__u64 tx_payload_bytes;
	__u64 rx_payload_bytes;
	__u64 cgroup_id;
	__u32 classid;
	__u32 local_service;
	__u32 peer_service;   /* written by sockops from the peer's option */
	__u8 verdict;         /* 0 not decided, RL_FILTER_ALLOW, RL_FILTER_DENY */
	__u8 side;            /* enum rl_side */
	__u8 l7_proto;        /* first matched protocol */
	__u8 flags;           /* enum rl_sk_flags */
	/* Call pairing. */
	__u8 last_dir;        /* 1 egress, 2 ingress: direction of the last payload */
	__u8 call_state;      /* 0 none, 1 request pending, 2 response seen */
	__u8 req_dir;
	__u8 req_proto;
	__u16 req_rule;
	__u16 resp_rule;
	__u64 req_start_ns;   /* bpf_ktime_get_ns of the request's first segment */
	__u64 resp_start_ns;
	__u32 req_bytes;
	__u32 resp_bytes;
	__u16 status_code;
	__u8 status_class;
	__u8 req_flags;       /* rl_rule.flags of the request rule */
	__u16 prefix_len;     /* captured request bytes in prefix */
	__u8 l7_misses;       /* direction changes classified without a match, l7_proto 0 */
	__u8 pad;
	__u8 prefix[RL_CAPTURE_MAX];
};

enum rl_sk_flags {
	RL_SK_OPENED_SENT = 1 << 0, /* a delta with RL_FLOW_OPENED was emitted */
	RL_SK_FIN_TX = 1 << 1,
	RL_SK_FIN_RX = 1 << 2,
	RL_SK_CLOSED = 1 << 3,      /* the closing delta was emitted */
	RL_SK_ID_MISSING = 1 << 4,  /* identity option expected, absent */
	RL_SK_ID_CHECKED = 1 << 5,  /* sockops looked for the identity option */
	RL_SK_CLASSID_READ = 1 << 6, /* classid read (once: most sockets have none) */
};

/* A UDP request waiting for its response. */
struct rl_udp_pending {
	__u64 start_ns;
	__u32 bytes;
	__u16 rule;
	__u8 proto;
	__u8 dir;
};

/* Token bucket of one record kind on one CPU. */
struct rl_bucket {
	__u64 tokens_ne; /* tokens in units of 1e-9 record */
	__u64 last_ns;
};

/* Runtime configuration, indexed by enum rl_config_key (units per key there). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, RL_CFG_MAX);
	__type(key, __u32);
	__type(value, __u64);
} rl_config SEC(".maps");

/* The L7 rule table, two generations (active one named by RL_CFG_RULE_GENERATION). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct rl_ruleset);
} rl_ruleset SEC(".maps");

/* Payloads each rule matched, per CPU, indexed by rule id. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RL_MAX_RULE_ID);
	__type(key, __u32);
	__type(value, __u64);
} rl_rule_hits SEC(".maps");

/* Emitted / dropped / capped / unpaired counters, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rl_kstats);
} rl_kstats SEC(".maps");

/* Token buckets, per CPU, indexed by enum rl_record_type. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, RL_KSTAT_TYPES);
	__type(key, __u32);
	__type(value, struct rl_bucket);
} rl_buckets SEC(".maps");

/* Records to user space: rl_ring_header + record. 4 MiB. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} rl_events SEC(".maps");

/* Per-socket TCP state (flow counters, pending call, identity). */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct rl_sk_state);
} rl_sk_state SEC(".maps");

/* UDP flow counters, per CPU; LRU so idle flows age out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct rl_udp_key);
	__type(value, struct rl_udp_flow);
} rl_udp_flows SEC(".maps");

/* UDP requests awaiting a response (DNS); LRU so lost responses age out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct rl_udp_key);
	__type(value, struct rl_udp_pending);
} rl_udp_pending SEC(".maps");

/* cgroup v2 id -> service id, filled by the collector. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u32);
} rl_cgroup_service SEC(".maps");

/* A listening socket's service, for the SYN-ACK: sockops sees only the
 * request socket there (skops->sk is NULL), so LISTEN_CB records the
 * listener's service by (netns, port). LRU: listeners close without a callback. */
struct rl_listen_key {
	__u64 netns_cookie;
	__u32 port; /* host order */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct rl_listen_key);
	__type(value, __u32);
} rl_listen_service SEC(".maps");

/* Remote-address prefixes allowed or denied (enum rl_filter_action). */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 1024);
	__type(key, struct rl_cidr_key);
	__type(value, __u32);
} rl_filter_cidr SEC(".maps");

/* Ports (local or remote) + L4 protocol allowed or denied. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct rl_port_key);
	__type(value, __u32);
} rl_filter_port SEC(".maps");

/* Source / destination net_cls classids allowed or denied. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct rl_classid_key);
	__type(value, __u32);
} rl_filter_classid SEC(".maps");

#endif /* RL_MAPS_H */
