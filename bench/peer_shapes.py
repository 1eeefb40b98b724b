"""The command-line shapes of `cli_bench.py` in a peer engine, as one fresh process.

    /tmp/peers/luigi/bin/python bench/peer_shapes.py luigi one|chain|fan
    /tmp/peers/dask/bin/python  bench/peer_shapes.py dask  one|chain|fan

`one` is one no-op task, `chain` 200 dependent no-op tasks, `fan` 10,000 tasks: a start, 9,998
in parallel and a task that needs them all (the same files `basir run` is timed on).  Luigi
runs with its local scheduler and one worker (tasks in the process, outputs as files, the only
way Luigi passes state); Dask builds a `dask.delayed` graph and computes it on threads.
Runs only under the peer's interpreter (this project does not install them).
"""

from __future__ import annotations

import sys
import tempfile
from typing import Any

CHAIN = 200
FAN = 9_998


def run_luigi(shape: str) -> bool:
    """The shape as Luigi tasks, built with the local scheduler."""
    import luigi

    out = tempfile.mkdtemp(prefix="peer-luigi-")

    class Step(luigi.Task):  # type: ignore[misc]
        index = luigi.IntParameter()
        kind = luigi.Parameter()

        def requires(self) -> list[Any]:
            if self.kind == "chain" and self.index > 0:
                return [Step(index=self.index - 1, kind="chain")]
            if self.kind == "fan-mid":
                return [Step(index=0, kind="fan-start")]
            if self.kind == "fan-end":
                return [Step(index=i, kind="fan-mid") for i in range(FAN)]
            return []

        def output(self) -> Any:
            return luigi.LocalTarget(f"{out}/{self.kind}-{self.index}")

        def run(self) -> None:
            with self.output().open("w") as handle:
                handle.write("1")

    roots = {
        "one": Step(index=0, kind="one"),
        "chain": Step(index=CHAIN - 1, kind="chain"),
        "fan": Step(index=0, kind="fan-end"),
    }
    return bool(luigi.build([roots[shape]], local_scheduler=True, workers=1, log_level="ERROR"))


def run_dask(shape: str) -> bool:
    """The shape as a `dask.delayed` graph, computed on the threaded scheduler."""
    import dask

    def noop(*_inputs: object) -> int:
        return 1

    node = dask.delayed(noop)
    if shape == "one":
        graph = node()
    elif shape == "chain":
        graph = node()
        for _ in range(CHAIN - 1):
            graph = node(graph)
    else:
        start = node()
        graph = node(*[node(start) for _ in range(FAN)])
    return dask.compute(graph, scheduler="threads")[0] == 1


if __name__ == "__main__":
    peer, shape = sys.argv[1], sys.argv[2]
    ok = run_luigi(shape) if peer == "luigi" else run_dask(shape)
    sys.exit(0 if ok else 1)
