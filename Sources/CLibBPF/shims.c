#define _GNU_SOURCE
#include "CLibBPF.h"
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/pkt_cls.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

const char *clibbpf_version(void)
{
	static char buf[32];
	snprintf(buf, sizeof(buf), "%u.%u", libbpf_major_version(), libbpf_minor_version());
	return buf;
}

/* ---- libbpf messages: per-thread capture ---- */

#define CAPTURE_SIZE (64 * 1024)
static __thread char capture_buf[CAPTURE_SIZE];
static __thread size_t capture_len;

static int capture_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	if (capture_len >= CAPTURE_SIZE - 1)
		return 0; /* full: keep the first messages, they name the failure */
	int n = vsnprintf(capture_buf + capture_len, CAPTURE_SIZE - capture_len, fmt, args);
	if (n > 0) {
		capture_len += (size_t)n;
		if (capture_len > CAPTURE_SIZE - 1)
			capture_len = CAPTURE_SIZE - 1;
	}
	return n;
}

void clibbpf_capture_install(void)
{
	libbpf_set_print(capture_print);
}

void clibbpf_capture_reset(void)
{
	capture_len = 0;
	capture_buf[0] = 0;
}

const char *clibbpf_capture_text(void)
{
	capture_buf[capture_len < CAPTURE_SIZE ? capture_len : CAPTURE_SIZE - 1] = 0;
	return capture_buf;
}

/* ---- objects and test runs ---- */

struct bpf_object *clibbpf_open_file(const char *path, char *log_buf, size_t log_size)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .kernel_log_buf = log_buf,
		    .kernel_log_size = log_size, .kernel_log_level = 0);
	struct bpf_object *obj = bpf_object__open_file(path, &opts);
	if (!obj || libbpf_get_error(obj)) {
		if (errno == 0)
			errno = EINVAL;
		return NULL;
	}
	return obj;
}

int clibbpf_prog_test_run(int prog_fd, const void *data, uint32_t data_size, void *data_out,
			  uint32_t *data_out_size, uint32_t repeat, uint32_t *retval,
			  uint32_t *duration_ns)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = data, .data_size_in = data_size,
		    .data_out = data_out, .data_size_out = data_out ? *data_out_size : 0,
		    .repeat = repeat);
	int err = bpf_prog_test_run_opts(prog_fd, &opts);
	if (err)
		return err < 0 ? err : -err;
	*retval = opts.retval;
	*duration_ns = opts.duration;
	if (data_out_size)
		*data_out_size = opts.data_size_out;
	return 0;
}

int clibbpf_num_possible_cpus(void)
{
	return libbpf_num_possible_cpus();
}

/* ---- network namespaces ---- */

int clibbpf_in_netns(const char *netns_path, int (*fn)(void *ctx), void *ctx)
{
	if (!netns_path)
		return fn(ctx);
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	int target = open(netns_path, O_RDONLY | O_CLOEXEC);
	if (target < 0) {
		int e = errno;
		close(self);
		return -e;
	}
	if (setns(target, CLONE_NEWNET) < 0) {
		int e = errno;
		close(target);
		close(self);
		return -e;
	}
	int ret = fn(ctx);
	/* Returning to our own namespace cannot fail for a namespace we were in. */
	setns(self, CLONE_NEWNET);
	close(target);
	close(self);
	return ret;
}

/* ---- tc ---- */

struct tc_args {
	const char *ifname;
	int ingress;
	int prog_fd;
	int ifindex;
	uint32_t handle;
	uint32_t priority;
	int created_hook;
	int destroy_hook;
};

static int tc_attach_here(void *p)
{
	struct tc_args *a = p;
	int ifindex = (int)if_nametoindex(a->ifname);
	if (ifindex == 0)
		return -errno;
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = a->ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
	int err = bpf_tc_hook_create(&hook);
	a->created_hook = 0;
	if (err == 0)
		a->created_hook = 1;
	else if (err != -EEXIST)
		return err;
	LIBBPF_OPTS(bpf_tc_opts, opts, .prog_fd = a->prog_fd);
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		if (a->created_hook) {
			hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
			bpf_tc_hook_destroy(&hook);
		}
		return err;
	}
	a->ifindex = ifindex;
	a->handle = opts.handle;
	a->priority = opts.priority;
	return 0;
}

