#!/usr/bin/env python3
"""Reads Parquet files with pyarrow and DuckDB and prints, as one JSON document on
stdout, what each reader saw: values (normalize.py's cell encoding), schema, footer
metadata, per-chunk statistics, and the statistics pyarrow itself writes for the same
rows in the same row groups (so a test can compare Redline's statistics with pyarrow's).
Any exception or Python warning a reader raises is reported under "warnings"/"errors".

usage: parquet_check.py [--keep-rewrites DIR] FILE...
  --keep-rewrites DIR   keep pyarrow's rewrite of each FILE as DIR/<basename of FILE>
"""
import json
import os
import sys
import tempfile
import warnings

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import normalize  # noqa: E402


def raw_stat(v):
    """Statistics min_raw/max_raw (physical values) as cells."""
    return normalize.cell(v)


def chunk_stats(md):
    out = []
    for g in range(md.num_row_groups):
        rg = md.row_group(g)
        cols = []
        for c in range(rg.num_columns):
            col = rg.column(c)
            s = col.statistics
            if s is None:
                cols.append(None)
                continue
            cols.append({
                "null_count": s.null_count if s.has_null_count else None,
                "min": raw_stat(s.min_raw) if s.has_min_max else None,
                "max": raw_stat(s.max_raw) if s.has_min_max else None,
            })
        out.append({"num_rows": rg.num_rows, "columns": cols})
    return out


def pyarrow_view(path):
    pf = pq.ParquetFile(path)
    md = pf.metadata
    tbl = pf.read()
    kv = {k.decode(): v.decode() for k, v in (md.metadata or {}).items()}
    return tbl, {
        "num_rows": md.num_rows,
        "num_row_groups": md.num_row_groups,
        "created_by": md.created_by,
        "key_value_metadata": kv,
        "schema": [{"name": f.name, "type": str(f.type), "nullable": f.nullable} for f in tbl.schema],
        "parquet_schema": str(md.schema),
        "values": normalize.table(tbl),
        "statistics": chunk_stats(md),
        "encodings": [[list(md.row_group(g).column(c).encodings) for c in range(md.num_columns)]
                      for g in range(md.num_row_groups)],
    }


def pyarrow_rewrite_stats(tbl, row_groups, keep_as=None):
    """Statistics pyarrow writes for the same rows split into the same row groups."""
    with tempfile.TemporaryDirectory() as d:
        p = keep_as or os.path.join(d, "pyarrow.parquet")
        with pq.ParquetWriter(p, tbl.schema, compression="zstd") as w:
            start = 0
            for g in row_groups:
                n = g["num_rows"]
                w.write_table(tbl.slice(start, n), row_group_size=max(n, 1))
                start += n
        return chunk_stats(pq.ParquetFile(p).metadata)


def duckdb_view(path):
    con = duckdb.connect()
    tbl = con.execute("SELECT * FROM read_parquet(?)", [path]).fetch_arrow_table()
    return {
        "num_rows": tbl.num_rows,
        "schema": [{"name": f.name, "type": str(f.type)} for f in tbl.schema],
        "values": normalize.table(tbl),
    }


def main(args):
    keep = None
    if args[:1] == ["--keep-rewrites"]:
        keep, args = args[1], args[2:]
    paths = args
    result = {}
    for path in paths:
        entry = {"warnings": [], "errors": []}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                tbl, view = pyarrow_view(path)
                entry["pyarrow"] = view
                keep_as = os.path.join(keep, os.path.basename(path)) if keep else None
                entry["pyarrow_rewrite_statistics"] = pyarrow_rewrite_stats(tbl, view["statistics"], keep_as)
            except Exception as e:  # reported, so the test fails with the reader's message
                entry["errors"].append(f"pyarrow: {type(e).__name__}: {e}")
            try:
                entry["duckdb"] = duckdb_view(path)
            except Exception as e:
                entry["errors"].append(f"duckdb: {type(e).__name__}: {e}")
            entry["warnings"] += [f"{w.category.__name__}: {w.message}" for w in caught]
        result[path] = entry
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
