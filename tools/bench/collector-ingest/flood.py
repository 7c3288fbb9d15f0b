#!/usr/bin/env python3
"""Runs a pinned tc program through BPF_PROG_TEST_RUN from several threads at
a target total rate (runs/s; 0 = as fast as possible) for a fixed time, and
prints JSON {"sent": runs completed, "seconds": elapsed}. Each run of
rl_flood emits one record, so "sent" is what the collector was offered.

Threads are pinned round-robin to --cpus (the collector gets the others).
ctypes releases the GIL during the syscall, so threads run in parallel."""
import argparse
import ctypes
import json
import os
import threading
import time

SYS_BPF = 321  # x86_64
BPF_OBJ_GET = 7
BPF_PROG_TEST_RUN = 10
libc = ctypes.CDLL(None, use_errno=True)


class ObjGet(ctypes.Structure):
    _fields_ = [("pathname", ctypes.c_uint64), ("bpf_fd", ctypes.c_uint32),
                ("file_flags", ctypes.c_uint32), ("path_fd", ctypes.c_int32)]


class TestRun(ctypes.Structure):
    _fields_ = [("prog_fd", ctypes.c_uint32), ("retval", ctypes.c_uint32),
                ("data_size_in", ctypes.c_uint32), ("data_size_out", ctypes.c_uint32),
                ("data_in", ctypes.c_uint64), ("data_out", ctypes.c_uint64),
                ("repeat", ctypes.c_uint32), ("duration", ctypes.c_uint32),
                ("ctx_size_in", ctypes.c_uint32), ("ctx_size_out", ctypes.c_uint32),
                ("ctx_in", ctypes.c_uint64), ("ctx_out", ctypes.c_uint64),
                ("flags", ctypes.c_uint32), ("cpu", ctypes.c_uint32), ("batch_size", ctypes.c_uint32)]


def bpf(cmd, attr):
    r = libc.syscall(SYS_BPF, cmd, ctypes.byref(attr), ctypes.sizeof(attr))
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, f"bpf({cmd}): {os.strerror(e)}")
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--prog", required=True, help="pinned program path")
    ap.add_argument("--rate", type=float, required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cpus", default="0")
    a = ap.parse_args()
    path = ctypes.create_string_buffer(a.prog.encode())
    fd = bpf(BPF_OBJ_GET, ObjGet(pathname=ctypes.addressof(path)))
    cpus = [int(c) for c in a.cpus.split(",")]
    packet = ctypes.create_string_buffer(64)  # zeroed frame; rl_flood ignores it
    per_thread = a.rate / a.threads
    # Batches of ~1 ms of the target rate keep pacing smooth; unlimited: 4096.
    batch = 4096 if a.rate == 0 else max(1, min(4096, int(per_thread / 1000)))
    sent = [0] * a.threads
    errors = []
    start = time.monotonic()
    end = start + a.seconds

    def worker(i):
        os.sched_setaffinity(0, {cpus[i % len(cpus)]})
        attr = TestRun(prog_fd=fd, data_size_in=64, data_in=ctypes.addressof(packet), repeat=batch)
        n = 0
        try:
            while True:
                now = time.monotonic()
                if now >= end:
                    break
                if per_thread and n > (now - start) * per_thread:
                    time.sleep(min(end - now, (n - (now - start) * per_thread) / per_thread))
                    continue
                bpf(BPF_PROG_TEST_RUN, attr)
                n += batch
        except OSError as e:
            errors.append(str(e))
        sent[i] = n

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(a.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"flood: {errors[0]}")
    print(json.dumps({"sent": sum(sent), "seconds": time.monotonic() - start}))


if __name__ == "__main__":
    main()
