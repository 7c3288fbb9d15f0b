/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * redline_abi.h — the one contract between Redline's kernel programs,
 * the collector and every offline reader.
 *
 * Included by the BPF programs (clang -target bpf) and imported into Swift
 * through the CRedlineABI target. Swift never re-declares these layouts.
 *
 * Rules for this file:
 *   - Every struct is fixed-size, naturally aligned, with explicit padding,
 *     and its size is pinned with _Static_assert below. Sizes are multiples
 *     of 8 so records can be laid end to end in a segment block.
 *   - Integers are little-endian (the byte order of every host Redline
 *     supports, x86_64 and aarch64); the segment format stores the structs'
 *     bytes as they are. Ports are host order. Addresses are network order
 *     bytes, IPv4 as IPv4-mapped IPv6 (::ffff:a.b.c.d).
 *   - Times are nanoseconds of CLOCK_MONOTONIC (bpf_ktime_get_ns) unless a
 *     field says otherwise. Wall-clock time is computed offline from clock
 *     anchors (schemas/time.md).
 *   - Any layout change bumps that record's RL_REC_*_VERSION and the spec
 *     schemas/records-v2.md (a new file for a new major version; records-v1.md
 *     stays the spec of older segments).
 */
#ifndef REDLINE_ABI_H
#define REDLINE_ABI_H

#ifdef __BPF__
/* BPF programs get fixed-width types from vmlinux.h / linux/types.h. */
#else
#include <stdint.h>
typedef uint8_t __u8;
typedef uint16_t __u16;
typedef uint32_t __u32;
typedef uint64_t __u64;
typedef int32_t __s32;
typedef int64_t __s64;
#endif

/* ------------------------------------------------------------------ */
/* Record types: the tag of every segment block and ring-buffer event. */
/* ------------------------------------------------------------------ */
enum rl_record_type {
	RL_REC_FLOW_DELTA = 1,   /* struct rl_flow_delta */
	RL_REC_L7_CALL = 2,      /* struct rl_l7_call */
	RL_REC_TCP_EVENT = 3,    /* struct rl_tcp_event */
	RL_REC_CLOCK_ANCHOR = 4, /* struct rl_clock_anchor */
	RL_REC_STATS = 5,        /* struct rl_stats */
	RL_REC_CGROUP_MAP = 6,   /* struct rl_cgroup_mapping */
	RL_REC_LOSS = 7,         /* struct rl_loss */
	RL_REC_CALL_DETAIL = 8,  /* struct rl_call_detail */
	RL_REC_TYPE_MAX = 9,     /* one past the last type */
};

/* Layout version of each record type, written into every segment header. */
#define RL_REC_FLOW_DELTA_VERSION 2 /* 2: link bytes per segment, payload bytes (v1: 112 bytes) */
#define RL_REC_L7_CALL_VERSION 2 /* 2: slim 96 bytes, strings in rl_call_detail; v1: 240 bytes */
#define RL_REC_TCP_EVENT_VERSION 1
#define RL_REC_CLOCK_ANCHOR_VERSION 1
#define RL_REC_STATS_VERSION 1
#define RL_REC_CGROUP_MAP_VERSION 1
#define RL_REC_LOSS_VERSION 1
#define RL_REC_CALL_DETAIL_VERSION 1

/* Address family of a record's addresses (values of AF_INET / AF_INET6). */
enum rl_family {
	RL_FAMILY_UNSPEC = 0,
	RL_FAMILY_INET = 2,
	RL_FAMILY_INET6 = 10,
};

/* Which end of the connection the observing host is. */
enum rl_side {
	RL_SIDE_UNKNOWN = 0,
	RL_SIDE_CLIENT = 1, /* the local socket initiated the connection / sent the request */
	RL_SIDE_SERVER = 2, /* the local socket accepted the connection / received the request */
};

/* L7 protocol ids. Rules (schemas/rules-v1.md) name these; the kernel never
 * interprets them. 0 means "no rule matched". */
enum rl_l7_protocol {
	RL_L7_UNKNOWN = 0,
	RL_L7_HTTP1 = 1,
	RL_L7_REDIS = 2,
	RL_L7_DNS = 3,
	RL_L7_MYSQL = 4,
	RL_L7_KAFKA = 5,
	RL_L7_THRIFT = 6,
	RL_L7_TLS = 7,
	RL_L7_MAX = 32, /* ids below this are valid; user rules may use 8..31 */
};

