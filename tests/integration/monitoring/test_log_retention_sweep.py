"""The log sweeper on real folders and a real store: old finished runs' logs go, active stay."""

from __future__ import annotations

import os
import time
from pathlib import Path

from basir.monitoring.log_retention import LogSweeper
from basir.store.factory import open_store
from basir.store.records import Batch, RunInsert, RunRecord

DAY = 86400.0


def write_log(logs: Path, run_id: str, days_ago: float, size: int) -> None:
    folder = logs / run_id
    folder.mkdir(parents=True)
    path = folder / "build.log"
    path.write_bytes(b"x" * size)
    moment = time.time() - days_ago * DAY
    os.utime(path, (moment, moment))
    os.utime(folder, (moment, moment))


async def test_the_sweeper_removes_expired_and_oversized_finished_logs(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'basir.db'}")
    await store.open()
    try:
        now = time.time()
        runs = [RunRecord("running-old", "ci", 1, "running", created_at=now - 60 * DAY)]
        runs.append(RunRecord("done-old", "ci", 1, "succeeded", created_at=now - 60 * DAY))
        await store.write(Batch([RunInsert(run, []) for run in runs], []))
        logs = tmp_path / "logs"
        write_log(logs, "running-old", 60, 10)
        write_log(logs, "done-old", 60, 10)
        write_log(logs, "done-big", 2, 5000)
        write_log(logs, "done-new", 1, 10)
        sweeper = LogSweeper(store, logs, keep_s=30 * DAY, max_bytes=1000)
        gone = await sweeper.sweep()
        assert sorted(gone) == ["done-big", "done-old"]
        assert sorted(p.name for p in logs.iterdir()) == ["done-new", "running-old"]
        assert await sweeper.sweep() == []
        keep_all = LogSweeper(store, logs, keep_s=0, max_bytes=0)
        assert await keep_all.sweep() == []
    finally:
        await store.close()
