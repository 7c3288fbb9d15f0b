/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * redline_maps.h — keys, values and enums of the maps through which user
 * space configures Redline's kernel programs, and the kernel-only ring
 * samples that never reach a segment.
 *
 * Included by bpf/src/ programs and imported into Swift through CRedlineABI,
 * so both sides share one layout. Sizes are pinned with _Static_assert.
 * Record layouts written to segments live in redline_abi.h, not here.
 */
#ifndef REDLINE_MAPS_H
#define REDLINE_MAPS_H

#include "redline_abi.h"

/* ------------------------------------------------------------------ */
/* Runtime configuration: map `rl_config`, ARRAY of __u64 indexed by   */
/* this enum. A zero value means "the default" stated per key.        */
/* ------------------------------------------------------------------ */
enum rl_config_key {
	RL_CFG_RULE_GENERATION = 0,   /* index (0 or 1) of the active rl_ruleset entry */
	RL_CFG_FLUSH_INTERVAL_NS = 1, /* ns: a flow emits a delta on its first packet after this
	                                 much time since its last delta; default 1e9 */
	RL_CFG_RATE_FLOW = 2,         /* flow-delta records per second per CPU; 0 = unlimited */
	RL_CFG_RATE_CALL = 3,         /* call records per second per CPU; 0 = unlimited */
	RL_CFG_RATE_TCP_EVENT = 4,    /* TCP event records per second per CPU; 0 = unlimited */
	RL_CFG_BURST_FLOW = 5,        /* token-bucket depth, records; default = the rate */
	RL_CFG_BURST_CALL = 6,        /* token-bucket depth, records; default = the rate */
	RL_CFG_BURST_TCP_EVENT = 7,   /* token-bucket depth, records; default = the rate */
	RL_CFG_WAKEUP_EVERY = 8,      /* records per CPU between forced ring wakeups; default 64 */
	RL_CFG_L4_MASK = 9,           /* bit 0 TCP, bit 1 UDP: protocols reported; 0 = both */
	RL_CFG_FILTERS_ACTIVE = 10,   /* enum rl_filter_active bits: which filter maps to consult */
	RL_CFG_DEFAULT_DENY = 11,     /* enum rl_filter_active bits: filters whose unmatched
	                                 entries are denied (allow-list mode) */
	RL_CFG_L7_DENY_MASK = 12,     /* bit per rl_l7_protocol: calls of these are not emitted */
	RL_CFG_ID_OPTION_EXPECTED = 13, /* 1 = a connection without the peer's identity option
	                                   counts as missing (RL_STAT_ID_OPTION_MISSING) */
	RL_CFG_DROP_REASON_MIN = 14,  /* kfree_skb drops with reason below this are ignored;
	                                 default 2 (SKB_DROP_REASON_NOT_SPECIFIED is reported) */
	RL_CFG_L7_MAX_MISSES = 15,    /* payload direction changes without any rule match after
	                                 which a flow is no longer classified; default 8 */
	RL_CFG_NETNS_INO = 16,        /* tracepoint events only from this network namespace (its
	                                 inode, as /proc/self/ns/net); 0 = every namespace */
	RL_CFG_LOSS_SLOT_OFFSET_NS = 17, /* ns added to bpf_ktime_get_ns() so that rl_loss slots
	                                    (whole seconds) begin on UTC seconds: the collector
	                                    sets (CLOCK_REALTIME - CLOCK_MONOTONIC) mod 1e9 */
	RL_CFG_MAX = 18,              /* entries of rl_config */
};
/* Keys are dense and distinct: each is its predecessor + 1 (an enum lets two
 * names share a value silently; this catches it at compile time). */
