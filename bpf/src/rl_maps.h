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
	__u16 pad16;
	__u8 l7_misses;       /* direction changes classified without a match, l7_proto 0 */
	__u8 seq_flags;       /* enum rl_seq_flags */
	/* Next expected TCP sequence number per direction ([0] egress, [1] ingress):
	 * a payload segment wholly below it is a retransmission. */
	__u32 next_seq[2];
	/* 0 until one path claims the closing delta (rl_claim_close): tc at both
	 * FINs or a RST and sockops at TCP_CLOSE may run on two CPUs at once. */
	__u32 close_claim;
	/* One request's first bytes (px.len 0: none). Framed flows: the pending request
	 * flagged RL_PQ_PREFIX owns it; the FIFO's lock hands it over (rl_stream.h). */
	struct rl_call_prefix px;
};

enum rl_seq_flags {
	RL_SEQ_TX_VALID = 1 << 0, /* next_seq[0] holds a sequence number */
	RL_SEQ_RX_VALID = 1 << 1, /* next_seq[1] holds one */
	RL_SEQ_FRAMED = 1 << 2,   /* the flow's messages are walked (rl_sk_stream) */
};

/* ------------------------------------------------------------------ */
/* Message walking (rl_stream.h): per-connection state of a flow whose */
/* protocol has a framing the kernel walks (HTTP/1.x, RESP).            */
/* ------------------------------------------------------------------ */
#define RL_FIFO_DEPTH 64 /* requests awaiting their response, per connection */
/* Pipelined requests behind the head keep their own first bytes (a RESP command, an
 * HTTP request line and usually its Host): a slot each, for the first RL_SLOT_COUNT
 * pending requests; the first of a connection's pending requests to want one keeps
 * its prefix in rl_sk_state.px (RL_CAPTURE_MAX bytes). */
#define RL_SLOT_COUNT 16
#define RL_SLOT_BYTES 128

/* A request that was seen and awaits its response (FIFO per connection). */
struct rl_pending_req {
	__u64 start_ns; /* bpf_ktime_get_ns of the segment holding its first byte */
	__u32 bytes;    /* its bytes so far (all of it once RL_PQ_DONE) */
	__u16 rule;     /* rule that matched its first bytes, 0 if none */
	__u8 flags;     /* enum rl_pq_flags */
	__u8 slot_len;  /* RL_PQ_SLOT: bytes of it in its slot, 1..RL_SLOT_BYTES */
	__u32 before;   /* requests past the FIFO's depth between the one before it and
	                   it: the next responses answer them first, as calls without latency */
	__u32 pad;
};

enum rl_pq_flags {
	RL_PQ_DONE = 1 << 0,   /* the whole request was seen */
	RL_PQ_HEAD = 1 << 1,   /* HTTP HEAD: its response has no body */
	RL_PQ_PREFIX = 1 << 2, /* rl_sk_state.px holds this request's prefix */
	RL_PQ_SLOT = 1 << 3,   /* rl_stream.slot[its FIFO index % RL_SLOT_COUNT] holds its first bytes */
};

/* The parser of one direction of a walked connection. */
struct rl_walk {
	__u64 num;          /* number being read: length, count, chunk size */
	__u64 msg_start_ns; /* when the current message's first byte was seen */
	__u64 remain;       /* bytes left to skip: body, bulk string, chunk (+ CRLF) */
	__u32 elems;        /* RESP: elements left in the current message */
	__u32 msg_bytes;    /* bytes of the current message so far */
	__u16 pos;          /* HTTP: index in the current line / header name / "chunked" */
	__u16 status;       /* HTTP response: status code read from the status line */
	__u16 rule;         /* rule that matched the current message's first bytes */
	__u8 phase;         /* enum rl_walk_phase */
	__u8 mflags;        /* enum rl_msg_flags of the current message */
	__u8 match;         /* HTTP: header names the current one may still be (bits) */
	__u8 rtype;         /* RESP: type byte of the current element */
	__u8 status_class;  /* enum rl_status_class of the current response */
	__u8 pad[5];
};

/* A connection's walked streams and its requests awaiting responses. */
struct rl_stream {
	struct rl_walk w[2];  /* [0] the request direction, [1] the response direction */
	__u64 ans_start_ns;   /* a response that completed before its request did */
	__u32 ans_bytes;
	__u16 ans_status;
	__u16 ans_rule;
	__u8 ans_class;
	__u8 answered;        /* 1: ans_* answer the head request, still being sent */
	__u8 framing;         /* enum rl_framing */
	__u8 req_dir;         /* RL_DIR_EGRESS / RL_DIR_INGRESS: the way requests travel */
	__u8 proto;           /* enum rl_l7_protocol */
	__u8 head;            /* index of the oldest pending request */
	__u8 count;           /* pending requests in q */
	__u8 px_busy;         /* 1: rl_sk_state.px is a pending request's (or being loaded for one) */
	__u32 overflow;       /* requests past RL_FIFO_DEPTH after the last in q (those before an
	                         entry are its `before`): each is a call without latency
	                         when its response (or the close) comes */
	/* The request direction and the response direction of one connection are walked
	 * on two CPUs at once (a client's writes leave on its CPU while earlier answers
	 * arrive in softirq on the other). head, count, overflow, answered and ans_*,
	 * q[] and who owns a slot or rl_sk_state.px change only under this lock, in
	 * short sections without helper calls (rl_stream.h). w[0] belongs to the
	 * request walk, w[1] to the response walk. */
	struct bpf_spin_lock lock;
	__u32 pad2;
	struct rl_pending_req q[RL_FIFO_DEPTH];
	/* First bytes of pending requests queued behind the head (RL_PQ_SLOT). A request
	 * takes one only while fewer than RL_SLOT_COUNT are pending, so no two pending
	 * requests share a slot. */
	__u8 slot[RL_SLOT_COUNT][RL_SLOT_BYTES];
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
	struct rl_call_prefix px; /* the request's first bytes, the rule's capture (DNS: header and question) */
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

/* Bytes a find clause searches, per CPU: a window of start positions plus
 * room for one full compare past the last (rl_rules.h, rl_clause_holds). */
struct rl_find_buf {
	__u8 b[RL_FIND_WINDOW_MAX + RL_RULE_BYTES];
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rl_find_buf);
} rl_find_scratch SEC(".maps");

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

