/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * rl_rules.h — generic L7 inference by rule table. No protocol is known
 * here: the table (rl_ruleset, two generations) lists the (l4, offset)
 * groups that have rules; for each group 16 payload bytes are loaded once
 * and every rule of the group is tested as two masked 64-bit compares. A
 * rule whose compare passes may have extra clauses (at other offsets, absent,
 * or searched within a bounded window), tested only then.
 */
#ifndef RL_RULES_H
#define RL_RULES_H

/* The result of classifying one payload. */
struct rl_match {
	__s32 slot;        /* index into the generation's rules; -1: no rule matched */
	__u32 gen;         /* the generation classified against */
	__u16 status_code;
	__u8 status_class;
	__u8 pad;
};

static __always_inline const struct rl_ruleset *rl_ruleset_of(__u32 gen)
{
	gen &= 1;
	return bpf_map_lookup_elem(&rl_ruleset, &gen);
}

/* The rule a match names, or NULL. */
static __always_inline const struct rl_rule *rl_match_rule(const struct rl_match *m)
{
	if (m->slot < 0)
		return NULL;
	const struct rl_ruleset *rs = rl_ruleset_of(m->gen);
	if (!rs)
		return NULL;
	return &rs->rules[m->slot & (RL_MAX_RULES - 1)];
}

static __always_inline void rl_extract_status(struct __sk_buff *skb, __u32 payload_off,
					      __u32 payload_len, const struct rl_rule *r,
					      struct rl_match *m)
{
	__u8 b[3] = {};
	__u32 off = r->status_offset;
	m->status_code = 0;
	m->status_class = r->fixed_class;
	switch (r->status_kind) {
	case RL_EXTRACT_ASCII3:
		if (off + 3 > payload_len ||
		    bpf_skb_load_bytes(skb, payload_off + off, b, 3) < 0)
			return;
		if (b[0] < '0' || b[0] > '9' || b[1] < '0' || b[1] > '9' || b[2] < '0' || b[2] > '9')
			return;
		m->status_code = (b[0] - '0') * 100 + (b[1] - '0') * 10 + (b[2] - '0');
		if (b[0] >= '1' && b[0] <= '3')
			m->status_class = RL_STATUS_OK;
		else if (b[0] == '4')
			m->status_class = RL_STATUS_CLIENT_ERROR;
		else if (b[0] == '5')
			m->status_class = RL_STATUS_SERVER_ERROR;
		else
			m->status_class = RL_STATUS_UNKNOWN;
		return;
	case RL_EXTRACT_BYTE:
		if (off + 1 > payload_len ||
		    bpf_skb_load_bytes(skb, payload_off + off, b, 1) < 0)
			return;
		m->status_code = b[0] & r->status_mask;
		break;
	case RL_EXTRACT_BE16:
		if (off + 2 > payload_len ||
		    bpf_skb_load_bytes(skb, payload_off + off, b, 2) < 0)
			return;
		m->status_code = ((__u16)b[0] << 8) | b[1];
		break;
	default:
		return;
	}
	m->status_class = m->status_code == 0 ? RL_STATUS_OK : r->error_class;
}

/* Whether the pattern of clause `idx` of generation `gen` starts at one of
 * the first n - length + 1 positions of the n payload bytes at skb offset
 * `from`. A global function of scalars, so the verifier walks its bounded
 * loop once, whatever path led here. The n bytes are loaded once into per-CPU
 * scratch; each start position is then two masked 64-bit compares (mask bytes
 * past the pattern are zero, so stale scratch bytes past the n loaded never
 * count). */
__noinline int rl_clause_find(struct __sk_buff *skb, __u32 from, __u32 n, __u32 gen, __u32 idx)
{
	const struct rl_ruleset *rs = rl_ruleset_of(gen);
	if (!rs || from > 0x1ffff)
		return 0;
	const struct rl_clause *c = &rs->clauses[idx & (RL_MAX_CLAUSES - 1)];
	__u32 len = c->length;
	n = ((n - 1) & (2 * RL_FIND_WINDOW_MAX - 1)) + 1;
	asm volatile("" : "+r"(n));
	if (n == 0 || n > RL_FIND_WINDOW_MAX + RL_RULE_BYTES - 1 || len == 0 || len > n)
		return 0;
	__u32 zero = 0;
	struct rl_find_buf *buf = bpf_map_lookup_elem(&rl_find_scratch, &zero);
	if (!buf || bpf_skb_load_bytes(skb, from, buf->b, n) < 0)
		return 0;
	__u32 starts = n - len + 1;
	const __u64 *mask = (const __u64 *)c->mask;
	const __u64 *value = (const __u64 *)c->value;
	__u64 m0 = mask[0], m1 = mask[1], v0 = value[0], v1 = value[1];
	for (__u32 i = 0; i < RL_FIND_WINDOW_MAX; i++) {
		if (i >= starts)
			break;
		const __u64 *w = (const __u64 *)&buf->b[i];
		if ((w[0] & m0) == v0 && (w[1] & m1) == v1)
			return 1;
	}
	return 0;
}

/* Whether extra clause `idx` of generation `gen` holds for the payload: its
 * pattern is found at its offset (or within its window), or, for the absent
 * kinds, is not. A pattern must lie wholly inside the payload. */
