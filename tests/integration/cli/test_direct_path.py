"""The plain forms of `--help`, `validate` and `run` skip typer and answer exactly as it does.

Each case runs twice as fresh processes: the `basir` executable (the direct path of
`basir.cli.direct`) and the whole typer app built by `basir.cli.app` — same stdout, stderr
and exit code.  What a fresh process imports is read from its `sys.modules` at exit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import BASIR, write

ONE = "name: one\ntasks:\n  - id: a\n    uses: noop\n"
BAD = "name: bad\ntasks:\n  - id: a\n    uses: noop\n    colour: blue\n"
WHOLE_APP = (
    "import sys; sys.argv[0] = 'basir';"
    "from basir.cli.startup import skip_pydantic_plugin_scan; skip_pydantic_plugin_scan();"
    "from basir.cli.main import _lang_from_argv; _lang_from_argv();"
    "from basir.cli.app import build_app; build_app()()"
)
MODULES_AT_EXIT = (
    "import atexit, json, sys; out = sys.argv.pop(1); sys.argv[0] = 'basir';"
    "atexit.register(lambda: open(out, 'w').write(json.dumps(sorted(sys.modules))));"
    "from basir.cli.main import main; main()"
)
SERVER_SIDE = ("typer", "fastapi", "starlette", "uvicorn", "sqlalchemy", "asyncpg", "httpx")


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("BASIR_DB", "BASIR_SERVER")}
    return {**env, "BASIR_HOME": str(home), "BASIR_LANG": "en", **extra}


def _both(args: list[str], env: dict[str, str], cwd: Path) -> list[tuple[int, str, str]]:
    """(exit code, stdout, stderr) of the direct path and of the whole typer app."""
    answers = []
    for command in ([BASIR, *args], [sys.executable, "-c", WHOLE_APP, *args]):
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, cwd=cwd, timeout=60, check=False
        )
        answers.append((done.returncode, done.stdout, done.stderr))
    return answers


@pytest.mark.parametrize("lang", ["en", "ar"])
@pytest.mark.parametrize("args", [["--help"], [], ["--lang", "ar", "--help"]])
def test_the_help_page_is_typers(lang: str, args: list[str], tmp_path: Path) -> None:
    direct, whole = _both(args, _env(tmp_path, BASIR_LANG=lang, COLUMNS="64"), tmp_path)
    assert direct == whole
    arabic = lang == "ar" or "ar" in args
    usage = "الاستخدام:" if arabic else "Usage:"
    assert f"{usage} basir [OPTIONS] COMMAND [ARGS]..." in direct[1] + direct[2]


@pytest.mark.parametrize(
    "args",
    [
        ["validate", "one.yaml"],
        ["validate", "-q", "one.yaml", "bad.yaml"],
        ["--lang", "ar", "validate", "missing.yaml", "one.yaml"],
        ["validate", "bad.yaml", "--quiet"],
        ["run", "one.yaml", "-p", "oops"],
        ["run", "missing.yaml"],
        ["--lang=ar", "run", "no-such-workflow", "--json"],
        ["resume", "no-such-run"],
    ],
)
def test_validate_and_run_answer_as_typer_does(args: list[str], tmp_path: Path) -> None:
    write(tmp_path / "one.yaml", ONE)
    write(tmp_path / "bad.yaml", BAD)
    direct, whole = _both(args, _env(tmp_path / "home"), tmp_path)
    assert direct == whole
    assert direct[0] != 0 or "valid workflow one" in direct[2]


def test_a_run_ends_as_under_typer(tmp_path: Path) -> None:
    write(tmp_path / "one.yaml", ONE.replace("tasks:", "params:\n  x: {type: string}\ntasks:"))
    junit = tmp_path / "out.xml"
    args = ["run", "one.yaml", "--json", "-p", "x=1", "--junit", str(junit)]
    direct, whole = _both(args, _env(tmp_path / "home"), tmp_path)
    assert direct[0] == whole[0] == 0
    for _code, stdout, _stderr in (direct, whole):
        result = json.loads(stdout)
        assert (result["status"], result["tasks"]["a"]["status"]) == ("succeeded", "succeeded")
    assert junit.read_text(encoding="utf-8").startswith("<?xml")


def _modules(args: list[str], tmp_path: Path) -> set[str]:
    """Top-level packages a fresh `basir <args>` had imported when it exited."""
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", MODULES_AT_EXIT, str(out), *args],
        capture_output=True,
        text=True,
        env=_env(tmp_path / "home"),
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return {name.split(".")[0] for name in json.loads(out.read_text())}


@pytest.mark.parametrize(
    "args", [["--help"], ["validate", "one.yaml"], ["run", "one.yaml", "--json"]]
)
def test_plain_commands_import_no_typer_and_nothing_of_the_server(
    args: list[str], tmp_path: Path
) -> None:
    write(tmp_path / "one.yaml", ONE)
    imported = _modules(args, tmp_path)
    assert "basir" in imported
    assert not imported & set(SERVER_SIDE)


def test_any_other_form_is_left_to_typer(tmp_path: Path) -> None:
    write(tmp_path / "one.yaml", ONE)
    assert "typer" in _modules(["validate", "--help"], tmp_path)  # the probe sees typer
