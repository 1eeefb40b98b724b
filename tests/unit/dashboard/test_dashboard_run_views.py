"""The run page's timeline and task pages, the workflow page's highlighting and version diff."""

from __future__ import annotations

import html
import re

from dashboard_helpers import Browser

from basir.coordinator.workflows import apply_workflow
from basir.dashboard import spec_view, timeline
from basir.i18n.deferred import defer
from basir.spec.validate import load_workflow
from basir.store.memory import MemoryStore
from basir.store.records import Batch, EventRecord, RunInsert, RunRecord, TaskRecord


def _ev(kind: str, task: str, at: float) -> EventRecord:
    return EventRecord(f"task.{kind}", task, at, run_id="r", task_id=task)


def test_attempts_pair_starts_with_their_ends() -> None:
    events = [
        EventRecord("run.running", "r", 0.0, run_id="r"),
        _ev("queued", "a", 0.0),
        _ev("started", "a", 1.0),
        _ev("started", "b", 1.5),
        _ev("retrying", "a", 2.0),
        _ev("started", "a", 3.0),
        _ev("held", "b", 3.5),  # not the end of b's attempt
        _ev("succeeded", "a", 4.0),
    ]
    bars = timeline.attempts(events)
    assert [(b.task, b.attempt, b.start, b.end, b.status) for b in bars] == [
        ("a", 1, 1.0, 2.0, "retrying"),
        ("b", 1, 1.5, None, "running"),
        ("a", 2, 3.0, 4.0, "succeeded"),
    ]
    chart = timeline.layout(bars, now=5.0, limit=2)  # the latest two: b's and a's second
    assert chart.hidden == 1 and [p.bar.start for p in chart.bars] == [1.5, 3.0]
    first, second = chart.bars
    assert first.x == timeline.LABEL_W  # the first shown start is the axis origin
    assert first.seconds == 3.5  # still running: ends now
    assert second.x > first.x and second.seconds == 1.0
    assert chart.ticks[0] == (timeline.LABEL_W, 0.0)
    mirrored = timeline.layout(bars, now=5.0, rtl=True, limit=2)
    assert mirrored.bars[0].x + mirrored.bars[0].w == timeline.WIDTH - timeline.LABEL_W
    assert timeline.layout([], now=1.0).bars == []


def test_spec_is_highlighted_escaped_and_diffed() -> None:
    shown = spec_view.highlighted('description: "<script>x</script>"\n', "yaml")
    assert "<script>" not in shown and "&lt;script&gt;" in shown
    assert 'class="t-nt"' in shown
    lines, cut = spec_view.diff("a: 1\nb: 2\n", "a: 1\nb: 3\n", "v1", "v2")
    assert [(line.kind, line.text) for line in lines if line.kind in {"add", "del"}] == [
        ("del", "-b: 2"),
        ("add", "+b: 3"),
    ]
    assert not cut
    long_old = "\n".join(f"x{n}: 1" for n in range(3000))
    long_new = "\n".join(f"x{n}: 2" for n in range(3000))
    lines, cut = spec_view.diff(long_old, long_new, "a", "b")
    assert cut and len(lines) == spec_view.MAX_DIFF_LINES


V2 = """
name: demo
description: {en: "A demo <b>changed</b>", ar: عرض تجريبي}
tasks:
  - id: hello
    uses: noop
"""


async def test_workflow_page_diffs_two_versions(browser: Browser, store: MemoryStore) -> None:
    await apply_workflow(store, load_workflow(V2), "tests")
    client = await browser("viewer")
    page = await client.get("/workflows/demo")
    assert 'id="diff"' in page.text
    assert "<b>changed</b>" not in page.text  # escaped in the diff and the spec
    diff_text = html.unescape(re.sub(r"<[^>]+>", "", page.text.split('id="diff"')[1]))
    assert "--- v1" in diff_text and "+++ v2" in diff_text
    assert "+description:" in diff_text or "+  en: A demo <b>changed</b>" in diff_text
    same = await client.get("/workflows/demo?from=2&to=2")
    assert 'id="diff"' not in same.text and "same specification" in same.text
    bogus = await client.get("/workflows/demo?from=99&to=x")  # unknown versions: defaults
    assert bogus.status_code == 200 and "--- v1" in html.unescape(bogus.text)


