#!/usr/bin/env python3
"""Reads Parquet files with Spark (pyspark local mode, one session for all files) and
prints one JSON document: each file's rows as normalize.py cells, and every WARN/ERROR
line the JVM logged while reading (startup noise before the first read is excluded).

Spark reads TIMESTAMP(NANOS) only with spark.sql.legacy.parquet.nanosAsLong=true (as
int64 nanoseconds); that setting is part of how Redline's tables are read by Spark.

usage: spark_check.py FILE...
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main(paths):
    # The JVM inherits fd 2; point it at a file so its log lines can be inspected.
    log = tempfile.NamedTemporaryFile(prefix="spark-check-", suffix=".log", delete=False)
    saved = os.dup(2)
    os.dup2(log.fileno(), 2)
    try:
        from pyspark.sql import SparkSession
        import normalize

        spark = (SparkSession.builder.master("local[1]").appName("redline-parquet-check")
                 .config("spark.ui.enabled", "false")
                 .config("spark.sql.legacy.parquet.nanosAsLong", "true")
                 .config("spark.sql.session.timeZone", "UTC")
                 .getOrCreate())
        spark.sparkContext.setLogLevel("WARN")
        os.fsync(log.fileno())
        startup_end = os.path.getsize(log.name)
        files = {}
        for p in paths:
            try:
                df = spark.read.parquet(p)
                rows = df.collect()
                names = df.columns
                files[p] = {
                    "schema": [{"name": f.name, "type": f.dataType.simpleString()} for f in df.schema.fields],
                    "values": {n: [normalize.cell(r[i]) for r in rows] for i, n in enumerate(names)},
                }
            except Exception as e:
                files[p] = {"error": f"{type(e).__name__}: {e}"}
        spark.stop()
    finally:
        os.dup2(saved, 2)
    with open(log.name, errors="replace") as f:
        f.seek(startup_end)
        lines = f.read().splitlines()
    os.unlink(log.name)
    warnings = [l for l in lines if " WARN " in l or " ERROR " in l]
    json.dump({"files": files, "warnings": warnings}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
