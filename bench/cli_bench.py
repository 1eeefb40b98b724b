"""The command line as users meet it: wall time of fresh `basir` processes.

    python bench/cli_bench.py              # every case, a table, JSON in bench/results/
    python bench/cli_bench.py --runs 3     # fewer repeats

Each case is started as a new process (`subprocess.run`, timed with `time.perf_counter`),
N times, with compiled bytecode readable and again with `PYTHONDONTWRITEBYTECODE=1` (CI
runners and containers set it; Python still reads the `.pyc` files `make env` compiled).
Every `basir run` gets a fresh `BASIR_HOME`, so the store is created as on first use.  The
median is reported beside the target of issue 8.  When the peers of ../shared/peers-bench
are installed (`/tmp/peers/luigi`, `/tmp/peers/dask`, or `PEERS_DIR`), the same one-task
run, 200-task chain and 10,000-task fan-out + fan-in are timed in fresh Luigi and Dask
processes too (`peer_shapes.py`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import machine  # noqa: E402

BASIR = Path(sys.executable).with_name("basir")
PEERS_DIR = Path(os.environ.get("PEERS_DIR", "/tmp/peers"))

# name → (arguments after `basir`, target wall seconds from issue 8)
CASES: dict[str, tuple[list[str], float]] = {
    "help": (["--help"], 0.150),
    "validate 1 task": (["validate", "{one}"], 0.250),
    "validate 10,000 tasks": (["validate", "{wide}"], 1.0),
    "run 1 task": (["run", "{one}", "--json"], 0.400),
    "run 200-task chain": (["run", "{chain}", "--json"], 0.600),
    "run 10,000 fan-out + fan-in": (["run", "{wide}", "--json"], 4.0),
}

# A peer process slower than this is reported as not finished (Luigi's 10,000-task fan-out
# took longer than 400 s on this machine).
PEER_TIMEOUT_S = 120.0
PEER_SHAPES = {
    "run 1 task": "one",
    "run 200-task chain": "chain",
    "run 10,000 fan-out + fan-in": "fan",
}


def write_specs(folder: Path) -> dict[str, Path]:
    """The workflow files: 1 task, a 200-task chain, 10,000 tasks (fan-out + fan-in)."""
    one = ["name: one", "tasks:", "  - id: a", "    uses: noop"]
    chain = ["name: chain", "tasks:"]
    for index in range(200):
        chain += [f"  - id: t{index}", "    uses: noop"]
        chain += [f"    needs: [t{index - 1}]"] if index else []
    wide = ["name: wide", "tasks:", "  - id: start", "    uses: noop"]
    for index in range(9998):
        wide += [f"  - id: t{index}", "    uses: noop", "    needs: [start]"]
    wide += ["  - id: end", "    uses: noop", "    needs:"]
    wide += [f"      - t{index}" for index in range(9998)]
    paths = {}
    for name, lines in (("one", one), ("chain", chain), ("wide", wide)):
        paths[name] = folder / f"{name}.yaml"
        paths[name].write_text("\n".join(lines) + "\n")
    return paths


def time_process(
    command: list[str],
    env: dict[str, str],
    runs: int,
    fresh_home: bool,
    timeout_s: float | None = None,
) -> Any:
    """Median, min and max wall seconds of `runs` fresh processes; None when one fails."""
    walls = []
    for _ in range(runs):
        run_env = dict(env)
        home = tempfile.mkdtemp(prefix="basir-cli-bench-") if fresh_home else None
        if home is not None:
            run_env["BASIR_HOME"] = home
        started = time.perf_counter()
        try:
            done = subprocess.run(
                command, env=run_env, capture_output=True, check=False, timeout=timeout_s
            )
        except subprocess.TimeoutExpired:
            return {"median_s": None, "note": f"did not finish within {timeout_s:.0f} s"}
        walls.append(time.perf_counter() - started)
        if home is not None:
            shutil.rmtree(home, ignore_errors=True)
        if done.returncode != 0:
            sys.stderr.write(f"{' '.join(command)} exited {done.returncode}\n")
            sys.stderr.write(done.stderr.decode(errors="replace")[-2000:])
            return None
    return {
        "median_s": statistics.median(walls),
        "min_s": min(walls),
        "max_s": max(walls),
    }


def basir_cases(paths: dict[str, Path], runs: int) -> list[dict[str, Any]]:
    """Every case, with bytecode writable and with PYTHONDONTWRITEBYTECODE=1."""
    results = []
    base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    base["BASIR_LANG"] = "en"
    for name, (args, target) in CASES.items():
        command = [str(BASIR), *(a.format(**{k: str(p) for k, p in paths.items()}) for a in args)]
        for no_bytecode in (False, True):
            env = dict(base)
            if no_bytecode:
                env["PYTHONDONTWRITEBYTECODE"] = "1"
            timing = time_process(command, env, runs, fresh_home=args[0] == "run")
            results.append(
                {
                    "case": name,
                    "dont_write_bytecode": no_bytecode,
                    "target_s": target,
                    **(timing or {"median_s": None}),
                }
            )
    return results


def peer_cases(runs: int) -> list[dict[str, Any]]:
    """The same shapes in fresh Luigi and Dask processes, when those peers are installed."""
    peers = [
        ("luigi", PEERS_DIR / "luigi" / "bin" / "python"),
        ("dask", PEERS_DIR / "dask" / "bin" / "python"),
    ]
    results = []
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    for peer, python in peers:
        for case, shape in PEER_SHAPES.items():
            name = f"{peer}: {case}"
            if not python.exists():
                results.append({"case": name, "note": f"not installed ({python})"})
                continue
            command = [str(python), str(HERE / "peer_shapes.py"), peer, shape]
            # One timed try of a case that takes minutes is enough to compare.
            tries = runs if shape != "fan" else 1
            timing = time_process(command, env, tries, fresh_home=False, timeout_s=PEER_TIMEOUT_S)
            results.append({"case": name, **(timing or {"median_s": None})})
    return results


def print_table(results: list[dict[str, Any]]) -> None:
    """Median (min–max) per case and whether it meets its target."""
    print(
        f"{'case':<40}{'no .pyc writes':>15}{'median s':>10}{'min s':>8}{'max s':>8}{'target':>8}"
    )
    for row in results:
        if row.get("median_s") is None:
            print(f"{row['case']:<40}{'':>15}  {row.get('note', 'failed')}")
            continue
        flag = "yes" if row.get("dont_write_bytecode") else ("no" if "target_s" in row else "")
        target = row.get("target_s")
        verdict = "" if target is None else ("ok" if row["median_s"] <= target else "MISS")
        target_text = "" if target is None else f"{target:.2f}"
        print(
            f"{row['case']:<40}{flag:>15}{row['median_s']:>10.3f}{row['min_s']:>8.3f}"
            f"{row['max_s']:>8.3f}{target_text:>8} {verdict}"
        )


def main() -> None:
    """Build the files, time every case, print the table, write the JSON."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-peers", action="store_true", help="skip Luigi and Dask")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="basir-cli-specs-") as folder:
        paths = write_specs(Path(folder))
        results = basir_cases(paths, args.runs)
    if not args.no_peers:
        results += peer_cases(args.runs)
    print_table(results)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (out / f"cli-{stamp}.json").write_text(
        json.dumps({"machine": machine(), "runs": args.runs, "results": results}, indent=2)
    )


if __name__ == "__main__":
    main()
