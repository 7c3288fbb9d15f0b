#!/usr/bin/env python3
"""RESULTS.md for tools/bench/kernel-overhead/run from its raw measurements.

rounds.tsv: round, config (none|empty|redline), workload, value — one line per
measurement; configurations are paired by round. ns.tsv: round, config,
workload, hook, run_time_ns, run_cnt (BPF stats deltas over one workload).

The difference of a configuration against a baseline is the mean over rounds
of the per-round difference (relative for throughput, absolute µs for
ping-pong), with a 95 % percentile interval from a paired bootstrap
(resampling rounds, 10 000 resamples, fixed seed so a rerun on the same data
prints the same interval). "Distinguishable from zero" means the interval
excludes zero. Standard library only."""
import argparse
import math
import random
import re
from collections import defaultdict

WORKLOADS = [
    ("tcp64", "TCP 64 B throughput (msg/s)"),
    ("tcp1400", "TCP 1400 B throughput (msg/s)"),
    ("udp64", "UDP 64 B throughput (msg/s)"),
    ("udp1400", "UDP 1400 B throughput (msg/s)"),
    ("pp", "TCP 64 B ping-pong p50 (µs, lower is better)"),
    ("resp16", "RESP pipelined 16 deep, messages walked (redis-benchmark SET+GET req/s)"),
]
RESAMPLES = 10_000


def bootstrap(diffs, rng):
    """Mean of diffs and its 95 % percentile-bootstrap interval."""
    n = len(diffs)
    mean = sum(diffs) / n
    if n < 2:
        return mean, math.nan, math.nan
    means = sorted(sum(rng.choice(diffs) for _ in range(n)) / n for _ in range(RESAMPLES))
    return mean, means[int(0.025 * RESAMPLES)], means[int(0.975 * RESAMPLES) - 1]


def verdict(lo, hi):
    if math.isnan(lo):
        return "n/a (one round)"
    return "yes" if lo > 0 or hi < 0 else "no"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", required=True)
    ap.add_argument("--ns", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--header", required=True)
    ap.add_argument("--collector-log")
    ap.add_argument("--metrics")
    a = ap.parse_args()
    rng = random.Random(16)

    vals = defaultdict(dict)  # (workload, config) -> {round: value}
    for line in open(a.rounds):
        r, cfg, w, v = line.rstrip("\n").split("\t")
        if v != "nan":
            vals[(w, cfg)][int(r)] = float(v)

    out = []
    p = out.append
    p("# Kernel overhead — Redline's tc programs and collector on live traffic")
    p("")
    p(f"Produced by `tools/bench/kernel-overhead/run` ({a.header}).")
    p("sockperf between two namespaces over a veth pair; programs at tc ingress and egress of the")
    p("server's veth end (2 hooks). Configurations interleaved, their order rotated every round:")
    p("**none** (no programs), **empty** (`rl_empty` at the same hooks), **redline** (`redline collect`")
    p("attached with the shipped rules, consuming into sealed segments). Throughput is sockperf's")
    p("client-side message rate. Δ = mean over rounds of the per-round paired difference, 95 % CI from a")
    p(f"paired bootstrap ({RESAMPLES} resamples); \"distinguishable\" = the CI excludes 0.")
    p("")
    p("## Throughput and latency")
    p("")
    p("| workload | rounds | none (mean) | empty (mean) | redline (mean) | Δ redline vs none [95 % CI] | distinguishable | Δ redline vs empty [95 % CI] | distinguishable | Δ empty vs none [95 % CI] |")
    p("|---|---|---|---|---|---|---|---|---|---|")
    for w, label in WORKLOADS:
        def paired(x, base):
            rounds = sorted(set(vals[(w, x)]) & set(vals[(w, base)]))
            if w == "pp":
                return [vals[(w, x)][r] - vals[(w, base)][r] for r in rounds]
            return [100.0 * (vals[(w, x)][r] - vals[(w, base)][r]) / vals[(w, base)][r] for r in rounds]

        def mean(cfg):
            v = list(vals[(w, cfg)].values())
            return sum(v) / len(v) if v else math.nan

        unit = " µs" if w == "pp" else " %"
        fmt = "{:+.2f}" if w == "pp" else "{:+.1f}"
        cells = []
        for x, base in (("redline", "none"), ("redline", "empty"), ("empty", "none")):
            d = paired(x, base)
            if not d:
                cells.append(("n/a", "n/a"))
                continue
            m, lo, hi = bootstrap(d, rng)
            cells.append((f"{fmt.format(m)}{unit} [{fmt.format(lo)}, {fmt.format(hi)}]", verdict(lo, hi)))
        n = len(set(vals[(w, "none")]) & set(vals[(w, "redline")]))
        num = "{:.3f}" if w == "pp" else "{:,.0f}"
        p(f"| {label} | {n} | {num.format(mean('none'))} | {num.format(mean('empty'))} | {num.format(mean('redline'))} "
          f"| {cells[0][0]} | {cells[0][1]} | {cells[1][0]} | {cells[1][1]} | {cells[2][0]} |")

    ns = defaultdict(lambda: defaultdict(lambda: [0, 0]))  # (workload, hook) -> config -> per round
    per_round = defaultdict(dict)  # (workload, hook, config) -> {round: ns/run}
    for line in open(a.ns):
        r, cfg, w, hook, t, c = line.rstrip("\n").split("\t")
        t, c = int(t), int(c)
        acc = ns[(w, hook)][cfg]
        acc[0] += t
        acc[1] += c
        if c:
            per_round[(w, hook, cfg)][int(r)] = t / c
    p("")
    p("## ns per packet per hook (BPF stats: run_time_ns / run_cnt)")
    p("")
    p("BPF stats add two clock reads per run to both programs, so the empty program's figure is the")
    p("floor of this measurement and **over empty** is Redline's own work. Goal: ≤ 40 ns over empty.")
    p("")
    p("| workload | hook | runs (redline) | redline ns/run | empty ns/run | over empty [95 % CI over rounds] | ≤ 40 ns |")
    p("|---|---|---|---|---|---|---|")
    for w, label in WORKLOADS:
        for hook in ("ingress", "egress"):
            rd, em = ns[(w, hook)]["redline"], ns[(w, hook)]["empty"]
            if not rd[1] or not em[1]:
                continue
            r_ns, e_ns = rd[0] / rd[1], em[0] / em[1]
            rr, ee = per_round[(w, hook, "redline")], per_round[(w, hook, "empty")]
            d = [rr[k] - ee[k] for k in sorted(set(rr) & set(ee))]
            m, lo, hi = bootstrap(d, rng) if d else (math.nan,) * 3
            ci = f"{r_ns - e_ns:+.1f} [{lo:+.1f}, {hi:+.1f}]" if not math.isnan(lo) else f"{r_ns - e_ns:+.1f}"
            ok = "yes" if r_ns - e_ns <= 40 else "**no**"
            p(f"| {label.split(' (')[0]} | {hook} | {rd[1]:,} | {r_ns:.1f} | {e_ns:.1f} | {ci} | {ok} |")

    if a.metrics:
        try:
            lines = [l for l in open(a.metrics) if not l.startswith("#") and l.strip()]
        except OSError:
            lines = []
        keep = [l.strip() for l in lines if re.search(r"(lost|drop|shed|filtered|events_total|records|rule_hits)", l)]
        if keep:
            p("")
            p("## The collector's own counters (last stats round, from its metrics file)")
            p("")
            p("```")
            out.extend(keep[:60])
            p("```")
    p("")
    with open(a.out, "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
