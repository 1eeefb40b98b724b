"""The progress display keeps its counts per event (no sum over every task)."""

from __future__ import annotations

import io
from types import SimpleNamespace

from rich.console import Console

from basir.cli.progress import RunProgress


def _event(task_id: str, status: str, run_id: str = "r1") -> SimpleNamespace:
    return SimpleNamespace(run_id=run_id, data={"task_id": task_id, "status": status})


def _progress(terminal: bool = False) -> tuple[RunProgress, io.StringIO]:
    out = io.StringIO()
    if not terminal:
        return RunProgress(None, "r1", total=3, stream=out), out
    console = Console(file=out, force_terminal=True, width=100)
    return RunProgress(console, "r1", total=3), out


def test_done_counts_each_task_once_and_follows_a_retry_out_of_a_final_state() -> None:
    progress, _out = _progress()
    for task_id, status in [
        ("a", "running"),
        ("a", "succeeded"),
        ("a", "succeeded"),  # a repeated event does not count twice
        ("b", "failed"),
        ("b", "retrying"),  # leaves FINAL again
        ("c", "running"),
    ]:
        progress.handle(_event(task_id, status))
    assert progress.done == 1
    assert list(progress.active) == ["b", "c"]
    assert progress.troubled == {}
    progress.handle(_event("b", "failed"))
    progress.handle(_event("other", "failed", run_id="r2"))  # another run: ignored
    assert progress.done == 2
    assert progress.troubled == {"b": "failed"}


def test_plain_output_prints_one_line_per_start_and_end() -> None:
    progress, out = _progress()
    progress.handle(_event("a", "queued"))
    progress.handle(_event("a", "running"))
    progress.handle(_event("a", "succeeded"))
    progress.close()
    lines = out.getvalue().splitlines()
    assert lines == ["task a running", "task a succeeded"]


def test_a_terminal_frame_shows_active_and_troubled_tasks_only() -> None:
    progress, out = _progress(terminal=True)
    progress.handle(_event("ok", "succeeded"))
    progress.handle(_event("bad", "failed"))
    progress.handle(_event("busy", "running"))
    progress.close()
    frame = out.getvalue()
    assert "busy" in frame and "bad" in frame
    assert "ok " not in frame
    assert "2/3" in frame


def test_plain_output_says_who_preempted_a_task() -> None:
    progress, out = _progress()
    progress.handle(_event("a", "running"))
    preempted = _event("a", "queued")
    preempted.type = "task.preempted"
    preempted.data.update(by_run_id="r9", by_task_id="fix")
    progress.handle(preempted)
    progress.close()
    assert out.getvalue().splitlines() == [
        "task a running",
        "task a preempted by run r9 task fix; queued again",
    ]
    assert progress.active == {"a": "queued"}
