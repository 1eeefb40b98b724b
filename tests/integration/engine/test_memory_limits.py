"""Kernel memory limits on real processes (`BASIR_MEMORY_LIMIT=rlimit` on this machine).

A shell task and an isolated python task over their declared `memory` fail with reason `oom`
(`RLIMIT_AS` makes their allocation fail); within it they run; a retry grows the limit; a
task's `memory_limit: sampler` leaves it to the sampler.  The cgroup path is tested against a
stand-in directory here and in `tests/unit/executors/test_memory_limit.py`, and on the real
kernel in `test_memory_cgroup_kernel.py`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from memory_runs import run

from basir.config import Settings
from basir.engine.runtime import Engine
from basir.spec.models import WorkflowSpec
from basir.store.base import Store

PY = sys.executable
HOG = f"{PY} -c 'b = bytearray(300 << 20); import time; time.sleep(60)'"
SMALL = f"{PY} -c 'b = bytearray(20 << 20)'"


@pytest.fixture
async def limited(store: Store, tmp_path: Path) -> AsyncIterator[Engine]:
    """An engine limiting memory by `RLIMIT_AS`, with the sampler as backstop."""
    settings = Settings(
        home=tmp_path / "home",
        shutdown_grace_s=0.0,
        usage_interval_s=0.1,
        metrics_interval_s=0,
        memory_limit="rlimit",
    )
    engine = Engine(store, settings, workdir=tmp_path)
    assert engine.memory.mode == "rlimit"
    await engine.start(resume=False)
    yield engine
    await engine.stop(grace_s=0)


async def test_a_shell_task_over_its_memory_fails_with_reason_oom(limited: Engine) -> None:
    task = {"id": "hog", "run": HOG, "resources": {"memory": "64Mi"}, "timeout": "50s"}
    result, [event] = await run(limited, [task])
    hog = result["tasks"]["hog"]
    assert hog["status"] == "failed"
    assert hog["error"].startswith("stopped: out of memory at its limit of 64Mi (RLIMIT_AS) (oom)")
    assert "MemoryError" in hog["error"]  # the process's own last words, under the reason
    assert event.data["reason"] == "oom"
    assert event.data["enforced_by"] == "rlimit"
    assert event.data["limit_bytes"] == 64 << 20
    assert limited.usage.stopped_for_memory == 0  # the kernel refused, not the sampler


async def test_an_isolated_python_task_over_its_memory_fails_with_reason_oom(
    limited: Engine,
) -> None:
    task = {
        "id": "hog",
        "python": "resource_funcs:hog",
        "args": [300],
        "isolate": True,
        "resources": {"memory": "64Mi"},
    }
    result, [event] = await run(limited, [task])
    hog = result["tasks"]["hog"]
    assert hog["status"] == "failed"
    assert hog["error"].startswith("stopped: out of memory at its limit of 64Mi (RLIMIT_AS) (oom)")
    assert (event.data["reason"], event.data["enforced_by"]) == ("oom", "rlimit")


async def test_tasks_within_their_memory_run(limited: Engine) -> None:
    tasks = [
        {"id": "shell", "run": SMALL, "resources": {"memory": "256Mi"}},
        {
            "id": "py",
            "python": "resource_funcs:hog",
            "args": [20],
            "isolate": True,
            "resources": {"memory": "128Mi"},
        },
        {
            "id": "again",
            "needs": ["py"],
            "python": "resource_funcs:hog",
            "args": [20],
            "isolate": True,
            "resources": {"memory": "128Mi"},
        },
    ]
    result, events = await run(limited, tasks)
    assert result["status"] == "succeeded", result
    assert result["tasks"]["py"]["outputs"] == {"bytes": 20 << 20}
    assert events == []


async def test_a_failure_that_is_not_memory_keeps_its_own_error(limited: Engine) -> None:
    task = {
        "id": "bad",
        "run": "echo 'some other failure'; exit 3",
        "resources": {"memory": "64Mi"},
    }
    result, events = await run(limited, [task])
    assert result["tasks"]["bad"]["error"].startswith("exited with code 3")
    assert events == []


# About 100 MiB for a moment: over a 64Mi address space, within 256Mi.
GROWER = f"{PY} -c 'b = bytearray(100 << 20)'"


async def test_a_retry_after_oom_gets_a_grown_limit(limited: Engine) -> None:
    task = {
        "id": "grow",
        "run": GROWER,
        "resources": {"memory": "64Mi"},
        "retries": {"max": 2, "delay": "10ms", "on_oom": {"grow": 4, "max": "256Mi"}},
    }
    result, [event] = await run(limited, [task])
    assert result["status"] == "succeeded"
    assert event.data["limit_bytes"] == 64 << 20
    assert event.data["next_limit_bytes"] == 256 << 20
    [row] = await limited.store.get_tasks(result["run_id"])
    assert (row.attempts, row.memory_limit) == (2, 256 << 20)


async def test_a_task_may_leave_its_limit_to_the_sampler(limited: Engine) -> None:
    task = {
        "id": "jvm",
        "run": HOG,
        "resources": {"memory": "64Mi", "memory_limit": "sampler"},
        "timeout": "50s",
    }
    result, [event] = await run(limited, [task])
    assert "more than its limit of 64Mi (oom)" in result["tasks"]["jvm"]["error"]
    assert event.data["enforced_by"] == "sampler"
    assert event.data["memory_bytes"] > 64 << 20  # it did get its 300 MiB: no RLIMIT_AS
    assert limited.usage.stopped_for_memory == 1


async def test_with_a_delegated_cgroup_an_oom_kill_fails_the_task_with_reason_oom(
    limited: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from basir.executors.memory import AttemptMemory, CgroupTree

    class StandInTree(CgroupTree):
        @staticmethod
        def _rmdir(path: Path) -> None:
            shutil.rmtree(path)

    root = tmp_path / "delegated"
    root.mkdir()
    monkeypatch.setattr(AttemptMemory, "tree_type", StandInTree)
    limited.memory.mode, limited.memory.cgroup_root = "cgroup", str(root)
    # The kernel's part, played by the task: an oom kill counted in its cgroup, then SIGKILL.
    cgroup = f"{root}/basir-{os.getpid()}-$BASIR_ATTEMPT_ID"
    script = (
        f"cat {cgroup}/memory.max >> {tmp_path}/max;"
        f" echo 'oom_kill 1' > {cgroup}/memory.events; kill -9 $$"
    )
    task = {
        "id": "hog",
        "run": script,
        "resources": {"memory": "64Mi"},
        "retries": {"max": 1, "delay": "10ms", "on_oom": {"grow": 2, "max": "1Gi"}},
    }
    result, [first, second] = await run(limited, [task])
    error = result["tasks"]["hog"]["error"]
    assert error.startswith(
        "stopped: out of memory at its limit of 128Mi (cgroup memory.max) (oom)"
    )
    assert (first.data["reason"], first.data["enforced_by"]) == ("oom", "cgroup")
    assert (first.data["limit_bytes"], first.data["next_limit_bytes"]) == (64 << 20, 128 << 20)
    assert second.data["limit_bytes"] == 128 << 20  # the retry ran in a grown cgroup
    assert (tmp_path / "max").read_text() == f"{64 << 20}\n{128 << 20}\n"
    assert list(root.iterdir()) == []  # each cgroup went with its attempt


async def test_a_mode_impossible_here_stops_the_start(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from basir.engine import memory_limits
    from basir.errors import BasirError

    monkeypatch.setattr(memory_limits, "cgroup_root", lambda: None)  # no delegated cgroup v2
    settings = Settings(home=tmp_path / "home", memory_limit="cgroup")
    with pytest.raises(BasirError) as refused:
        Engine(store, settings, workdir=tmp_path)
    assert refused.value.code == "config.memory_limit_unavailable"
    auto = Engine(store, Settings(home=tmp_path / "home"), workdir=tmp_path)
    assert auto.memory.mode == "rlimit"  # auto falls back, never to nothing


def test_memory_limit_without_memory_is_refused() -> None:
    from pydantic import ValidationError

    task = {"id": "a", "run": "true", "resources": {"cpu": 1, "memory_limit": "sampler"}}
    with pytest.raises(ValidationError, match="memory_limit needs memory"):
        WorkflowSpec.model_validate({"name": "w", "tasks": [task]})


# Three processes of 50 MiB each: every one within a 100Mi address space, together over it.
TRIO = " & ".join([f"{PY} -c 'b = bytearray(50 << 20); import time; time.sleep(60)'"] * 3)


async def test_the_sampler_backstops_a_group_that_is_over_its_limit_together(
    limited: Engine,
) -> None:
    task = {"id": "trio", "run": TRIO + " & wait", "resources": {"memory": "100Mi"}}
    result, [event] = await run(limited, [task])
    assert "more than its limit of 100Mi (oom)" in result["tasks"]["trio"]["error"]
    assert event.data["enforced_by"] == "sampler"
    assert event.data["memory_bytes"] > 100 << 20
    assert limited.usage.stopped_for_memory == 1
