"""Two `basir server` processes on one store: one drives it, the other stands by; `kill -9` of
the one that drives it, and the other takes over — every run ends, no task twice at once.

On PostgreSQL (the store several machines share) and on the embedded SQLite file.  The
standby serves nothing while it waits (its port stays closed), so nothing is ever run by two
engines; when the first dies its lock goes with it (its PostgreSQL session, its file lock), the
standby starts its engine, stops what is left of the interrupted attempts and runs them again.
"""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from api_e2e import apply_and_start, wait_status  # noqa: E402

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
RUNS = 3
STANDING_BY = "standing by to take over"


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(f"{PG_SERVER}/postgres", timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """One store for both servers: a fresh PostgreSQL database, or one SQLite file."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared' / 'basir.db'}"
        return
    name = f"basir_standby_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    yield f"{PG_SERVER}/{name}"
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _wait_for(condition: Any, what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_a_standby_server_takes_over_when_the_first_is_killed(
    server_factory: Any, db_url: str, tmp_path: Path, groups: list[int]
) -> None:
    marks, release = tmp_path / "marks", tmp_path / "release"
    spec = f"""\
name: failover
tasks:
  - id: slow
    run: |
      echo "$BASIR_RUN_ID slow start $BASIR_ATTEMPT $(ps -o pgid= $$)" >> {marks}
      while [ ! -f {release} ]; do sleep 0.1; done
      echo "$BASIR_RUN_ID slow end $BASIR_ATTEMPT" >> {marks}
  - id: after
    needs: [slow]
    run: echo "$BASIR_RUN_ID after end $BASIR_ATTEMPT" >> {marks}
"""
    first = server_factory(BASIR_DB=db_url).start()
    standby = server_factory(BASIR_DB=db_url).launch()
    _wait_for(lambda: STANDING_BY in standby.output(), "the second server never stood by")
    with pytest.raises(httpx.TransportError):  # it serves nothing while it waits
        httpx.get(f"{standby.url}/readyz", timeout=1)

    with first.client() as client:
        run_ids = [apply_and_start(client, spec)["run_id"] for _ in range(RUNS)]
    _wait_for(lambda: len(_lines(marks)) >= RUNS, "the slow tasks never started")
    groups.extend(int(line.split()[4]) for line in _lines(marks))  # killed after, if left
    first.kill()  # kill -9: its engine, its store session and its lock are gone at once

    standby.wait_ready()
    assert "taking over this store" in standby.output()
    release.write_text("")
    with standby.client() as client:
        finals = [wait_status(client, run_id, {"succeeded", "failed"}, 60) for run_id in run_ids]
        interrupted = client.get(
            "/api/v1/events/history", params={"type": "task.interrupted", "limit": 1000}
        ).json()["items"]
    assert [final["status"] for final in finals] == ["succeeded"] * RUNS
    for run_id in run_ids:  # one attempt of each task at a time: the first stopped, not twinned
        mine = [line.split()[1:4] for line in _lines(marks) if line.startswith(run_id)]
        assert mine == [
            ["slow", "start", "1"],
            ["slow", "start", "2"],
            ["slow", "end", "2"],
            ["after", "end", "1"],
        ], _lines(marks)
    stopped = {event["data"]["run_id"]: event["data"] for event in interrupted}
    assert sorted(stopped) == sorted(run_ids)
    assert all((d["reason"], d["attempt"]) == ("interrupted", 1) for d in stopped.values())
