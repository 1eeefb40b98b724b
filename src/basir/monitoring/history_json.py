"""The body of `GET /api/v1/metrics/query`, written as bytes without a list per point.

A week of minutes is 10,080 `[start, value]` points per series: building a list for each
and handing them to `json` cost more than the rest of the request.  The points are written
straight from a series' buckets (`history_query.series_buckets`), with the same text as the
standard library's encoder gives (integers as `str`, finite floats as `repr`); a series with
a NaN or an infinity goes through `json` as before.
"""

from __future__ import annotations

import json
import math
from typing import Any

_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_POINT = "{},{!r}".format


def points_json(buckets: dict[int, float]) -> str:
    """`[[start,value],...]` of one series' buckets, in their order."""
    if not buckets:
        return "[]"
    values = buckets.values()
    if not all(map(math.isfinite, values)):
        return _ENCODE(list(map(list, buckets.items())))
    return "[[" + "],[".join(map(_POINT, buckets.keys(), values)) + "]]"


def query_body(
    head: dict[str, Any], series: list[tuple[dict[str, str], dict[int, float]]]
) -> bytes:
    """`head` (the query's own fields) with `"series"` last: `[{labels, points}, ...]`."""
    parts = [
        '{"labels":' + _ENCODE(labels) + ',"points":' + points_json(buckets) + "}"
        for labels, buckets in series
    ]
    return (_ENCODE(head)[:-1] + ',"series":[' + ",".join(parts) + "]}").encode()
