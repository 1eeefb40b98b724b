"""`basir alerts list` without a server reads the embedded store (DESIGN §6: a command that
reads the store works without one), in the chosen language; with `--state pending` it has
nothing (only a running server holds pending alerts); a bad state is refused (exit 2)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

from cli_helpers import BASIR

from basir.store.records import AlertRecord
from basir.store.sqlite import SqliteStore


def _store_alerts(home: Path) -> None:
    async def put() -> None:
        store = SqliteStore(f"sqlite:///{home / 'basir.db'}")
        await store.open()
        try:
            for index, state in enumerate(("firing", "resolved")):
                await store.alert_put(
                    AlertRecord(
                        id=f"run_failed.r{index}",
                        rule="run_failed",
                        state=state,
                        severity="critical",
                        workflow="nightly",
                        run_id=f"r{index}",
                        fired_at=1_800_000_000.0 + index,
                        updated_at=1_800_000_000.0 + index,
                        data={"error": "exited with code 3"},
                    )
                )
        finally:
            await store.close()

    asyncio.run(put())


def _basir(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASIR_")}
    env["BASIR_HOME"] = str(home)
    return subprocess.run(
        [BASIR, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_alerts_list_reads_the_embedded_store_without_a_server(tmp_path: Path) -> None:
    _store_alerts(tmp_path)
    listed = _basir(tmp_path, "alerts", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    items = json.loads(listed.stdout)["items"]
    assert sorted((a["id"], a["state"]) for a in items) == [
        ("run_failed.r0", "firing"),
        ("run_failed.r1", "resolved"),
    ]
    firing = next(a for a in items if a["state"] == "firing")
    assert "nightly" in firing["message"] and firing["fired_at"] == "2027-01-15T08:00:00Z"
    only = _basir(tmp_path, "alerts", "list", "--state", "resolved", "--json")
    assert [a["id"] for a in json.loads(only.stdout)["items"]] == ["run_failed.r1"]
    assert json.loads(
        _basir(tmp_path, "alerts", "list", "--state", "pending", "--json").stdout
    ) == {"items": []}
    arabic = _basir(tmp_path, "--lang", "ar", "alerts", "list")
    assert arabic.returncode == 0 and "nightly" in arabic.stdout and "مُطلَق" in arabic.stdout
    bad = _basir(tmp_path, "alerts", "list", "--state", "burning")
    assert bad.returncode == 2
