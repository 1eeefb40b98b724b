"""docs/reference/rest.md lists every route of `/openapi.json`, with its methods and query names.

The reference is read the way a user reads it: every `` `METHOD /path?name=` `` it shows.
Paths under the "Under `/api/v1`" heading are written without the prefix.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI

REST_MD = Path(__file__).parents[3] / "docs" / "reference" / "rest.md"
ROUTE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s?]*)(\?[^`\s]*)?`")
PREFIX = "/api/v1"
# Rows of the "Planned" table: documented as not existing yet.
PLANNED_HEADING = "## Planned"


def _normal(path: str) -> str:
    """`/runs/{id}` and `/runs/{run_id}` are one route: parameters compare as `{}`."""
    return re.sub(r"\{[^}]*\}", "{}", path)


def _documented() -> tuple[dict[tuple[str, str], set[str]], set[tuple[str, str]]]:
    """(method, path) → query names shown, for existing routes; and the planned ones."""
    routes: dict[tuple[str, str], set[str]] = {}
    planned: set[tuple[str, str]] = set()
    prefixed = in_planned = False
    for line in REST_MD.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            prefixed = prefixed or line.startswith("## Under `/api/v1`")
            in_planned = line.startswith(PLANNED_HEADING)
        for method, path, query in ROUTE.findall(line):
            full = path if not prefixed or path.startswith(PREFIX) else PREFIX + path
            key = (method, _normal(full))
            if in_planned:
                planned.add(key)
                continue
            routes.setdefault(key, set()).update(re.findall(r"[?&]([a-z_]+)=", query))
    return routes, planned


def _openapi(app: FastAPI) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), _normal(path)): operation
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
    }


def _query_names(operation: dict[str, Any]) -> set[str]:
    return {p["name"] for p in operation.get("parameters", ()) if p.get("in") == "query"}


async def test_every_openapi_route_is_in_the_rest_reference_and_back(app: FastAPI) -> None:
    served = _openapi(app)
    documented, planned = _documented()
    assert sorted(set(served) - set(documented)) == []  # served but not documented
    assert sorted(set(documented) - set(served)) == []  # documented but not served
    assert planned and not planned & set(served)  # "planned" routes do not exist yet


async def test_query_names_in_the_reference_are_those_the_route_reads(app: FastAPI) -> None:
    served = _openapi(app)
    documented, _planned = _documented()
    wrong = {
        route: sorted(names - _query_names(served[route]))
        for route, names in documented.items()
        if route in served and names - _query_names(served[route])
    }
    assert wrong == {}