_Static_assert(RL_CFG_FLUSH_INTERVAL_NS == RL_CFG_RULE_GENERATION + 1 && RL_CFG_RATE_FLOW == RL_CFG_FLUSH_INTERVAL_NS + 1 &&
	       RL_CFG_RATE_CALL == RL_CFG_RATE_FLOW + 1 && RL_CFG_RATE_TCP_EVENT == RL_CFG_RATE_CALL + 1 &&
	       RL_CFG_BURST_FLOW == RL_CFG_RATE_TCP_EVENT + 1 && RL_CFG_BURST_CALL == RL_CFG_BURST_FLOW + 1 &&
	       RL_CFG_BURST_TCP_EVENT == RL_CFG_BURST_CALL + 1 && RL_CFG_WAKEUP_EVERY == RL_CFG_BURST_TCP_EVENT + 1 &&
	       RL_CFG_L4_MASK == RL_CFG_WAKEUP_EVERY + 1 && RL_CFG_FILTERS_ACTIVE == RL_CFG_L4_MASK + 1 &&
	       RL_CFG_DEFAULT_DENY == RL_CFG_FILTERS_ACTIVE + 1 && RL_CFG_L7_DENY_MASK == RL_CFG_DEFAULT_DENY + 1 &&
	       RL_CFG_ID_OPTION_EXPECTED == RL_CFG_L7_DENY_MASK + 1 && RL_CFG_DROP_REASON_MIN == RL_CFG_ID_OPTION_EXPECTED + 1 &&
	       RL_CFG_L7_MAX_MISSES == RL_CFG_DROP_REASON_MIN + 1 && RL_CFG_NETNS_INO == RL_CFG_L7_MAX_MISSES + 1 &&
	       RL_CFG_LOSS_SLOT_OFFSET_NS == RL_CFG_NETNS_INO + 1 && RL_CFG_MAX == RL_CFG_LOSS_SLOT_OFFSET_NS + 1,
	       "rl_config_key values must be distinct and dense");

/* Bits of RL_CFG_FILTERS_ACTIVE and RL_CFG_DEFAULT_DENY. */
enum rl_filter_active {
	RL_FILTER_CIDR = 1 << 0,    /* rl_filter_cidr: remote address prefixes */
	RL_FILTER_PORT = 1 << 1,    /* rl_filter_port: local or remote port + L4 protocol */
	RL_FILTER_CLASSID = 1 << 2, /* rl_filter_classid: net_cls classid + direction */
};

/* Values of the filter maps. Deny wins over allow. */
enum rl_filter_action {
	RL_FILTER_ALLOW = 1,
	RL_FILTER_DENY = 2,
};

/* rl_filter_cidr key: an LPM trie key over the remote address
 * (IPv4 as IPv4-mapped IPv6, so an IPv4 /24 has prefixlen 96 + 24). */
struct rl_cidr_key {
	__u32 prefixlen; /* bits of addr that matter, 0..128 */
	__u8 addr[16];   /* network order */
};

/* rl_filter_port key. */
struct rl_port_key {
	__u16 port;    /* host order; matches the local or the remote port */
	__u8 l4_proto; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad;
};

/* Directions of rl_classid_key: whose classid. */
enum rl_classid_dir {
	RL_CLASSID_SOURCE = 1,      /* the local socket sends (egress) */
	RL_CLASSID_DESTINATION = 2, /* the local socket receives (ingress) */
};

/* rl_filter_classid key. */
struct rl_classid_key {
	__u32 classid; /* net_cls classid of the local socket */
	__u32 dir;     /* enum rl_classid_dir */
};

/* ------------------------------------------------------------------ */
/* L7 rule table: map `rl_ruleset`, ARRAY of 2 generations. User space */
/* writes the inactive entry, then flips RL_CFG_RULE_GENERATION.       */
/* ------------------------------------------------------------------ */
#define RL_RULE_BYTES 16       /* bytes a rule compares */
#define RL_MAX_RULES 64        /* rule slots per generation */
#define RL_MAX_GROUPS 16       /* distinct (l4 protocol, offset) pairs per generation */
#define RL_RULES_PER_GROUP 32  /* rules tested at one offset */
#define RL_MAX_RULE_ID 256     /* rule ids are 1..255; rl_rule_hits has this many entries */
#define RL_CAPTURE_MAX 256     /* bytes of request prefix a rule may capture */
#define RL_MAX_CLAUSES 64      /* extra clauses per generation (rules-v2 `and`) */
#define RL_CLAUSES_PER_RULE 4  /* extra clauses one rule may have */
#define RL_FIND_WINDOW_MAX 256 /* start positions a find clause may try */

enum rl_rule_role {
	RL_ROLE_REQUEST = 1,
	RL_ROLE_RESPONSE = 2,
};

