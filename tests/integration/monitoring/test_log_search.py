"""Log search across runs: the API on a real engine, and `basir logs search` after `basir run`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from monitoring_helpers import Served

from basir.monitoring import log_search
from basir.monitoring.log_search import SearchResult, scan

BASIR = str(Path(sys.executable).with_name("basir"))
TALK_YAML = """\
name: talk
tasks:
  - {id: say, run: "echo hello world; echo Needle in the HAYSTACK; echo bye"}
  - {id: other, run: "echo nothing here"}
"""
QUIET_YAML = """\
name: quiet
tasks:
  - {id: hush, run: "echo a needle too"}
"""


async def test_search_finds_lines_across_runs(served: Served) -> None:
    first = await served.run(TALK_YAML)
    second = await served.run(TALK_YAML)
    await served.run(QUIET_YAML)
    found = await served.client.get("/api/v1/logs/search", params={"q": "needle"})
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["truncated"] is False
    talk = [m for m in body["items"] if m["workflow"] == "talk"]
    assert [m["run_id"] for m in talk] == [second["run_id"], first["run_id"]]  # newest first
    assert {(m["task_id"], m["line"]) for m in talk} == {("say", "Needle in the HAYSTACK")}
    assert talk[0]["line_no"] >= 1
    only = await served.client.get(
        "/api/v1/logs/search", params={"q": "NEEDLE", "workflow": "quiet"}
    )
    assert [m["line"] for m in only.json()["items"]] == ["a needle too"]
    limited = await served.client.get("/api/v1/logs/search", params={"q": "needle", "limit": 1})
    assert len(limited.json()["items"]) == 1 and limited.json()["truncated"] is True
    none = await served.client.get("/api/v1/logs/search", params={"q": "absent text"})
    assert none.json() == {"items": [], "truncated": False}
    assert (await served.client.get("/api/v1/logs/search")).status_code == 422


def test_scan_stops_at_its_byte_budget(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    log = tmp_path / "t.log"
    log.write_text("x\n" * 1000 + "needle\n")
    monkeypatch.setattr(log_search, "MAX_SCAN_BYTES", 100)
    result = SearchResult()
    scan([("r", "w", "t", log)], "needle", result, 10)
    assert result.truncated and result.matches == []


def test_basir_logs_search_reads_the_embedded_store(tmp_path: Path, basir_home: Path) -> None:
    env = {**os.environ, "BASIR_HOME": str(basir_home)}
    (tmp_path / "talk.yaml").write_text(TALK_YAML)

    def basir(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [BASIR, *args], check=False, capture_output=True, text=True, env=env, cwd=tmp_path
        )

    assert basir("run", "talk.yaml").returncode == 0
    printed = basir("logs", "search", "haystack")
    assert printed.returncode == 0, printed.stderr
    assert "talk say:" in printed.stdout and "Needle in the HAYSTACK" in printed.stdout
    as_json = json.loads(basir("logs", "search", "hello", "--json").stdout)
    assert [m["line"] for m in as_json["items"]] == ["hello world"]
    assert basir("logs", "search", "hello", "--since", "soon").returncode == 2
    for bad in ("", "x" * 201):  # an empty text listed every line; the API refuses both
        refused = basir("logs", "search", bad)
        assert (refused.returncode, refused.stdout) == (2, ""), refused
        assert "text: give 1 to 200 characters to find" in refused.stderr