/* Status class of a call, protocol-neutral. */
enum rl_status_class {
	RL_STATUS_UNKNOWN = 0, /* no status extractor, or not parsed */
	RL_STATUS_OK = 1,      /* e.g. HTTP 1xx-3xx, RESP +/:/$/*, DNS NOERROR */
	RL_STATUS_CLIENT_ERROR = 2, /* e.g. HTTP 4xx, DNS NXDOMAIN */
	RL_STATUS_SERVER_ERROR = 3, /* e.g. HTTP 5xx, RESP -ERR, DNS SERVFAIL */
};

/* Flags of struct rl_flow_delta.flags. */
enum rl_flow_flags {
	RL_FLOW_OPENED = 1 << 0,          /* the flow's first packet falls in this delta */
	RL_FLOW_CLOSED = 1 << 1,          /* FIN or RST seen; no more deltas follow */
	RL_FLOW_ID_OPTION_MISSING = 1 << 2, /* identity option expected, not received */
	RL_FLOW_SAMPLED_OUT = 1 << 3,     /* counters are partial: rate cap hit during the delta */
	RL_FLOW_LAYOUT_V1 = 1 << 4,       /* read from a version-1 record: bytes/packets count a GSO
	                                     packet once and the payload fields are unknown (zero);
	                                     set by the segment reader, never by the kernel */
};

/* Flags of struct rl_l7_call.flags. */
enum rl_call_flags {
	RL_CALL_PREFIX_CAPTURED = 1 << 0, /* the collector parsed a request prefix */
	RL_CALL_TRACE_W3C = 1 << 1,       /* trace_id/span_id came from W3C traceparent */
	RL_CALL_TRACE_B3 = 1 << 2,        /* ... from B3 headers */
	RL_CALL_TRACE_TTHEADER = 1 << 3,  /* ... from a TTHeader */
	RL_CALL_TRUNCATED = 1 << 4,       /* host or route was longer than its field (rl_call_detail) */
	RL_CALL_UNPAIRED = 1 << 5,        /* a request that could not be paired with its response
	                                     (connection closed first, or its response was not
	                                     seen): counted as a request, duration_ns is 0 and
	                                     carries no latency */
};

/* Kinds of struct rl_tcp_event. */
enum rl_tcp_event_kind {
	RL_TCP_RETRANSMIT = 1,     /* tcp:tcp_retransmit_skb (per skb, may be GSO) */
	RL_TCP_RESET_SENT = 2,     /* tcp:tcp_send_reset */
	RL_TCP_RESET_RECEIVED = 3, /* tcp:tcp_receive_reset */
	RL_TCP_DROP = 4,           /* skb:kfree_skb with a drop reason */
};

/* Why a clock anchor was taken (struct rl_clock_anchor.reason). */
enum rl_anchor_reason {
	RL_ANCHOR_START = 1,    /* collector start */
	RL_ANCHOR_PERIODIC = 2, /* the regular interval */
	RL_ANCHOR_STEP = 3,     /* REALTIME-MONOTONIC offset moved past the threshold */
	RL_ANCHOR_SEAL = 4,     /* taken just before a segment was sealed */
};

/* Counters carried by struct rl_stats (rl_stats.counter). `subject` says
 * what the counter is about: an rl_record_type, a rule id, or 0. */
enum rl_stats_counter {
	/* Counters 2-5 and 9 are losses. Collectors since RL_REC_LOSS write them only as
	 * struct rl_loss records (what was lost, when); older segments carry them here. */
	RL_STAT_EVENTS_EMITTED = 1,    /* subject: record type; events the kernel put in the ring */
	RL_STAT_RINGBUF_DROPPED = 2,   /* subject: record type; ring full, event lost */
	RL_STAT_RATE_CAPPED = 3,       /* subject: record type; token bucket empty, event lost */
	RL_STAT_UNPAIRED_REQUEST = 4,  /* subject: l7 protocol; request with no response */
	RL_STAT_UNPAIRED_RESPONSE = 5, /* subject: l7 protocol; response with no request */
	RL_STAT_RULE_HITS = 6,         /* subject: rule id; payloads the rule matched */
	RL_STAT_ID_OPTION_MISSING = 7, /* subject: 0; connections lacking the identity option */
	RL_STAT_EVENTS_READ = 8,       /* subject: record type; events the collector consumed */
	RL_STAT_USER_DROPPED = 9,      /* subject: record type; shed by the collector (memory cap) */
	RL_STAT_SEGMENTS_DELETED = 10, /* subject: 0; sealed segments removed by the disk budget */
	RL_STAT_BYTES_DELETED = 11,    /* subject: 0; bytes of those segments */
};