enum rl_status_extractor {
	RL_EXTRACT_NONE = 0,   /* status class is the rule's fixed_class */
	RL_EXTRACT_ASCII3 = 1, /* three ASCII digits at status_offset; 1-3xx ok, 4xx client, 5xx server */
	RL_EXTRACT_BYTE = 2,   /* byte at status_offset & status_mask; 0 ok, else error_class */
	RL_EXTRACT_BE16 = 3,   /* big-endian u16 at status_offset; 0 ok, else error_class */
};

enum rl_rule_flags {
	/* A request rule: the next payload in the other direction is its response
	 * even when no response rule matches it (length-prefixed protocols whose
	 * responses carry no pattern: Kafka, Thrift). */
	RL_RULE_PAIR_ANY_RESPONSE = 1 << 0,
	/* Label the flow only; never start a call (TLS ClientHello). */
	RL_RULE_LABEL_ONLY = 1 << 1,
};

/* How an extra clause of a rule (rules-v2 `and`) tests the payload. */
enum rl_clause_kind {
	RL_CLAUSE_AT = 1,       /* the pattern is at `offset` */
	RL_CLAUSE_NOT_AT = 2,   /* it is not there (a payload too short to hold it qualifies) */
	RL_CLAUSE_FIND = 3,     /* it starts at one of offset .. offset+window-1 (wholly inside the payload) */
	RL_CLAUSE_NOT_FIND = 4, /* it starts at none of them */
};

/* One extra clause: a masked pattern of 1..16 bytes like a rule's own, at a
 * fixed offset or searched within a bounded window. */
struct rl_clause {
	__u8 mask[RL_RULE_BYTES];   /* bytes past `length` are zero */
	__u8 value[RL_RULE_BYTES];
	__u16 offset;               /* payload offset (first start position for FIND), 0..255 */
	__u16 window;               /* FIND / NOT_FIND: start positions tried, 1..RL_FIND_WINDOW_MAX; else 1 */
	__u8 kind;                  /* enum rl_clause_kind */
	__u8 length;                /* bytes compared, 1..16 */
	__u8 pad[2];
};

/* One rule. A payload matches when it has at least `length` bytes after
 * `offset` and (payload[offset..offset+16] & mask) == value, bytes past the
 * payload's end reading as zero, and every one of its `n_clauses` clauses
 * (rl_ruleset.clauses[first_clause..]) holds. Bytes of mask past `length` are zero. */
struct rl_rule {
	__u8 mask[RL_RULE_BYTES];
	__u8 value[RL_RULE_BYTES];
	__u16 id;            /* rule id, 1..255, written into call records */
	__u16 offset;        /* payload offset, 0..255 */
	__u8 length;         /* bytes compared, 1..16 */
	__u8 l7_proto;       /* enum rl_l7_protocol */
	__u8 role;           /* enum rl_rule_role */
	__u8 status_kind;    /* enum rl_status_extractor */
	__u8 status_offset;  /* payload offset of the status, 0..255 */
	__u8 status_mask;    /* RL_EXTRACT_BYTE: mask applied to the byte */
	__u8 fixed_class;    /* enum rl_status_class when status_kind is NONE */
	__u8 error_class;    /* enum rl_status_class of a nonzero BYTE / BE16 code */
	__u16 capture_len;   /* request prefix bytes to capture, 0..RL_CAPTURE_MAX */
	__u16 flags;         /* enum rl_rule_flags */
	__u8 first_clause;   /* index into rl_ruleset.clauses of the first extra clause */
	__u8 n_clauses;      /* extra clauses, 0..RL_CLAUSES_PER_RULE, ANDed */
	__u8 pad[6];
};

/* The rules at one (l4 protocol, offset): tested in slot order, first match wins. */
struct rl_rule_group {
	__u16 offset;                    /* payload offset every rule of the group has */
	__u8 l4_proto;                   /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 n_rules;                    /* used entries of slots */
	__u8 slots[RL_RULES_PER_GROUP];  /* indexes into rl_ruleset.rules */
	__u8 pad[4];
};

/* One generation of the rule table: the offsets that have rules, the rules,
 * then the rules' extra clauses. */