async def test_run_page_pages_tasks_and_draws_the_timeline(
    browser: Browser, store: MemoryStore
) -> None:
    workflow = await store.get_workflow("demo")
    assert workflow is not None
    tasks = [TaskRecord("big", f"t{n:04}", "succeeded") for n in range(250)]
    run = RunRecord("big", "demo", workflow.version, "running", created_at=1.0)
    events = []
    for n in range(3):
        events.append(_ev("started", f"t{n:04}", 10.0 + n))
        events.append(_ev("succeeded", f"t{n:04}", 11.0 + n))
    for event in events:
        event.run_id = "big"
    await store.write(
        Batch(
            changes=[RunInsert(run, tasks)],
            events=events,
        )
    )
    client = await browser("viewer")
    page = await client.get("/runs/big")
    assert page.status_code == 200
    assert page.text.count("<tr data-task=") == 100  # one page of tasks, not 250
    assert 'id="tasks-next"' in page.text and 'id="tasks-prev"' not in page.text
    last = await client.get("/runs/big?tpage=2")
    assert last.text.count("<tr data-task=") == 50 and "t0249" in last.text
    assert (await client.get("/runs/big?tpage=zz")).text.count("<tr data-task=") == 100
    chart = await client.get("/runs/big/timeline", headers={"HX-Request": "true"})
    assert chart.text.count('<g class="attempt s-succeeded"') == 3
    # The run is active: its busy fragments are also re-read (200, not 286), less often when
    # big: 3 attempts every 2 s, 250 tasks every 10 s.
    assert chart.status_code == 200 and "every 2s" in chart.text
    tasks = await client.get("/runs/big?part=tasks")
    assert tasks.status_code == 200 and "every 10s" in tasks.text
    assert "<title>" in chart.text
    assert (await client.get("/runs/nope/timeline")).status_code == 404


async def test_the_tasks_table_says_why_a_task_waits_and_what_tasks_used(
    browser: Browser, store: MemoryStore
) -> None:
    workflow = await store.get_workflow("demo")
    assert workflow is not None
    waiting = defer(
        "waiting for {pool}: {used}/{total} in use by run {run} task {task}",
        pool="gradle",
        used=1,
        total=1,
        run="other",
        task="build",
    )
    usage = {"cpu_seconds": 4.24, "peak_cpu_cores": 1.5, "peak_memory_bytes": 300 * 1024**2}
    tasks = [
        TaskRecord("uses", "held", "queued", waiting=waiting),
        TaskRecord("uses", "done", "succeeded", usage=usage),
    ]
    run = RunRecord("uses", "demo", workflow.version, "running", created_at=1.0)
    await store.write(Batch(changes=[RunInsert(run, tasks)]))
    client = await browser("viewer")
    page = html.unescape((await client.get("/runs/uses")).text)
    assert "waiting for gradle: 1/1 in use by run other task build" in page
    assert "1.5 cores peak, 300 MiB peak, 4.2 s of cpu" in page
    client.cookies.set("basir_lang", "ar")
    arabic = html.unescape((await client.get("/runs/uses?part=tasks")).text)
    assert "gradle" in arabic and "waiting for" not in arabic and "cores peak" not in arabic


async def test_a_run_error_is_shown_in_the_page_language(
    browser: Browser, store: MemoryStore
) -> None:
    workflow = await store.get_workflow("demo")
    assert workflow is not None
    error = defer("timed out after {seconds}s", seconds=5)
    run = RunRecord("late", "demo", workflow.version, "failed", error=error, created_at=1.0)
    await store.write(Batch(changes=[RunInsert(run, [TaskRecord("late", "t", "failed")])]))
    client = await browser("viewer")
    assert "timed out after 5s" in html.unescape((await client.get("/runs/late")).text)
    client.cookies.set("basir_lang", "ar")
    head = html.unescape((await client.get("/runs/late?part=head")).text)
    assert "انتهت المهلة بعد 5 ثانية" in head and '{"m"' not in head
