"""Every error is RFC 9457 problem+json with a stable code, localised by Accept-Language."""

from __future__ import annotations

import re

import httpx
import pytest
from api_helpers import ClientFactory, assert_problem

from basir.api.problems import field_path
from basir.store.memory import MemoryStore

ARABIC = re.compile(r"[\u0600-\u06FF]")


async def test_unknown_route_is_404_problem(client: httpx.AsyncClient) -> None:
    problem = assert_problem(await client.get("/api/v1/nothing-here"), 404, "route.not_found")
    assert problem["instance"] == "/api/v1/nothing-here"
    assert problem["title"] == "Not found"
    assert problem["type"] == "urn:basir:problem:route.not_found"
    assert problem["errors"] == []


async def test_wrong_method_is_405_problem(client: httpx.AsyncClient) -> None:
    response = await client.delete("/api/v1/workflows")
    problem = assert_problem(response, 405, "method.not_allowed")
    assert "DELETE" in problem["detail"]
    assert "allow" in response.headers


async def test_validation_errors_name_each_field(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/runs", params={"limit": "many", "status": "sleepy"})
    problem = assert_problem(response, 422, "request.invalid")
    fields = {item["field"]: item["message"] for item in problem["errors"]}
    assert fields["query.limit"] == "must be a whole number"
    assert "query.status" in fields
    assert problem["detail"] == "the request has 2 invalid fields"


async def test_body_validation_errors(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/decisions", json={"decision_id": "d1", "workflow": "w", "extra": 1}
    )
    problem = assert_problem(response, 422, "request.invalid")
    assert {"field": "body.extra", "message": "unknown field"} in problem["errors"]


async def test_malformed_json_body(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/decisions", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    problem = assert_problem(response, 422, "request.invalid")
    assert problem["errors"][0]["message"] == "the body is not valid JSON"


async def test_arabic_detail_and_title(make_client: ClientFactory) -> None:
    client = make_client("admin", headers={"Accept-Language": "ar-SA,ar;q=0.9,en;q=0.5"})
    response = await client.get("/api/v1/runs/ghost")
    problem = assert_problem(response, 404, "run.not_found")
    assert ARABIC.search(problem["detail"]), problem["detail"]
    assert ARABIC.search(problem["title"])
    assert "ghost" in problem["detail"]
    assert response.headers["content-language"] == "ar"


async def test_arabic_validation_messages(make_client: ClientFactory) -> None:
    client = make_client("admin", headers={"Accept-Language": "ar"})
    problem = assert_problem(await client.get("/api/v1/runs?limit=0"), 422, "request.invalid")
    assert problem["errors"][0]["field"] == "query.limit"
    assert ARABIC.search(problem["errors"][0]["message"])
    assert ARABIC.search(problem["detail"])


async def test_arabic_401_and_route_404(make_client: ClientFactory) -> None:
    anonymous = make_client(None, headers={"Accept-Language": "ar"})
    problem = assert_problem(await anonymous.get("/api/v1/runs"), 401, "auth.unauthorized")
    assert ARABIC.search(problem["detail"])
    problem = assert_problem(await anonymous.get("/nope"), 404, "route.not_found")
    assert ARABIC.search(problem["detail"])


async def test_english_is_the_default(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/runs/ghost")
    assert response.headers["content-language"] == "en"
    assert response.json()["detail"] == "no run with id ghost"


async def test_unexpected_error_is_500_problem_without_internals(
    make_client: ClientFactory, store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(run_id: str) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(store, "get_run", broken)
    client = make_client("admin", raise_app_exceptions=False, headers={"Accept-Language": "ar"})
    response = await client.get("/api/v1/runs/abc")
    problem = assert_problem(response, 500, "internal.error")
    assert "secret" not in response.text
    assert ARABIC.search(problem["detail"])


async def test_lost_store_race_is_409(
    client: httpx.AsyncClient, store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from basir.store.base import ConflictError

    async def racing(run_id: str) -> None:
        raise ConflictError("lost")

    monkeypatch.setattr(store, "get_run", racing)
    assert_problem(await client.get("/api/v1/runs/abc"), 409, "state.conflict")


def test_field_paths() -> None:
    assert field_path(("body", "tasks", 2, "needs", 0)) == "body.tasks[2].needs[0]"
    assert field_path(()) == ""