/* ------------------------------------------------------------------ */
/* Records                                                              */
/* ------------------------------------------------------------------ */

/* Traffic of one flow over one interval, as seen by one host.
 * "local" is the endpoint on the observing host. */
struct rl_flow_delta {
	__u64 start_ns;      /* CLOCK_MONOTONIC_COARSE ns (bpf_ktime_get_coarse_ns): first packet counted */
	__u64 end_ns;        /* CLOCK_MONOTONIC_COARSE ns: last packet counted in this delta */
	__u64 cgroup_id;     /* cgroup v2 id of the local socket, 0 if unknown */
	__u8 laddr[16];      /* local address, network order, IPv4-mapped for IPv4 */
	__u8 raddr[16];      /* remote address, same encoding */
	__u16 lport;         /* local port, host order; 0 for portless protocols */
	__u16 rport;         /* remote port, host order */
	__u8 family;         /* enum rl_family */
	__u8 l4_proto;       /* IPPROTO_TCP (6) or IPPROTO_UDP (17) */
	__u8 l7_proto;       /* enum rl_l7_protocol of the flow's first matched rule, 0 if none */
	__u8 side;           /* enum rl_side */
	__u32 classid;       /* net_cls classid of the local socket, 0 if none */
	__u32 local_service; /* local service id (from the cgroup map), 0 if unknown */
	__u32 peer_service;  /* peer's service id from its TCP option, 0 if unknown */
	__u32 flags;         /* enum rl_flow_flags */
	__u64 tx_bytes;      /* link bytes sent by local: L3 length (IP + L4 headers + payload) of
	                        every wire segment, a GSO/GRO packet of N segments counted with its
	                        headers N times, as an MTU-sized link carries it; no L2 framing */
	__u64 rx_bytes;      /* link bytes received by local, same definition */
	__u64 tx_packets;    /* wire segments sent by local (a GSO packet counts gso_segs) */
	__u64 rx_packets;    /* wire segments received by local (a GRO packet counts gso_segs) */
	__u64 tx_payload_bytes; /* L4 payload bytes sent by local (TCP/UDP data, headers excluded) */
	__u64 rx_payload_bytes; /* L4 payload bytes received by local */
};

/* Size of a version-1 rl_flow_delta: the same fields up to rx_packets. */
#define RL_FLOW_DELTA_V1_SIZE 112

/* One request/response exchange on one connection (version 2). Every field
 * up to peer_service comes from the kernel; the strings a call may carry
 * (trace context, host, route) are in its struct rl_call_detail, written by
 * the collector from a captured request prefix (schemas/records-v2.md). */
struct rl_l7_call {
	__u64 start_ns;      /* monotonic ns: first request byte seen */
	__u64 duration_ns;   /* ns from first request byte to first response byte */
	__u64 cgroup_id;     /* cgroup v2 id of the local socket, 0 if unknown */
	__u8 laddr[16];      /* local address (see rl_flow_delta) */
	__u8 raddr[16];      /* remote address */
	__u16 lport;         /* local port, host order */
	__u16 rport;         /* remote port, host order */
	__u8 family;         /* enum rl_family */
	__u8 l4_proto;       /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 l7_proto;       /* enum rl_l7_protocol */
	__u8 side;           /* enum rl_side: client = local sent the request */
	__u16 status_code;   /* protocol status (HTTP 200, DNS rcode, ...), 0 if none */
	__u8 status_class;   /* enum rl_status_class */
	__u8 flags;          /* enum rl_call_flags */
	__u16 req_rule;      /* id of the rule that matched the request */
	__u16 resp_rule;     /* id of the rule that matched the response */
	__u32 req_bytes;     /* L4 payload bytes of the request (all its segments) */
	__u32 resp_bytes;    /* L4 payload bytes of the response seen until the next request */
	__u32 local_service; /* local service id, 0 if unknown */
	__u32 peer_service;  /* peer service id from the identity option, 0 if unknown */
	__u32 detail_seq;    /* 0: the call has no detail record; else the seq of its
	                        rl_call_detail in the same segment (the kernel writes 0) */
	__u32 pad;           /* zero */
};

