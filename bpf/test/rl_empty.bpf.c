// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* rl_empty.bpf.c — benchmark baseline: a tc program that does nothing, so the
 * cost of merely attaching at a hook can be told apart from Redline's work. */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tc")
int rl_empty(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}
