"""The overview, workflows and runs pages, the run form and the run controls, in process."""

from __future__ import annotations

import asyncio
import html
import re
import time

from dashboard_helpers import Browser, csrf_of
from fastapi import FastAPI

from basir.coordinator.workflows import apply_workflow
from basir.engine.runtime import Engine
from basir.spec.validate import load_workflow
from basir.store.records import AlertRecord, TaskRecord

RUN_URL = re.compile(r"^/runs/([0-9a-f]+)$")


async def _start(browser: Browser, workflow: str = "demo", **params: str) -> str:
    client = await browser("operator")
    page = await client.get(f"/workflows/{workflow}")
    form = {"csrf": csrf_of(page.text), **{f"param.{k}": v for k, v in params.items()}}
    answer = await client.post(f"/workflows/{workflow}/runs", data=form)
    assert answer.status_code == 303, answer.text
    found = RUN_URL.match(answer.headers["location"])
    assert found is not None
    return found.group(1)


async def _wait(engine: Engine, run_id: str, statuses: set[str]) -> None:
    """Until the run reaches one of `statuses`, woken by its events (no polling sleeps)."""
    with engine.bus.subscribe(lambda event: event.run_id == run_id) as subscription:
        while True:
            run = await engine.store.get_run(run_id)
            assert run is not None
            if run.status in statuses:
                return
            await asyncio.wait_for(subscription.get(), 10)


async def test_overview_shows_health_numbers_and_failures(browser: Browser, engine: Engine) -> None:
    client = await browser("viewer")
    page = await client.get("/")
    assert page.status_code == 200
    # Every component `/api/v1/health` judges, each with a reason.
    names = re.findall(r'<li class="h-(\w+)"><strong>([^<]+)</strong>', page.text)
    assert [name for _level, name in names] == [
        "Store", "Scheduler", "Workers", "Queues", "Alerts", "Disk",
    ]  # fmt: skip
    assert all(level == "ok" for level, name in names if name != "Disk")
    assert "Nothing is firing." in page.text
    assert page.text.count('<span class="reason"></span>') == 0
    assert 'id="kpi-running"' in page.text
    assert '<span class="n" id="kpi-success">—</span>' in page.text  # nothing ended yet
    assert 'sse-connect="/live?since=' in page.text
    live = await client.get("/?part=live")
    assert live.text.lstrip().startswith('<div id="overview-live"')
    assert "<html" not in live.text
    chart = (await client.get("/?part=chart")).json()
    assert len(chart["time"]) == len(chart["succeeded"]) == len(chart["failed"]) == 12


async def test_overview_lists_firing_alerts_and_turns_alerts_red(
    browser: Browser, engine: Engine
) -> None:
    now = time.time()
    alert = AlertRecord(
        id="run_failed.r9", rule="run_failed", state="firing", severity="error", workflow="demo",
        run_id="r9", fired_at=now, updated_at=now, data={"error": "boom"},
    )  # fmt: skip
    await engine.store.alert_put(alert)
    client = await browser("viewer")
    page = await client.get("/")
    assert 'data-alert="run_failed.r9"' in page.text and 'href="/runs/r9"' in page.text
    line = re.search(r'<li class="h-(\w+)"><strong>Alerts</strong>.*?</li>', page.text, re.S)
    assert line is not None and line.group(1) == "down"
    assert "1 alert firing, not acknowledged" in line.group(0)
    live = await client.get("/?part=live")
    assert 'data-alert="run_failed.r9"' in live.text


BROKEN = """
name: broken
tasks:
  - id: ok
    uses: noop
  - id: bad
    needs: [ok]
    run: exit 3
"""


