"""Parquet for `/api/v1/export/{what}?format=parquet`: one row group per page, streamed.

pyarrow is an extra (`pip install 'basir[parquet]'`), imported only when Parquet is asked for;
without it the request is refused (`export.parquet_unavailable`) and nothing else changes.
Columns are the export's own: whole numbers as int64, nested values as JSON text, the rest as
text, so every page has the same schema and a reader sees one table.
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import AsyncIterator
from typing import Any

from basir.errors import BasirError
from basir.i18n import _

INT_COLUMNS = frozenset({"version", "priority", "attempts"})

# pyarrow's allocator: the system's, not its default mimalloc, which keeps what each row group
# freed (a 200,000-event export grew the process by 28 MB instead of 18; bench/export_bench.py).
# Read once, when pyarrow is first imported, which this module never does before an export;
# the server uses pyarrow for nothing else, and a value set by the operator is kept.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


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


async def as_parquet(
    pages: AsyncIterator[list[tuple[Any, ...]]], columns: tuple[str, ...]
) -> AsyncIterator[bytes]:
    """A Parquet file written as the pages come: each page a row group, sent when written.

    A page is tuples in `columns` order; each row group is built from its columns (one
    `zip` per page, one array per column), never from a dict per row."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(c, pa.int64() if c in INT_COLUMNS else pa.string()) for c in columns])
    ints = [c in INT_COLUMNS for c in columns]
    sink = _Chunks()
    writer = pq.ParquetWriter(sink, schema, compression="zstd")
    try:
        async for page in pages:
            if not page:
                continue
            arrays = [
                pa.array(values if is_int else _text_column(values), type=field.type)
                for values, is_int, field in zip(zip(*page, strict=True), ints, schema, strict=True)
            ]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            chunk = sink.drain()
            if chunk:
                yield chunk
    finally:
        writer.close()
    yield sink.drain()
