#!/usr/bin/env python3
"""What `redline report` must show, computed independently from the Parquet tables with
DuckDB (SQL over the files) and plain Python (the histogram quantile rule), for a test to
compare with the numbers the rendered page carries in its data tables (data-table /
data-col / data-value, docs/report.md).

usage: report_numbers.py --tables DIR (--partition date=D/hour=HH | --day date=D) [--slot-seconds N]

Prints {"tables": {name: {"key": [cols], "rows": [{col: value}]}}}: for each data table of
the page, the rows it must have (every row, in no particular order), identified by the key
columns, with the values of the checked columns. Rules (the same as docs/report.md states):
  - traffic_matrix: per (bucket, src/dst dc, src/dst service, l4 protocol) the row observed
    at the source when there is one, else the destination row;
  - red_service / red_edge: per service / edge the server-observed rows when the group has
    any, else the client-observed rows; protocols merged; quantiles from the merged histogram:
    rank = max(1, ceil(q * count)), the bucket holding it, its geometric midpoint
    2^((i + 0.5) / 2^scale), clamped to the group's min and max.
"""
import argparse
import json
import math
import os
import sys
from collections import defaultdict

import duckdb


def files(root, table, part):
    d = os.path.join(root, table, part)
    if not os.path.isdir(d):
        return []
    return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".parquet"))


def rows(con, paths, sql):
    if not paths:
        return []
    listed = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
    con.execute(f"CREATE OR REPLACE VIEW t AS SELECT * FROM read_parquet([{listed}], hive_partitioning = false)")
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def quantile(scale, zero, buckets, lo, hi, q):
    count = zero + sum(buckets.values())
    if count == 0 or lo is None:
        return None
    rank = max(1, math.ceil(q * float(count)))
    if rank <= zero:
        return 0.0
    cum = zero
    for idx in sorted(buckets):
        cum += buckets[idx]
        if cum >= rank:
            mid = 2.0 ** (idx * 2.0 ** -scale) * 2.0 ** (0.5 * 2.0 ** -scale)
            return min(max(mid, float(lo)), float(hi))
    return float(hi)


class Hist:
    def __init__(self):
        self.scale = None
        self.zero = 0
        self.buckets = defaultdict(int)
        self.lo = None
        self.hi = None
        self.requests = 0
        self.errors = 0

    def add(self, r):
        s = r["latency_scale"]
        if self.scale is None:
            self.scale = s
        if s != self.scale:
            raise SystemExit("report_numbers.py: mixed histogram scales are not handled here")
        self.zero += r["latency_zero_count"]
        for pos, n in enumerate(r["latency_counts"]):
            if n:
                self.buckets[r["latency_offset"] + pos] += n
        if r["latency_min_ns"] is not None:
            self.lo = r["latency_min_ns"] if self.lo is None else min(self.lo, r["latency_min_ns"])
            self.hi = r["latency_max_ns"] if self.hi is None else max(self.hi, r["latency_max_ns"])
        self.requests += r["requests"]
        self.errors += r["errors"]

    def q(self, q):
        return quantile(self.scale, self.zero, self.buckets, self.lo, self.hi, q)


def one_side(groups):
    """{(key, observer): Hist} -> {key: (observer, Hist)}: server when present, else client."""
    out = {}
    for (key, obs), h in groups.items():
        if obs == "server" or key not in out:
            out[key] = (obs, h)
    return out