struct rl_ruleset {
	__u32 n_groups; /* used entries of groups */
	__u32 n_rules;  /* used entries of rules */
	struct rl_rule_group groups[RL_MAX_GROUPS];
	struct rl_rule rules[RL_MAX_RULES];
	struct rl_clause clauses[RL_MAX_CLAUSES];
};

/* ------------------------------------------------------------------ */
/* Kernel statistics: map `rl_kstats`, PERCPU_ARRAY with one entry.    */
/* Running totals; the collector turns differences into rl_stats.      */
/* ------------------------------------------------------------------ */
#define RL_KSTAT_TYPES 8  /* indexed by enum rl_record_type */
#define RL_KSTAT_PROTOS 32 /* indexed by enum rl_l7_protocol */

struct rl_kstats {
	__u64 emitted[RL_KSTAT_TYPES];            /* records put in the ring */
	__u64 ringbuf_dropped[RL_KSTAT_TYPES];    /* ring full */
	__u64 rate_capped[RL_KSTAT_TYPES];        /* token bucket empty */
	__u64 unpaired_request[RL_KSTAT_PROTOS];  /* a request no response followed */
	__u64 unpaired_response[RL_KSTAT_PROTOS]; /* a response with no request pending */
	__u64 id_option_missing;  /* connections without the peer's identity option */
	__u64 id_option_seen;     /* connections with it */
	__u64 parse_errors;       /* truncated or bogus IP/TCP/UDP headers */
	__u64 filtered;           /* records suppressed by filters */
	__u64 since_wakeup;       /* records since the last forced wakeup (internal) */
	__u64 retransmits_skipped; /* TCP payload segments wholly below the next expected
	                              sequence number: not classified, not walked, not counted */
	__u64 stream_lost;        /* message walks that lost sync (a gap in the sequence space,
	                             bytes that cannot start a message, the per-segment step
	                             bound): messages go uncounted until a segment starts one */
	__u64 pad;
};

/* ------------------------------------------------------------------ */
/* Attributed loss: map `rl_loss`, PERCPU_HASH of running counts per   */
/* (owner, kind, second). Every loss is also in rl_kstats; one that     */
/* finds the map full is only there (the collector reports the          */
/* difference as host-level, owner unknown).                            */
/* ------------------------------------------------------------------ */
#define RL_LOSS_SLOT_NS 1000000000ULL /* width of a slot: one second */
#define RL_LOSS_ENTRIES 4096          /* rl_loss max_entries */

struct rl_loss_key {
	__u64 cgroup_id;   /* cgroup v2 id of the local socket, 0 if unknown */
	__u32 slot;        /* (bpf_ktime_get_ns() + RL_CFG_LOSS_SLOT_OFFSET_NS) / RL_LOSS_SLOT_NS */
	__u8 reason;       /* enum rl_stats_counter (a loss counter) */
	__u8 record_type;  /* enum rl_record_type */
	__u8 l7_proto;     /* enum rl_l7_protocol, 0 if none */
	__u8 side;         /* enum rl_side, 0 if unknown */
};

/* ------------------------------------------------------------------ */
/* Kernel-only ring samples (never written to segments).               */
/* ------------------------------------------------------------------ */
enum rl_kernel_sample {
	/* rl_ring_header, struct rl_l7_call, struct rl_call_prefix: a call whose
	 * request rule asked for a prefix. The collector parses the prefix
	 * (trace id, host, route), fills the call's fields and stores only the
	 * rl_l7_call as an RL_REC_L7_CALL record. */
	RL_KSAMPLE_CALL_WITH_PREFIX = 128,
};

/* The captured request prefix trailing an RL_KSAMPLE_CALL_WITH_PREFIX sample. */
struct rl_call_prefix {
	__u16 len;   /* valid bytes of data, 1..RL_CAPTURE_MAX */
	__u8 pad[6];
	__u8 data[RL_CAPTURE_MAX];
};

/* ------------------------------------------------------------------ */
/* UDP flows: map `rl_udp_flows`, LRU_PERCPU_HASH. Shared with user    */
/* space, which sweeps idle entries (DataPlane.sweepIdleUDPFlows).     */
/* ------------------------------------------------------------------ */

/* UDP flow key: local/remote from the observing host's view. */
struct rl_udp_key {
	__u32 laddr[4];
	__u32 raddr[4];
	__u16 lport;
	__u16 rport;
	__u8 family;
	__u8 pad[3];
};

