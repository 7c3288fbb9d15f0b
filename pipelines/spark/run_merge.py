#!/usr/bin/env python3
"""Merges Redline's per-host partial tables of one partition with Spark SQL.

Reads <tables>/partials/<table>/date=D/hour=HH/host=*/ for every table, registers it as
the view `partials`, runs pipelines/spark/merge_<table>.sql on it, and then

  --out DIR   writes each merged table as one Parquet file,
              DIR/<table>/date=D/hour=HH/part-00000.parquet (staged, then renamed);
  --compare   compares the result row for row with the merged file Redline's Swift
              merge wrote, <tables>/<table>/date=D/hour=HH/part-00000.parquet, prints
              every difference and exits 1 if there is any.

`--tables` may be given several times (with --compare): all roots are merged in one
Spark session, which is what the equivalence test does. Errors (a missing table, a SQL
failure) exit 2 with the reason; nothing is written for a table that failed.

usage: run_merge.py --tables DIR [--tables DIR ...] --partition date=YYYY-MM-DD/hour=HH
                    [--out DIR] [--compare] [--table NAME ...] [--rel-tol X] [--report FILE]
                    [--master URL] [--small-input]
"""
import argparse
import json
import math
import os
import re
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# Every table with a merge: the SQL files generated from the table declarations (MergeSQL.swift).
TABLES = sorted(f[len("merge_"):-len(".sql")] for f in os.listdir(HERE)
                if f.startswith("merge_") and f.endswith(".sql"))
# Columns holding doubles computed from the merged parts; everything else compares exactly.
COMPUTED_DOUBLES = {"p50_ns", "p90_ns", "p99_ns", "completeness"}
MAX_LISTED = 20  # differences listed per table; the count is always complete


class MergeError(Exception):
    """A failure that stops the run: exit 2 with this message."""


def merge_sql(table):
    """merge_<table>.sql with each `-- include: FILE` line replaced by that file of this folder."""
    with open(os.path.join(HERE, f"merge_{table}.sql")) as f:
        lines = f.read().split("\n")
    out = []
    for line in lines:
        if line.startswith("-- include: "):
            with open(os.path.join(HERE, line[len("-- include: "):].strip())) as g:
                out.append(g.read().rstrip("\n"))
        else:
            out.append(line)
    return "\n".join(out)


def parse_args(argv):
    p = argparse.ArgumentParser(description="Merge Redline partial tables with Spark SQL.")
    p.add_argument("--tables", action="append", required=True, metavar="DIR",
                   help="table root written by `redline run` (has partials/ and the merged tables)")
    p.add_argument("--partition", required=True, help="date=YYYY-MM-DD/hour=HH")
    p.add_argument("--out", metavar="DIR", help="write the merged tables under DIR")
    p.add_argument("--compare", action="store_true",
                   help="compare with the Swift merged tables; exit 1 on any difference")
    p.add_argument("--table", action="append", choices=TABLES, help="only these tables (default: all)")
    p.add_argument("--rel-tol", type=float, default=1e-12,
                   help="relative tolerance for quantiles and completeness (default 1e-12)")
    p.add_argument("--report", metavar="FILE", help="also write the comparison as JSON to FILE")
    p.add_argument("--master", help="Spark master (default: spark-submit's, or local[2] when run with python)")
    p.add_argument("--small-input", action="store_true",
                   help="tune a locally launched Spark for a short run over little data (tests)")
    a = p.parse_args(argv)
    if not re.fullmatch(r"date=\d{4}-\d{2}-\d{2}/hour=\d{2}", a.partition):
        p.error(f"--partition must look like date=YYYY-MM-DD/hour=HH, got {a.partition!r}")
    if not a.out and not a.compare:
        p.error("nothing to do: give --out DIR, --compare, or both")
    if a.out and len(a.tables) != 1:
        p.error("--out takes exactly one --tables root")
    return a


