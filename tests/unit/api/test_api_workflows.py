"""`/api/v1/workflows`: apply YAML or JSON, list, show, versions."""

from __future__ import annotations

import json

import httpx
from api_helpers import HELLO_YAML, ClientFactory, assert_problem

YAML = {"Content-Type": "application/yaml"}


async def test_apply_yaml_creates_version_1_then_is_idempotent(client: httpx.AsyncClient) -> None:
    first = await client.post("/api/v1/workflows", content=HELLO_YAML, headers=YAML)
    assert first.status_code == 201
    assert first.json() == {"name": "hello", "version": 1, "created": True}
    assert first.headers["location"] == "/api/v1/workflows/hello/versions/1"
    again = await client.post("/api/v1/workflows", content=HELLO_YAML, headers=YAML)
    assert again.status_code == 200
    assert again.json() == {"name": "hello", "version": 1, "created": False}


async def test_changed_spec_is_a_new_version(client: httpx.AsyncClient) -> None:
    await client.post("/api/v1/workflows", content=HELLO_YAML, headers=YAML)
    changed = HELLO_YAML.replace("default: world", "default: everyone")
    response = await client.post("/api/v1/workflows", content=changed, headers=YAML)
    assert response.status_code == 201
    assert response.json()["version"] == 2
    versions = (await client.get("/api/v1/workflows/hello/versions")).json()["items"]
    assert [v["version"] for v in versions] == [1, 2]
    latest = (await client.get("/api/v1/workflows/hello")).json()
    assert latest["version"] == 2
    assert latest["spec"]["params"]["who"]["default"] == "everyone"
    first = (await client.get("/api/v1/workflows/hello/versions/1")).json()
    assert first["spec"]["params"]["who"]["default"] == "world"
    assert first["description"] == {"en": "Say hello", "ar": "قل مرحبا"}


async def test_apply_json(client: httpx.AsyncClient) -> None:
    spec = {"name": "json-flow", "tasks": [{"id": "only", "uses": "noop"}]}
    response = await client.post("/api/v1/workflows", json=spec)
    assert response.status_code == 201
    listed = (await client.get("/api/v1/workflows")).json()["items"]
    assert [w["name"] for w in listed] == ["json-flow"]
    assert set(listed[0]) >= {"name", "version", "namespace", "spec_hash", "created_at"}


async def test_invalid_yaml_reports_each_issue_with_line_and_column(
    client: httpx.AsyncClient,
) -> None:
    text = "name: bad\ntasks:\n  - id: a\n    uses: noop\n    needs: [ghost]\n"
    response = await client.post("/api/v1/workflows", content=text, headers=YAML)
    problem = assert_problem(response, 422, "spec.invalid")
    [issue] = problem["errors"]
    assert issue["field"].startswith("tasks[0].needs")
    assert issue["code"] == "spec.unknown_need"
    assert issue["line"] == 5
    assert isinstance(issue["col"], int)


async def test_yaml_syntax_error(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/workflows", content="name: [oops", headers=YAML)
    problem = assert_problem(response, 422, "spec.invalid")
    assert problem["errors"][0]["code"] == "spec.yaml_syntax"


async def test_json_syntax_error(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/workflows", content='{"name": ', headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 422, "spec.invalid")


async def test_unsupported_media_type(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/workflows", content="name: x", headers={"Content-Type": "text/plain"}
    )
    assert_problem(response, 415, "request.unsupported_media_type")


async def test_not_utf8(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/v1/workflows", content=b"name: \xff\xfe", headers=YAML)
    assert_problem(response, 400, "request.malformed")


async def test_unknown_workflow_and_version_are_404(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/workflows/ghost"), 404, "workflow.not_found")
    assert_problem(await client.get("/api/v1/workflows/ghost/versions"), 404, "workflow.not_found")
    assert_problem(
        await client.get("/api/v1/workflows/ghost/versions/1"), 404, "workflow.not_found"
    )
    await client.post("/api/v1/workflows", content=HELLO_YAML, headers=YAML)
    problem = assert_problem(
        await client.get("/api/v1/workflows/hello/versions/7"), 404, "workflow.version_not_found"
    )
    assert "7" in problem["detail"]


async def test_bad_name_and_version_are_validation_errors(client: httpx.AsyncClient) -> None:
    problem = assert_problem(
        await client.get("/api/v1/workflows/BAD%20NAME"), 422, "request.invalid"
    )
    assert problem["errors"][0]["field"] == "path.name"
    problem = assert_problem(
        await client.get("/api/v1/workflows/hello/versions/0"), 422, "request.invalid"
    )
    assert problem["errors"][0]["field"] == "path.version"


async def test_viewer_reads_but_cannot_apply(make_client: ClientFactory) -> None:
    viewer = make_client("viewer")
    assert (await viewer.get("/api/v1/workflows")).status_code == 200
    response = await viewer.post("/api/v1/workflows", content=HELLO_YAML, headers=YAML)
    assert_problem(response, 403, "auth.forbidden")


async def test_operator_applies_and_is_recorded_as_creator(make_client: ClientFactory) -> None:
    operator = make_client("operator")
    response = await operator.post("/api/v1/workflows", content=HELLO_YAML, headers=YAML)
    assert response.status_code == 201
    shown = (await operator.get("/api/v1/workflows/hello")).json()
    assert shown["created_by"] == "operator"
    assert json.loads(json.dumps(shown["spec"]))["name"] == "hello"
