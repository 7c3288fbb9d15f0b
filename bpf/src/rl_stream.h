/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * rl_stream.h — message walking: every HTTP/1.x and RESP message of a
 * connection is counted, wherever it starts in a segment, and paired FIFO
 * with its response.
 *
 * Rules still decide what a flow is; once a flow's first request matches a
 * rule whose protocol has a framing here, its socket gets an rl_stream
 * (sk_storage) and each new payload byte of each direction is walked by a
 * small state machine in a bpf_loop callback: header / type lines byte by
 * byte (64-byte loads), bodies, bulk strings and chunks skipped by length in
 * one step. A message that starts is classified at its own offset (rule id,
 * hit counter, request prefix); a request that starts joins the
 * connection's FIFO; a response that ends answers the oldest request and
 * makes its call record. What cannot be walked (a sequence gap, bytes that
 * cannot start a message, more steps than RL_WALK_STEPS in one segment) is
 * counted in rl_kstats.stream_lost and walking resumes at the next segment
 * that starts with a message. Included by redline.bpf.c after the call
 * emitter (rl_tcp_emit) it uses.
 */
#ifndef RL_STREAM_H
#define RL_STREAM_H

/* How a protocol's messages are delimited. */
enum rl_framing {
	RL_FRAMING_NONE = 0,  /* first payload after a change of direction (rules only) */
	RL_FRAMING_HTTP1 = 1, /* start line, headers, Content-Length / chunked / close */
	RL_FRAMING_RESP = 2,  /* RESP2/3 types, arrays by element count, bulk by length */
};

#define RL_WALK_BUF 64       /* bytes loaded at once for byte-wise parsing */
#define RL_WALK_STEPS 65536  /* bpf_loop steps per segment: a step is a header byte or a skip, so a 64 KiB (GSO) segment is walked whole */
#define RL_WALK_NUM_MAX (1ULL << 40) /* lengths above this are not HTTP/RESP: lose sync */
#define RL_DRAIN_STEPS 1024 /* calls a close emits at most; more are counted as unpaired requests */

enum rl_walk_phase {
	RL_W_START = 0,   /* between messages */
	RL_W_LINE1,       /* HTTP: request / status line */
	RL_W_BOL,         /* HTTP: start of a header line */
	RL_W_EOH,         /* HTTP: CR of the blank line seen */
	RL_W_NAME,        /* HTTP: in a header name */
	RL_W_CLEN,        /* HTTP: Content-Length value */
	RL_W_TENC,        /* HTTP: Transfer-Encoding value */
	RL_W_TO_LF,       /* HTTP: rest of a header line that does not matter */
	RL_W_BODY,        /* HTTP: skipping `remain` body bytes */
	RL_W_CHUNK_SIZE,  /* HTTP chunked: the size line */
	RL_W_CHUNK_EXT,   /* HTTP chunked: rest of the size line */
	RL_W_CHUNK_DATA,  /* HTTP chunked: skipping data + CRLF */
	RL_W_TRAILER_BOL, /* HTTP chunked: start of a trailer line */
	RL_W_TRAILER,     /* HTTP chunked: in a trailer line */
	RL_W_UNTIL_CLOSE, /* HTTP response: body delimited by the close */
	RL_W_TYPE,        /* RESP: type byte of an element */
	RL_W_RLINE,       /* RESP: rest of an element's line */
	RL_W_BULK,        /* RESP: skipping bulk data + CRLF */
	RL_W_LOST,        /* out of sync until a segment starts with a message */
};

enum rl_msg_flags {
	RL_MSG_CLEN = 1 << 0,     /* HTTP: Content-Length seen (value in num) */
	RL_MSG_CHUNKED = 1 << 1,  /* HTTP: Transfer-Encoding chunked */
	RL_MSG_HEAD = 1 << 2,     /* HTTP request: method HEAD (so far) */
	RL_MSG_NEG = 1 << 3,      /* RESP: the number read is negative */
	RL_MSG_OVERFLOW = 1 << 4, /* request: counted in rl_stream.overflow, not in q */
	RL_MSG_INTERIM = 1 << 5,  /* HTTP response: 1xx, answers nothing */
};

/* Lower-case header names, little-endian words: "content-length:", "transfer-encoding:". */
#define RL_CLEN_0 0x2d746e65746e6f63ULL
#define RL_CLEN_1 0x3a6874676e656cULL
#define RL_TENC_0 0x726566736e617274ULL
#define RL_TENC_1 0x6e69646f636e652dULL
#define RL_TENC_2 0x3a67ULL
#define RL_CHUNKED 0x64656b6e756863ULL /* "chunked" */
#define RL_HEAD_SP 0x2044414548ULL     /* "HEAD " */

