"""Store micro-benchmark: durable task transitions per second, and read latency under load.

A transition is one guarded `TaskUpdate` plus its `EventRecord`, committed together.

    .venv/bin/python bench/store_bench.py                 # a temporary SQLite file
    .venv/bin/python bench/store_bench.py --url memory://
    .venv/bin/python bench/store_bench.py --url postgresql://postgres@127.0.0.1/basir_bench

Not a test: it prints numbers so we know the budget.  PostgreSQL must be an empty database.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from basir.store import open_store
from basir.store.base import Store
from basir.store.records import Batch, EventRecord, RunInsert, RunRecord, TaskRecord, TaskUpdate

N_TASKS = 1000
STATES = ("queued", "running")


class Tasks:
    """The tasks of one run, flipping between two states with guarded updates."""

    def __init__(self, run_id: str, n: int) -> None:
        self.run_id = run_id
        self.state = {f"t{i}": "queued" for i in range(n)}
        self.next = 0

    def transition(self) -> tuple[TaskUpdate, EventRecord]:
        task_id = f"t{self.next % len(self.state)}"
        self.next += 1
        old = self.state[task_id]
        new = STATES[1 - STATES.index(old)]
        self.state[task_id] = new
        update = TaskUpdate(
            self.run_id, task_id, {"status": new, "updated_at": time.time()}, (old,)
        )
        event = EventRecord(
            f"task.{new}", f"{self.run_id}/{task_id}", time.time(), {"to": new}, self.run_id
        )
        return update, event

    def batch(self, size: int) -> Batch:
        batch = Batch()
        for _ in range(size):
            update, event = self.transition()
            batch.changes.append(update)
            batch.events.append(event)
        return batch


async def new_run(store: Store, run_id: str, n_tasks: int = N_TASKS) -> Tasks:
    run = RunRecord(run_id, "bench", 1, "running", created_at=time.time())
    tasks = [TaskRecord(run_id, f"t{i}", "queued") for i in range(n_tasks)]
    await store.write(Batch([RunInsert(run, tasks)]))
    return Tasks(run_id, n_tasks)


async def sequential(store: Store, batch_size: int, seconds: float) -> float:
    """One writer awaiting each batch before the next: latency-bound."""
    tasks = await new_run(store, f"seq-{batch_size}")
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        await store.write(tasks.batch(batch_size))
        done += batch_size
    return done / (time.perf_counter() - start)


async def concurrent(store: Store, writers: int, seconds: float) -> float:
    """`writers` coroutines, each awaiting its own batches of 1: what group commit is for."""
    done = 0
    start = time.perf_counter()

    async def writer(tasks: Tasks) -> None:
        nonlocal done
        while time.perf_counter() - start < seconds:
            await store.write(tasks.batch(1))
            done += 1

    runs = [await new_run(store, f"conc-{writers}-{w}", 20) for w in range(writers)]
    start = time.perf_counter()
    await asyncio.gather(*(writer(t) for t in runs))
    return done / (time.perf_counter() - start)


async def read_latency(
    store: Store, readers: int, seconds: float, with_writes: bool
) -> list[float]:
    """Latencies (s) of the reads a dashboard makes, by `readers` concurrent coroutines.

    get_run, get_tasks (20 rows), list_runs (50) and list_events (100), in turn.
    """
    run = await new_run(store, f"read-{readers}-{with_writes}", 20)
    stop = time.perf_counter() + seconds
    latencies: list[float] = []

    async def one(i: int) -> None:
        if i % 4 == 0:
            await store.get_run(run.run_id)
        elif i % 4 == 1:
            await store.get_tasks(run.run_id)
        elif i % 4 == 2:
            await store.list_runs(limit=50)
        else:
            await store.list_events(after=max(0, await store.last_event_id() - 100))

    async def reader(r: int) -> None:
        i = r
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            await one(i)
            latencies.append(time.perf_counter() - t0)
            i += 1

    async def background_writer() -> None:
        tasks = await new_run(store, f"background-{readers}", 100)
        while time.perf_counter() < stop:
            await store.write(tasks.batch(10))

    jobs = [reader(r) for r in range(readers)]
    if with_writes:
        jobs.append(background_writer())
    await asyncio.gather(*jobs)
    return latencies


def _ms(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000 if len(values) > 1 else 0.0


async def main(url: str, seconds: float) -> None:
    store = open_store(url)
    await store.open()
    try:
        print(f"store: {url}")
        print(f"batch of   1, one writer     : {await sequential(store, 1, seconds):10,.0f} /s")
        for writers in (10, 200):
            rate = await concurrent(store, writers, seconds)
            print(f"batch of   1, {writers:3d} writers  : {rate:10,.0f} /s")
        print(f"batch of 100, one writer     : {await sequential(store, 100, seconds):10,.0f} /s")
        for readers in (1, 16):
            for with_writes in (False, True):
                lat = await read_latency(store, readers, seconds, with_writes)
                label = "+ writes" if with_writes else "        "
                print(
                    f"{readers:2d} reader(s) {label}       : {len(lat) / seconds:10,.0f} reads/s"
                    f"  p50 {_ms(lat, 50):6.2f} ms  p99 {_ms(lat, 99):6.2f} ms"
                )
    finally:
        await store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="store URL (default: a temporary SQLite file)")
    parser.add_argument("--seconds", type=float, default=3.0, help="per scenario")
    args = parser.parse_args()
    if args.url:
        asyncio.run(main(args.url, args.seconds))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(main(f"sqlite:///{Path(tmp) / 'bench.db'}", args.seconds))