def session(master, small_input):
    from pyspark.sql import SparkSession
    java_options = [f"-Dlog4j.configurationFile={os.path.join(HERE, 'log4j2.properties')}"]
    small = {}
    if small_input:
        # A short run over little data spends most of its time compiling Spark itself: the
        # client compiler alone (no C2) and the serial collector halve it; one shuffle
        # partition and no whole-stage code generation (compiling each plan costs more than
        # running it at this size) trim the rest. Wrong for a large merge: leave it off there.
        java_options += ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"]
        small = {"spark.sql.shuffle.partitions": "1", "spark.sql.codegen.wholeStage": "false"}
    builder = SparkSession.builder
    # Under spark-submit the driver JVM exists already and --master is spark-submit's to give;
    # run with plain python, this script starts a local Spark.
    if master or "PYSPARK_GATEWAY_PORT" not in os.environ:
        builder = builder.master(master or "local[2]")
    spark = (builder.appName("redline-merge")
             .config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             # Redline writes bucket_start as TIMESTAMP(NANOS); Spark reads that only as int64 ns.
             .config("spark.sql.legacy.parquet.nanosAsLong", "true")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.debug.maxToStringFields", "200")  # wide plans: no truncation warning
             .config("spark.sql.parquet.compression.codec", "zstd")
             .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
             .config("spark.driver.extraJavaOptions", " ".join(java_options))
             .config(map=small)
             .getOrCreate())
    spark.sparkContext.setLogLevel("WARN")
    return spark


def merge(spark, root, partition, table):
    """The merged DataFrame of one table, as the SQL defines it (bucket_start as int64 ns),
    and a summary of its inputs."""
    src = os.path.join(root, "partials", table, partition)
    if not os.path.isdir(src):
        raise MergeError(f"{table}: no partials at {src}")
    sql = merge_sql(table)
    spark.read.parquet(src).createOrReplaceTempView("partials")
    # What went in: rows, hosts and (RED tables) histogram scales of the partials.
    scales = ", array_sort(collect_set(latency_scale)) AS scales" if "latency_scale" in spark.table("partials").columns else ""
    inputs = spark.sql(f"SELECT count(*) AS n, count(DISTINCT host) AS hosts{scales} FROM partials").first()
    stats = {"partial_rows": inputs["n"], "partial_hosts": inputs["hosts"]}
    if scales:
        stats["partial_scales"] = list(inputs["scales"])
    return spark.sql(sql), stats


