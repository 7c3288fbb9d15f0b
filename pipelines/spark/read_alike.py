"""Reads Redline table files with pyarrow, DuckDB and Spark and prints, per file and reader,
the row count and digests of every value (rows canonicalised and sorted, nulls as null), so a
test can check the three readers see the same table: `digest` with timestamps as int64 µs
(DuckDB reads TIMESTAMP(NANOS) at microseconds, as CrossReaderTests notes), `exact` with them
as int64 ns (pyarrow and Spark only).

usage: read_alike.py FILE.parquet [FILE.parquet ...]   (JSON on stdout)
"""
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def digest(rows, timestamps=(), micros=False):
    if micros:
        rows = [[v // 1000 if i in timestamps and v is not None else v for i, v in enumerate(r)] for r in rows]
    lines = sorted(json.dumps(r, sort_keys=False, default=repr) for r in rows)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def with_pyarrow(path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    t = pq.read_table(path, partitioning=None)
    cols = []
    for f, c in zip(t.schema, t.columns):
        if pa.types.is_timestamp(f.type):
            c = c.cast(pa.int64())
        cols.append(c.to_pylist())
    return [list(r) for r in zip(*cols)] if cols else []


def with_duckdb(path):
    import duckdb
    con = duckdb.connect()
    source = f"read_parquet('{path}', hive_partitioning = false)"
    rel = con.sql(f"SELECT * FROM {source}")
    exprs = [f'epoch_ns("{n}")' if "TIMESTAMP" in str(t) else f'"{n}"' for n, t in zip(rel.columns, rel.types)]
    return [list(r) for r in con.sql(f"SELECT {', '.join(exprs)} FROM {source}").fetchall()]


def with_spark(spark, path):
    def plain(v):
        return [plain(x) for x in v] if isinstance(v, list) else v
    return [[plain(v) for v in r] for r in spark.read.parquet(path).collect()]


def main():
    from run_merge import session
    spark = session(None, True)
    out = {}
    import pyarrow as pa
    import pyarrow.parquet as pq
    for path in sys.argv[1:]:
        out[path] = {}
        schema = pq.read_schema(path)
        ts = {i for i, f in enumerate(schema) if pa.types.is_timestamp(f.type)}
        for name, read in (("pyarrow", with_pyarrow), ("duckdb", with_duckdb), ("spark", lambda p: with_spark(spark, p))):
            rows = read(path)
            out[path][name] = {"rows": len(rows), "digest": digest(rows, ts, micros=True)}
            if name != "duckdb":
                out[path][name]["exact"] = digest(rows)
    spark.stop()
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
