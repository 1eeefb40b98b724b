"""A failed task's and a failed run's error read in the language of the request."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from basir.engine.runtime import Engine
from basir.i18n.deferred import lazy, stored_error
from basir.store.memory import MemoryStore
from basir.store.records import Batch, RunInsert, RunRecord, TaskRecord

Start = Callable[..., Awaitable[dict[str, Any]]]
ARABIC = {"Accept-Language": "ar"}
ENGLISH = {"Accept-Language": "en"}
EXITING_YAML = """\
name: exiting
tasks:
  - id: talk
    run: "echo first; echo 'last words' >&2; exit 3"
"""


async def test_a_failed_task_reads_in_english_and_in_arabic(
    client: httpx.AsyncClient, start: Start, engine: Engine
) -> None:
    run_id = (await start(EXITING_YAML))["run_id"]
    assert (await engine.wait(run_id)).status == "failed"
    english = (await client.get(f"/api/v1/runs/{run_id}", headers=ENGLISH)).json()
    arabic = (await client.get(f"/api/v1/runs/{run_id}", headers=ARABIC)).json()
    head, *lines = english["tasks"]["talk"]["error"].split("\n")
    assert head == "exited with code 3" and "last words" in lines
    assert arabic["tasks"]["talk"]["error"] == "\n".join(["انتهى برمز الخروج 3", *lines])
    # An export is data: English whoever asks.
    export = await client.get("/api/v1/export/tasks", params={"format": "jsonl"}, headers=ARABIC)
    rows = [json.loads(line) for line in export.text.splitlines()]
    assert [row["error"].split("\n")[0] for row in rows if row["run_id"] == run_id] == [
        "exited with code 3"
    ]


async def test_a_run_error_reads_in_the_language_of_the_request(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    error = stored_error(lazy("timed out after {seconds}s", seconds=5), "detail line")
    run = RunRecord("r1", "demo", 1, "failed", error=error, created_at=1.0, finished_at=2.0)
    task = TaskRecord("r1", "t", "failed", error="an older row's plain text")
    await store.write(Batch(changes=[RunInsert(run, [task])]))
    shown = (await client.get("/api/v1/runs/r1", headers=ARABIC)).json()
    assert shown["error"] == "انتهت المهلة بعد 5 ثانية\ndetail line"
    assert shown["tasks"]["t"]["error"] == "an older row's plain text"
    listed = (await client.get("/api/v1/runs", headers=ARABIC)).json()["items"]
    assert [r["error"] for r in listed if r["run_id"] == "r1"] == [shown["error"]]
    listed = (await client.get("/api/v1/runs", headers=ENGLISH)).json()["items"]
    assert [r["error"] for r in listed if r["run_id"] == "r1"] == [
        "timed out after 5s\ndetail line"
    ]
