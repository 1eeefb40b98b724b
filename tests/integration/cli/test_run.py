"""`basir run`, `resume`, `validate`, `workflows`, `schema` through the real executable."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from cli_helpers import BASIR, Cli, write

CHAIN = """\
name: chain
params: {who: {type: string, default: world}}
tasks:
  - id: a
    run: echo "greeting=hello ${{ params.who }}" >> "$BASIR_OUTPUT"
  - id: b
    needs: [a]
    uses: echo
    with: {message: "${{ tasks.a.outputs.greeting }}"}
"""


def test_run_json_result_and_first_line(cli: Cli, tmp_path: Path) -> None:
    spec = write(tmp_path / "chain.yaml", CHAIN)
    done = cli("run", str(spec), "-p", "who=Sara", "--json")
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[0].startswith("run ")
    result = json.loads(done.stdout)
    assert result["run_id"] == done.stderr.splitlines()[0].split()[1]
    assert result["workflow"] == "chain" and result["version"] == 1
    assert result["status"] == "succeeded"
    assert result["tasks"]["b"] == {
        "status": "succeeded",
        "attempts": 1,
        "outputs": {"message": "hello Sara"},
    }


def test_failed_run_exits_1_and_writes_junit(cli: Cli, tmp_path: Path) -> None:
    spec = write(
        tmp_path / "f.yaml",
        "name: f\ntasks:\n  - {id: ok, uses: noop}\n"
        "  - {id: bad, needs: [ok], run: 'echo oops >&2; exit 3'}\n"
        "  - {id: next, needs: [bad], uses: noop}\n",
    )
    report = tmp_path / "out" / "junit.xml"
    done = cli("run", str(spec), "--junit", str(report))
    assert done.returncode == 1
    assert "exited with code 3" in done.stderr
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "3" and suite.get("failures") == "2"
    cases = {case.get("name"): case for case in suite.iter("testcase")}
    assert cases["ok"].find("failure") is None
    assert cases["bad"].find("failure") is not None


def test_a_failed_task_is_summed_up_in_the_cli_language(cli: Cli, tmp_path: Path) -> None:
    spec = write(
        tmp_path / "f.yaml", "name: f\ntasks:\n  - {id: bad, run: 'echo oops >&2; exit 3'}\n"
    )
    arabic = cli("--lang", "ar", "run", str(spec))
    assert arabic.returncode == 1
    assert "  bad: انتهى برمز الخروج 3\noops" in arabic.stderr, arabic.stderr
    assert "exited with code" not in arabic.stderr
    result = json.loads(cli("--lang", "ar", "run", str(spec), "--json").stdout)
    assert result["tasks"]["bad"]["error"] == "انتهى برمز الخروج 3\noops"


def test_invalid_input_exits_2_and_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", "name: bad\ntasks:\n  - id: a\n    run: x\n    uses: noop\n")
    done = cli("run", str(bad))
    assert done.returncode == 2
    assert "bad.yaml:5:5" in done.stderr
    spec = write(tmp_path / "chain.yaml", CHAIN)
    assert cli("run", str(spec), "-p", "nope=1").returncode == 2
    assert cli("run", str(spec), "-p", "novalue").returncode == 2
    assert cli("run", "no-such-workflow").returncode == 2
    listed = cli("workflows", "list", "--json")
    assert [w["name"] for w in json.loads(listed.stdout)] == ["chain"]  # applied, never run


def test_validate_reports_located_errors(cli: Cli, tmp_path: Path) -> None:
    good = write(tmp_path / "good.yaml", CHAIN)
    cyclic = write(
        tmp_path / "cyclic.yaml",
        "name: c\ntasks:\n"
        "  - {id: a, needs: [b], uses: noop}\n  - {id: b, needs: [a], uses: noop}\n",
    )
    assert cli("validate", str(good)).returncode == 0
    done = cli("validate", str(good), str(cyclic))
    assert done.returncode == 2
    assert "cyclic.yaml:3:" in done.stderr
    assert "a → b → a" in done.stderr or "b → a → b" in done.stderr


def test_arabic_messages(cli: Cli, tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.yaml", "name: Bad Name\ntasks:\n  - {id: a, uses: noop}\n")
    english = cli("validate", str(bad))
    arabic = cli("--lang", "ar", "validate", str(bad))
    assert english.returncode == arabic.returncode == 2
    assert "bad.yaml:1:" in arabic.stderr
    assert any("\u0600" <= ch <= "\u06ff" for ch in arabic.stderr), arabic.stderr
    via_env = cli("validate", str(bad), env={"BASIR_LANG": "ar"})
    assert via_env.stderr == arabic.stderr


def test_shell_injection_through_a_parameter_is_impossible(cli: Cli, tmp_path: Path) -> None:
    spec = write(
        tmp_path / "inj.yaml",
        "name: inj\nparams: {p: {type: string}}\ntasks:\n"
        "  - id: a\n    run: echo ${{ params.p }} > said.txt\n",
    )
    pwned = tmp_path / "pwned"
    payload = f"x; touch {pwned}; $(touch {pwned}) `touch {pwned}`"
    done = cli("run", str(spec), "-p", f"p={payload}")
    assert done.returncode == 0, done.stderr
    assert not pwned.exists()
    assert (tmp_path / "said.txt").read_text().strip() == payload


def test_workflow_versions(cli: Cli, tmp_path: Path) -> None:
    spec = write(tmp_path / "chain.yaml", CHAIN)
    assert cli("workflows", "apply", str(spec)).returncode == 0
    assert cli("workflows", "apply", str(spec)).returncode == 0  # unchanged: same version
    write(spec, CHAIN.replace("default: world", "default: there"))
    assert cli("workflows", "apply", str(spec)).returncode == 0
    versions = json.loads(cli("workflows", "versions", "chain", "--json").stdout)
    assert [v["version"] for v in versions] == [1, 2]
    shown = json.loads(cli("workflows", "show", "chain", "--version", "1").stdout)
    assert shown["spec"]["params"]["who"]["default"] == "world"
    assert cli("workflows", "show", "chain", "--version", "9").returncode == 2
    result = json.loads(cli("run", "chain", "--json").stdout)
    assert result["version"] == 2


def test_schema_is_json_schema(cli: Cli) -> None:
    done = cli("schema")
    schema = json.loads(done.stdout)
    assert schema["type"] == "object" and "tasks" in schema["properties"]


def test_kill_9_then_resume_finishes_without_rerunning(
    basir_home: Path, tmp_path: Path, cli: Cli
) -> None:
    spec = write(
        tmp_path / "long.yaml",
        """\
name: long
tasks:
  - id: first
    run: echo first >> ran.txt
  - id: slow
    needs: [first]
    run: |
      echo slow >> ran.txt
      if [ ! -f release ]; then sleep 60; fi
  - id: last
    needs: [slow]
    run: echo last >> ran.txt
""",
    )
    env = {**os.environ, "BASIR_HOME": str(basir_home)}
    process = subprocess.Popen(
        [BASIR, "run", str(spec)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    ran = tmp_path / "ran.txt"
    while not (ran.exists() and "slow" in ran.read_text()):
        assert time.monotonic() < deadline, "slow task never started"
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # the CLI and its task's process group
    process.wait(timeout=10)
    run_id = process.stderr.readline().split()[1] if process.stderr else ""
    assert run_id
    (tmp_path / "release").write_text("")
    done = cli("resume", run_id, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "succeeded"
    assert ran.read_text().split() == ["first", "slow", "slow", "last"]
    assert result["tasks"]["first"]["attempts"] == 1
    assert result["tasks"]["slow"]["attempts"] == 2
    again = cli("resume", run_id, "--json")  # a finished run just reports
    assert again.returncode == 0 and json.loads(again.stdout)["status"] == "succeeded"
