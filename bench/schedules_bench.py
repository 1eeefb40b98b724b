"""Schedule clock benchmark (issue 9): register N cron schedules, then one tick with D due.

    python bench/schedules_bench.py                        # 1,000,000 schedules, 1,000 due
    python bench/schedules_bench.py --schedules 20000      # a quicker look

On the embedded SQLite store in a temporary directory.  Reports the time to register (the
next fire of each entry computed with cronsim, rows written through `sync_schedules`, 64 per
workflow as the spec allows), the process's peak RSS, and the wall time of one
`Scheduler.tick` that fires D due schedules into runs (the engine is a stub here: the tick's
own cost, store included, is what is measured).  Targets (issue 9): tick <= 50 ms with 1,000
due; RSS <= 1.5 GB with 1,000,000 registered.  JSON in bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from basir.coordinator.schedules import Scheduler
from basir.coordinator.workflows import canonical_spec, spec_hash
from basir.scheduler.schedules import next_clock
from basir.spec import load_workflow
from basir.store.records import ScheduleRecord, ScheduleUpdate
from basir.store.sqlite import SqliteStore

HERE = Path(__file__).resolve().parent
PER_WORKFLOW = 64
CRONS = ("*/5 * * * *", "0 * * * *", "30 2 * * *", "0 0 * * 0", "15 */3 * * *", "@daily")
ZONES = ("UTC", "Asia/Riyadh", "Europe/Berlin", "America/New_York")


class _StubEngine:
    async def resume(self, run_id: str) -> None:
        """Runs are created by the tick; starting them is the engine's cost, not measured."""


def _records(workflow: str, now: float) -> list[ScheduleRecord]:
    records = []
    for position in range(PER_WORKFLOW):
        options: dict[str, Any] = {
            "cron": CRONS[position % len(CRONS)],
            "timezone": ZONES[position % len(ZONES)],
        }
        schedule_id = f"{workflow}:{position}"
        fire, due = next_clock(schedule_id, options, now)
        records.append(
            ScheduleRecord(
                schedule_id, workflow, position, options["cron"], options["timezone"], options,
                f"h{position}", next_fire_at=fire, due_at=due, created_at=now, updated_at=now,
            )
        )  # fmt: skip
    return records


async def main(count: int, due: int) -> dict[str, Any]:
    """Register `count` schedules, make `due` of them due, time one tick."""
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(f"sqlite:///{tmp}/basir.db")
        await store.open()
        try:
            for index in range(due // PER_WORKFLOW + 1):  # the workflows whose fires make runs
                name = f"w{index}"
                spec = load_workflow(f"name: {name}\ntasks:\n  - {{id: a, uses: noop}}\n", "w.yaml")
                document = canonical_spec(spec)
                await store.put_workflow(name, "default", document, spec_hash(document), None)
            now = time.time()
            started = time.perf_counter()
            workflows = max(1, count // PER_WORKFLOW)
            for index in range(workflows):
                await store.sync_schedules(f"w{index}", _records(f"w{index}", now))
            register_s = time.perf_counter() - started
            made_due = 0
            for index in range(workflows):
                for record in await store.list_schedules(f"w{index}"):
                    if made_due == due:
                        break
                    fields = {"due_at": now - 1, "next_fire_at": now - 1}
                    await store.update_schedule(ScheduleUpdate(record.id, record.revision, fields))
                    made_due += 1
                if made_due == due:
                    break
            clock = Scheduler(store, _StubEngine())  # type: ignore[arg-type]
            started = time.perf_counter()
            fired = await clock.tick(now)
            tick_s = time.perf_counter() - started
        finally:
            await store.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "schedules": count,
        "due": due,
        "fired": len(fired),
        "register_s": round(register_s, 2),
        "tick_ms": round(tick_s * 1000, 1),
        "peak_rss_mb": round(rss_mb, 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=1000)
    args = parser.parse_args()
    result = asyncio.run(main(args.schedules, args.due))
    print(json.dumps(result, indent=2))
    out = HERE / "results" / f"schedules-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