static __always_inline __u8 rl_byte_of(__u64 w, __u32 i)
{
	return (w >> ((i & 7) * 8)) & 0xff;
}

static __always_inline __u8 rl_framing_of(__u8 proto)
{
	if (proto == RL_L7_HTTP1)
		return RL_FRAMING_HTTP1;
	if (proto == RL_L7_REDIS)
		return RL_FRAMING_RESP;
	return RL_FRAMING_NONE;
}

/* A RESP type byte (RESP2 and RESP3). */
static __always_inline bool rl_resp_type(__u8 b)
{
	switch (b) {
	case '+': case '-': case ':': case '$': case '*': case '_': case ',': case '#':
	case '(': case '!': case '=': case '%': case '~': case '>': case '|':
		return true;
	}
	return false;
}

/* rl_walk_scratch's entry for tc (0) or sockops (1). */
static __always_inline struct rl_walk_scratch *rl_scratch(__u32 kind)
{
	return bpf_map_lookup_elem(&rl_walk_scratch, &kind);
}

/* rl_copy_prefix for a slot's RL_SLOT_BYTES. */
static __always_inline void rl_copy_slot(__u8 *dst, const __u8 *src, __u32 n)
{
	if (n <= 64)
		__builtin_memcpy(dst, src, 64);
	else
		__builtin_memcpy(dst, src, RL_SLOT_BYTES);
}

/* What one bpf_loop walk works on. Lives on the tc program's stack, at the root of
 * the deepest call chain the verifier holds to 512 bytes: what is only needed per
 * message (the CPU's rl_kstats) is looked up there, not carried here. */
struct rl_walk_ctx {
	struct __sk_buff *skb;
	const struct rl_pkt *p;
	struct rl_sk_state *st;
	struct rl_stream *ss;
	__u64 now;      /* bpf_ktime_get_ns of this segment */
	__u32 off;      /* next payload byte to walk */
	__u32 end;      /* payload length */
	__u32 buf_off;  /* payload offset of buf[0] */
	__u32 buf_len;  /* valid bytes in buf */
	__u8 resp;      /* 1: walking the response direction */
	__u8 egress;
	__u8 pad[6];
	struct rl_walk_scratch *buf; /* rl_walk_scratch of this CPU and program kind */
};

static __always_inline struct rl_pending_req *rl_q_at(struct rl_stream *ss, __u32 i)
{
	return &ss->q[i & (RL_FIFO_DEPTH - 1)];
}


/* One lost message of the stream (`reason`: RL_STAT_UNPAIRED_*), owned by its
 * protocol, this socket's side of the calls and its cgroup (rl_lost). */
static __always_inline void rl_stream_lost(struct rl_walk_ctx *c, __u32 reason)
{
	__u32 owner = RL_OWNER(c->ss->proto, c->ss->req_dir == RL_DIR_EGRESS ? RL_SIDE_CLIENT : RL_SIDE_SERVER);
	rl_lost(rl_stats(), reason, RL_REC_L7_CALL, owner, c->st->cgroup_id);
}

/*
 * Pairing under the FIFO's lock. The request walk adds requests and marks them
 * done; the response walk answers the oldest; the close drains what is left; two
 * of them may run at once on two CPUs. Each step decides under ss->lock, with
 * plain loads and stores only (no helper may be called while it is held), and
 * takes the call it completes out of the FIFO there: its fields and its first
 * bytes (from rl_sk_state.px or its slot) into c->buf->take. It is emitted after the
 * lock, when the entry, its slot and px are already free for the next request.
 */

/* A call's fields that do not depend on its request or answer (before the lock). */
static __always_inline void rl_call_init(struct rl_walk_ctx *c, struct rl_call_out *o)
{
	__builtin_memset(o, 0, sizeof(*o));
	c->buf->take.px.len = 0;
	o->proto = c->ss->proto;
	o->req_dir = c->ss->req_dir;
	o->egress = c->egress;
}

/* Under the lock: the oldest pending request leaves the FIFO as call `o`
 * (`req_bytes` of it), its first bytes into c->buf->take.px. */