TRAFFIC_ONE_SIDE = """
WITH s AS (
  SELECT *, bool_or(observer = 'source') OVER (
           PARTITION BY bucket_start, src_dc, dst_dc, src_service, dst_service, l4_protocol) AS has_source
  FROM t)
SELECT * FROM s WHERE observer = 'source' OR NOT has_source
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tables", required=True)
    ap.add_argument("--partition")
    ap.add_argument("--day")
    ap.add_argument("--slot-seconds", type=int, default=60)
    a = ap.parse_args()
    con = duckdb.connect()
    out = {}

    if a.day:
        y, m, d = (int(x) for x in a.day[len("date="):].split("-"))
        import datetime
        prev = (datetime.date(y, m, d) - datetime.timedelta(days=1)).isoformat()
        def matrix(part):
            return {(r["src_dc"], r["dst_dc"]): r for r in rows(con, files(a.tables, "traffic_matrix_daily", part),
                    "SELECT src_dc, dst_dc, sum(bytes) AS bytes, sum(calls) AS calls FROM (" + TRAFFIC_ONE_SIDE + ") GROUP BY ALL")}
        now, before = matrix(a.day), matrix("date=" + prev)
        dcs = sorted({k[0] for k in now} | {k[1] for k in now}, key=lambda x: (x == "unknown", x))
        rs = []
        for s in dcs:
            for t in dcs:
                r = {"src_dc": s, "dst_dc": t, "bytes": now.get((s, t), {}).get("bytes", 0), "calls": now.get((s, t), {}).get("calls", 0)}
                if before:
                    r["prev_bytes"] = before.get((s, t), {}).get("bytes", 0)
                    r["prev_calls"] = before.get((s, t), {}).get("calls", 0)
                rs.append(r)
        out["daily-matrix"] = {"key": ["src_dc", "dst_dc"], "rows": rs}
        json.dump({"tables": out, "previous_present": bool(before)}, sys.stdout, sort_keys=True, default=str)
        return

    part = a.partition
    # Datacenter matrix and its cross-DC share.
    tm = rows(con, files(a.tables, "traffic_matrix", part),
              "SELECT src_dc, dst_dc, src_service, dst_service, epoch_ns(bucket_start) AS b, bytes, calls FROM (" + TRAFFIC_ONE_SIDE + ")")
    cells = defaultdict(lambda: [0, 0])
    pairs = defaultdict(lambda: [0, 0])
    served = defaultdict(int)
    for r in tm:
        cells[(r["src_dc"], r["dst_dc"])][0] += r["bytes"]
        cells[(r["src_dc"], r["dst_dc"])][1] += r["calls"]
        pairs[(r["src_dc"], r["src_service"], r["dst_dc"], r["dst_service"])][0] += r["bytes"]
        pairs[(r["src_dc"], r["src_service"], r["dst_dc"], r["dst_service"])][1] += r["calls"]
        if r["calls"]:
            step = a.slot_seconds * 10**9
            slot = r["b"] - r["b"] % step
            served[(r["dst_service"], slot, r["dst_dc"])] += r["calls"]
    dcs = sorted({k[0] for k in cells} | {k[1] for k in cells}, key=lambda x: (x == "unknown", x))
    out["dc-matrix"] = {"key": ["src_dc", "dst_dc"], "rows": [
        {"src_dc": s, "dst_dc": t, "bytes": cells.get((s, t), [0, 0])[0], "calls": cells.get((s, t), [0, 0])[1]}
        for s in dcs for t in dcs]}
    tb = sum(v[0] for v in cells.values()); tc = sum(v[1] for v in cells.values())
    cb = sum(v[0] for k, v in cells.items() if k[0] != k[1]); cc = sum(v[1] for k, v in cells.items() if k[0] != k[1])
    out["dc-matrix-cross"] = {"key": ["measure"], "rows": [
        {"measure": "bytes", "total": tb, "cross_dc": cb, "share": cb / tb if tb else 0.0},
        {"measure": "calls", "total": tc, "cross_dc": cc, "share": cc / tc if tc else 0.0}]}
    cross = sorted(((k, v) for k, v in pairs.items() if k[0] != k[2]), key=lambda kv: (-kv[1][0], kv[0][0], kv[0][2], kv[0][1], kv[0][3]))[:20]
    out["top-pairs"] = {"key": ["src_dc", "src_service", "dst_dc", "dst_service"], "rows": [
        {"src_dc": k[0], "src_service": k[1], "dst_dc": k[2], "dst_service": k[3], "bytes": v[0], "calls": v[1]} for k, v in cross]}
    totals = defaultdict(int)
    for (svc, slot, dc), n in served.items():
        totals[(svc, slot)] += n
    import datetime
    def minute(ns):
        return datetime.datetime.fromtimestamp(ns // 10**9, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
    out["dr-shares"] = {"key": ["service", "slot_start", "dc"], "rows": [
        {"service": svc, "slot_start": minute(slot), "dc": dc, "calls": n, "share": n / totals[(svc, slot)]}
        for (svc, slot, dc), n in served.items()]}

    # Per-service RED.
    groups = defaultdict(Hist)
    for r in rows(con, files(a.tables, "red_service", part), "SELECT * FROM t WHERE observer IN ('server', 'client')"):
        groups[(r["service"], r["observer"])].add(r)
    out["services"] = {"key": ["service"], "rows": [
        {"service": k, "observer": obs, "requests": h.requests, "errors": h.errors,
         "error_ratio": h.errors / h.requests if h.requests else 0.0, "p50_ns": h.q(0.5), "p99_ns": h.q(0.99)}
        for k, (obs, h) in one_side(groups).items()]}

    # Edges.
    groups = defaultdict(Hist)
    for r in rows(con, files(a.tables, "red_edge", part), "SELECT * FROM t WHERE observer IN ('server', 'client')"):
        groups[((r["caller"], r["caller_dc"], r["callee"], r["callee_dc"]), r["observer"])].add(r)
    out["edges"] = {"key": ["caller", "caller_dc", "callee", "callee_dc"], "rows": [
        {"caller": k[0], "caller_dc": k[1], "callee": k[2], "callee_dc": k[3], "observer": obs, "calls": h.requests,
         "errors": h.errors, "p50_ns": h.q(0.5), "p99_ns": h.q(0.99)}
        for k, (obs, h) in one_side(groups).items()]}

    out["tcp-health"] = {"key": ["service", "peer_service"], "rows": rows(con, files(a.tables, "tcp_health", part),
        "SELECT service, peer_service, sum(retransmits) AS retransmits, sum(resets_sent) AS resets_sent, "
        "sum(resets_received) AS resets_received, sum(drops) AS drops, sum(id_option_missing) AS id_option_missing FROM t GROUP BY ALL")}
    out["drop-reasons"] = {"key": ["reason", "reason_code"], "rows": rows(con, files(a.tables, "tcp_drops", part),
        "SELECT reason, reason_code, sum(drops) AS drops FROM t GROUP BY ALL")}
    comp = []
    for table in ("red_service", "red_edge", "traffic_matrix", "tcp_health", "tcp_drops", "red_route", "dns_names"):
        fs = files(a.tables, table, part)
        r = rows(con, fs, "SELECT count(*) AS rows, coalesce(min(completeness), 1.0) AS min_completeness, "
                          "count(*) FILTER (WHERE completeness < 1) AS rows_incomplete FROM t")
        comp.append({"table": table, "files": len(fs), **(r[0] if r else {"rows": 0, "min_completeness": 1.0, "rows_incomplete": 0})})
    out["table-completeness"] = {"key": ["table"], "rows": comp}
    json.dump({"tables": out}, sys.stdout, sort_keys=True, default=str)


if __name__ == "__main__":
    main()
