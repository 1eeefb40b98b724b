"""Deferred waiting reasons: what encoding one costs where the engine decides, and what showing
it costs where it is read.

    python bench/reasons_bench.py              # 50,000 of each
    python bench/reasons_bench.py --count 5000 # a quicker look

Measured per operation, wall and CPU time (`time.process_time`), with the load average:
`gettext` (what the engine did before: `_()` in English), `defer` of a flat reason and of one
with a nested message (the queue holders), `equal` (the engine's string comparison of two
reasons), `render en` / `render ar` of the nested one, and `render plain` (a legacy row).
JSON in bench/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from basir.i18n import _, defer, lazy, render_message, use_locale

HERE = Path(__file__).resolve().parent
BUSY = "waiting for {pool}: {used}/{total} in use by run {run} task {task}"
QUEUE = "waiting for queue {queue}: {used}/{total} in use by {holders}"
RUN, TASK = "1a2336b15080e358ba850", "build"


def measure(name: str, count: int, op: Callable[[int], object]) -> dict[str, Any]:
    """Run `op` `count` times; wall and CPU microseconds per call."""
    op(0)  # warm caches (catalog load)
    wall, cpu = time.perf_counter(), time.process_time()
    for index in range(count):
        op(index)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"op": name, "count": count, "wall_us": wall / count * 1e6, "cpu_us": cpu / count * 1e6}


def nested(index: int) -> str:
    holders = lazy("run {run} task {task}", run=RUN, task=f"t{index}")
    return defer(QUEUE, queue="builds", used=1, total=1, holders=holders)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=50_000)
    count = parser.parse_args().count
    stored = nested(1)
    legacy = f"waiting for gradle: 1/1 in use by run {RUN} task {TASK}"
    other = nested(2)

    def render_ar(_index: int) -> str:
        with use_locale("ar"):
            return render_message(stored)

    ops: list[tuple[str, Callable[[int], object]]] = [
        ("gettext (before)", lambda i: _(BUSY, pool="cpu", used="2", total="2", run=RUN, task=i)),
        ("defer flat", lambda i: defer(BUSY, pool="cpu", used="2", total="2", run=RUN, task=i)),
        ("defer nested", nested),
        ("equal", lambda _i: stored != other),
        ("render en", lambda _i: render_message(stored)),
        ("render ar", render_ar),
        ("render plain (legacy)", lambda _i: render_message(legacy)),
    ]
    load = Path("/proc/loadavg").read_text().split()[:3] if os.path.exists("/proc/loadavg") else []
    rows = [measure(name, count, op) for name, op in ops]
    print(f"load average: {' '.join(load)}")
    print(f"{'operation':<24}{'wall µs':>10}{'cpu µs':>10}")
    for row in rows:
        print(f"{row['op']:<24}{row['wall_us']:>10.2f}{row['cpu_us']:>10.2f}")
    result = {"bench": "reasons", "load_average": load, "results": rows}
    out = HERE / "results" / f"reasons-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
