"""`basir run --server`: submit to a real server, follow over SSE, report like a local run."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from api_e2e import ADMIN_TOKEN, Server

SPEC = """\
name: remote
params: {n: {type: integer, default: 1}, loud: {type: boolean, default: false}}
tasks:
  - id: a
    run: echo "doubled=$(( ${{ params.n }} * 2 ))" >> "$BASIR_OUTPUT"
  - id: b
    needs: [a]
    if: ${{ params.loud }}
    uses: echo
    with: {message: "${{ tasks.a.outputs.doubled }}"}
"""


def test_run_on_a_server_with_typed_params(server: Server, tmp_path: Path) -> None:
    spec = tmp_path / "remote.yaml"
    spec.write_text(SPEC)
    report = tmp_path / "junit.xml"
    done = server.cli(
        "run",
        str(spec),
        "--server",
        server.url,
        "--token",
        ADMIN_TOKEN,
        "-p",
        "n=21",
        "-p",
        "loud=true",
        "--json",
        "--junit",
        str(report),
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines()[0].startswith("run ")
    result = json.loads(done.stdout)
    assert set(result) == {"run_id", "workflow", "version", "status", "tasks"}
    assert result["status"] == "succeeded"
    assert result["tasks"]["b"]["outputs"] == {"message": "42"}
    assert ET.parse(report).getroot().find("testsuite").get("tests") == "2"  # type: ignore[union-attr]


def test_remote_failures_and_bad_input(server: Server, tmp_path: Path) -> None:
    spec = tmp_path / "remote.yaml"
    spec.write_text(SPEC.replace("uses: echo", "uses: fail"))
    failed = server.cli(
        "run", str(spec), "--server", server.url, "--token", ADMIN_TOKEN, "-p", "loud=true"
    )
    assert failed.returncode == 1
    bad_param = server.cli(
        "run", "remote", "--server", server.url, "--token", ADMIN_TOKEN, "-p", "n=abc"
    )
    assert bad_param.returncode == 2
    assert "params.n" in bad_param.stderr
    no_auth = server.cli("run", "remote", "--server", server.url, "--token", "x" * 30)
    assert no_auth.returncode == 2
