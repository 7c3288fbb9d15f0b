/* Compiling the ABI header once in user space runs its _Static_asserts with
 * the host compiler too (the BPF build runs them with clang -target bpf). */
#include "CRedlineABI.h"
#include <stddef.h>

_Static_assert(offsetof(struct rl_flow_delta, tx_bytes) == 80, "rl_flow_delta.tx_bytes");
_Static_assert(offsetof(struct rl_l7_call, detail_seq) == 88, "rl_l7_call.detail_seq");
_Static_assert(offsetof(struct rl_call_detail, route) == 80, "rl_call_detail.route");
_Static_assert(offsetof(struct rl_tcp_event, drop_reason) == 56, "rl_tcp_event.drop_reason");
_Static_assert(offsetof(struct rl_cgroup_mapping, path) == 136, "rl_cgroup_mapping.path");

/* The size of a record type's struct, 0 for an unknown type. */
unsigned int credline_record_size(unsigned int type)
{
	switch (type) {
	case RL_REC_FLOW_DELTA: return sizeof(struct rl_flow_delta);
	case RL_REC_L7_CALL: return sizeof(struct rl_l7_call);
	case RL_REC_TCP_EVENT: return sizeof(struct rl_tcp_event);
	case RL_REC_CLOCK_ANCHOR: return sizeof(struct rl_clock_anchor);
	case RL_REC_STATS: return sizeof(struct rl_stats);
	case RL_REC_CGROUP_MAP: return sizeof(struct rl_cgroup_mapping);
	case RL_REC_LOSS: return sizeof(struct rl_loss);
	case RL_REC_CALL_DETAIL: return sizeof(struct rl_call_detail);
	default: return 0;
	}
}

/* The layout version of a record type, 0 for an unknown type. */
unsigned int credline_record_version(unsigned int type)
{
	switch (type) {
	case RL_REC_FLOW_DELTA: return RL_REC_FLOW_DELTA_VERSION;
	case RL_REC_L7_CALL: return RL_REC_L7_CALL_VERSION;
	case RL_REC_TCP_EVENT: return RL_REC_TCP_EVENT_VERSION;
	case RL_REC_CLOCK_ANCHOR: return RL_REC_CLOCK_ANCHOR_VERSION;
	case RL_REC_STATS: return RL_REC_STATS_VERSION;
	case RL_REC_CGROUP_MAP: return RL_REC_CGROUP_MAP_VERSION;
	case RL_REC_LOSS: return RL_REC_LOSS_VERSION;
	case RL_REC_CALL_DETAIL: return RL_REC_CALL_DETAIL_VERSION;
	default: return 0;
	}
}