static __always_inline void rl_take_head(struct rl_walk_ctx *c, struct rl_call_out *o, __u32 req_bytes)
{
	struct rl_stream *ss = c->ss;
	__u32 h = ss->head;
	struct rl_pending_req *rq = rl_q_at(ss, h);
	o->start_ns = rq->start_ns;
	o->req_bytes = req_bytes;
	o->req_rule = rq->rule;
	struct rl_call_prefix *px = &c->buf->take.px;
	if (rq->flags & RL_PQ_PREFIX) {
		__u32 n = c->st->px.len;
		rl_copy_prefix(px->data, c->st->px.data, n);
		px->len = n;
		ss->px_busy = 0;
	} else if (rq->flags & RL_PQ_SLOT) {
		__u32 n = rq->slot_len;
		rl_copy_slot(px->data, ss->slot[h & (RL_SLOT_COUNT - 1)], n);
		px->len = n;
	}
	ss->head = (h + 1) & (RL_FIFO_DEPTH - 1);
	ss->count--;
}

/* Under the lock: a request past the FIFO's depth, counted in `*run` (ss->overflow
 * or the head's `before`), leaves as call `o` without latency: it was counted,
 * its start and bytes were not kept. */
static __always_inline void rl_take_overflow(struct rl_walk_ctx *c, struct rl_call_out *o, __u32 *run)
{
	(*run)--;
	o->start_ns = c->now;
	o->flags = RL_CALL_UNPAIRED;
}

/* The answer of call `o`: the response walk's message `w`. */
static __always_inline void rl_answer_walk(struct rl_call_out *o, const struct rl_walk *w)
{
	o->duration_ns = w->msg_start_ns - o->start_ns;
	o->resp_bytes = w->msg_bytes;
	o->resp_rule = w->rule;
	o->status_code = w->status;
	o->status_class = w->status_class;
}

/* The answer of call `o`: the early answer kept in the stream (under the lock). */
static __always_inline void rl_answer_kept(struct rl_call_out *o, struct rl_stream *ss)
{
	o->duration_ns = ss->ans_start_ns - o->start_ns;
	o->resp_bytes = ss->ans_bytes;
	o->resp_rule = ss->ans_rule;
	o->status_code = ss->ans_status;
	o->status_class = ss->ans_class;
	ss->answered = 0;
}

/* Emits the call taken from the FIFO into c->buf->take (after the lock). */
static __always_inline void rl_stream_emit(struct rl_walk_ctx *c)
{
	rl_tcp_emit_counted(c->p, c->st, rl_stats(), &c->buf->take.o, &c->buf->take.px);
}

/* The response direction finished a message: it answers the oldest request.
 * Not inlined: its call record's frame stays off the message-start path's. */
static __noinline void rl_resp_done(struct rl_walk_ctx *c, struct rl_walk *w)
{
	struct rl_stream *ss = c->ss;
	if (w->mflags & RL_MSG_INTERIM)
		return;
	struct rl_call_out *o = &c->buf->take.o;
	rl_call_init(c, o);
	bool emit = false;
	bpf_spin_lock(&ss->lock);
	if (ss->count) {
		struct rl_pending_req *rq = rl_q_at(ss, ss->head);
		if (rq->before) {
			/* It answers a request past the depth: status and bytes, no latency. */
			rl_take_overflow(c, o, &rq->before);
			rl_answer_walk(o, w);
			o->duration_ns = 0;
			emit = true;
		} else if (rq->flags & RL_PQ_DONE) {
			rl_take_head(c, o, rq->bytes);
			rl_answer_walk(o, w);
			emit = true;
		} else if (!ss->answered) {
			/* Answered before its body was all sent (100-continue, early
			 * errors): the call waits for the request's end, for its bytes. */
			ss->answered = 1;
			ss->ans_start_ns = w->msg_start_ns;
			ss->ans_bytes = w->msg_bytes;
			ss->ans_rule = w->rule;
			ss->ans_status = w->status;
			ss->ans_class = w->status_class;
			bpf_spin_unlock(&ss->lock);
			return;
		}
	} else if (ss->overflow) {
		rl_take_overflow(c, o, &ss->overflow);
		rl_answer_walk(o, w);
		o->duration_ns = 0;
		emit = true;
	}
	bpf_spin_unlock(&ss->lock);
	if (emit)
		rl_stream_emit(c);
	else
		rl_stream_lost(c, RL_STAT_UNPAIRED_RESPONSE);
}

/* The request direction finished a message (not inlined, as rl_resp_done). */
static __noinline void rl_req_done(struct rl_walk_ctx *c, struct rl_walk *w)
{
	struct rl_stream *ss = c->ss;
	if (w->mflags & RL_MSG_OVERFLOW)
		return;
	struct rl_call_out *o = &c->buf->take.o;
	rl_call_init(c, o);
	bool emit = false;
	bpf_spin_lock(&ss->lock);
	if (ss->count) {
		struct rl_pending_req *rq = rl_q_at(ss, ss->head + ss->count - 1);
		rq->bytes = w->msg_bytes;
		rq->flags |= RL_PQ_DONE;
		if (ss->count == 1 && ss->answered) {
			rl_take_head(c, o, w->msg_bytes);
			rl_answer_kept(o, ss);
			emit = true;
		}
	}
	bpf_spin_unlock(&ss->lock);
	if (emit)
		rl_stream_emit(c);
}

