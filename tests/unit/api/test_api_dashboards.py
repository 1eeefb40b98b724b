"""`/api/v1/dashboards`: create, list, visibility per user and namespace, export/import, errors."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from basir.security import tokens
from basir.store.memory import MemoryStore
from basir.store.records import MetricPoint

RUNS = "basir_runs_finished_total"
QUEUE = "basir_queue_depth"


def _panel(**changes: Any) -> dict[str, Any]:
    return {
        "title": {"en": "Finished", "ar": "المنتهية"},
        "metric": RUNS,
        "chart": "line",
        "window": "1h",
        "step": "1m",
        "by": "workflow",
        **changes,
    }


@pytest.fixture
async def history(store: MemoryStore) -> None:
    """Two metrics in the history, so panels may name them."""
    now = time.time()
    await store.metrics_write(
        [
            MetricPoint(RUNS, '{"workflow":"a"}', 0, now - 120, 3.0),
            MetricPoint(RUNS, '{"workflow":"b"}', 0, now - 60, 5.0),
            MetricPoint(QUEUE, "{}", 0, now - 60, 2.0),
        ]
    )


async def _stored(store: MemoryStore) -> list[tuple[str, dict[str, Any]]]:
    return await store.kv_list("dashboard")


async def test_create_get_list_update_delete(make_client: Any, history: None) -> None:
    client: httpx.AsyncClient = make_client("viewer")
    body = {"name": "Mine", "panels": [_panel(), _panel(metric=QUEUE, chart="stat", by=None)]}
    made = await client.post("/api/v1/dashboards", json=body)
    assert made.status_code == 201, made.text
    board = made.json()
    assert board["owner"] == "viewer" and board["visibility"] == "private"
    assert board["namespace"] is None
    assert [p["metric"] for p in board["panels"]] == [RUNS, QUEUE]
    assert made.headers["location"] == f"/api/v1/dashboards/{board['id']}"
    got = await client.get(f"/api/v1/dashboards/{board['id']}")
    assert got.json() == board
    listed = await client.get("/api/v1/dashboards")
    assert [d["id"] for d in listed.json()["items"]] == [board["id"]]
    changed = await client.put(
        f"/api/v1/dashboards/{board['id']}", json={"name": "Renamed", "panels": [_panel()]}
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["name"] == "Renamed" and len(changed.json()["panels"]) == 1
    assert changed.json()["created_at"] == board["created_at"]
    gone = await client.delete(f"/api/v1/dashboards/{board['id']}")
    assert gone.status_code == 204
    missing = await client.get(f"/api/v1/dashboards/{board['id']}")
    assert missing.status_code == 404 and missing.json()["code"] == "dashboard.not_found"


async def test_private_is_the_owners_and_shared_is_everyones(
    make_client: Any, history: None, store: MemoryStore
) -> None:
    await tokens.create_user(store, "other", ["viewer"])
    other = make_client(
        None, headers={"Authorization": f"Bearer {await tokens.issue_token(store, 'other')}"}
    )
    viewer, operator = make_client("viewer"), make_client("operator")
    private = (await viewer.post("/api/v1/dashboards", json={"name": "Private"})).json()
    shared = await operator.post(
        "/api/v1/dashboards",
        json={"name": "Team", "visibility": "shared", "namespace": "ops", "panels": [_panel()]},
    )
    assert shared.status_code == 201, shared.text
    shared_id = shared.json()["id"]
    assert [d["name"] for d in (await other.get("/api/v1/dashboards")).json()["items"]] == ["Team"]
    assert (await other.get(f"/api/v1/dashboards/{private['id']}")).status_code == 404
    assert (await other.delete(f"/api/v1/dashboards/{private['id']}")).status_code == 404
    names = [d["name"] for d in (await viewer.get("/api/v1/dashboards")).json()["items"]]
    assert names == ["Private", "Team"]
    in_ops = await viewer.get("/api/v1/dashboards", params={"namespace": "ops"})
    assert [d["name"] for d in in_ops.json()["items"]] == ["Team"]
    assert (await viewer.get("/api/v1/dashboards", params={"namespace": "dev"})).json() == {
        "items": []
    }
    # A viewer may neither share nor change a shared dashboard.
    refused = await viewer.post("/api/v1/dashboards", json={"name": "X", "visibility": "shared"})
    assert refused.status_code == 403 and refused.json()["code"] == "dashboard.share_forbidden"
    edit = await viewer.put(f"/api/v1/dashboards/{shared_id}", json={"name": "Mine now"})
    assert edit.status_code == 403 and edit.json()["code"] == "dashboard.edit_forbidden"
    assert (await viewer.delete(f"/api/v1/dashboards/{shared_id}")).status_code == 403
    # The admin (another operator) may change the shared one but not make it private.
    admin = make_client("admin")
    took = await admin.put(f"/api/v1/dashboards/{shared_id}", json={"name": "Mine"})
    assert took.status_code == 403
    renamed = await admin.put(
        f"/api/v1/dashboards/{shared_id}",
        json={"name": "Team 2", "visibility": "shared", "namespace": "ops"},
    )
    assert renamed.status_code == 200 and renamed.json()["owner"] == "operator"
    assert len(await _stored(store)) == 2


async def test_export_import_round_trip(make_client: Any, history: None) -> None:
    client = make_client("operator")
    body = {"name": "Ops", "visibility": "shared", "panels": [_panel(), _panel(chart="bar")]}
    board = (await client.post("/api/v1/dashboards", json=body)).json()
    assert board["namespace"] == "default"
    exported = await client.get(f"/api/v1/dashboards/{board['id']}/export")
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    document = exported.json()
    assert document == {"format": "basir-dashboard/1", "name": "Ops", "panels": board["panels"]}
    imported = await make_client("viewer").post("/api/v1/dashboards/import", json=document)
    assert imported.status_code == 201, imported.text
    copy = imported.json()
    assert copy["id"] != board["id"] and copy["owner"] == "viewer"
    assert copy["visibility"] == "private" and copy["panels"] == board["panels"]


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"name": ""}, "body.name", "dashboard.bad_text"),
        ({"name": "x" * 81}, "body.name", "dashboard.too_long"),
        ({"name": "n", "panels": [_panel()] * 25}, "body.panels", "dashboard.too_many_panels"),
        (
            {"name": "n", "panels": [_panel(metric="basir_nope")]},
            "body.panels[0].metric",
            "dashboard.unknown_metric",
        ),
        (
            {"name": "n", "panels": [_panel(chart="pie")]},
            "body.panels[0].chart",
            "dashboard.unknown_chart",
        ),
        (
            {"name": "n", "panels": [_panel(window="31d")]},
            "body.panels[0].window",
            "dashboard.bad_window",
        ),
        (
            {"name": "n", "panels": [_panel(window="30d", step="10s")]},
            "body.panels[0].step",
            "dashboard.too_many_points",
        ),
        ({"name": "n", "panels": [_panel(by="1x")]}, "body.panels[0].by", "dashboard.bad_label"),
        ({"name": "n", "colour": "red"}, "body.colour", "dashboard.unknown_field"),
        ({"name": "n", "namespace": "ops"}, "body.namespace", "dashboard.bad_namespace"),
    ],
)
async def test_bad_input_is_refused_and_nothing_stored(
    make_client: Any, history: None, store: MemoryStore, body: Any, field: str, code: str
) -> None:
    answer = await make_client("operator").post(
        "/api/v1/dashboards", json=body, headers={"Accept-Language": "ar"}
    )
    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem["code"] == "dashboard.invalid"
    assert {"field": field, "code": code} in [
        {"field": e["field"], "code": e["code"]} for e in problem["errors"]
    ]
    assert any("\u0600" <= ch <= "\u06ff" for ch in problem["detail"])
    assert await _stored(store) == []


async def test_import_refuses_what_is_not_an_export(
    make_client: Any, history: None, store: MemoryStore
) -> None:
    client = make_client("viewer")
    wrong = await client.post("/api/v1/dashboards/import", json={"name": "x", "panels": []})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["code"] == "dashboard.bad_format"
    extra = await client.post(
        "/api/v1/dashboards/import",
        json={"format": "basir-dashboard/1", "name": "x", "visibility": "shared"},
    )
    assert extra.status_code == 422
    assert extra.json()["errors"][0]["code"] == "dashboard.unknown_field"
    listed = await client.post("/api/v1/dashboards/import", json=[1])
    assert listed.status_code == 422
    assert await _stored(store) == []


async def test_unknown_query_parameter_and_bad_id_are_refused(
    make_client: Any, history: None
) -> None:
    client = make_client("viewer")
    assert (await client.get("/api/v1/dashboards", params={"nmespace": "x"})).status_code == 422
    assert (await client.get("/api/v1/dashboards/nope")).status_code == 422
    assert (await make_client(None).get("/api/v1/dashboards")).status_code == 401


async def test_private_dashboards_per_user_are_limited(
    make_client: Any, history: None, store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from basir.boards import service

    monkeypatch.setattr(service, "MAX_PRIVATE_PER_USER", 2)
    client = make_client("viewer")
    for name in ("one", "two"):
        assert (await client.post("/api/v1/dashboards", json={"name": name})).status_code == 201
    refused = await client.post("/api/v1/dashboards", json={"name": "three"})
    assert refused.status_code == 413 and refused.json()["code"] == "dashboard.limit"
    exported = {"format": "basir-dashboard/1", "name": "four", "panels": []}
    again = await client.post("/api/v1/dashboards/import", json=exported)
    assert again.status_code == 413
    assert len(await _stored(store)) == 2
    other = await make_client("operator").post("/api/v1/dashboards", json={"name": "mine"})
    assert other.status_code == 201