/* UDP flow counters since the last delta, per CPU (coarse monotonic ns). */
struct rl_udp_flow {
	__u64 first_ns;
	__u64 last_ns;
	__u64 last_flush_ns;
	__u64 tx_bytes;
	__u64 rx_bytes;
	__u32 tx_packets;
	__u32 rx_packets;
	__u64 tx_payload_bytes;
	__u64 rx_payload_bytes;
	__u8 l7_proto;
	__u8 opened_sent;
	__u8 l7_misses;      /* payloads classified without a match while l7_proto is 0 */
	__u8 verdict;        /* enum rl_filter_action for this flow, decided at its first packet */
	__u8 pad[4];
};

/* ------------------------------------------------------------------ */
/* Identity option (sockops).                                          */
/* ------------------------------------------------------------------ */
#define RL_ID_OPT_KIND 254     /* RFC 4727 experimental kind, shared through RFC 6994 ExIDs */
#define RL_ID_OPT_EXID 0x524C  /* "RL"; RFC 6994 16-bit experiment id */
#define RL_ID_OPT_LEN 8        /* kind, length, ExID (2), service id (4, big-endian) */

/* ------------------------------------------------------------------ */
/* Existing listeners (iter/tcp rl_iter_listeners, bpf/src/rl_listeners.h). */
/* ------------------------------------------------------------------ */

/* Map `rl_scope`, ARRAY of one: the cgroup v2 subtree the sockops program is
 * attached to. The iterator touches only listeners whose cgroup lies in it. */
struct rl_scope {
	__u64 cgroup_id;    /* cgroup v2 id of the sockops cgroup; 0 = no sockops, touch nothing */
	__u32 cgroup_level; /* its depth below the v2 root (the root is 0) */
	__u32 pad;
};

/* One record of rl_iter_listeners' output (read from the iterator's fd): an
 * existing listener in scope and what enabling the identity option on it gave. */
struct rl_listener_report {
	__u64 cgroup_id;    /* cgroup v2 id of the listening socket */
	__u32 service_id;   /* its service id from rl_cgroup_service, 0 if none */
	__u16 port;         /* local port, host order */
	__u8 family;        /* enum rl_family */
	__u8 pad;
	__s32 save_syn_err; /* bpf_setsockopt(TCP_SAVE_SYN): 0, or -errno */
	__s32 cb_flags_err; /* bpf_setsockopt(TCP_BPF_SOCK_OPS_CB_FLAGS): 0, or -errno
	                       (-EINVAL on kernels before 6.12, which lack the option) */
};

_Static_assert(sizeof(struct rl_cidr_key) == 20, "rl_cidr_key layout");
_Static_assert(sizeof(struct rl_port_key) == 4, "rl_port_key layout");
_Static_assert(sizeof(struct rl_classid_key) == 8, "rl_classid_key layout");
_Static_assert(sizeof(struct rl_rule) == 56, "rl_rule layout");
_Static_assert(sizeof(struct rl_clause) == 40, "rl_clause layout");
_Static_assert(sizeof(struct rl_rule_group) == 40, "rl_rule_group layout");
_Static_assert(sizeof(struct rl_ruleset) == 8 + 40 * RL_MAX_GROUPS + 56 * RL_MAX_RULES + 40 * RL_MAX_CLAUSES,
	       "rl_ruleset layout");
_Static_assert(sizeof(struct rl_kstats) == 8 * (3 * RL_KSTAT_TYPES + 2 * RL_KSTAT_PROTOS + 8),
	       "rl_kstats layout");
_Static_assert(sizeof(struct rl_loss_key) == 16, "rl_loss_key layout");
_Static_assert(sizeof(struct rl_udp_key) == 40, "rl_udp_key layout");
_Static_assert(sizeof(struct rl_udp_flow) == 72, "rl_udp_flow layout");
_Static_assert(sizeof(struct rl_call_prefix) == 8 + RL_CAPTURE_MAX, "rl_call_prefix layout");
_Static_assert(sizeof(struct rl_scope) == 16, "rl_scope layout");
_Static_assert(sizeof(struct rl_listener_report) == 24, "rl_listener_report layout");

#endif /* REDLINE_MAPS_H */
