/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * rl_listeners.h — the existing-listener walk: an iter/tcp program the
 * collector runs at start-up and on SIGHUP. A listener created before the
 * sockops program was attached never ran TCP_LISTEN_CB, so it neither saves
 * SYNs (the server cannot read the client's identity option) nor writes the
 * option on its SYN-ACKs. This gives it both, as LISTEN_CB would have.
 *
 * Included at the end of redline.bpf.c: it shares that object's maps and
 * helpers (rl_service_of, rl_netns_wanted, rl_sk_netns).
 *
 * Kernel support (bpf/README.md, "Existing listeners"):
 *   - iter/tcp with bpf_setsockopt on the visited socket: 5.15;
 *   - TCP_BPF_SOCK_OPS_CB_FLAGS through bpf_setsockopt (so an iterator can set
 *     the callback flags that bpf_sock_ops_cb_flags_set sets from sockops): 6.12.
 * On 5.15..6.11 the second call returns -EINVAL: the listener then learns its
 * callers' identities (saved SYN) but does not send its own on SYN-ACKs.
 */
#ifndef RL_LISTENERS_H
#define RL_LISTENERS_H

#define RL_TCP_BPF_SOCK_OPS_CB_FLAGS 1008 /* uapi enum, 6.12+; Debian 12's headers lack it */

/* Whether `sk`'s cgroup is `scope` or below it. */
static __always_inline bool rl_in_scope(struct sock *sk, const struct rl_scope *scope)
{
	struct cgroup *cg = BPF_CORE_READ(sk, sk_cgrp_data.cgroup);
	if (!cg)
		return false;
	__u32 lvl = scope->cgroup_level;
	if (lvl > 255 || (__u32)BPF_CORE_READ(cg, level) < lvl)
		return false;
	if (bpf_core_field_exists(cg->ancestors)) {
		struct cgroup *anc = NULL;
		bpf_probe_read_kernel(&anc, sizeof(anc),
				      (void *)cg + bpf_core_field_offset(cg->ancestors) + lvl * sizeof(anc));
		return anc && BPF_CORE_READ(anc, kn, id) == scope->cgroup_id;
	}
	struct cgroup___ids *old = (void *)cg;
	__u64 id = 0;
	bpf_probe_read_kernel(&id, sizeof(id),
			      (void *)cg + bpf_core_field_offset(old->ancestor_ids) + lvl * sizeof(id));
	return id == scope->cgroup_id;
}

SEC("iter/tcp")
int rl_iter_listeners(struct bpf_iter__tcp *ctx)
{
	struct sock_common *skc = ctx->sk_common;
	if (!skc)
		return 0;
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return 0;
	struct sock *sk = (struct sock *)tp;
	if (BPF_CORE_READ(sk, __sk_common.skc_state) != RL_TCP_LISTEN)
		return 0;
	/* The iterator walks the opener's netns; the check keeps that explicit. */
	if (!rl_netns_wanted(rl_sk_netns(sk)))
		return 0;
	__u32 zero = 0;
	struct rl_scope *scope = bpf_map_lookup_elem(&rl_scope, &zero);
	if (!scope || !scope->cgroup_id || !rl_in_scope(sk, scope))
		return 0;

	struct rl_listener_report r = {};
	r.cgroup_id = rl_sock_cgroup(sk);
	r.service_id = rl_service_of(r.cgroup_id);
	r.port = BPF_CORE_READ(sk, __sk_common.skc_num);
	r.family = BPF_CORE_READ(sk, __sk_common.skc_family);

	int one = 1;
	r.save_syn_err = bpf_setsockopt(tp, RL_SOL_TCP, RL_TCP_SAVE_SYN, &one, sizeof(one));
	int flags = 0;
	r.cb_flags_err = bpf_getsockopt(tp, RL_SOL_TCP, RL_TCP_BPF_SOCK_OPS_CB_FLAGS, &flags, sizeof(flags));
	if (r.cb_flags_err == 0) {
		flags |= BPF_SOCK_OPS_WRITE_HDR_OPT_CB_FLAG;
		r.cb_flags_err = bpf_setsockopt(tp, RL_SOL_TCP, RL_TCP_BPF_SOCK_OPS_CB_FLAGS, &flags,
						sizeof(flags));
	}
	/* The SYN-ACK callback finds the listener's service here (as after LISTEN_CB). */
	struct rl_listen_key k = {.netns_cookie = BPF_CORE_READ(sk, __sk_common.skc_net.net, net_cookie),
				  .port = r.port};
	if (r.family == RL_FAMILY_INET6) {
		BPF_CORE_READ_INTO(&k.addr, sk, __sk_common.skc_v6_rcv_saddr);
	} else {
		__u32 a4 = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		if (a4) {
			k.addr[10] = 0xff;
			k.addr[11] = 0xff;
			__builtin_memcpy(&k.addr[12], &a4, 4);
		}
	}
	if (r.service_id)
		bpf_map_update_elem(&rl_listen_service, &k, &r.service_id, BPF_ANY);
	else
		bpf_map_delete_elem(&rl_listen_service, &k);

	bpf_seq_write(ctx->meta->seq, &r, sizeof(r));
	return 0;
}

#endif /* RL_LISTENERS_H */
