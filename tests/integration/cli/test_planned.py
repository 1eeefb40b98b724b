"""Nothing accepted is ignored, through the real `basir` executable (fresh processes)."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import Cli, write

REPO = Path(__file__).parents[3]

PLANNED = """\
name: planned
on:
  schedule:
    - {cron: not a cron, timezone: Mars/Base}
tasks:
  - id: build
    run: make
    resources: {cpu: 2, pools: {gpu: 1}}
    queue: heavy
    cache: {key: k}
"""


def test_validate_refuses_each_planned_field_at_its_place(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path / "planned.yaml", PLANNED)
    done = cli("validate", str(path))
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert [line.split(": ", 2)[:2] for line in lines] == [
        [f"{path}:4:8", "on.schedule[0].cron"],
        [f"{path}:4:26", "on.schedule[0].timezone"],
        [f"{path}:10:5", "tasks[0].cache"],
    ]  # a queue is checked against BASIR_QUEUES when applied or run, not in a file alone
    assert "a cron has 5 fields" in lines[0]
    assert "unknown time zone Mars/Base" in lines[1]
    assert "not built yet" in lines[2]  # cache: resources and queues are admitted now
    arabic = cli("--lang", "ar", "validate", str(path))
    assert arabic.returncode == 2
    for line in arabic.stderr.splitlines():
        assert any("\u0600" <= ch <= "\u06ff" for ch in line), line


def test_run_names_an_unknown_pool_and_stores_nothing(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path / "pools.yaml", PLANNED)
    done = cli("run", str(path), env={"BASIR_POOLS": "gradle=2"})
    assert done.returncode == 2
    unknown = [line for line in done.stderr.splitlines() if "tasks[0].resources.pools.gpu" in line]
    assert len(unknown) == 1
    assert unknown[0].startswith(f"{path}:8:33: ")
    assert "task build asks for pool gpu" in unknown[0] and "gradle" in unknown[0]
    assert cli("workflows", "apply", str(path)).returncode == 2
    listed = cli("workflows", "list", "--json")
    assert json.loads(listed.stdout) == []


def test_bad_pools_setting_exits_2(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path / "ok.yaml", "name: ok\ntasks:\n  - {id: a, uses: noop}\n")
    done = cli("validate", str(path), env={"BASIR_POOLS": "gradle"})
    assert done.returncode == 2
    assert "BASIR_POOLS: gradle is not name=slots" in done.stderr


def test_every_example_validates(cli: Cli) -> None:
    examples = sorted(str(p) for p in (REPO / "examples").glob("*.yaml"))
    assert examples
    done = cli("validate", *examples)
    assert done.returncode == 0, done.stderr


def test_token_without_server_is_refused(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path / "ok.yaml", "name: ok\ntasks:\n  - {id: a, uses: noop}\n")
    done = cli("run", str(path), "--token", "t" * 24)
    assert done.returncode == 2
    assert "--token is used only with --server" in done.stderr
    assert json.loads(cli("workflows", "list", "--json").stdout) == []
    assert cli("run", str(path), env={"BASIR_TOKEN": "t" * 24}).returncode == 0


def test_unknown_language_is_refused(cli: Cli, tmp_path: Path) -> None:
    path = write(tmp_path / "ok.yaml", "name: ok\ntasks:\n  - {id: a, uses: noop}\n")
    done = cli("--lang", "fr", "validate", str(path))
    assert done.returncode == 2
    assert "fr is not a language of Basir: use en or ar" in done.stderr
    assert cli("--lang", "ar_SA.UTF-8", "validate", "-q", str(path)).returncode == 0
