"""Turns Arrow arrays into JSON-safe, reader-neutral cell values, so that what pyarrow,
DuckDB and Spark read can be compared with what Redline's Swift writer wrote.

Cell encoding (the Swift tests produce the same from their ColumnData):
  null -> None; bool -> bool; any integer (incl. timestamps as ns since epoch in any
  unit the reader chose, and
  Spark's DECIMAL(20,0) for UINT64) -> decimal string; double -> its IEEE-754 bit
  pattern as an unsigned decimal string; text -> str; bytes -> "hex:<lowercase hex>";
  list -> JSON list of cells.
"""
import decimal
import struct

import pyarrow as pa


def double_bits(v):
    return str(struct.unpack("<Q", struct.pack("<d", v))[0])


def cell(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return double_bits(v)
    if isinstance(v, decimal.Decimal):
        return str(int(v))
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "hex:" + bytes(v).hex()
    if isinstance(v, str):
        return v
    if isinstance(v, (list, tuple)):
        return [cell(x) for x in v]
    raise TypeError(f"unexpected cell {type(v)}: {v!r}")


def column(arr):
    """JSON cells of an Arrow (chunked) array."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    t = arr.type
    if pa.types.is_timestamp(t):
        # Any unit to ns, so a reader that narrows to µs (DuckDB) stays comparable.
        return [cell(v) for v in arr.cast(pa.timestamp("ns", t.tz)).cast(pa.int64()).to_pylist()]
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t):
        vt = t.value_type
        if pa.types.is_timestamp(vt):
            arr = arr.cast(pa.list_(pa.timestamp("ns", vt.tz))).cast(pa.list_(pa.int64()))
        return [None if v is None else [cell(x) for x in v] for v in arr.to_pylist()]
    return [cell(v) for v in arr.to_pylist()]


def table(tbl):
    return {name: column(tbl.column(name)) for name in tbl.column_names}