static __always_inline void rl_msg_end(struct rl_walk_ctx *c, struct rl_walk *w)
{
	w->phase = RL_W_START;
	if (c->resp)
		rl_resp_done(c, w);
	else
		rl_req_done(c, w);
}

/* Sync is lost: what was seen of the message in progress still counts. */
static __noinline void rl_walk_lost(struct rl_walk_ctx *c, struct rl_walk *w)
{
	__u8 ph = w->phase;
	if (ph != RL_W_START && ph != RL_W_LOST)
		rl_msg_end(c, w);
	w->phase = RL_W_LOST;
	struct rl_kstats *stats = rl_stats();
	if (stats)
		stats->stream_lost++;
	/* At least one message of this direction went unseen: a lower bound,
	 * charged to the stream's owner so its rows' completeness says so. */
	rl_stream_lost(c, c->resp ? RL_STAT_UNPAIRED_RESPONSE : RL_STAT_UNPAIRED_REQUEST);
}

/* A request that starts at payload offset `moff` joins the FIFO, matched by rule
 * `r` (NULL: none); a rule that captures keeps its first bytes in rl_sk_state.px
 * when no pending request holds it, else (queued behind others, pipelined) in
 * its own slot while the pending requests fit the slots. The bytes are loaded
 * before the lock into the CPU's scratch (free: no call is being taken) and
 * copied where they belong under it, so joining costs one lock. Not inlined: its
 * frame stays off the walk's classification path. */
static __noinline void rl_req_join(struct rl_walk_ctx *c, struct rl_walk *w, const struct rl_rule *r, __u32 moff)
{
	if (!c || !w)
		return;
	struct rl_stream *ss = c->ss;
	struct rl_call_prefix *cap = &c->buf->take.px;
	cap->len = 0;
	if (r && r->capture_len)
		rl_capture(c->skb, c->p->payload_off + moff, c->end - moff, r->capture_len, cap);
	bpf_spin_lock(&ss->lock);
	if (ss->count >= RL_FIFO_DEPTH) {
		ss->overflow++;
		bpf_spin_unlock(&ss->lock);
		w->mflags |= RL_MSG_OVERFLOW;
		return;
	}
	__u32 idx = (ss->head + ss->count) & (RL_FIFO_DEPTH - 1);
	struct rl_pending_req *rq = rl_q_at(ss, idx);
	rq->start_ns = c->now;
	rq->bytes = 0;
	rq->rule = w->rule;
	rq->flags = 0;
	rq->slot_len = 0;
	/* Those past the depth since the last entry are answered before it. */
	rq->before = ss->overflow;
	ss->overflow = 0;
	ss->count++;
	__u32 n = cap->len;
	if (n && !ss->px_busy) {
		ss->px_busy = 1;
		rl_copy_prefix(c->st->px.data, cap->data, n);
		c->st->px.len = n;
		rq->flags |= RL_PQ_PREFIX;
	} else if (n && ss->count <= RL_SLOT_COUNT) {
		if (n > RL_SLOT_BYTES)
			n = RL_SLOT_BYTES;
		rl_copy_slot(ss->slot[idx & (RL_SLOT_COUNT - 1)], cap->data, n);
		rq->slot_len = n;
		rq->flags |= RL_PQ_SLOT;
	}
	bpf_spin_unlock(&ss->lock);
}

/* First byte `b` of a message at payload offset c->off - 1. False: it cannot
 * start a message of this framing and direction. */
static __always_inline bool rl_msg_begin(struct rl_walk_ctx *c, struct rl_walk *w, __u8 b)
{
	struct rl_stream *ss = c->ss;
	if (ss->framing == RL_FRAMING_HTTP1) {
		if (c->resp ? b != 'H' : (b < 'A' || b > 'Z'))
			return false;
	} else if (c->resp ? !rl_resp_type(b) : (b != '*' && ((b | 0x20) < 'a' || (b | 0x20) > 'z'))) {
		return false;
	}
	__u32 moff = c->off - 1;
	w->msg_start_ns = c->now;
	w->msg_bytes = 1;
	w->mflags = 0;
	w->status = 0;
	w->status_class = RL_STATUS_UNKNOWN;
	w->num = 0;
	w->pos = 1;
	w->elems = 1;
	struct rl_match m;
	rl_classify_framed(c->skb, c->p->payload_off + moff, c->end - moff, IPPROTO_TCP, &m);
	const struct rl_rule *r = rl_match_rule(&m);
	if (r && r->l7_proto != ss->proto)
		r = NULL;
	w->rule = r ? r->id : 0;
	if (c->resp) {
		if (ss->framing == RL_FRAMING_RESP)
			w->status_class = r ? m.status_class :
				(b == '-' || b == '!') ? RL_STATUS_SERVER_ERROR : RL_STATUS_UNKNOWN;
		return true;
	}
	if (b == 'H')
		w->mflags |= RL_MSG_HEAD;
	rl_req_join(c, w, r, moff);
	return true;
}

