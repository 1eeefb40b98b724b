"""Schedule clock benchmark (issue 9): register N cron schedules, then ticks with D due.

    python bench/schedules_bench.py                        # 1,000,000 schedules, 1,000 due
    python bench/schedules_bench.py --schedules 20000      # a quicker look
    python bench/schedules_bench.py --realtime             # ticks timed under SCHED_FIFO

On the embedded SQLite store in a temporary directory.  Reports the time to register (the
next fire of each entry computed with cronsim, rows written through `sync_schedules`, 64 per
workflow as the spec allows, one workflow after the other as applies come), the process's
peak RSS, and the wall time of `--ticks` `Scheduler.tick`s each way that each fire D other
due schedules into runs, each schedule with a finished previous run as after earlier fires:
`read`, due already and not held in memory (the tick reads them from the store's next-fire
index, as after an apply), and `near`, due half a second ahead and loaded into the
near-future heap beforehand as the server's loop does after each tick (fires that come due
with time); the two ways alternate.  The engine is a stub here, loaded beforehand, on the
server's event loop and with its long-lived objects frozen out of the garbage collector as
in a server: the tick's own cost, store included, is what is measured.  Also the CPU time of
each tick (all threads: what the tick costs, whatever else the machine runs), and the wall
time of a tick with nothing due each way.  `--realtime` (root) runs the timed ticks under
SCHED_FIFO, so a shared machine's other work does not stretch their wall time.  Targets
(issue 9): tick <= 50 ms with 1,000 due; RSS <= 1.5 GB with 1,000,000 registered.  JSON in
bench/results/.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from basir.cli.common import event_loop_factory, freeze_long_lived
from basir.coordinator.schedules import Scheduler
from basir.coordinator.workflows import canonical_spec, spec_hash
from basir.scheduler.schedules import next_clock
from basir.spec import load_workflow
from basir.states import RunStatus
from basir.store.records import Batch, RunInsert, RunRecord, ScheduleRecord, ScheduleUpdate
from basir.store.sqlite import SqliteStore

HERE = Path(__file__).resolve().parent
PER_WORKFLOW = 64
CRONS = ("*/5 * * * *", "0 * * * *", "30 2 * * *", "0 0 * * 0", "15 */3 * * *", "@daily")
ZONES = ("UTC", "Asia/Riyadh", "Europe/Berlin", "America/New_York")


class _StubEngine:
    """The engine as a tick sees it: a governor (no quota: a fire is never refused), the
    pools' capacity and templates (a fire whose tasks could never start is skipped) and
    `resume`; starting the runs is the engine's cost, not measured."""

    def __init__(self) -> None:
        from types import SimpleNamespace

        from basir.engine.governor import Governor
        from basir.resources.capacity import pool_capacities
        from basir.spec.templates import TemplateResolver

        allocator = SimpleNamespace(capacity=pool_capacities({}))
        admission = SimpleNamespace(governor=Governor(), allocator=allocator)
        self.flow = SimpleNamespace(admission=admission, runs={})
        self.renderer = SimpleNamespace(templates=TemplateResolver())  # the run-time fit check

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


async def _make_due(
    store: SqliteStore, records: list[ScheduleRecord], at: float, round_: int
) -> None:
    """Make `records` due at `at`, each with a finished previous run (as after earlier fires),
    by ordinary schedule writes (they move the store's schedules token, as an apply does)."""
    inserts = []
    for record in records:
        run_id = f"prev{round_}x{record.id}"
        run = RunRecord(run_id, record.workflow, 1, RunStatus.SUCCEEDED, created_at=at - 60)
        inserts.append(RunInsert(run, []))
    await store.write(Batch(list(inserts), []))
    await asyncio.gather(
        *(
            store.update_schedule(
                ScheduleUpdate(
                    record.id,
                    record.revision,
                    {"due_at": at, "next_fire_at": at, "last_run_id": f"prev{round_}x{record.id}"},
                )
            )
            for record in records
        )
    )


Timings = dict[str, tuple[list[float], list[float]]]


@contextlib.contextmanager
def _realtime(wanted: bool) -> Iterator[None]:
    """With `--realtime` (root only): every thread of this process under SCHED_FIFO while the
    ticks are timed, so other work on a shared machine does not stretch their wall time."""
    if not wanted:
        yield
        return
    tids = [int(t) for t in os.listdir("/proc/self/task")]
    for tid in tids:
        os.sched_setscheduler(tid, os.SCHED_FIFO, os.sched_param(10))
    try:
        yield
    finally:
        for tid in tids:
            with contextlib.suppress(OSError):  # a thread that ended meanwhile
                os.sched_setscheduler(tid, os.SCHED_OTHER, os.sched_param(0))