async def test_recent_failures_say_which_task_failed_and_why_in_the_page_language(
    browser: Browser, engine: Engine
) -> None:
    await apply_workflow(engine.store, load_workflow(BROKEN), "tests")
    run_id = await _start(browser, "broken")
    await _wait(engine, run_id, {"failed"})
    page = await (await browser("viewer")).get("/")
    row = re.search(rf'<tr data-run="{run_id}">.*?</tr>', page.text, re.S)
    assert row is not None
    assert re.search(r'<td class="err">bad: exited with code 3\s*</td>', row.group(0))
    assert '<span class="n" id="kpi-success">0.0%</span>' in page.text
    # The error is kept as a message: an Arabic page shows it in Arabic, the run page too.
    arabic = await browser("viewer")
    arabic.cookies.set("basir_lang", "ar")
    page = await arabic.get("/")
    row = re.search(rf'<tr data-run="{run_id}">.*?</tr>', page.text, re.S)
    assert row is not None
    assert re.search(r'<td class="err">bad: انتهى برمز الخروج 3\s*</td>', row.group(0))
    tasks = await arabic.get(f"/runs/{run_id}?part=tasks")
    assert re.search(r'<td class="err">انتهى برمز الخروج 3\s*</td>', tasks.text)
    assert "exited with code" not in tasks.text
    english = await (await browser("viewer")).get(f"/runs/{run_id}?part=tasks")
    assert re.search(r'<td class="err">exited with code 3\s*</td>', english.text)


async def test_the_p95_scheduling_latency_comes_from_the_server_histogram(
    browser: Browser, app: FastAPI
) -> None:
    client = await browser("viewer")
    assert '<span class="n" id="kpi-latency">—</span>' in (await client.get("/")).text
    metrics = app.state.dashboard.metrics
    for _attempt in range(19):
        metrics.observe_schedule_latency(0.004)  # in the 2.5-5 ms bucket
    metrics.observe_schedule_latency(0.5)  # in the 0.25-1 s bucket
    page = await client.get("/?part=live")
    assert '<span class="n" id="kpi-latency">5 ms</span>' in page.text


YEARLY = """
name: yearly
on:
  schedule: [{cron: "0 3 1 1 *", timezone: Asia/Riyadh}]
tasks:
  - {id: a, uses: noop}
"""


async def test_workflows_list_shows_success_rate_and_next_scheduled_run(
    browser: Browser, engine: Engine
) -> None:
    await apply_workflow(engine.store, load_workflow(BROKEN), "tests")
    await apply_workflow(engine.store, load_workflow(YEARLY), "tests")
    for workflow in ("demo", "demo", "broken"):
        run_id = await _start(browser, workflow)
        await _wait(engine, run_id, {"succeeded", "failed"})
    page = (await (await browser("viewer")).get("/workflows")).text
    assert "Success (last 20 runs)" in page and "Next scheduled run" in page

    def row(name: str) -> str:
        found = re.search(rf'<tr>\s*<td><a href="/workflows/{name}">.*?</tr>', page, re.S)
        assert found is not None, name
        return found.group(0)

    assert '<td class="success">100.0%</td>' in row("demo")
    assert '<td class="success">0.0%</td>' in row("broken")
    assert '<td class="success">—</td>' in row("yearly")
    fire = re.search(r'<td class="next-fire"><time datetime="([^"]+)"', row("yearly"))
    assert fire is not None and fire.group(1).endswith("T03:00:00+03:00")
    assert '<td class="next-fire">—</td>' in row("demo")


async def test_workflows_list_and_page_in_both_languages(
    browser: Browser, role_tokens: dict[str, str]
) -> None:
    client = await browser("viewer")
    listing = await client.get("/workflows")
    assert 'href="/workflows/demo"' in listing.text
    assert "A demo" in listing.text
    page = await client.get("/workflows/demo")
    assert "A demo" in page.text
    assert '<span class="t-nt">name</span>' in page.text  # highlighted server-side
    assert 'id="run-form"' not in page.text  # a viewer may not start runs
    as_json = await client.get("/workflows/demo?format=json")
    assert '"name": "demo"' in html.unescape(re.sub(r"<[^>]+>", "", as_json.text))
    client.cookies.set("basir_lang", "ar")
    arabic = await client.get("/workflows/demo")
    assert "عرض تجريبي" in arabic.text
    assert (await client.get("/workflows/nope")).status_code == 404