/* ---- HTTP/1.x ---------------------------------------------------- */

static __always_inline void rl_http_headers_end(struct rl_walk_ctx *c, struct rl_walk *w)
{
	struct rl_stream *ss = c->ss;
	__u8 f = w->mflags;
	if (c->resp) {
		__u16 s = w->status;
		w->status_class = s >= 100 && s < 400 ? RL_STATUS_OK :
				  s >= 400 && s < 500 ? RL_STATUS_CLIENT_ERROR :
				  s >= 500 && s < 600 ? RL_STATUS_SERVER_ERROR : RL_STATUS_UNKNOWN;
		if (s == 101) { /* the connection leaves HTTP */
			rl_walk_lost(c, w);
			return;
		}
		if (s >= 100 && s < 200) { /* interim: the final response follows */
			w->mflags |= RL_MSG_INTERIM;
			w->phase = RL_W_START;
			return;
		}
		/* The request it answers: the oldest pending one, unless requests past
		 * the depth come first (whose methods were not kept). */
		bpf_spin_lock(&ss->lock);
		struct rl_pending_req *rq = rl_q_at(ss, ss->head);
		bool head = ss->count && !rq->before && (rq->flags & RL_PQ_HEAD);
		bpf_spin_unlock(&ss->lock);
		if (head || s == 204 || s == 304) {
			rl_msg_end(c, w);
			return;
		}
	}
	if (f & RL_MSG_CHUNKED) {
		w->num = 0;
		w->phase = RL_W_CHUNK_SIZE;
	} else if (f & RL_MSG_CLEN) {
		if (w->num) {
			w->remain = w->num;
			w->phase = RL_W_BODY;
		} else {
			rl_msg_end(c, w);
		}
	} else if (c->resp) {
		w->phase = RL_W_UNTIL_CLOSE;
	} else {
		rl_msg_end(c, w);
	}
}

/* End of a chunk-size line: the chunk's data, or the trailers after the last. */
static __always_inline void rl_http_chunk_line(struct rl_walk *w)
{
	if (w->num == 0) {
		w->phase = RL_W_TRAILER_BOL;
	} else {
		w->remain = w->num + 2;
		w->phase = RL_W_CHUNK_DATA;
	}
}

