/* libbpf for Swift: the library's own headers plus prefixed shims for what
 * Swift cannot import (option macros, variadic print callbacks, setns). */
#ifndef C_LIBBPF_H
#define C_LIBBPF_H
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <stddef.h>
#include <stdint.h>

/* libbpf's version, "major.minor". */
const char *clibbpf_version(void);

/* Routes libbpf's messages (warnings and info, not debug) into a
 * per-thread buffer instead of stderr. Idempotent. */
void clibbpf_capture_install(void);
/* Empties the calling thread's captured messages. */
void clibbpf_capture_reset(void);
/* The calling thread's captured messages since the last reset, NUL-terminated. */
const char *clibbpf_capture_text(void);

/* bpf_object__open_file with `kernel_log_buf` set: on a failed program load
 * libbpf retries with log level 1 and the verifier's log lands in log_buf.
 * log_buf must stay valid until the object is loaded. NULL + errno on error. */
struct bpf_object *clibbpf_open_file(const char *path, char *log_buf, size_t log_size);

/* bpf_prog_test_run_opts: runs prog_fd once per `repeat` on `data`.
 * data_out may be NULL. Returns 0 or -errno; fills retval, duration_ns
 * (average per run) and *data_out_size (bytes written). */
int clibbpf_prog_test_run(int prog_fd, const void *data, uint32_t data_size, void *data_out,
			  uint32_t *data_out_size, uint32_t repeat, uint32_t *retval,
			  uint32_t *duration_ns);

/* Attaches prog_fd as a direct-action cls_bpf filter on the clsact hook of
 * `ifname` in the network namespace at `netns_path` (NULL: the caller's).
 * Creates the clsact qdisc if absent and reports through *created_hook
 * whether it did (only a hook we created may be destroyed). Fills
 * *ifindex, *handle and *priority for clibbpf_tc_detach. Returns 0 or -errno.
 * The namespace switch is confined to the calling thread and undone before
 * returning. */
int clibbpf_tc_attach(const char *netns_path, const char *ifname, int ingress, int prog_fd,
		      int *ifindex, uint32_t *handle, uint32_t *priority, int *created_hook);

/* Removes the filter from clibbpf_tc_attach; destroys the clsact hook too when
 * destroy_hook is nonzero (pass created_hook). Returns 0 or -errno. */
int clibbpf_tc_detach(const char *netns_path, int ifindex, int ingress, uint32_t handle,
		      uint32_t priority, int destroy_hook);

/* A direct-action cls_bpf filter on a clsact hook, as the kernel lists it. */
struct clibbpf_tc_filter {
	uint32_t handle;
	uint32_t priority;
	uint32_t prog_id;
	char name[64];      /* the filter's name (tc shows it): libbpf writes "<prog>:[<id>]",
			       tc the object file and section */
	char prog_name[16]; /* the program's own name (BPF_OBJ_NAME_LEN), "" if unreadable */
};

/* Lists the cls_bpf filters of the ingress (or egress) clsact hook of `ifname`
 * (netns as above) with one RTM_GETTFILTER dump: fills up to `max` entries of
 * `out` (with each program's name, looked up by id) and *ifindex; returns how
 * many, 0 without a clsact hook, or -errno. */
int clibbpf_tc_list(const char *netns_path, const char *ifname, int ingress, struct clibbpf_tc_filter *out,
		    int max, int *ifindex);

/* Destroys the clsact qdisc of ifindex (both directions' filters go with
 * it): only for a hook the caller created. -ENOENT when absent. */
int clibbpf_tc_hook_destroy(const char *netns_path, int ifindex);

/* Number of possible CPUs (per-CPU map values have this many slots), or -errno. */
int clibbpf_num_possible_cpus(void);

/* Runs `fn(ctx)` with the calling thread in the network namespace at
 * `netns_path`, then switches back. Returns fn's result, or -errno when the
 * switch fails. */
int clibbpf_in_netns(const char *netns_path, int (*fn)(void *ctx), void *ctx);

/* A fresh, empty network namespace (only a down `lo`), for probes that must
 * attach somewhere without touching the host's interfaces. Returns an fd
 * (use "/proc/self/fd/N" as a netns path; closing it frees the namespace and
 * everything attached in it) or -errno (EPERM without CAP_SYS_ADMIN). The
 * calling thread stays in its own namespace. */
int clibbpf_private_netns(void);

/* Attaches prog_fd as a tcx ingress link (BPF_TCX_INGRESS, raw attach type:
 * libbpf 1.1 has no wrapper) on `ifname` in the namespace at `netns_path`
 * and closes the link at once. Returns 0 or -errno (EINVAL: no tcx). */
int clibbpf_tcx_probe(const char *netns_path, const char *ifname, int prog_fd);

#endif
