"""The performance report over a real store: the API route and `basir report` after `basir run`."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from monitoring_helpers import Served

from basir.store.records import Batch, RunInsert, RunRecord, TaskRecord

BASIR = str(Path(sys.executable).with_name("basir"))
NOW = time.time()


def finished_run(run_id: str, status: str, ago_s: float, took_s: float) -> RunInsert:
    """A `nightly` run created `ago_s` ago whose one task ran `took_s` seconds."""
    created = NOW - ago_s
    run = RunRecord(
        id=run_id,
        workflow="nightly",
        version=1,
        status=status,
        created_at=created,
        started_at=created,
        finished_at=created + took_s,
        updated_at=created + took_s,
        deadline_at=created + 3,
    )
    task = TaskRecord(
        run_id=run_id,
        task_id="job",
        status=status,
        attempts=2 if status == "failed" else 1,
        queued_at=created,
        started_at=created + 0.25,
        finished_at=created + took_s,
        error="exit 3: disk full" if status == "failed" else None,
    )
    return RunInsert(run, [task])


async def seed(served: Served) -> None:
    """Four recent runs (1, 2, 4 s; one failed) and one from two days ago."""
    inserts = [
        finished_run("a", "succeeded", 3600, 1.25),
        finished_run("b", "succeeded", 3000, 2.25),
        finished_run("c", "failed", 2400, 4.25),
        finished_run("d", "succeeded", 1800, 2.25),
        finished_run("old", "failed", 2 * 86400, 100.0),
    ]
    await served.store.write(Batch(list(inserts), []))


async def test_report_route_figures_and_since(served: Served) -> None:
    await seed(served)
    week = (await served.client.get("/api/v1/reports/performance")).json()
    (nightly,) = week["workflows"]
    assert (nightly["runs"], nightly["successes"], nightly["failures"]) == (5, 3, 2)

    response = await served.client.get("/api/v1/reports/performance", params={"since": "1d"})
    assert response.status_code == 200, response.text
    (nightly,) = response.json()["workflows"]
    assert (nightly["runs"], nightly["successes"], nightly["failures"]) == (4, 3, 1)
    assert nightly["success_rate"] == 0.75
    assert nightly["duration_s"]["p50"] == 2.25 and nightly["duration_s"]["count"] == 4
    assert nightly["deadline_runs"] == 4 and nightly["deadline_hit_rate"] == 0.75
    assert nightly["retries"] == 1
    assert nightly["top_failures"] == [{"reason": "exit 3: disk full", "count": 1}]
    (job,) = nightly["tasks"]
    assert job["queue_wait_s"]["p95"] == 0.25 and job["duration_s"]["p50"] == 2.0

    until = await served.client.get(
        "/api/v1/reports/performance", params={"since": "1d", "until": str(NOW - 2000)}
    )
    assert until.json()["workflows"][0]["runs"] == 3

    text = (
        await served.client.get(
            "/api/v1/reports/performance", params={"since": "1d", "format": "csv"}
        )
    ).text
    assert next(csv.DictReader(io.StringIO(text)))["success_rate"] == "0.75"

    page = await served.client.get(
        "/api/v1/reports/performance", params={"format": "html", "lang": "ar"}
    )
    assert page.headers["content-type"].startswith("text/html")
    assert 'dir="rtl"' in page.text and "تقرير الأداء" in page.text

    bad = await served.client.get("/api/v1/reports/performance", params={"since": "soon"})
    assert bad.status_code == 422 and bad.json()["code"] == "report.bad_window"
    assert bad.json()["errors"][0]["field"] == "query.since"  # as every other query error
    for path in ("/api/v1/export/runs", "/api/v1/logs/search?q=x", "/api/v1/audit"):
        refused = await served.client.get(f"{path}{'&' if '?' in path else '?'}until=soon")
        assert refused.json()["errors"][0]["field"] == "query.until", path
    backwards = await served.client.get(
        "/api/v1/reports/performance", params={"since": "1d", "until": "2d"}
    )
    assert backwards.json()["errors"][0]["field"] == "query.since"
    unnamed = await served.client.get("/api/v1/metrics/query", params={"name": "runs"})
    assert unnamed.json()["errors"][0]["message"].startswith("a metric name: basir_")


FLAKY_YAML = """\
name: flaky
tasks:
  - {id: ok, uses: noop}
  - id: boom
    uses: fail
    with: {message: broken on purpose}
    retries: {max: 1, delay: 10ms}
"""
HELLO_YAML = """\
name: hello
tasks:
  - {id: greet, uses: echo, with: {message: hi}}
"""


def test_basir_report_counts_basir_run(tmp_path: Path, basir_home: Path) -> None:
    env = {**os.environ, "BASIR_HOME": str(basir_home)}
    (tmp_path / "flaky.yaml").write_text(FLAKY_YAML)
    (tmp_path / "hello.yaml").write_text(HELLO_YAML)

    def basir(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [BASIR, *args],
            check=False,
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )

    assert basir("run", "hello.yaml").returncode == 0
    assert basir("run", "hello.yaml").returncode == 0
    assert basir("run", "flaky.yaml").returncode == 1
    done = basir("report", "--format", "json")
    assert done.returncode == 0, done.stderr
    figures = {w["workflow"]: w for w in json.loads(done.stdout)["workflows"]}
    assert (figures["hello"]["runs"], figures["hello"]["success_rate"]) == (2, 1.0)
    flaky = figures["flaky"]
    assert (flaky["failures"], flaky["retries"]) == (1, 1)
    assert flaky["top_failures"] == [{"reason": "broken on purpose", "count": 1}]
    text = basir("--lang", "ar", "report")
    assert text.returncode == 0 and "تقرير الأداء" in text.stdout and "hello" in text.stdout
    future = basir("report", "--since", str(time.time() + 60), "--until", str(time.time() + 120))
    assert "No runs in this window." in future.stdout
    assert basir("report", "--format", "xml").returncode == 2
    assert basir("report", "--since", "soon").returncode == 2
