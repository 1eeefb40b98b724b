"""Resources through the real `basir` executable: refusals at run, status, capacity overrides."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import Cli, write

TOO_BIG = """\
name: big
tasks:
  - id: build
    run: 'true'
    resources: {cpu: 3, pools: {gradle: 1}}
"""

FITS = """\
name: fits
defaults:
  resources: {pools: {gradle: 1}}
tasks:
  - {id: a, run: 'echo a'}
  - {id: b, run: 'echo b', resources: {cpu: 0.5, memory: 64Mi}}
"""

POOLS = {"BASIR_POOLS": "gradle=1,cpu=2"}


def test_run_refuses_a_request_above_capacity(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path / "big.yaml", TOO_BIG)
    done = cli("run", str(path), env=POOLS)
    assert done.returncode == 2
    assert done.stderr.startswith(f"{path}:5:17: tasks[0].resources.cpu: task build asks for 3")
    assert "whose capacity is 2" in done.stderr
    arabic = cli("--lang", "ar", "run", str(path), env=POOLS)
    assert arabic.returncode == 2 and "المجمّع" in arabic.stderr


def test_run_admits_requests_that_fit(cli: Cli, tmp_path: Path) -> None:
    done = cli("run", str(write(tmp_path / "fits.yaml", FITS)), "--json", env=POOLS)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "succeeded"
    assert all("waiting" not in task for task in result["tasks"].values())


def test_status_and_pool_set_on_the_embedded_store(cli: Cli) -> None:
    shown = json.loads(cli("resources", "status", "--json", env=POOLS).stdout)
    pools = {pool["name"]: pool for pool in shown["pools"]}
    assert (pools["gradle"]["capacity"], pools["cpu"]["capacity"]) == (1, 2)
    assert pools["gradle"]["in_use"] is None and shown["waiting"] == []
    done = cli("resources", "pool", "set", "gradle", "3", env=POOLS)
    assert done.returncode == 0, done.stderr
    assert "pool gradle: capacity 3" in done.stdout
    table = cli("resources", "status", env=POOLS).stdout
    assert any(line.split()[:3] == ["│", "gradle", "│"] for line in table.splitlines()), table
    shown = json.loads(cli("resources", "status", "--json", env=POOLS).stdout)
    assert {p["name"]: p["capacity"] for p in shown["pools"]}["gradle"] == 3
    added = cli("resources", "pool", "set", "gpu", "1", env=POOLS)  # a new custom pool
    assert added.returncode == 0 and "pool gpu: capacity 1" in added.stdout, added.stderr
    shown = json.loads(cli("resources", "status", "--json", env=POOLS).stdout)
    assert {p["name"]: p["capacity"] for p in shown["pools"]}["gpu"] == 1
    bad = cli("resources", "pool", "set", "GPU", "1", env=POOLS)
    assert bad.returncode == 2 and "GPU is not a pool name" in bad.stderr
    fraction = cli("resources", "pool", "set", "tpu", "0.5", env=POOLS)
    assert fraction.returncode == 2 and "0.5 is not a capacity for pool tpu" in fraction.stderr


def test_run_checks_against_capacities_set_in_the_store(cli: Cli, tmp_path: Path) -> None:
    path = write(
        tmp_path / "two.yaml",
        "name: two\ntasks:\n  - {id: a, run: 'true', resources: {pools: {gradle: 2}}}\n",
    )
    assert cli("run", str(path), env=POOLS).returncode == 2
    assert cli("resources", "pool", "set", "gradle", "2", env=POOLS).returncode == 0
    done = cli("run", str(path), env=POOLS)
    assert done.returncode == 0, done.stderr


def test_run_by_name_checks_a_stored_version_against_capacities_now(
    cli: Cli, tmp_path: Path
) -> None:
    """A version that fitted when applied, run after its pool was lowered, waited for ever."""
    path = write(
        tmp_path / "two.yaml",
        "name: two\ntasks:\n  - {id: a, run: 'true', resources: {pools: {gradle: 2}}}\n",
    )
    assert cli("resources", "pool", "set", "gradle", "2", env=POOLS).returncode == 0
    assert cli("workflows", "apply", str(path), env=POOLS).returncode == 0
    assert cli("resources", "pool", "set", "gradle", "1", env=POOLS).returncode == 0
    refused = cli("run", "two", env=POOLS, timeout=20)
    assert refused.returncode == 2
    assert refused.stderr == (
        "two: tasks[0].resources.pools.gradle: task a asks for 2 of pool gradle, whose capacity"
        " is 1; it could never start\n"
    )
    assert cli("resources", "pool", "set", "gradle", "2", env=POOLS).returncode == 0
    assert cli("run", "two", env=POOLS).returncode == 0


def test_disk_is_a_pool_of_the_data_dirs_free_space(cli: Cli, tmp_path: Path) -> None:
    shown = json.loads(cli("resources", "status", "--json").stdout)
    disk = next(pool for pool in shown["pools"] if pool["name"] == "disk")
    assert disk["capacity"] > 1 << 20  # bytes free where BASIR_HOME lives
    small = write(
        tmp_path / "small.yaml",
        "name: small\ntasks:\n  - {id: a, run: 'true', resources: {disk: 1Mi}}\n",
    )
    done = cli("run", str(small), "--json")
    assert done.returncode == 0, done.stderr
    huge = write(
        tmp_path / "huge.yaml",
        "name: huge\ntasks:\n  - {id: a, run: 'true', resources: {disk: 1000Ti}}\n",
    )
    refused = cli("run", str(huge))
    assert refused.returncode == 2
    assert "tasks[0].resources.disk: task a asks for 1000Ti of pool disk" in refused.stderr
    assert cli("resources", "pool", "set", "disk", "10Gi").returncode == 0
    shown = json.loads(cli("resources", "status", "--json").stdout)
    assert {p["name"]: p["capacity"] for p in shown["pools"]}["disk"] == 10 << 30


def test_analytics_recommendations_forecast_on_the_embedded_store(cli: Cli) -> None:
    analytics = json.loads(cli("resources", "analytics", "--json", env=POOLS).stdout)
    assert {p["pool"] for p in analytics["pools"]} >= {"cpu", "memory", "disk", "gradle"}
    assert analytics["bottlenecks"] == []  # no history yet: nothing waited
    advice = cli("resources", "recommendations", env=POOLS)
    assert advice.returncode == 0 and "nothing to change" in advice.stdout
    forecast = cli("resources", "forecast", "--window", "7d", "--scale", "2", env=POOLS)
    assert forecast.returncode == 0 and "gradle" in forecast.stdout
    wide = cli("resources", "forecast", "--scale", "2", env={**POOLS, "COLUMNS": "200"})
    assert "needed for ×2" in wide.stdout  # what the scaled load needs, not only in JSON
    bad = cli("resources", "forecast", "--window", "2s")
    assert bad.returncode == 2 and "2s is not a window" in bad.stderr
    arabic = cli("--lang", "ar", "resources", "recommendations", env=POOLS)
    assert "لا شيء يحتاج إلى تغيير" in arabic.stdout


STAMPED = (
    "echo start=$(date +%s.%N) >> $BASIR_OUTPUT; sleep 1; echo end=$(date +%s.%N) >> $BASIR_OUTPUT"
)
WHOLE_POOL = f"""\
name: whole
tasks:
  - {{id: a, run: '{STAMPED}', resources: {{pools: {{gradle: 1}}}}}}
  - {{id: b, run: '{STAMPED}', resources: {{pools: {{gradle: 1}}}}}}
"""


def test_a_local_run_says_why_a_task_waits_and_whole_pool_tasks_never_overlap(
    cli: Cli, tmp_path: Path
) -> None:
    """An in-process run has no server to ask: its progress says why a task waits."""
    done = cli("run", str(write(tmp_path / "whole.yaml", WHOLE_POOL)), "--json", env=POOLS)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    spans = {name: task["outputs"] for name, task in result["tasks"].items()}
    first, second = sorted(spans, key=lambda name: float(spans[name]["start"]))
    assert float(spans[first]["end"]) <= float(spans[second]["start"])  # one after the other
    run_id = result["run_id"]
    assert (
        f"task {second} waiting: waiting for gradle: 1/1 in use by run {run_id} task {first}"
    ) in done.stderr.splitlines()
    arabic = cli("--lang", "ar", "run", str(tmp_path / "whole.yaml"), env=POOLS)
    assert arabic.returncode == 0 and "تنتظر: في انتظار gradle: 1/1" in arabic.stderr