async def test_the_run_form_shows_errors_beside_the_field(browser: Browser) -> None:
    client = await browser("operator")
    page = await client.get("/workflows/demo")
    assert 'id="param-count"' in page.text
    answer = await client.post(
        "/workflows/demo/runs", data={"csrf": csrf_of(page.text), "param.count": "many"}
    )
    assert answer.status_code == 422
    assert 'id="param-count-error"' in answer.text
    assert 'value="many"' in answer.text
    forged = await client.post("/workflows/demo/runs", data={"csrf": "x", "param.count": "1"})
    assert forged.status_code == 403


async def test_a_run_started_from_the_form_and_its_page(browser: Browser, engine: Engine) -> None:
    run_id = await _start(browser, count="7", loud="on")
    await _wait(engine, run_id, {"succeeded"})
    client = await browser("viewer")
    page = await client.get(f"/runs/{run_id}")
    assert page.status_code == 200
    assert 'data-task="hello"' in page.text
    assert "hi 7" in page.text  # the output of the echo task
    assert 'id="controls"' not in page.text
    graph = (await client.get(f"/runs/{run_id}/graph")).json()
    assert {n["id"]: n["status"] for n in graph["nodes"]} == {
        "hello": "succeeded",
        "after": "succeeded",
    }
    assert graph["edges"] == [["hello", "after"]]
    head = await client.get(f"/runs/{run_id}?part=head")
    assert head.text.lstrip().startswith('<section class="card" id="run-head"')
    tasks = await client.get(f"/runs/{run_id}?part=tasks")
    assert 'id="run-tasks"' in tasks.text
    assert tasks.status_code == 286 and "every 2s" not in tasks.text  # finished: no polling
    log = await client.get(f"/runs/{run_id}/tasks/hello/log", headers={"HX-Request": "true"})
    assert "<html" not in log.text
    full = await client.get(f"/runs/{run_id}/tasks/hello/log")
    assert "<html" in full.text
    assert (await client.get(f"/runs/{run_id}/tasks/nope/log")).status_code == 404
    assert (await client.get("/runs/nope1")).status_code == 404
    assert (await client.get("/runs/nope1/graph")).status_code == 404


async def test_runs_list_filters_and_pages(browser: Browser, engine: Engine) -> None:
    first = await _start(browser)
    await _wait(engine, first, {"succeeded"})
    client = await browser("viewer")
    listing = await client.get("/runs")
    assert first in listing.text
    only_failed = await client.get("/runs?status=failed")
    assert first not in only_failed.text
    table = await client.get("/runs?part=table&workflow=demo&status=bogus&cursor=junk")
    assert table.status_code == 200
    assert first in table.text
    assert "<html" not in table.text


async def test_controls_for_operators_only(browser: Browser, engine: Engine, app: FastAPI) -> None:
    run_id = await _start(browser, "slow")
    viewer = await browser("viewer")
    page = await viewer.get(f"/runs/{run_id}")
    refused = await viewer.post(f"/runs/{run_id}/cancel", data={"csrf": csrf_of(page.text)})
    assert refused.status_code == 403
    operator = await browser("operator")
    page = await operator.get(f"/runs/{run_id}")
    assert 'id="controls"' in page.text
    csrf = csrf_of(page.text)
    assert (await operator.post(f"/runs/{run_id}/cancel", data={"csrf": "x"})).status_code == 403
    assert (await operator.post(f"/runs/{run_id}/explode", data={"csrf": csrf})).status_code == 404
    for action, status in (("pause", "paused"), ("resume", None), ("cancel", None)):
        answer = await operator.post(f"/runs/{run_id}/{action}", data={"csrf": csrf})
        assert answer.status_code == 303, (action, answer.text)
        if status:
            run = await engine.store.get_run(run_id)
            assert run is not None and run.status == status
    await _wait(engine, run_id, {"cancelled"})
    again = await operator.post(f"/runs/{run_id}/pause", data={"csrf": csrf})
    assert again.status_code in (404, 409)
    succeeded = await _start(browser)
    await _wait(engine, succeeded, {"succeeded"})
    nothing = await operator.post(f"/runs/{succeeded}/retry", data={"csrf": csrf})
    assert nothing.status_code == 409


