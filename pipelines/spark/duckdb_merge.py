#!/usr/bin/env python3
"""Runs the DuckDB spelling of the merge definitions (merge_<table>.duckdb.sql).

Both spellings are generated from the table declarations (Sources/Pipeline/MergeSQL.swift,
`redline dev table-schemas --sql pipelines/spark`): the grouping, the window functions, the
quantile rule and the arithmetic are the same; only a few functions are spelled differently.

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
from run_merge import TABLES, COMPUTED_DOUBLES, MAX_LISTED, MergeError, same  # noqa: E402

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
            with open(os.path.join(HERE, f"merge_{table}.duckdb.sql")) as f:
                sql = f.read()
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
