"""The run page's log panel: the bounded tail first, then the log followed over SSE."""

from __future__ import annotations

import html
import re

import pytest
from dashboard_helpers import Browser

from basir.config import Settings
from basir.dashboard import logs
from basir.store.memory import MemoryStore
from basir.store.records import Batch, RunInsert, RunRecord, TaskRecord

HX = {"HX-Request": "true"}
STREAM = re.compile(r'data-stream="([^"]+)"')


@pytest.fixture
async def tail_run(store: MemoryStore, settings: Settings) -> None:
    workflow = await store.get_workflow("demo")
    assert workflow is not None
    tasks = [TaskRecord("tail", "hello", "running"), TaskRecord("tail", "after", "succeeded")]
    run = RunRecord("tail", "demo", workflow.version, "running", created_at=1.0)
    await store.write(Batch(changes=[RunInsert(run, tasks)]))
    folder = settings.logs_dir / "tail"
    folder.mkdir(parents=True)
    # The running task is half-way through its third line.
    (folder / "hello.log").write_bytes(b"line 1\n<b>line 2</b>\nline 3 half")
    (folder / "after.log").write_bytes(b"one\ntwo\nthree\n")


@pytest.mark.usefixtures("tail_run")
async def test_a_running_tasks_panel_streams_from_its_tail_and_never_polls(
    browser: Browser,
) -> None:
    client = await browser("viewer")
    running = await client.get("/runs/tail/tasks/hello/log", headers=HX)
    assert running.status_code == 200
    assert "every" not in running.text and "hx-trigger" not in running.text  # no polling
    assert "&lt;b&gt;line 2&lt;/b&gt;" in running.text
    # The half-written line is left to the stream, which starts right after the tail.
    assert "line 3" not in running.text
    found = STREAM.search(running.text)
    assert found is not None
    url = html.unescape(found.group(1))
    whole_lines = len(b"line 1\n<b>line 2</b>\n")
    assert url == f"/runs/tail/tasks/hello/log/stream?from={whole_lines}"

    done = await client.get("/runs/tail/tasks/after/log", headers=HX)
    assert done.status_code == 286  # a finished task's panel has nothing more to fetch
    assert "data-stream" not in done.text and "three" in done.text
    page = await client.get("/runs/tail/tasks/hello/log")  # a full page, with its script
    assert page.status_code == 200 and "<html" in page.text
    assert "/static/app/task_log.js" in page.text


@pytest.mark.usefixtures("tail_run")
async def test_the_stream_sends_lines_after_the_offset_then_end(browser: Browser) -> None:
    client = await browser("viewer")
    answer = await client.get("/runs/tail/tasks/after/log/stream?from=4")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/event-stream")
    assert "content-security-policy" in answer.headers
    assert answer.text == (
        "retry: 1000\n\n"
        "id: 14\nevent: log\ndata: two\ndata: three\n\n"
        'id: 14\nevent: end\ndata: {"status": "succeeded", "offset": 14}\n\n'
    )
    # A reconnecting browser's Last-Event-ID wins over the page's `from`: nothing repeated.
    resumed = await client.get(
        "/runs/tail/tasks/after/log/stream?from=0", headers={"Last-Event-ID": "8"}
    )
    assert "data: one" not in resumed.text and "data: two" not in resumed.text
    assert "id: 14\nevent: log\ndata: three\n\n" in resumed.text


@pytest.mark.usefixtures("tail_run")
async def test_the_stream_asks_for_the_session_and_a_real_task(browser: Browser) -> None:
    anonymous = await browser(None)
    refused = await anonymous.get("/runs/tail/tasks/after/log/stream", headers=HX)
    assert refused.status_code == 401
    client = await browser("viewer")
    assert (await client.get("/runs/tail/tasks/nope/log/stream")).status_code == 404
    assert (await client.get("/runs/nope/tasks/after/log/stream")).status_code == 404
    assert (await client.get("/runs/tail/tasks/after/log/stream?from=-1")).status_code == 422


async def test_the_tail_is_bounded_and_stops_at_the_last_whole_line(settings: Settings) -> None:
    path = settings.logs_dir / "long.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = b"".join(b"line %05d\n" % n for n in range(20_000)) + b"partial"
    path.write_bytes(body)
    tail = await logs.tail(path, whole_lines=True)
    assert tail.cut and len(tail.text) <= logs.LOG_TAIL_BYTES
    assert tail.text.endswith("line 19999\n") and tail.offset == len(body) - len(b"partial")
    whole = await logs.tail(path)  # a finished task's log is shown to its last byte
    assert whole.text.endswith("partial") and whole.offset == len(body)
    assert await logs.tail(settings.logs_dir / "missing.log") == logs.Tail("", False, 0)