def write(spark, df, out, partition, table):
    """Writes df as out/<table>/<partition>/part-00000.parquet: one file, renamed into place."""
    from pyspark.sql import functions as F
    # Spark cannot write TIMESTAMP(NANOS): bucket_start goes out as TIMESTAMP(MICROS, UTC).
    # Bucket starts are whole seconds; refuse rather than truncate if one is not.
    bad = df.where(F.col("bucket_start") % 1000 != 0).count()
    if bad:
        raise MergeError(f"{table}: {bad} bucket_start values are not whole microseconds")
    df = df.withColumn("bucket_start", F.timestamp_micros(F.expr("bucket_start div 1000")))
    final_dir = os.path.join(out, table, partition)
    staging = os.path.join(out, ".staging", f"{table}-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    df.coalesce(1).write.mode("error").parquet(staging)
    parts = [n for n in os.listdir(staging) if n.startswith("part-") and n.endswith(".parquet")]
    if len(parts) != 1:
        raise MergeError(f"{table}: Spark wrote {len(parts)} part files, expected 1")
    staged = os.path.join(staging, parts[0])
    fd = os.open(staged, os.O_RDONLY)  # Spark does not sync what it writes; sync before publishing
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.makedirs(final_dir, exist_ok=True)
    target = os.path.join(final_dir, "part-00000.parquet")
    os.replace(staged, target)  # same filesystem: atomic
    dfd = os.open(final_dir, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    shutil.rmtree(staging)
    return target


def same(a, b, column, rel_tol):
    if a is None or b is None:
        return a is None and b is None
    if column in COMPUTED_DOUBLES:
        # Quantiles are 2^x products: Spark's pow is Java's StrictMath (fdlibm), Swift's exp2 is
        # glibc's; either may differ in the last ulp, so a relative tolerance, not equality.
        if a == b:
            return True
        return math.isfinite(a) and math.isfinite(b) and abs(a - b) <= rel_tol * max(abs(a), abs(b))
    return a == b  # integers, strings and lists of integers: exactly


def compare(spark, root, partition, table, df, rel_tol):
    """Differences between the SQL result and the Swift merged file, as strings."""
    path = os.path.join(root, table, partition, "part-00000.parquet")
    if not os.path.isfile(path):
        raise MergeError(f"{table}: no Swift merged file at {path}")
    swift = spark.read.parquet(path)
    diffs = []
    got = [(f.name, f.dataType.simpleString()) for f in df.schema.fields]
    want = [(f.name, f.dataType.simpleString()) for f in swift.schema.fields]
    if got != want:
        diffs.append(f"columns differ: spark {got} vs swift {want}")
        return diffs, None, None, 0
    srows, wrows = df.collect(), swift.collect()
    if len(srows) != len(wrows):
        diffs.append(f"row count: spark {len(srows)} vs swift {len(wrows)}")
    names = [n for n, _ in got]
    inexact = 0  # doubles equal within the tolerance but not bit for bit
    for i, (s, w) in enumerate(zip(srows, wrows)):
        for n in names:
            if not same(s[n], w[n], n, rel_tol):
                diffs.append(f"row {i} column {n}: spark {s[n]!r} vs swift {w[n]!r}")
            elif n in COMPUTED_DOUBLES and s[n] != w[n]:
                inexact += 1
    return diffs, len(srows), len(wrows), inexact


def main(argv):
    a = parse_args(argv)
    tables = a.table or TABLES
    for root in a.tables:
        if not os.path.isdir(root):
            raise MergeError(f"no table root at {root}")
    started = time.monotonic()
    spark = session(a.master, a.small_input)
    session_seconds = time.monotonic() - started
    results, failed = [], False
    try:
        for root in a.tables:
            for table in tables:
                t0 = time.monotonic()
                df, inputs = merge(spark, root, a.partition, table)
                entry = {"tables": root, "table": table, **inputs}
                if a.out:
                    entry["written"] = write(spark, df, a.out, a.partition, table)
                if a.compare:
                    diffs, n_spark, n_swift, inexact = compare(spark, root, a.partition, table, df, a.rel_tol)
                    entry.update(spark_rows=n_spark, swift_rows=n_swift, difference_count=len(diffs),
                                 differences=diffs[:MAX_LISTED], doubles_within_tolerance_not_identical=inexact)
                    failed |= bool(diffs)
                entry["seconds"] = round(time.monotonic() - t0, 3)
                results.append(entry)
                status = ("written" if not a.compare else
                          "equal" if not entry["difference_count"] else f"{entry['difference_count']} DIFFERENCES")
                rows = entry.get("spark_rows")
                print(f"{table:15} {root}: {status}{'' if rows is None else f' ({rows} rows)'}"
                      f"{' -> ' + entry['written'] if 'written' in entry else ''}", flush=True)
                for d in entry.get("differences", []):
                    print(f"    {d}")
    finally:
        spark.stop()
        if a.out:
            try:
                os.rmdir(os.path.join(a.out, ".staging"))
            except OSError:
                pass  # absent, or holds a failed table's staging files worth looking at
    summary = {"results": results, "session_seconds": round(session_seconds, 3),
               "total_seconds": round(time.monotonic() - started, 3), "rel_tol": a.rel_tol}
    if a.report:
        with open(a.report, "w") as f:
            json.dump(summary, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except MergeError as e:
        print(f"run_merge: {e}", file=sys.stderr)
        sys.exit(2)
    except Exception:  # a Spark or I/O failure: loud, and never mistaken for "differences" (1)
        import traceback
        traceback.print_exc()
        print("run_merge: failed", file=sys.stderr)
        sys.exit(2)
