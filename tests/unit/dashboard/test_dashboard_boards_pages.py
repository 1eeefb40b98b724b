"""Custom dashboard pages: create, edit with errors beside fields, panel data, export/import."""

from __future__ import annotations

import json
import re
import time

from dashboard_helpers import Browser, csrf_of

from basir.store.memory import MemoryStore
from basir.store.records import MetricPoint

RUNS = "basir_runs_finished_total"
QUEUE = "basir_queue_depth"


async def _history(store: MemoryStore) -> float:
    now = time.time()
    await store.metrics_write(
        [
            MetricPoint(RUNS, '{"workflow":"a"}', 0, now - 120, 3.0),
            MetricPoint(RUNS, '{"workflow":"b"}', 0, now - 60, 5.0),
            MetricPoint(QUEUE, "{}", 0, now - 60, 2.0),
        ]
    )
    return now


def _panel_form(slot: int, **values: str) -> dict[str, str]:
    fields = {
        "metric": "",
        "chart": "line",
        "window": "1h",
        "step": "",
        "by": "",
        "title_en": "",
        "title_ar": "",
    }
    fields.update(values)
    return {f"p{slot}.{k}": v for k, v in fields.items()}


async def _create(client: object, name: str) -> str:
    page = await client.get("/dashboards")  # type: ignore[attr-defined]
    made = await client.post(  # type: ignore[attr-defined]
        "/dashboards", data={"csrf": csrf_of(page.text), "name": name, "visibility": "private"}
    )
    assert made.status_code == 303, made.text
    location = str(made.headers["location"])
    assert re.fullmatch(r"/dashboards/d[0-9a-f]{16}", location)
    return location


async def test_compose_a_dashboard_and_read_its_panels(
    browser: Browser, store: MemoryStore
) -> None:
    await _history(store)
    client = await browser("viewer")
    location = await _create(client, "Flow")
    page = await client.get(location)
    assert page.status_code == 200
    assert "This dashboard has no panels yet." in page.text
    assert f'<option value="{RUNS}"' in page.text
    form = {
        "csrf": csrf_of(page.text),
        "name": "Flow",
        "visibility": "private",
        **_panel_form(0, metric=RUNS, by="workflow", title_en="Finished", title_ar="المنتهية"),
        "p0.new": "1",
    }
    saved = await client.post(location, data=form)
    assert saved.status_code == 303, saved.text
    page = await client.get(location)
    assert 'data-chart="line"' in page.text and "Finished" in page.text
    for asset in ("boards.js", "boards.css"):
        assert f"/static/app/{asset}" in page.text
        assert (await client.get(f"/static/app/{asset}")).status_code == 200
    data = (await client.get(f"{location}/panels/0")).json()
    assert data["chart"] == "line" and data["series"] == ["workflow=a", "workflow=b"]
    assert len(data["time"]) == 2 and data["latest"] == [3.0, 5.0]
    assert (await client.get(f"{location}/panels/1")).status_code == 404
    arabic = await client.get(location, headers={"Accept-Language": "ar"})
    assert 'dir="rtl"' in arabic.text and "المنتهية" in arabic.text
    exported = await client.get(f"{location}/export")
    document = exported.json()
    assert document["format"] == "basir-dashboard/1" and document["name"] == "Flow"
    assert "attachment" in exported.headers["content-disposition"]
    listing = await client.get("/dashboards")
    files = {"file": ("board.json", json.dumps(document).encode(), "application/json")}
    imported = await client.post(
        "/dashboards/import", data={"csrf": csrf_of(listing.text)}, files=files
    )
    assert imported.status_code == 303
    assert imported.headers["location"] != location
    assert len(await store.kv_list("dashboard")) == 2


async def test_errors_are_shown_beside_their_fields_and_nothing_saved(
    browser: Browser, store: MemoryStore
) -> None:
    await _history(store)
    client = await browser("viewer")
    location = await _create(client, "Flow")
    before = await store.kv_list("dashboard")
    page = await client.get(location)
    form = {
        "csrf": csrf_of(page.text),
        "name": "",
        "visibility": "private",
        **_panel_form(0, metric=RUNS, window="30d", step="10s"),
        "p0.new": "1",
    }
    refused = await client.post(location, data=form, headers={"Accept-Language": "ar"})
    assert refused.status_code == 422
    assert 'id="board-name-error"' in refused.text and 'id="p0-step-error"' in refused.text
    assert 'aria-describedby="p0-step-error"' in refused.text
    assert await store.kv_list("dashboard") == before
    bad_file = {"file": ("x.json", b"{not json", "application/json")}
    listing = await client.get("/dashboards")
    answer = await client.post(
        "/dashboards/import", data={"csrf": csrf_of(listing.text)}, files=bad_file
    )
    assert answer.status_code == 422 and 'id="import-file-error"' in answer.text
    assert await store.kv_list("dashboard") == before


async def test_others_private_dashboards_stay_hidden_and_forms_need_csrf(
    browser: Browser, store: MemoryStore
) -> None:
    await _history(store)
    viewer = await browser("viewer")
    location = await _create(viewer, "Secret")
    operator = await browser("operator")
    assert (await operator.get(location)).status_code == 404
    assert "Secret" not in (await operator.get("/dashboards")).text
    assert (await operator.get(f"{location}/panels/0")).status_code == 404
    assert (await operator.get(f"{location}/export")).status_code == 404
    forged = await viewer.post(f"{location}/delete", data={"csrf": "nope"})
    assert forged.status_code == 403
    page = await viewer.get(location)
    deleted = await viewer.post(f"{location}/delete", data={"csrf": csrf_of(page.text)})
    assert deleted.status_code == 303
    assert await store.kv_list("dashboard") == []


async def test_an_empty_history_is_explained_and_a_panel_refused(browser: Browser) -> None:
    client = await browser("viewer")
    location = await _create(client, "Early")
    page = await client.get(location)
    assert 'id="no-metrics"' in page.text
    form = {
        "csrf": csrf_of(page.text),
        "name": "Early",
        **_panel_form(0, metric=RUNS),
        "p0.new": "1",
    }
    refused = await client.post(location, data=form)
    assert refused.status_code == 422 and 'id="p0-metric-error"' in refused.text
    assert "the history has no metric named basir_runs_finished_total" in refused.text
