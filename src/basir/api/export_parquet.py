"""Parquet for `/api/v1/export/{what}?format=parquet`: row groups of 20,000 rows, streamed.

pyarrow is an extra (`pip install 'basir[parquet]'`), imported only when Parquet is asked for;
without it the request is refused (`export.parquet_unavailable`) and nothing else changes.
Columns are the export's own: whole numbers as int64, a metric's value as float64, nested
values as JSON text, the rest as text, so every page has the same schema and a reader sees
one table.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import importlib.util
import json
import os
from collections.abc import AsyncIterator
from typing import Any

from basir.errors import BasirError
from basir.i18n import _

INT_COLUMNS = frozenset({"version", "priority", "attempts", "resolution_s"})
FLOAT_COLUMNS = frozenset({"value"})  # a metric point's value
# Rows per row group: what the writer holds before it writes (a few MB of Arrow data) against
# the metadata it keeps per row group until the footer.  See `as_parquet`.
ROW_GROUP_ROWS = 20_000
# ... or fewer when the rows are wide (long errors, audit details): what is held stays bounded.
ROW_GROUP_MAX_BYTES = 8 * 1024 * 1024
# A column gets a dictionary when its first page has at most one distinct value in this many.
DICTIONARY_MAX_DISTINCT_SHARE = 4

# pyarrow's allocator: the system's, not its default mimalloc, which keeps what each row group
# freed (a 200,000-event export grew the process by 28 MB instead of 18; bench/export_bench.py).
# Read once, when pyarrow is first imported, which this module never does before an export;
# the server uses pyarrow for nothing else, and a value set by the operator is kept.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@functools.cache
def _malloc_trim() -> Any:
    """glibc's `malloc_trim`, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    return getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None


def release_freed_memory() -> None:
    """Give the heap's free pages back to the system.  A row group's buffers are large and
    freed at once; glibc keeps them in its arenas, so without this the process still grew
    with the rows (by ~6 MB over a million events) though what it used stayed flat."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def check_parquet_available() -> None:
    """Refuse Parquet, before anything is streamed, when pyarrow is not installed."""
    if importlib.util.find_spec("pyarrow") is None:
        raise BasirError(
            "export.parquet_unavailable",
            _("Parquet export needs pyarrow: install basir[parquet]"),
        )


class _Chunks:
    """A write-only file for pyarrow that keeps what was written until it is drained."""

    closed = False

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None

    def close(self) -> None:
        self.closed = True

    def writable(self) -> bool:
        return True

    def drain(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return _ENCODE(value) if isinstance(value, dict | list) else str(value)


def _text_column(values: tuple[Any, ...]) -> Any:
    """A column of text cells as given when every cell is text or null (the usual case: a
    C-level check), else each converted."""
    if all(type(v) is str or v is None for v in values):
        return values
    return [_text(v) for v in values]


def _arrow_type(pa: Any, column: str) -> Any:
    if column in INT_COLUMNS:
        return pa.int64()
    return pa.float64() if column in FLOAT_COLUMNS else pa.string()


def _dictionary_columns(page: list[tuple[Any, ...]], columns: tuple[str, ...]) -> list[str]:
    """The columns worth a dictionary, judged on the first page: those whose values repeat
    (a type, a status, a workflow).  Unique text (ids, times, data) is written plain: a
    dictionary of it only grows to its limit and falls back, and the file is ~3x larger."""
    width = len(page)
    return [
        name
        for name, values in zip(columns, zip(*page, strict=True), strict=True)
        if len(set(values)) * DICTIONARY_MAX_DISTINCT_SHARE <= width
    ]


async def as_parquet(
    pages: AsyncIterator[list[tuple[Any, ...]]], columns: tuple[str, ...]
) -> AsyncIterator[bytes]:
    """A Parquet file written as the pages come: pages are gathered into row groups of
    `ROW_GROUP_ROWS`, each sent when written.

    A page is tuples in `columns` order; it becomes an Arrow table from its columns (one
    `zip` per page, one array per column), never from a dict per row.  Row groups are large
    because the writer keeps every row group's metadata (~7 KB for 7 columns) until the
    footer: with a row group per 2,000-row page, a million events grew the process by ~5 MB."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(c, _arrow_type(pa, c)) for c in columns])
    ints = [c in INT_COLUMNS or c in FLOAT_COLUMNS for c in columns]
    sink = _Chunks()
    writer: Any = None
    held: list[Any] = []  # the Arrow tables of the row group being gathered
    held_rows = held_bytes = 0
    try:
        async for page in pages:
            if not page:
                continue
            if writer is None:
                writer = pq.ParquetWriter(
                    sink,
                    schema,
                    compression="zstd",
                    use_dictionary=_dictionary_columns(page, columns),
                )
            arrays = [
                pa.array(values if is_int else _text_column(values), type=field.type)
                for values, is_int, field in zip(zip(*page, strict=True), ints, schema, strict=True)
            ]
            table = pa.Table.from_arrays(arrays, schema=schema)
            held.append(table)
            held_rows += table.num_rows
            held_bytes += table.nbytes
            del page, arrays, table
            if held_rows >= ROW_GROUP_ROWS or held_bytes >= ROW_GROUP_MAX_BYTES:
                writer.write_table(pa.concat_tables(held), row_group_size=held_rows)
                held.clear()
                held_rows = held_bytes = 0
                chunk = sink.drain()
                release_freed_memory()
                yield chunk
        if writer is None:  # no rows: a file with the schema and no row group
            writer = pq.ParquetWriter(sink, schema, compression="zstd")
        if held:
            writer.write_table(pa.concat_tables(held), row_group_size=held_rows)
            held.clear()
    finally:
        if writer is not None:
            writer.close()
    yield sink.drain()