__noinline int rl_clause_holds(struct __sk_buff *skb, __u32 payload_off, __u32 payload_len,
			       __u32 gen, __u32 idx)
{
	const struct rl_ruleset *rs = rl_ruleset_of(gen);
	if (!rs || payload_len > 0xffff || payload_off > 0xffff)
		return 0;
	const struct rl_clause *c = &rs->clauses[idx & (RL_MAX_CLAUSES - 1)];
	__u32 kind = c->kind;
	int negate = kind == RL_CLAUSE_NOT_AT || kind == RL_CLAUSE_NOT_FIND;
	__u32 len = c->length;
	__u32 off = c->offset;
	__u32 window = (kind == RL_CLAUSE_FIND || kind == RL_CLAUSE_NOT_FIND) ? c->window : 1;
	if (len == 0 || len > RL_RULE_BYTES || window == 0 || window > RL_FIND_WINDOW_MAX)
		return 0;
	if (off + len > payload_len)
		return negate;
	/* Bytes needed: the last start position plus one pattern, cut at the payload's end. */
	__u32 n = payload_len - off;
	if (n > window - 1 + len)
		n = window - 1 + len;
	return rl_clause_find(skb, payload_off + off, n, gen, idx) != negate;
}

/* Whether every extra clause of rule `slot` holds (a rule without any: yes). */
__noinline int rl_rule_clauses_hold(struct __sk_buff *skb, __u32 payload_off, __u32 payload_len,
				    __u32 gen, __u32 slot)
{
	const struct rl_ruleset *rs = rl_ruleset_of(gen);
	if (!rs)
		return 0;
	const struct rl_rule *r = &rs->rules[slot & (RL_MAX_RULES - 1)];
	__u32 first = r->first_clause, n = r->n_clauses;
	for (__u32 k = 0; k < RL_CLAUSES_PER_RULE; k++) {
		if (k >= n)
			break;
		if (!rl_clause_holds(skb, payload_off, payload_len, gen, first + k))
			return 0;
	}
	return 1;
}

/* Classifies a payload against the active rule generation, touching it only
 * at offsets that have rules. Returns the matched slot or -1 (also in
 * m->slot). `clauses`: test rules' extra clauses (a constant at each use). */
static __always_inline int rl_classify_core(struct __sk_buff *skb, __u32 payload_off, __u32 payload_len,
					    __u32 l4, struct rl_match *m, const bool clauses)
{
	if (!m)
		return -1;
	m->slot = -1;
	m->status_code = 0;
	m->status_class = 0;
	__u32 gen = rl_cfg(RL_CFG_RULE_GENERATION) & 1;
	m->gen = gen;
	const struct rl_ruleset *rs = rl_ruleset_of(gen);
	if (!rs || payload_len > 0xffff || payload_off > 0xffff)
		return -1;
	__u32 n_groups = rs->n_groups;
	for (__u32 g = 0; g < RL_MAX_GROUPS; g++) {
		if (g >= n_groups)
			break;
		const struct rl_rule_group *grp = &rs->groups[g];
		if (grp->l4_proto != l4)
			continue;
		__u32 off = grp->offset;
		if (off >= payload_len)
			continue;
		/* 1..16 bytes: off < payload_len. The mask-and-add keeps the
		 * verifier's bounds on the length through clang's rewrites. */
		__u32 n = payload_len - off;
		if (n > RL_RULE_BYTES)
			n = RL_RULE_BYTES;
		n = ((n - 1) & (RL_RULE_BYTES - 1)) + 1;
		asm volatile("" : "+r"(n));
		if (n == 0 || n > RL_RULE_BYTES)
			continue;
		__u64 w[2] = {0, 0};
		if (bpf_skb_load_bytes(skb, payload_off + off, w, n) < 0)
			continue;
		__u32 n_rules = grp->n_rules;
		for (__u32 i = 0; i < RL_RULES_PER_GROUP; i++) {
			if (i >= n_rules)
				break;
			__u32 slot = grp->slots[i] & (RL_MAX_RULES - 1);
			const struct rl_rule *r = &rs->rules[slot];
			if (r->length > n)
				continue;
			const __u64 *mask = (const __u64 *)r->mask;
			const __u64 *value = (const __u64 *)r->value;
			if ((w[0] & mask[0]) != value[0] || (w[1] & mask[1]) != value[1])
				continue;
			if (clauses && r->n_clauses &&
			    !rl_rule_clauses_hold(skb, payload_off, payload_len, gen, slot))
				continue;
			m->slot = slot;
			__u32 id = r->id;
			__u64 *hits = bpf_map_lookup_elem(&rl_rule_hits, &id);
			if (hits)
				(*hits)++;
			if (r->role == RL_ROLE_RESPONSE)
				rl_extract_status(skb, payload_off, payload_len, r, m);
			return slot;
		}
	}
	return -1;
}

/* rl_classify_core with clauses: the first message of a flow, whose protocol
 * is not known yet. A global function: the verifier checks it once, not once
 * per caller. */
__noinline int rl_classify_payload(struct __sk_buff *skb, __u32 payload_off, __u32 payload_len,
				   __u32 l4, struct rl_match *m)
{
	return rl_classify_core(skb, payload_off, payload_len, l4, m, true);
}

/* rl_classify_core without clauses, for the later messages of a framed flow
 * (rl_stream.h): their protocol is known and the walk found where each
 * starts, so the first bytes pick the rule (its id and status). Clauses tell
 * neighbouring protocols apart at a flow's start; calling them from the walk
 * would put three more frames on the tc programs' deepest call chain, past
 * the verifier's 512-byte stack limit. */
__noinline int rl_classify_framed(struct __sk_buff *skb, __u32 payload_off, __u32 payload_len,
				  __u32 l4, struct rl_match *m)
{
	return rl_classify_core(skb, payload_off, payload_len, l4, m, false);
}

static __always_inline const struct rl_rule *rl_classify(struct __sk_buff *skb,
							 const struct rl_pkt *p, struct rl_match *m)
{
	rl_classify_payload(skb, p->payload_off, p->payload_len, p->l4, m);
	return rl_match_rule(m);
}

#endif /* RL_RULES_H */