static int tc_detach_here(void *p)
{
	struct tc_args *a = p;
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = a->ifindex,
		    .attach_point = a->ingress ? BPF_TC_INGRESS : BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = a->handle, .priority = a->priority);
	int err = bpf_tc_detach(&hook, &opts);
	if (a->destroy_hook) {
		/* Destroying clsact removes both directions: only for a hook we created. */
		hook.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
		int e2 = bpf_tc_hook_destroy(&hook);
		if (!err && e2 && e2 != -ENOENT)
			err = e2;
	}
	return err;
}

int clibbpf_tc_attach(const char *netns_path, const char *ifname, int ingress, int prog_fd,
		      int *ifindex, uint32_t *handle, uint32_t *priority, int *created_hook)
{
	struct tc_args a = {.ifname = ifname, .ingress = ingress, .prog_fd = prog_fd};
	int err = clibbpf_in_netns(netns_path, tc_attach_here, &a);
	if (err)
		return err;
	*ifindex = a.ifindex;
	*handle = a.handle;
	*priority = a.priority;
	*created_hook = a.created_hook;
	return 0;
}

int clibbpf_tc_detach(const char *netns_path, int ifindex, int ingress, uint32_t handle,
		      uint32_t priority, int destroy_hook)
{
	struct tc_args a = {.ifindex = ifindex, .ingress = ingress, .handle = handle,
			    .priority = priority, .destroy_hook = destroy_hook};
	return clibbpf_in_netns(netns_path, tc_detach_here, &a);
}

static int tc_destroy_here(void *p)
{
	struct tc_args *a = p;
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = a->ifindex,
		    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	return bpf_tc_hook_destroy(&hook);
}

int clibbpf_tc_hook_destroy(const char *netns_path, int ifindex)
{
	struct tc_args a = {.ifindex = ifindex};
	return clibbpf_in_netns(netns_path, tc_destroy_here, &a);
}

/* ---- stale filters: list a hook's cls_bpf filters over rtnetlink ---- */

struct tc_list_args {
	const char *ifname;
	int ingress;
	struct clibbpf_tc_filter *out;
	int max;
	int count;
	int ifindex;
};

/* Appends the cls_bpf filters of one RTM_NEWTFILTER message to a->out. */
static void tc_list_message(struct tc_list_args *a, struct nlmsghdr *h)
{
	struct tcmsg *t = NLMSG_DATA(h);
	int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*t));
	if (len < 0 || t->tcm_handle == 0)
		return; /* the chain's head entry, not a filter */
	struct clibbpf_tc_filter f = {.handle = t->tcm_handle, .priority = TC_H_MAJ(t->tcm_info) >> 16};
	int is_bpf = 0;
	for (struct rtattr *at = (struct rtattr *)((char *)t + NLMSG_ALIGN(sizeof(*t))); RTA_OK(at, len);
	     at = RTA_NEXT(at, len)) {
		if (at->rta_type == TCA_KIND)
			is_bpf = strncmp(RTA_DATA(at), "bpf", RTA_PAYLOAD(at)) == 0;
		if (at->rta_type != TCA_OPTIONS)
			continue;
		int olen = RTA_PAYLOAD(at);
		for (struct rtattr *o = RTA_DATA(at); RTA_OK(o, olen); o = RTA_NEXT(o, olen)) {
			if (o->rta_type == TCA_BPF_ID && RTA_PAYLOAD(o) >= sizeof(uint32_t))
				memcpy(&f.prog_id, RTA_DATA(o), sizeof(uint32_t));
			if (o->rta_type == TCA_BPF_NAME) {
				size_t n = RTA_PAYLOAD(o) < sizeof(f.name) - 1 ? RTA_PAYLOAD(o) : sizeof(f.name) - 1;
				memcpy(f.name, RTA_DATA(o), n);
				f.name[n] = 0;
			}
		}
	}
	if (is_bpf && a->count < a->max)
		a->out[a->count++] = f;
}