async def _time_ticks(
    store: SqliteStore, clock: Scheduler, workflows: int, due: int, rounds: int, now: float
) -> tuple[Timings, dict[str, list[float]], int]:
    """Wall and CPU of each timed tick per way, wall of idle ticks per way, runs fired."""
    # CPU: all the process's threads (the cost); per way of finding the due ones.
    ticks: Timings = {"read": ([], []), "near": ([], [])}
    fired = 0
    for round_ in range(2 * rounds):  # the two ways alternate, under the same load
        chosen: list[ScheduleRecord] = []
        index, skip = divmod(round_ * due, PER_WORKFLOW)  # the next `due`, in order
        while len(chosen) < skip + due and index < workflows:
            chosen.extend(await store.list_schedules(f"w{index}"))
            index += 1
        way = "near" if round_ % 2 else "read"
        if way == "near":  # due half a second ahead; loaded as the loop does after a tick
            await _make_due(store, chosen[skip : skip + due], now + 0.5, round_)
            await clock.refill(now)
            now += 0.5
        else:  # due already and not loaded: the tick reads them from the store
            await _make_due(store, chosen[skip : skip + due], now - 1, round_)
            clock.near.forget()
        started, cpu = time.perf_counter(), time.process_time()
        fired += len(await clock.tick(now))
        ticks[way][0].append((time.perf_counter() - started) * 1000)
        ticks[way][1].append((time.process_time() - cpu) * 1000)
        now += 1.0
    idle: dict[str, list[float]] = {"read": [], "near": []}
    for round_ in range(10):  # nothing due: what each poll of the loop costs
        way = "near" if round_ % 2 else "read"
        if way == "near":
            await clock.refill(now)
        else:
            clock.near.forget()
        started = time.perf_counter()
        await clock.tick(now)
        idle[way].append((time.perf_counter() - started) * 1000)
        now += 1.0
    return ticks, idle, fired


async def main(count: int, due: int, rounds: int, realtime: bool = False) -> dict[str, Any]:
    """Register `count` schedules, then `rounds` times each way make `due` of them due and
    time a tick: `read` (due now, the tick reads them from the store's next-fire index, as
    after an apply) and `near` (due half a second ahead, held in the near-future heap that the
    loop loads after a tick, as fires that come due with time)."""
    import basir.engine.runtime  # noqa: F401 - a server has the engine loaded before it ticks

    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(f"sqlite:///{tmp}/basir.db")
        await store.open()
        try:
            workflows = max(1, count // PER_WORKFLOW)
            for index in range(min(workflows, (2 * due * rounds) // PER_WORKFLOW + 1)):
                name = f"w{index}"  # the workflows whose fires make runs
                spec = load_workflow(f"name: {name}\ntasks:\n  - {{id: a, uses: noop}}\n", "w.yaml")
                document = canonical_spec(spec)
                await store.put_workflow(name, "default", document, spec_hash(document), None)
            # Just after a 5-minute mark: the ticks timed below end long before any registered
            # cron (every 5 minutes at the most often) comes due, which would add its fires.
            now = time.time() // 300 * 300 + 1.0
            started, cpu = time.perf_counter(), time.process_time()
            for index in range(workflows):
                await store.sync_schedules(f"w{index}", _records(f"w{index}", now))
            register_s = time.perf_counter() - started
            register_cpu_s = time.process_time() - cpu
            clock = Scheduler(store, _StubEngine())  # type: ignore[arg-type]
            freeze_long_lived()  # as `basir server` does once started
            with _realtime(realtime):
                ticks, idle, fired = await _time_ticks(store, clock, workflows, due, rounds, now)
        finally:
            await store.close()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "schedules": workflows * PER_WORKFLOW,
        "due_per_tick": due,
        "ticks": 2 * rounds,
        "fired": fired,
        "register_s": round(register_s, 2),
        "register_per_s": round(workflows * PER_WORKFLOW / register_s),
        "register_cpu_s": round(register_cpu_s, 2),
        **{
            f"{way}_{key}": value
            for way, (walls, cpus) in ticks.items()
            for key, value in {
                "tick_ms_median": round(statistics.median(walls), 1),
                "tick_ms_max": round(max(walls), 1),
                "tick_ms": [round(t, 1) for t in walls],
                "tick_cpu_ms_median": round(statistics.median(cpus), 1),
                "tick_cpu_ms": [round(t, 1) for t in cpus],
                "idle_tick_ms_median": round(statistics.median(idle[way]), 2),
            }.items()
        },
        "realtime": realtime,
        "peak_rss_mb": round(rss_mb, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def print_table(result: dict[str, Any]) -> None:
    """The figures as a two-column table."""
    for key, value in result.items():
        print(f"{key:<18}{value}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=1_000_000)
    parser.add_argument("--due", type=int, default=1000)
    parser.add_argument("--ticks", type=int, default=5, help="ticks timed each way")
    parser.add_argument(
        "--realtime",
        action="store_true",
        help="time the ticks under SCHED_FIFO (root; a shared machine's load left out)",
    )
    args = parser.parse_args()
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:  # the server's loop
        result = runner.run(main(args.schedules, args.due, args.ticks, args.realtime))
    print_table(result)
    out = HERE / "results" / f"schedules-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
