"""The Parquet writer of `/api/v1/export/{what}`: few large row groups, dictionaries only
where values repeat, and the rows read back as given."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from typing import Any

import pyarrow.parquet as pq

from basir.api.export_parquet import ROW_GROUP_MAX_BYTES, ROW_GROUP_ROWS, as_parquet

COLUMNS = ("id", "type", "attempts", "data")
PAGE_ROWS = 2000


def row(i: int) -> tuple[Any, ...]:
    return (str(i), "task.succeeded" if i % 2 else "task.failed", i % 3, json.dumps({"n": i}))


async def pages(count: int) -> AsyncIterator[list[tuple[Any, ...]]]:
    for start in range(0, count, PAGE_ROWS):
        yield [row(i) for i in range(start, min(start + PAGE_ROWS, count))]


async def written(count: int) -> bytes:
    return b"".join([chunk async for chunk in as_parquet(pages(count), COLUMNS)])


async def test_pages_are_gathered_into_few_row_groups() -> None:
    """The writer keeps each row group's metadata until the footer: a row group per
    2,000-row page made a million-event export grow the process by ~5 MB."""
    count = 2 * ROW_GROUP_ROWS + 3 * PAGE_ROWS
    meta = pq.read_metadata(io.BytesIO(await written(count)))
    assert meta.num_rows == count
    assert meta.num_row_groups == 3
    assert [meta.row_group(i).num_rows for i in range(3)] == [
        ROW_GROUP_ROWS,
        ROW_GROUP_ROWS,
        3 * PAGE_ROWS,
    ]


async def test_rows_read_back_as_given() -> None:
    count = ROW_GROUP_ROWS + 7
    table = pq.read_table(io.BytesIO(await written(count)))
    assert table.column_names == list(COLUMNS)
    assert [tuple(r.values()) for r in table.to_pylist()] == [row(i) for i in range(count)]


async def test_only_repeating_columns_get_a_dictionary() -> None:
    """Unique text in a dictionary only grows it to its limit and made the file ~3x larger."""
    column = pq.read_metadata(io.BytesIO(await written(PAGE_ROWS))).row_group(0).column
    encodings = {column(i).path_in_schema: column(i).encodings for i in range(len(COLUMNS))}
    assert "RLE_DICTIONARY" in encodings["type"]
    assert "RLE_DICTIONARY" in encodings["attempts"]
    assert "RLE_DICTIONARY" not in encodings["id"]
    assert "RLE_DICTIONARY" not in encodings["data"]


async def test_an_empty_export_is_a_file_with_the_columns() -> None:
    table = pq.read_table(io.BytesIO(await written(0)))
    assert table.num_rows == 0 and table.column_names == list(COLUMNS)


async def test_wide_rows_make_smaller_row_groups() -> None:
    """20,000 rows of 1 KB would hold 20 MB before writing: the bytes bound it too."""
    wide = "x" * 1024

    async def wide_pages() -> AsyncIterator[list[tuple[Any, ...]]]:
        for start in range(0, ROW_GROUP_ROWS, PAGE_ROWS):
            yield [(str(i), "t", 0, wide) for i in range(start, start + PAGE_ROWS)]

    data = b"".join([chunk async for chunk in as_parquet(wide_pages(), COLUMNS)])
    meta = pq.read_metadata(io.BytesIO(data))
    assert meta.num_rows == ROW_GROUP_ROWS and meta.num_row_groups > 1
    groups = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert max(groups) * 1024 <= ROW_GROUP_MAX_BYTES + PAGE_ROWS * 1100
