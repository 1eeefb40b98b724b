"""Every API route refuses a query parameter it does not read (invariant 7)."""

from __future__ import annotations

import httpx
import pytest


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/workflows?stauts=failed",
        "/api/v1/schedules?workflw=nightly",
        "/api/v1/resources?verbose=1",
        "/healthz?probe=1",
    ],
)
async def test_an_unknown_query_parameter_is_refused_with_its_name(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "request.invalid"
    name = path.split("?", 1)[1].split("=", 1)[0]
    assert any(item["field"] == f"query.{name}" for item in problem["errors"])


async def test_declared_query_parameters_still_work(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/events/history?limit=5")).status_code == 200
    assert (await client.get("/api/v1/runs?limit=5&status=failed")).status_code == 200


async def test_an_unknown_query_parameter_is_refused_in_arabic(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/workflows?x=1", headers={"Accept-Language": "ar"})
    assert response.status_code == 422
    assert any("\u0600" <= ch <= "\u06ff" for ch in response.json()["detail"])