static __always_inline void rl_http_byte(struct rl_walk_ctx *c, struct rl_walk *w, __u8 b, __u8 ph)
{
	__u8 lc = b | 0x20;
	__u32 pos = w->pos;
	switch (ph) {
	case RL_W_START:
		if (b == '\r' || b == '\n')
			return;
		if (!rl_msg_begin(c, w, b)) {
			rl_walk_lost(c, w);
			return;
		}
		w->phase = RL_W_LINE1;
		return;
	case RL_W_LINE1:
		if (b == '\n') {
			if (!c->resp && (w->mflags & RL_MSG_HEAD) && !(w->mflags & RL_MSG_OVERFLOW)) {
				struct rl_stream *ss = c->ss;
				bpf_spin_lock(&ss->lock);
				if (ss->count)
					rl_q_at(ss, ss->head + ss->count - 1)->flags |= RL_PQ_HEAD;
				bpf_spin_unlock(&ss->lock);
			}
			w->phase = RL_W_BOL;
			return;
		}
		if (c->resp) {
			/* "HTTP/1.1 404": the status is at 9..11. */
			if (pos >= 9 && pos <= 11)
				w->status = (b >= '0' && b <= '9') ? w->status * 10 + (b - '0') : 0;
		} else if (pos < 5 && b != rl_byte_of(RL_HEAD_SP, pos)) {
			w->mflags &= ~RL_MSG_HEAD;
		}
		if (pos < 0xffff)
			w->pos = pos + 1;
		return;
	case RL_W_EOH:
		if (b == '\n')
			rl_http_headers_end(c, w);
		else
			w->phase = RL_W_TO_LF;
		return;
	case RL_W_BOL:
		if (b == '\r') {
			w->phase = RL_W_EOH;
			return;
		}
		if (b == '\n') {
			rl_http_headers_end(c, w);
			return;
		}
		w->match = 3;
		w->phase = RL_W_NAME;
		pos = 0;
		/* fall through: b is the name's first byte */
	case RL_W_NAME: {
		if (b == '\n') {
			w->phase = RL_W_BOL;
			return;
		}
		__u8 m = w->match;
		if ((m & 1) && (pos >= 15 || lc != rl_byte_of(pos < 8 ? RL_CLEN_0 : RL_CLEN_1, pos)))
			m &= ~1;
		if ((m & 2) && (pos >= 18 || lc != rl_byte_of(pos < 8 ? RL_TENC_0 :
							       pos < 16 ? RL_TENC_1 : RL_TENC_2, pos)))
			m &= ~2;
		if ((m & 1) && pos == 14) {
			w->mflags |= RL_MSG_CLEN;
			w->num = 0;
			w->phase = RL_W_CLEN;
		} else if ((m & 2) && pos == 17) {
			w->pos = 0;
			w->phase = RL_W_TENC;
		} else if (!m) {
			w->phase = RL_W_TO_LF;
		} else {
			w->match = m;
			w->pos = pos + 1;
		}
		return;
	}
	case RL_W_CLEN:
		if (b >= '0' && b <= '9') {
			if (w->num < RL_WALK_NUM_MAX)
				w->num = w->num * 10 + (b - '0');
		} else if (b == '\n') {
			w->phase = RL_W_BOL;
		}
		return;
	case RL_W_TENC:
		if (b == '\n') {
			w->phase = RL_W_BOL;
			return;
		}
		if (pos < 7 && lc == rl_byte_of(RL_CHUNKED, pos))
			pos++;
		else
			pos = lc == 'c';
		if (pos == 7) {
			w->mflags |= RL_MSG_CHUNKED;
			pos = 0;
		}
		w->pos = pos;
		return;
	case RL_W_TO_LF:
		if (b == '\n')
			w->phase = RL_W_BOL;
		return;
	case RL_W_CHUNK_SIZE: {
		__u8 v;
		if (b >= '0' && b <= '9')
			v = b - '0';
		else if (lc >= 'a' && lc <= 'f')
			v = lc - 'a' + 10;
		else if (b == '\r')
			return;
		else if (b == '\n') {
			rl_http_chunk_line(w);
			return;
		} else if (b == ';' || b == ' ' || b == '\t') {
			w->phase = RL_W_CHUNK_EXT;
			return;
		} else {
			rl_walk_lost(c, w);
			return;
		}
		if (w->num >= RL_WALK_NUM_MAX) {
			rl_walk_lost(c, w);
			return;
		}
		w->num = w->num * 16 + v;
		return;
	}
	case RL_W_CHUNK_EXT:
		if (b == '\n')
			rl_http_chunk_line(w);
		return;
	case RL_W_TRAILER_BOL:
		if (b == '\n')
			rl_msg_end(c, w);
		else if (b != '\r')
			w->phase = RL_W_TRAILER;
		return;
	case RL_W_TRAILER:
		if (b == '\n')
			w->phase = RL_W_TRAILER_BOL;
		return;
	default:
		rl_walk_lost(c, w);
		return;
	}
}

/* ---- RESP ------------------------------------------------------- */

/* An element ended; the message ends with its last element. */
static __always_inline void rl_resp_elem_done(struct rl_walk_ctx *c, struct rl_walk *w, __u64 added)
{
	__u64 e = (__u64)w->elems - 1 + added;
	w->elems = e;
	if (e == 0)
		rl_msg_end(c, w);
	else
		w->phase = RL_W_TYPE;
}

/* The line of an element ended: an aggregate adds its elements, a bulk string its data. */
static __always_inline void rl_resp_line_end(struct rl_walk_ctx *c, struct rl_walk *w)
{
	__u8 t = w->rtype;
	__u64 n = (w->mflags & RL_MSG_NEG) ? 0 : w->num;
	switch (t) {
	case '*': case '~': case '>':
		break;
	case '%':
		n *= 2;
		break;
	case '|': /* attributes precede the element they describe */
		n = n * 2 + 1;
		break;
	case '$': case '!': case '=':
		if (w->mflags & RL_MSG_NEG)
			break; /* null bulk string */
		w->remain = n + 2;
		w->phase = RL_W_BULK;
		return;
	default:
		n = 0;
		break;
	}
	if (n > (1 << 20)) {
		rl_walk_lost(c, w);
		return;
	}
	if (t == '$' || t == '!' || t == '=')
		n = 0;
	rl_resp_elem_done(c, w, n);
}

