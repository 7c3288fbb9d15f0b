#!/usr/bin/env python3
"""Runs the Spark SQL merge definitions (merge_<table>.sql, generated from the table
declarations by Sources/Pipeline/MergeSQL.swift) in DuckDB.

The definitions are written in Spark SQL. DuckDB needs a handful of spellings changed, listed
in DUCKDB_SPELLINGS below (and in README.md); nothing else — the grouping, the window
functions, the quantile rule and the arithmetic are the same text. Every listed rewrite must
apply exactly where expected, so an edit of the SQL that the translation no longer covers
fails here instead of producing a different query.

usage: duckdb_merge.py --tables DIR [--tables DIR ...] --partition date=YYYY-MM-DD/hour=HH
                       [--compare] [--out DIR] [--table NAME ...] [--rel-tol X]

--compare checks the result row for row against the Swift merged files (as run_merge.py does)
and exits 1 on any difference; --out writes DIR/<table>/date=D/hour=HH/part-00000.parquet with
DuckDB's COPY (zstd). Errors exit 2.
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run_merge import TABLES, COMPUTED_DOUBLES, MAX_LISTED, MergeError, merge_sql, same  # noqa: E402

# (Spark spelling, DuckDB spelling, how many times it occurs in the SQL of a table with a
# latency histogram; 0 elsewhere, except where the count is given as a pair (histogram, other)).
DUCKDB_SPELLINGS = [
    # posexplode as a lateral join: DuckDB's generate_subscripts is 1-based, positions are 0-based.
    ("LATERAL VIEW posexplode(p.latency_counts) b AS pos, n",
     "CROSS JOIN LATERAL (SELECT generate_subscripts(p.latency_counts, 1) - 1 AS pos,"
     " unnest(p.latency_counts) AS n) b", 1),
    # Arithmetic right shift: DuckDB's >> on signed integers is arithmetic, like Spark's shiftright.
    ("shiftright(p.latency_offset + b.pos, p.latency_scale - t.latency_scale)",
     "((p.latency_offset + b.pos) >> (p.latency_scale - t.latency_scale))", 1),
    # collect_list(struct(...)) is list(row(...)); map_from_entries and map[key] are the same.
    ("collect_list(struct(idx, n))", "list(row(idx, n))", 1),
    # sequence (inclusive) is generate_series; transform is list_transform.
    ("transform(sequence(d.first_index, d.last_index),", "list_transform(generate_series(d.first_index, d.last_index),", 1),
    ("CAST(array() AS ARRAY<BIGINT>)", "CAST([] AS BIGINT[])", 1),
    # An inline table is a parenthesised VALUES list.
    ("SELECT * FROM VALUES ", "SELECT * FROM (VALUES ", 1),
    ("\n    AS levels(q, name)", ") AS levels(q, name)", 1),
    # The group key: struct(a, b) names its fields after the columns, like struct_pack(a, b).
    ("struct(", "struct_pack(", (1, 1)),
]


def to_duckdb(sql, table):
    histogram = "latency_counts" in sql
    for spark, duck, times in DUCKDB_SPELLINGS:
        expected = times[0 if histogram else 1] if isinstance(times, tuple) else (times if histogram else 0)
        if sql.count(spark) != expected:
            raise MergeError(f"merge_{table}.sql: expected {expected}× {spark!r}, found {sql.count(spark)}")
        sql = sql.replace(spark, duck)
    return sql


def main(argv):
    p = argparse.ArgumentParser(description="Run the merge SQL in DuckDB.")
    p.add_argument("--tables", action="append", required=True, metavar="DIR")
    p.add_argument("--partition", required=True)
    p.add_argument("--compare", action="store_true")
    p.add_argument("--out", metavar="DIR")
    p.add_argument("--table", action="append", choices=TABLES)
    p.add_argument("--rel-tol", type=float, default=1e-12)
    a = p.parse_args(argv)
    if not a.compare and not a.out:
        p.error("nothing to do: give --out DIR, --compare, or both")
    if a.out and len(a.tables) != 1:
        p.error("--out takes exactly one --tables root")
    import duckdb
    failed = False
    for root in a.tables:
        for table in a.table or TABLES:
            con = duckdb.connect()
            con.execute("SET TimeZone = 'UTC'")
            src = os.path.join(root, "partials", table, a.partition)
            if not os.path.isdir(src):
                raise MergeError(f"{table}: no partials at {src}")
            con.execute(f"CREATE VIEW partials AS SELECT * FROM read_parquet("
                        f"'{src}/host=*/*.parquet', hive_partitioning = true)")
            sql = to_duckdb(merge_sql(table), table)
            swift_path = os.path.join(root, table, a.partition, "part-00000.parquet")
            # DuckDB sums BIGINT into HUGEINT: cast every column back to the merged file's type.
            types = con.execute(f"DESCRIBE SELECT * FROM read_parquet('{swift_path}', hive_partitioning = false)").fetchall()
            casts = ", ".join(f'CAST("{name}" AS {typ}) AS "{name}"' for name, typ, *_ in types)
            con.execute(f"CREATE VIEW merged AS SELECT {casts} FROM ({sql}) m")
            line = f"{table:15} {root}:"
            if a.out:
                final_dir = os.path.join(a.out, table, a.partition)
                os.makedirs(final_dir, exist_ok=True)
                tmp = os.path.join(final_dir, f".part-00000.parquet.{os.getpid()}")
                con.execute(f"COPY (SELECT * FROM merged) TO '{tmp}' (FORMAT parquet, COMPRESSION zstd)")
                os.replace(tmp, os.path.join(final_dir, "part-00000.parquet"))
                line += " written"
            if a.compare:
                got = con.execute("SELECT * FROM merged").fetchall()
                names = [d[0] for d in con.description]
                want = con.execute(f"SELECT * FROM read_parquet('{swift_path}', hive_partitioning = false)").fetchall()
                diffs = [] if len(got) == len(want) else [f"row count: duckdb {len(got)} vs swift {len(want)}"]
                for i, (g, w) in enumerate(zip(got, want)):
                    for n, x, y in zip(names, g, w):
                        if not same(x, y, n, a.rel_tol):
                            diffs.append(f"row {i} column {n}: duckdb {x!r} vs swift {y!r}")
                failed |= bool(diffs)
                line += f" {'equal' if not diffs else f'{len(diffs)} DIFFERENCES'} ({len(got)} rows)"
                print(line)
                for d in diffs[:MAX_LISTED]:
                    print(f"    {d}")
            else:
                print(line)
            con.close()
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except MergeError as e:
        print(f"duckdb_merge: {e}", file=sys.stderr)
        sys.exit(2)
    except Exception:
        import traceback
        traceback.print_exc()
        print("duckdb_merge: failed", file=sys.stderr)
        sys.exit(2)