/* The strings of one call, in the same segment as the call (a block of its own,
 * so readers that need no names skip it undecompressed). */
struct rl_call_detail {
	__u32 seq;           /* >= 1, unique and increasing within one segment */
	__u32 pad;           /* zero */
	__u8 trace_id[16];   /* W3C/B3/TTHeader trace id, zero if none */
	__u8 span_id[8];     /* caller's span id, zero if none */
	char host[48];       /* HTTP Host / :authority, NUL-padded, UTF-8, may be truncated */
	char route[80];      /* HTTP path without query, NUL-padded, may be truncated */
};

/* A version-1 call (240 bytes): the v2 fields up to peer_service, then the
 * detail's strings inline. Only for reading old segments; readers normalise
 * it to an rl_l7_call and an rl_call_detail. */
struct rl_l7_call_v1 {
	__u64 start_ns;
	__u64 duration_ns;
	__u64 cgroup_id;
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 lport;
	__u16 rport;
	__u8 family;
	__u8 l4_proto;
	__u8 l7_proto;
	__u8 side;
	__u16 status_code;
	__u8 status_class;
	__u8 flags;
	__u16 req_rule;
	__u16 resp_rule;
	__u32 req_bytes;
	__u32 resp_bytes;
	__u32 local_service;
	__u32 peer_service;
	__u8 trace_id[16];
	__u8 span_id[8];
	char host[48];
	char route[80];
};

/* A retransmit, a reset or a drop, from the TCP / skb tracepoints. */
struct rl_tcp_event {
	__u64 ts_ns;         /* monotonic ns */
	__u64 cgroup_id;     /* cgroup v2 id of the socket, 0 if unknown */
	__u8 laddr[16];      /* local address */
	__u8 raddr[16];      /* remote address */
	__u16 lport;         /* local port, host order */
	__u16 rport;         /* remote port, host order */
	__u8 family;         /* enum rl_family */
	__u8 kind;           /* enum rl_tcp_event_kind */
	__u8 tcp_state;      /* kernel TCP state (TCP_ESTABLISHED = 1, ...), 0 if no socket */
	__u8 l4_proto;       /* IPPROTO_TCP, or the dropped packet's protocol */
	__u32 drop_reason;   /* enum skb_drop_reason value for RL_TCP_DROP, else 0 */
	__u32 local_service; /* local service id, 0 if unknown */
	__u32 peer_service;  /* peer service id, 0 if unknown */
	__u32 count;         /* events folded into this record (>= 1) */
};

/* One best-of-K sandwich read: REALTIME, MONOTONIC (+BOOTTIME), REALTIME.
 * realtime_ns is the midpoint of the tightest sandwich. */
struct rl_clock_anchor {
	__s64 realtime_ns;    /* CLOCK_REALTIME ns since the Unix epoch (UTC) */
	__u64 monotonic_ns;   /* CLOCK_MONOTONIC ns, the kernel's bpf_ktime_get_ns */
	__u64 boottime_ns;    /* CLOCK_BOOTTIME ns (differs from monotonic after suspend) */
	__u64 uncertainty_ns; /* half the width of the tightest sandwich */
	__u32 samples;        /* K, sandwiches taken */
	__u32 reason;         /* enum rl_anchor_reason */
};

/* A counter over an interval: events emitted, lost, shed, rule hits. */
struct rl_stats {
	__u64 ts_ns;       /* monotonic ns at the end of the interval */
	__u64 interval_ns; /* length of the interval the value covers */
	__u32 counter;     /* enum rl_stats_counter */
	__u32 subject;     /* record type, l7 protocol or rule id, per counter */
	__u64 value;       /* count during the interval (a delta, never a running total) */
};