TWO_STEPS = """
name: two-steps
tasks:
  - id: first
    run: sleep 30
  - id: second
    needs: [first]
    uses: noop
"""


async def _task(engine: Engine, run_id: str, task_id: str) -> TaskRecord:
    found = [t for t in await engine.store.get_tasks(run_id) if t.task_id == task_id]
    assert found, task_id
    return found[0]


async def test_a_single_task_is_held_and_released_by_operators_only(
    browser: Browser, engine: Engine
) -> None:
    await apply_workflow(engine.store, load_workflow(TWO_STEPS), "tests")
    with engine.bus.subscribe(lambda e: e.type == "task.started") as started:
        run_id = await _start(browser, "two-steps")
        await asyncio.wait_for(started.get(), 10)
    viewer = await browser("viewer")
    page = await viewer.get(f"/runs/{run_id}")
    assert "task-controls" not in page.text and "/tasks/second/pause" not in page.text
    refused = await viewer.post(
        f"/runs/{run_id}/tasks/second/pause", data={"csrf": csrf_of(page.text)}
    )
    assert refused.status_code == 403
    operator = await browser("operator")
    page = await operator.get(f"/runs/{run_id}")
    assert f'action="/runs/{run_id}/tasks/second/pause"' in page.text
    csrf = csrf_of(page.text)
    forged = await operator.post(f"/runs/{run_id}/tasks/second/pause", data={"csrf": "x"})
    assert forged.status_code == 403
    held = await operator.post(f"/runs/{run_id}/tasks/second/pause", data={"csrf": csrf})
    assert held.status_code == 303 and (await _task(engine, run_id, "second")).held
    page = await operator.get(f"/runs/{run_id}?part=tasks")
    assert f'action="/runs/{run_id}/tasks/second/resume"' in page.text
    assert '<span class="status s-paused held">held</span>' in page.text
    released = await operator.post(f"/runs/{run_id}/tasks/second/resume", data={"csrf": csrf})
    assert released.status_code == 303 and not (await _task(engine, run_id, "second")).held
    # The running one is stopped and held (queued again, its retry not spent).
    assert 'name="stop" value="true"' in page.text
    stopped = await operator.post(
        f"/runs/{run_id}/tasks/first/pause", data={"csrf": csrf, "stop": "true"}
    )
    assert stopped.status_code == 303 and (await _task(engine, run_id, "first")).held
    unknown = await operator.post(f"/runs/{run_id}/tasks/nope/pause", data={"csrf": csrf})
    assert unknown.status_code == 404
    wrong = await operator.post(f"/runs/{run_id}/tasks/second/explode", data={"csrf": csrf})
    assert wrong.status_code == 404
    await operator.post(f"/runs/{run_id}/cancel", data={"csrf": csrf})
    await _wait(engine, run_id, {"cancelled"})


async def test_runs_are_paged_on_the_server(browser: Browser, engine: Engine) -> None:
    workflow = await engine.store.get_workflow("demo")
    assert workflow is not None
    started = [(await engine.submit(workflow)).id for _ in range(30)]
    client = await browser("viewer")
    first = await client.get("/runs?workflow=demo")
    shown = [run_id for run_id in started if run_id in first.text]
    assert len(shown) == 25
    found = re.search(r'href="(/runs\?[^"]*cursor=[^"]+)" id="next-page"', first.text)
    assert found is not None
    second = await client.get(html.unescape(found.group(1)))
    rest = [run_id for run_id in started if run_id in second.text]
    assert sorted(shown + rest) == sorted(started)
    assert "First page" in second.text
    assert 'id="next-page"' not in second.text
