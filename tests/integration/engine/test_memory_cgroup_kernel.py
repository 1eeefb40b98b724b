"""Per-attempt memory cgroups on this machine's real kernel (`BASIR_MEMORY_LIMIT=cgroup`).

Where the server's own cgroup allows children with their own memory limit — a delegated
cgroup v2 directory, or a writable cgroup v1 `memory` hierarchy as on this VM — a shell task
and an isolated python task over their declared `memory` are killed by the kernel's OOM killer
inside their cgroup and fail with reason `oom`; within it they run; a retry with `on_oom` runs
in a grown cgroup; every attempt's cgroup is gone when it ends.  On a machine without such a
hierarchy there is nothing to test against and the module says so.
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
from basir.executors.memory import AttemptMemory, cgroup_root
from basir.store.base import Store

ROOT = cgroup_root()
pytestmark = pytest.mark.skipif(
    ROOT is None, reason="this machine gives no cgroup where a memory limit can be set"
)
PY = sys.executable
HOG = f"{PY} -c 'b = bytearray(300 << 20); import time; time.sleep(60)'"  # zeroed: resident


def attempt_cgroups() -> list[Path]:
    """The attempt cgroups of this test process's engines now present."""
    assert ROOT is not None
    return sorted(ROOT.glob(f"basir-{os.getpid()}-*"))


@pytest.fixture
async def caged(store: Store, tmp_path: Path) -> AsyncIterator[Engine]:
    """An engine limiting memory by a cgroup per attempt, the sampler as slow backstop."""
    settings = Settings(
        home=tmp_path / "home",
        shutdown_grace_s=0.0,
        usage_interval_s=5.0,  # the kernel must be the one that stops the hogs
        metrics_interval_s=0,
        memory_limit="cgroup",
    )
    engine = Engine(store, settings, workdir=tmp_path)
    assert (engine.memory.mode, engine.memory.cgroup_root) == ("cgroup", str(ROOT))
    await engine.start(resume=False)
    yield engine
    await engine.stop(grace_s=0)


async def test_the_kernel_kills_a_shell_task_over_its_limit_inside_its_cgroup(
    caged: Engine,
) -> None:
    assert ROOT is not None
    limit_file = AttemptMemory.tree_at(ROOT).LIMIT_FILE
    task = {"id": "hog", "run": HOG, "resources": {"memory": "64Mi"}, "timeout": "50s"}
    result, [event] = await run(caged, [task])
    hog = result["tasks"]["hog"]
    assert hog["status"] == "failed"
    assert hog["error"].startswith(
        f"stopped: out of memory at its limit of 64Mi (cgroup {limit_file}) (oom)"
    )
    assert (event.data["reason"], event.data["enforced_by"]) == ("oom", "cgroup")
    assert event.data["limit_bytes"] == 64 << 20
    assert caged.usage.stopped_for_memory == 0  # the kernel did it, not the sampler
    assert attempt_cgroups() == []


async def test_a_retry_runs_in_a_grown_cgroup_and_an_isolated_python_task_is_caged_too(
    caged: Engine, tmp_path: Path
) -> None:
    assert ROOT is not None
    limit_file = AttemptMemory.tree_at(ROOT).LIMIT_FILE
    seen = tmp_path / "limits"
    # Each attempt writes the limit of the cgroup it runs in, then allocates past 64 MiB.
    cgroup = f"{ROOT}/basir-{os.getpid()}-$BASIR_ATTEMPT_ID"
    script = f"cat {cgroup}/{limit_file} >> {seen}; {HOG}"
    tasks = [
        {
            "id": "grow",
            "run": script,
            "resources": {"memory": "64Mi"},
            "retries": {"max": 1, "delay": "10ms", "on_oom": {"grow": 2, "max": "1Gi"}},
            "timeout": "50s",
        },
        {
            "id": "py",
            "python": "resource_funcs:hog",
            "args": [300],
            "isolate": True,
            "resources": {"memory": "64Mi"},
        },
    ]
    result, events = await run(caged, tasks)
    assert result["tasks"]["grow"]["error"].startswith(
        f"stopped: out of memory at its limit of 128Mi (cgroup {limit_file}) (oom)"
    )
    by_task = {(e.task_id, e.data["limit_bytes"]) for e in events}
    assert by_task == {("grow", 64 << 20), ("grow", 128 << 20), ("py", 64 << 20)}
    assert all(e.data["enforced_by"] == "cgroup" for e in events)
    assert result["tasks"]["py"]["status"] == "failed"
    assert seen.read_text() == f"{64 << 20}\n{128 << 20}\n"  # each in its own cgroup
    assert attempt_cgroups() == []


async def test_tasks_within_their_limit_run_in_their_cgroup(caged: Engine) -> None:
    tasks = [
        {
            "id": "shell",
            "run": f"{PY} -c 'b = bytearray(20 << 20)'",
            "resources": {"memory": "128Mi"},
        },
        {
            "id": "py",
            "python": "resource_funcs:hog",
            "args": [20],
            "isolate": True,
            "resources": {"memory": "128Mi"},
        },
    ]
    result, events = await run(caged, tasks)
    assert result["status"] == "succeeded", result
    assert events == []
    assert attempt_cgroups() == []