/* cgroup id -> cgroup path -> pod/container, for the offline join. */
struct rl_cgroup_mapping {
	__u64 ts_ns;           /* monotonic ns when resolved */
	__u64 cgroup_id;       /* cgroup v2 id (inode of the cgroup directory) */
	__u32 service_id;      /* service id configured for this cgroup, 0 if none */
	__u32 flags;           /* 1 = path truncated */
	char pod_uid[40];      /* Kubernetes pod UID (36 chars), NUL-padded, empty if none */
	char container_id[72]; /* container id (64 hex chars), NUL-padded, empty if none */
	char path[256];        /* cgroup path below the v2 mount, NUL-padded, may be truncated */
};

/* Events lost before they became records, attributed to what they would have
 * been and to when they were lost. Written by the collector: from the kernel's
 * rl_loss map (one record per second, UTC-aligned, and owner) and for events it
 * shed itself. The count may fall anywhere in (ts_ns - interval_ns, ts_ns]; a
 * reader spreads it evenly over that interval (schemas/records-v1.md). */
struct rl_loss {
	__u64 ts_ns;       /* monotonic ns: end of the interval the count covers */
	__u64 interval_ns; /* length of that interval, > 0 */
	__u64 cgroup_id;   /* cgroup v2 id of the local socket the events belonged to, 0 if unknown */
	__u64 value;       /* events lost in the interval */
	__u8 reason;       /* enum rl_stats_counter: RINGBUF_DROPPED, RATE_CAPPED, UNPAIRED_REQUEST,
	                      UNPAIRED_RESPONSE or USER_DROPPED */
	__u8 record_type;  /* enum rl_record_type the events would have become */
	__u8 l7_proto;     /* enum rl_l7_protocol of the events, 0 if none or unknown */
	__u8 side;         /* enum rl_side of the local socket, 0 if unknown */
	__u32 pad;         /* zero */
};

/* Framing of every ring-buffer event: this header, then the record. */
struct rl_ring_header {
	__u16 type;     /* enum rl_record_type */
	__u16 size;     /* bytes of the record that follows */
	__u32 reserved; /* zero */
};

_Static_assert(sizeof(struct rl_flow_delta) == 128, "rl_flow_delta layout");
_Static_assert(__builtin_offsetof(struct rl_flow_delta, tx_payload_bytes) == RL_FLOW_DELTA_V1_SIZE,
	       "rl_flow_delta v2 only appends to v1");
_Static_assert(sizeof(struct rl_l7_call) == 96, "rl_l7_call layout");
_Static_assert(sizeof(struct rl_call_detail) == 160, "rl_call_detail layout");
_Static_assert(sizeof(struct rl_l7_call_v1) == 240, "rl_l7_call_v1 layout");
/* v2 keeps v1's prefix: the same fields at the same offsets up to peer_service. */
_Static_assert(__builtin_offsetof(struct rl_l7_call, peer_service) == 84, "rl_l7_call prefix");
_Static_assert(__builtin_offsetof(struct rl_l7_call_v1, peer_service) == 84, "rl_l7_call_v1 prefix");
_Static_assert(__builtin_offsetof(struct rl_l7_call, status_code) == __builtin_offsetof(struct rl_l7_call_v1, status_code),
	       "rl_l7_call prefix");
_Static_assert(__builtin_offsetof(struct rl_l7_call, detail_seq) == 88, "rl_l7_call.detail_seq");
_Static_assert(__builtin_offsetof(struct rl_l7_call_v1, trace_id) == 88, "rl_l7_call_v1.trace_id");
_Static_assert(__builtin_offsetof(struct rl_call_detail, trace_id) == 8, "rl_call_detail.trace_id");
_Static_assert(__builtin_offsetof(struct rl_call_detail, host) == 32, "rl_call_detail.host");
_Static_assert(__builtin_offsetof(struct rl_call_detail, route) == 80, "rl_call_detail.route");
_Static_assert(sizeof(struct rl_tcp_event) == 72, "rl_tcp_event layout");
_Static_assert(sizeof(struct rl_clock_anchor) == 40, "rl_clock_anchor layout");
_Static_assert(sizeof(struct rl_stats) == 32, "rl_stats layout");
_Static_assert(sizeof(struct rl_cgroup_mapping) == 392, "rl_cgroup_mapping layout");
_Static_assert(sizeof(struct rl_loss) == 40, "rl_loss layout");
_Static_assert(sizeof(struct rl_ring_header) == 8, "rl_ring_header layout");

#endif /* REDLINE_ABI_H */