static __always_inline void rl_resp_byte(struct rl_walk_ctx *c, struct rl_walk *w, __u8 b, __u8 ph)
{
	switch (ph) {
	case RL_W_START:
		if (b == '\r' || b == '\n')
			return;
		if (!rl_msg_begin(c, w, b)) {
			rl_walk_lost(c, w);
			return;
		}
		/* An inline command ("PING\r\n") is one line. */
		w->rtype = rl_resp_type(b) ? b : 'i';
		w->phase = RL_W_RLINE;
		return;
	case RL_W_TYPE:
		if (!rl_resp_type(b)) {
			rl_walk_lost(c, w);
			return;
		}
		w->rtype = b;
		w->num = 0;
		w->mflags &= ~RL_MSG_NEG;
		w->phase = RL_W_RLINE;
		return;
	case RL_W_RLINE:
		if (b >= '0' && b <= '9') {
			if (w->num < RL_WALK_NUM_MAX)
				w->num = w->num * 10 + (b - '0');
		} else if (b == '-') {
			w->mflags |= RL_MSG_NEG;
		} else if (b == '\n') {
			rl_resp_line_end(c, w);
		}
		return;
	default:
		rl_walk_lost(c, w);
		return;
	}
}

/* One bpf_loop step: a skip by length, or one byte of a line. */
static long rl_walk_step(__u32 i, void *vctx)
{
	struct rl_walk_ctx *c = vctx;
	struct rl_stream *ss = c->ss;
	struct rl_walk *w = &ss->w[c->resp & 1];
	__u32 off = c->off, end = c->end;
	if (off >= end)
		return 1;
	__u8 ph = w->phase;
	if (ph == RL_W_BODY || ph == RL_W_CHUNK_DATA || ph == RL_W_BULK) {
		__u64 n = end - off;
		if (n > w->remain)
			n = w->remain;
		c->off = off + n;
		w->remain -= n;
		w->msg_bytes += n;
		if (w->remain)
			return 1;
		if (ph == RL_W_BODY) {
			rl_msg_end(c, w);
		} else if (ph == RL_W_CHUNK_DATA) {
			w->num = 0;
			w->phase = RL_W_CHUNK_SIZE;
		} else {
			rl_resp_elem_done(c, w, 0);
		}
		return 0;
	}
	if (ph == RL_W_UNTIL_CLOSE) {
		w->msg_bytes += end - off;
		c->off = end;
		return 1;
	}
	if (ph == RL_W_LOST) {
		c->off = end;
		return 1;
	}
	if (off - c->buf_off >= c->buf_len) {
		__u32 n = end - off;
		if (n > RL_WALK_BUF)
			n = RL_WALK_BUF;
		n = ((n - 1) & (RL_WALK_BUF - 1)) + 1;
		asm volatile("" : "+r"(n));
		if (n == 0 || n > RL_WALK_BUF ||
		    bpf_skb_load_bytes(c->skb, c->p->payload_off + off, c->buf->b, n) < 0) {
			rl_walk_lost(c, w);
			return 1;
		}
		c->buf_off = off;
		c->buf_len = n;
	}
	__u8 b = c->buf->b[(off - c->buf_off) & (RL_WALK_BUF - 1)];
	c->off = off + 1;
	if (ph != RL_W_START)
		w->msg_bytes++;
	if (ss->framing == RL_FRAMING_HTTP1)
		rl_http_byte(c, w, b, ph);
	else
		rl_resp_byte(c, w, b, ph);
	return 0;
}

/* Walks the new bytes [skip, payload_len) of a segment of a framed flow.
 * `gap`: bytes of this direction before `skip` that were never seen. */