static int tc_list_here(void *p)
{
	struct tc_list_args *a = p;
	a->ifindex = (int)if_nametoindex(a->ifname);
	if (a->ifindex == 0)
		return -errno;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	struct {
		struct nlmsghdr h;
		struct tcmsg t;
	} req = {
		.h = {.nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg)), .nlmsg_type = RTM_GETTFILTER,
		      .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1},
		.t = {.tcm_family = AF_UNSPEC, .tcm_ifindex = a->ifindex,
		      .tcm_parent = TC_H_MAKE(TC_H_CLSACT, a->ingress ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS)},
	};
	int err = 0;
	if (send(fd, &req, req.h.nlmsg_len, 0) < 0) {
		err = -errno;
		goto out;
	}
	static __thread char buf[32768];
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			goto out;
		}
		int left = (int)n;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
			if (h->nlmsg_type == NLMSG_DONE)
				goto out;
			if (h->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(h);
				/* No clsact qdisc (EINVAL) or no such parent (ENOENT): no filters. */
				err = (e->error == -EINVAL || e->error == -ENOENT) ? 0 : e->error;
				goto out;
			}
			if (h->nlmsg_type == RTM_NEWTFILTER)
				tc_list_message(a, h);
		}
		if (n == 0)
			goto out;
	}
out:
	close(fd);
	return err;
}

int clibbpf_tc_list(const char *netns_path, const char *ifname, int ingress, struct clibbpf_tc_filter *out,
		    int max, int *ifindex)
{
	struct tc_list_args a = {.ifname = ifname, .ingress = ingress, .out = out, .max = max};
	int err = clibbpf_in_netns(netns_path, tc_list_here, &a);
	if (err)
		return err;
	/* Program ids are global: their names need no namespace switch. */
	for (int i = 0; i < a.count; i++) {
		out[i].prog_name[0] = 0;
		int fd = out[i].prog_id ? bpf_prog_get_fd_by_id(out[i].prog_id) : -1;
		if (fd < 0)
			continue;
		struct bpf_prog_info info = {};
		uint32_t len = sizeof(info);
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
			snprintf(out[i].prog_name, sizeof(out[i].prog_name), "%s", info.name);
		close(fd);
	}
	*ifindex = a.ifindex;
	return a.count;
}

/* ---- feature probes (redline doctor) ---- */

int clibbpf_private_netns(void)
{
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		return -errno;
	if (unshare(CLONE_NEWNET) < 0) {
		int e = errno;
		close(self);
		return -e;
	}
	int fresh = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int e = fresh < 0 ? errno : 0;
	/* Returning to the namespace we were in cannot fail. */
	setns(self, CLONE_NEWNET);
	close(self);
	return fresh < 0 ? -e : fresh;
}

struct tcx_args {
	int prog_fd;
	const char *ifname;
};

static int tcx_probe_here(void *p)
{
	struct tcx_args *a = p;
	unsigned int ifindex = if_nametoindex(a->ifname);
	if (!ifindex)
		return -errno;
	/* 46 = BPF_TCX_INGRESS (kernel 6.6); libbpf 1.1's headers predate it. */
	int link = bpf_link_create(a->prog_fd, (int)ifindex, (enum bpf_attach_type)46, NULL);
	if (link < 0)
		return link < -1 ? link : -errno;
	close(link);
	return 0;
}

int clibbpf_tcx_probe(const char *netns_path, const char *ifname, int prog_fd)
{
	struct tcx_args a = {.prog_fd = prog_fd, .ifname = ifname};
	return clibbpf_in_netns(netns_path, tcx_probe_here, &a);
}
