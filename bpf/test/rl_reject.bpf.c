// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * rl_reject.bpf.c — test-only: a program the verifier must reject (it reads
 * packet bytes without a bounds check), so tests can check that a load
 * failure surfaces the verifier's log as a typed error.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tc")
int rl_reject(struct __sk_buff *skb)
{
	unsigned char *data = (void *)(long)skb->data;
	return data[64];
}
