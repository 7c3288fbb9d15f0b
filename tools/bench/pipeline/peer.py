#!/usr/bin/env python3
"""DuckDB side of tools/bench/pipeline/run, plus the cross-check and the results file.

  peer.py time VARIANT CALLS.parquet OUT.parquet   -> prints the query's wall and CPU seconds (one thread)
  peer.py check CALLS.parquet REDLINE_RED_SERVICE.parquet
                                                   -> compares every group; exit 1 on any difference
  peer.py report MEASUREMENTS.tsv RESULTS.md ...   -> writes the Markdown results

The DuckDB query computes the red_service rows from calls that are already time-corrected and
enriched (bucket, service, protocol, observer are columns): it reads Parquet and groups, nothing
else. The latency histogram is the OpenTelemetry exponential histogram at scale 4: a duration d > 0
goes to bucket ceil(log2(d) * 16) - 1, so bucket i holds (2^(i/16), 2^((i+1)/16)]; an exact power
of two 2^n gives log2 = n exactly and lands in bucket 16n - 1, as in Redline's IndexMapping.
"""
import sys
import time

import duckdb

SCALE = 4
IDX = f"CASE WHEN duration_ns > 0 THEN CAST(ceil(log2(duration_ns) * {1 << SCALE}) AS BIGINT) - 1 END"
KEYS = "bucket_start, service, protocol, observer"

# Two ways to build the histogram; the runner times both and compares Redline with the faster.
QUERIES = {
    # One GROUP BY with DuckDB's histogram() aggregate (a MAP of bucket index -> count).
    "histogram": f"""
        SELECT {KEYS},
               count(*) AS requests,
               count(*) FILTER (WHERE status_class = 3) AS errors,
               count(*) FILTER (WHERE status_class = 2) AS client_errors,
               sum(request_bytes) AS request_bytes, sum(response_bytes) AS response_bytes,
               count(*) FILTER (WHERE duration_ns = 0) AS latency_zero_count,
               sum(duration_ns) AS latency_sum_ns, min(duration_ns) AS latency_min_ns,
               max(duration_ns) AS latency_max_ns,
               histogram({IDX}) AS latency
        FROM read_parquet('{{src}}')
        GROUP BY ALL""",
    # Group by key and bucket index first, then fold the indices into lists: portable SQL
    # (the shape the Spark merge uses).
    "two-level": f"""
        WITH h AS (
            SELECT {KEYS}, {IDX} AS idx,
                   count(*) AS n,
                   count(*) FILTER (WHERE status_class = 3) AS errors,
                   count(*) FILTER (WHERE status_class = 2) AS client_errors,
                   sum(request_bytes) AS request_bytes, sum(response_bytes) AS response_bytes,
                   sum(duration_ns) AS dsum, min(duration_ns) AS dmin, max(duration_ns) AS dmax
            FROM read_parquet('{{src}}')
            GROUP BY ALL)
        SELECT {KEYS},
               sum(n) AS requests, sum(errors) AS errors, sum(client_errors) AS client_errors,
               sum(request_bytes) AS request_bytes, sum(response_bytes) AS response_bytes,
               coalesce(sum(n) FILTER (WHERE idx IS NULL), 0) AS latency_zero_count,
               sum(dsum) AS latency_sum_ns, min(dmin) AS latency_min_ns, max(dmax) AS latency_max_ns,
               map(list(idx ORDER BY idx) FILTER (WHERE idx IS NOT NULL),
                   list(n ORDER BY idx) FILTER (WHERE idx IS NOT NULL)) AS latency
        FROM h
        GROUP BY ALL""",
}


def connect():
    con = duckdb.connect()
    con.execute("SET threads = 1")
    return con


def cmd_time(variant, src, out):
    con = connect()
    sql = QUERIES[variant].format(src=src)
    t, c = time.perf_counter(), time.process_time()
    # Like the pipeline, the result ends up as a zstd Parquet file.
    con.execute(f"COPY ({sql}) TO '{out}' (FORMAT parquet, COMPRESSION zstd)")
    print(f"{time.perf_counter() - t:.6f} {time.process_time() - c:.6f}")


def rows_duckdb(con, src):
    sql = QUERIES["histogram"].format(src=src)
    out = {}
    for r in con.execute(f"SELECT epoch_ns(bucket_start), service, protocol, observer, requests, errors, "
                         f"client_errors, request_bytes, response_bytes, latency_zero_count, latency_sum_ns, "
                         f"latency_min_ns, latency_max_ns, latency FROM ({sql})").fetchall():
        hist = {int(k): int(v) for k, v in r[13].items()}
        out[tuple(r[:4])] = tuple(int(x) for x in r[4:13]) + (hist,)
    return out


def rows_redline(con, path, widths=None):
    out = {}
    for r in con.execute(f"SELECT epoch_ns(bucket_start), service, protocol, observer, requests, errors, "
                         f"client_errors, request_bytes, response_bytes, latency_zero_count, latency_sum_ns, "
                         f"latency_min_ns, latency_max_ns, latency_scale, latency_offset, latency_counts "
                         f"FROM read_parquet('{path}')").fetchall():
        if r[13] != SCALE:
            raise SystemExit(f"redline table has latency_scale {r[13]}, expected {SCALE}")
        hist = {r[14] + i: int(c) for i, c in enumerate(r[15]) if c}
        if widths is not None:
            widths.append(len(r[15]))
        out[tuple(r[:4])] = tuple(int(x) for x in r[4:13]) + (hist,)
    return out