/* Records to user space: rl_ring_header + record. 4 MiB unless the collector
 * sets another size before load (collector config `ring_buffer_bytes`). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} rl_events SEC(".maps");

/* Lost events by owner (cgroup), kind and second, per CPU: running counts the
 * collector reads, turns into rl_loss records and deletes once their second is
 * over. Not preallocated: a host that loses nothing pays nothing. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, RL_LOSS_ENTRIES);
	__type(key, struct rl_loss_key);
	__type(value, __u64);
} rl_loss SEC(".maps");

/* Per-socket TCP state (flow counters, pending call, identity). */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct rl_sk_state);
} rl_sk_state SEC(".maps");

/* Message-walking state of HTTP/1.x and RESP connections, created when a
 * flow's first request is recognised (other sockets never pay for it). */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct rl_stream);
} rl_sk_stream SEC(".maps");

/* The fields of one TCP call record that vary by how it was paired. */
struct rl_call_out {
	__u64 start_ns;
	__u64 duration_ns;
	__u32 req_bytes;
	__u32 resp_bytes;
	__u8 req_rule;  /* rule ids are 1..RL_MAX_RULE_ID-1: a byte holds them */
	__u8 resp_rule;
	__u16 status_code;
	__u8 status_class;
	__u8 flags;   /* enum rl_call_flags */
	__u8 proto;
	__u8 req_dir : 7; /* RL_DIR_*: the way the request travelled */
	__u8 egress : 1;  /* seen by tc egress (or sockops) rather than ingress */
};
/* 32 bytes: the non-framed path keeps it on the tc programs' stack, which the
 * verifier holds to 512 bytes over the deepest call chain. */
_Static_assert(sizeof(struct rl_call_out) == 32, "rl_call_out fits its frame");
_Static_assert(RL_MAX_RULE_ID <= 256, "rule ids fit rl_call_out's bytes");

/* Per CPU, what a message walk keeps off the stack (the tc programs' call chain
 * fills it): the bytes being walked, 64 at a time, and a call taken from a
 * connection's FIFO under its lock (rl_stream.h), whose fields and request's
 * first bytes stay here until it is emitted after the lock (the entry, and the
 * prefix or slot it came from, are free again at once). One entry per program
 * kind that walks or takes calls: [0] tc, [1] sockops (the close), which may run
 * in process context under a tc softirq on the same CPU. */
struct rl_take {
	struct rl_call_out o;
	struct rl_call_prefix px;
};
struct rl_walk_scratch {
	struct rl_take take;
	__u8 b[64]; /* RL_WALK_BUF */
};
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct rl_walk_scratch);
} rl_walk_scratch SEC(".maps");

/* UDP flow counters, per CPU; LRU so idle flows age out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct rl_udp_key);
	__type(value, struct rl_udp_flow);
} rl_udp_flows SEC(".maps");

/* A request's pending entry is built here, then copied into rl_udp_pending: with
 * its prefix it is too big for the tc program's stack. Per CPU: one program runs
 * on a CPU at a time. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rl_udp_pending);
} rl_udp_scratch SEC(".maps");

/* Which request a UDP response answers: its flow and, for DNS, the header's ID, since a
 * client may ask several questions at once on one socket (glibc's resolver sends A and
 * AAAA back to back, before either answer). The flow key's layout, the ID in its
 * padding: the key is the flow key made in place (the tc programs' stack has no room
 * for a second one). */
struct rl_udp_pending_key {
	__u32 laddr[4];
	__u32 raddr[4];
	__u16 lport;
	__u16 rport;
	__u8 family;
	__u8 pad;
	__u16 id; /* DNS: the transaction ID as on the wire; 0 for other protocols */
};
_Static_assert(sizeof(struct rl_udp_pending_key) == sizeof(struct rl_udp_key) &&
	       __builtin_offsetof(struct rl_udp_pending_key, family) == __builtin_offsetof(struct rl_udp_key, family) &&
	       __builtin_offsetof(struct rl_udp_pending_key, id) > __builtin_offsetof(struct rl_udp_key, pad),
	       "rl_udp_pending_key is rl_udp_key with the ID in its padding");

/* UDP requests awaiting a response (DNS); LRU so lost responses age out. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct rl_udp_pending_key);
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
 * listener's service by (netns, port, bound address); the SYN-ACK looks up its
 * local address, then the wildcard. LRU: listeners close without a callback. */
struct rl_listen_key {
	__u64 netns_cookie;
	__u32 port; /* host order */
	__u32 pad;
	__u8 addr[16]; /* the listener's bound address, IPv4 as IPv4-mapped IPv6; all
	                  zero for a wildcard (0.0.0.0, ::): listeners of one port on
	                  different addresses are different services */
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

/* The sockops cgroup subtree: the existing-listener iterator's scope (one entry). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rl_scope);
} rl_scope SEC(".maps");

#endif /* RL_MAPS_H */