static __always_inline void rl_stream_segment(struct __sk_buff *skb, const struct rl_pkt *p,
					      struct rl_sk_state *st, struct rl_stream *ss,
					      bool egress, __u32 skip, __u32 gap)
{
	__u8 dir = egress ? RL_DIR_EGRESS : RL_DIR_INGRESS;
	struct rl_walk_scratch *buf = rl_scratch(0);
	if (!buf)
		return;
	struct rl_walk_ctx c = {
		.buf = buf,
		.skb = skb,
		.p = p,
		.st = st,
		.ss = ss,
		.now = bpf_ktime_get_ns(),
		.off = skip,
		.end = p->payload_len,
		.resp = dir != ss->req_dir,
		.egress = egress,
	};
	struct rl_walk *w = &ss->w[c.resp & 1];
	if (gap) {
		__u8 ph = w->phase;
		/* Missed bytes inside a body being skipped keep the walk in sync. */
		if ((ph == RL_W_BODY || ph == RL_W_CHUNK_DATA || ph == RL_W_BULK) && gap < w->remain) {
			w->remain -= gap;
			w->msg_bytes += gap;
		} else if (ph == RL_W_UNTIL_CLOSE) {
			w->msg_bytes += gap;
		} else if (ph != RL_W_LOST) {
			rl_walk_lost(&c, w);
		}
	}
	if (w->phase == RL_W_LOST) {
		/* Resume at a segment that starts with a message of this direction. */
		if (skip)
			return;
		struct rl_match m;
		const struct rl_rule *r = rl_classify(skb, p, &m);
		if (!r || r->l7_proto != ss->proto ||
		    (ss->framing == RL_FRAMING_HTTP1 &&
		     r->role != (c.resp ? RL_ROLE_RESPONSE : RL_ROLE_REQUEST)))
			return;
		w->phase = RL_W_START;
	}
	bpf_loop(RL_WALK_STEPS, rl_walk_step, &c, 0);
	if (c.off < c.end && w->phase != RL_W_LOST)
		rl_walk_lost(&c, w); /* more steps than the bound */
}

/* The response direction closed (FIN): a body delimited by the close ends. */
static __always_inline void rl_stream_fin(const struct rl_pkt *p, struct rl_sk_state *st,
					  struct rl_stream *ss, bool egress)
{
	__u8 dir = egress ? RL_DIR_EGRESS : RL_DIR_INGRESS;
	if (dir == ss->req_dir || ss->w[1].phase != RL_W_UNTIL_CLOSE)
		return;
	struct rl_walk_ctx c = {.p = p, .st = st, .ss = ss,
				.buf = rl_scratch(0), .now = bpf_ktime_get_ns(), .resp = 1,
				.egress = egress};
	if (!c.buf)
		return;
	rl_msg_end(&c, &ss->w[1]);
}

/* One step of the close: the oldest request left becomes a call without latency
 * (or with the early answer it had). */
static long rl_stream_drain_step(__u32 i, void *vctx)
{
	struct rl_walk_ctx *c = vctx;
	struct rl_stream *ss = c->ss;
	struct rl_call_out *o = &c->buf->take.o;
	rl_call_init(c, o);
	bool emit = true;
	bpf_spin_lock(&ss->lock);
	if (ss->count) {
		struct rl_pending_req *rq = rl_q_at(ss, ss->head);
		if (rq->before) {
			rl_take_overflow(c, o, &rq->before);
		} else {
			__u32 bytes = (rq->flags & RL_PQ_DONE) ? rq->bytes : ss->w[0].msg_bytes;
			rl_take_head(c, o, bytes);
			if (ss->answered)
				rl_answer_kept(o, ss);
			else
				o->flags = RL_CALL_UNPAIRED;
		}
	} else if (ss->overflow) {
		rl_take_overflow(c, o, &ss->overflow);
	} else {
		emit = false;
	}
	bpf_spin_unlock(&ss->lock);
	if (!emit)
		return 1;
	rl_stream_emit(c);
	return 0;
}

/* The connection closed: a response in progress ends and answers its request;
 * every request left is counted as a call without latency. `buf` is
 * rl_scratch of the calling program's kind. */
static __always_inline void rl_stream_close(const struct rl_pkt *p, struct rl_sk_state *st,
					    struct rl_stream *ss, bool egress,
					    struct rl_kstats *stats, struct rl_walk_scratch *buf)
{
	if (!buf)
		return;
	struct rl_walk_ctx c = {.p = p, .st = st, .ss = ss, .buf = buf,
				.now = bpf_ktime_get_ns(), .resp = 1, .egress = egress};
	struct rl_walk *w = &ss->w[1];
	if (w->phase != RL_W_START && w->phase != RL_W_LOST)
		rl_msg_end(&c, w);
	w->phase = RL_W_LOST;
	ss->w[0].phase = RL_W_LOST;
	c.resp = 0;
	bpf_loop(RL_DRAIN_STEPS, rl_stream_drain_step, &c, 0);
	/* Beyond the close's bound: counted as unpaired requests, not recorded. */
	__u32 left = 0;
	bpf_spin_lock(&ss->lock);
	for (__u32 i = 0; i < RL_FIFO_DEPTH; i++) {
		if (i >= ss->count)
			break;
		left += 1 + rl_q_at(ss, ss->head + i)->before;
	}
	left += ss->overflow;
	ss->count = 0;
	ss->overflow = 0;
	bpf_spin_unlock(&ss->lock);
	if (left && stats)
		stats->unpaired_request[ss->proto & (RL_KSTAT_PROTOS - 1)] += left;
}

#endif /* RL_STREAM_H */