FIELDS = ["requests", "errors", "client_errors", "request_bytes", "response_bytes", "latency_zero_count",
          "latency_sum_ns", "latency_min_ns", "latency_max_ns", "latency histogram"]


def cmd_check(src, redline_table):
    con = connect()
    d = rows_duckdb(con, src)
    widths = []
    r = rows_redline(con, redline_table, widths)
    problems = []
    only_d = d.keys() - r.keys()
    only_r = r.keys() - d.keys()
    if only_d:
        problems.append(f"{len(only_d)} groups only in DuckDB's result, e.g. {sorted(only_d)[:3]}")
    if only_r:
        problems.append(f"{len(only_r)} groups only in Redline's result, e.g. {sorted(only_r)[:3]}")
    diff = [0] * len(FIELDS)
    example = {}
    for k in d.keys() & r.keys():
        for i, f in enumerate(FIELDS):
            if d[k][i] != r[k][i]:
                diff[i] += 1
                example.setdefault(f, (k, d[k][i], r[k][i]))
    for i, f in enumerate(FIELDS):
        if diff[i]:
            problems.append(f"{f}: {diff[i]} groups differ, e.g. {example[f]}")
    total = sum(v[0] for v in d.values())
    if problems:
        print("!!!!!!!! MISMATCH between Redline and DuckDB red_service !!!!!!!!")
        for p in problems:
            print("  " + p)
        sys.exit(1)
    print(f"match: {len(d)} groups, {total} requests; requests, errors, client_errors, bytes, "
          f"latency zero/sum/min/max and every histogram bucket equal "
          f"(Redline's dense histograms: {sum(widths) / max(len(widths), 1):.1f} buckets per row on average, "
          f"{max(widths, default=0)} at most)")


def cmd_report(tsv, results, *meta):
    """tsv lines: size calls engine round wall_s cpu_s rss_kb (engine: redline | duckdb-<variant>)."""
    info = dict(m.split("=", 1) for m in meta)
    best, cpu, rss, sizes = {}, {}, {}, {}
    for line in open(tsv):
        size, calls, engine, _round, secs, cpus, kb = line.split()
        sizes[size] = int(calls)
        key = (size, engine)
        best[key] = min(best.get(key, float("inf")), float(secs))
        cpu[key] = min(cpu.get(key, float("inf")), float(cpus))
        rss[key] = max(rss.get(key, 0), int(kb))
    peers = sorted({e for (_, e) in best if e.startswith("duckdb")})
    others = sorted({e for (_, e) in best if e != "redline" and e not in peers})
    rounds = info.get("rounds", "3")
    lines = []
    lines.append("| input | calls | engine | wall s (best of %s) | CPU s (best) | calls/s (wall) | peak RSS | "
                 "Redline ratio (wall) | Redline ratio (CPU) |" % rounds)
    lines.append("|---|---:|---|---:|---:|---:|---:|---:|---:|")
    summary = []
    for size in sorted(sizes, key=lambda s: sizes[s]):
        n = sizes[size]
        red = best[(size, "redline")]
        peer = min(peers, key=lambda e: best[(size, e)])
        cpeer = min(peers, key=lambda e: cpu[(size, e)])
        for e in ["redline"] + peers + others:
            s = best[(size, e)]
            ratios = (f"**{best[(size, peer)] / red:.2f}** | **{cpu[(size, cpeer)] / cpu[(size, 'redline')]:.2f}**"
                      if e == "redline" else " | ")
            lines.append(f"| {size} | {n:,} | {e} | {s:.3f} | {cpu[(size, e)]:.3f} | {n / s / 1e6:.2f} M | "
                         f"{rss[(size, e)] / 1024:.0f} MiB | {ratios} |")
        summary.append((size, best[(size, peer)] / red, peer))
    ratio_lines = "\n".join(
        f"- {size}: Redline / DuckDB ({peer}) = **{r:.2f}×** — goal ≥ 2.0 {'met' if r >= 2 else 'MISSED'}"
        + ("" if r >= 1 else " (below 1.0: a defect, explained below)") for size, r, peer in summary)
    small, large = (sorted(sizes, key=lambda s: sizes[s]) + [None])[:2]
    rss_line = ""
    if large:
        a, b = rss[(small, "redline")], rss[(large, "redline")]
        rss_line = (f"- Redline peak RSS: {a / 1024:.0f} MiB at {small}, {b / 1024:.0f} MiB at {large} "
                    f"({b / a:.2f}× for {sizes[large] / sizes[small]:.0f}× the input; goal: flat)")
    text = open(info["template"]).read() if "template" in info else ""
    doc = text.replace("@TABLE@", "\n".join(lines)).replace("@RATIOS@", ratio_lines + "\n" + rss_line)
    for k, v in info.items():
        doc = doc.replace(f"@{k.upper()}@", v)
    open(results, "w").write(doc)
    print("\n".join(lines))
    print(ratio_lines)
    print(rss_line)


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    {"time": cmd_time, "check": cmd_check, "report": cmd_report}[cmd](*args)
