"""The audit log through a real server: mutations recorded (refused ones too), the chain
verified, tampering with the SQLite file found, and the log exported."""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from api_e2e import BASIR, Server, apply_and_start, wait_status  # noqa: E402

VIEWER_TOKEN = "e2e-viewer-token-0123456789abcdef"
SPEC = "name: audited\ntasks:\n  - {id: one, run: 'true'}\n"


async def _add_viewer(home: Path) -> None:
    from basir.config import Settings
    from basir.security.tokens import create_user, issue_token
    from basir.store.factory import open_store

    store = open_store(Settings(home=home).db_url)
    await store.open()
    try:
        await create_user(store, "viewer", ["viewer"])
        await issue_token(store, "viewer", name="e2e-viewer", token=VIEWER_TOKEN)
    finally:
        await store.close()


def _entries(client: httpx.Client, want: int, **params: Any) -> list[dict[str, Any]]:
    """Poll until at least `want` entries are listed (they are written off the request path)."""
    deadline = time.monotonic() + 10
    items: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        response = client.get("/api/v1/audit", params={"limit": 500, **params})
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        if len(items) >= want:
            return items
        time.sleep(0.05)
    raise AssertionError(f"only {len(items)} audit entries: {items}")


def test_mutations_are_recorded_verified_and_tampering_is_found(server_factory: Any) -> None:
    server: Server = server_factory()
    asyncio.run(_add_viewer(server.home))
    server.start()
    with server.client() as admin, server.client(VIEWER_TOKEN) as viewer:
        run = apply_and_start(admin, SPEC)
        wait_status(admin, run["run_id"], {"succeeded"})
        refused = viewer.post("/api/v1/workflows/audited/runs", json={})
        assert refused.status_code == 403
        anonymous = httpx.post(f"{server.url}/api/v1/runs/{run['run_id']}/cancel")
        assert anonymous.status_code == 401
        admin.get("/api/v1/runs")  # a read is not recorded
        assert viewer.get("/api/v1/audit").status_code == 403

        items = _entries(admin, 4)
        assert [e["id"] for e in items] == [4, 3, 2, 1]  # newest first
        oldest = items[::-1]
        assert [(e["actor"], e["action"], e["status"]) for e in oldest] == [
            ("admin", "POST /api/v1/workflows", 201),
            ("admin", "POST /api/v1/workflows/{name}/runs", 201),
            ("viewer", "POST /api/v1/workflows/{name}/runs", 403),
            (None, "POST /api/v1/runs/{run_id}/cancel", 401),
        ]
        assert oldest[1]["target"] == {"name": "audited"}
        assert oldest[2]["detail"] == {"token": "e2e-viewer"}
        assert oldest[3]["target"] == {"run_id": run["run_id"]}
        assert oldest[0]["prev_hash"] == "0" * 64

        only_viewer = admin.get("/api/v1/audit", params={"actor": "viewer"}).json()["items"]
        assert [e["id"] for e in only_viewer] == [3]
        page = admin.get("/api/v1/audit", params={"limit": 2}).json()
        assert [e["id"] for e in page["items"]] == [4, 3] and page["next"] == 3
        older = admin.get("/api/v1/audit", params={"limit": 2, "before": page["next"]}).json()
        assert [e["id"] for e in older["items"]] == [2, 1]
        bad = admin.get("/api/v1/audit", params={"limit": 0})
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
        unknown = admin.get("/api/v1/audit", params={"who": "x"})
        assert unknown.status_code in (400, 422)

        assert admin.get("/api/v1/audit/verify").json() == {
            "ok": True,
            "entries": 4,
            "first_broken_id": None,
        }

        exported = admin.get("/api/v1/export/audit", params={"format": "jsonl"})
        assert exported.status_code == 200
        lines = [json.loads(line) for line in exported.text.splitlines()]
        assert lines == oldest
        as_csv = admin.get("/api/v1/export/audit", params={"format": "csv"}).text.splitlines()
        assert as_csv[0].split(",")[:3] == ["id", "time", "timestamp"] and len(as_csv) == 5
        parquet = admin.get("/api/v1/export/audit", params={"format": "parquet"})
        table = pq.read_table(io.BytesIO(parquet.content)).to_pylist()
        assert [row["hash"] for row in table] == [e["hash"] for e in oldest]
        recent = admin.get("/api/v1/export/audit", params={"since": oldest[2]["timestamp"]})
        assert [json.loads(line)["id"] for line in recent.text.splitlines()] == [3, 4]
        assert viewer.get("/api/v1/export/audit").status_code == 403
        assert admin.get("/api/v1/export/audit", params={"workflow": "x"}).status_code == 422

    verified = server.cli("audit", "verify", "--server", server.url)
    assert verified.returncode == 0, verified.stderr
    assert "4" in verified.stdout
    remote = server.cli("audit", "list", "--json", "--actor", "viewer", "--server", server.url)
    assert [e["id"] for e in json.loads(remote.stdout)["items"]] == [3]

    with sqlite3.connect(server.home / "basir.db") as db:
        db.execute("UPDATE audit_log SET status = 200 WHERE id = 3")
    with server.client() as admin:
        verdict = admin.get("/api/v1/audit/verify").json()
        assert verdict["ok"] is False and verdict["first_broken_id"] == 3
    broken = server.cli("audit", "verify", "--server", server.url)
    assert broken.returncode != 0
    assert "3" in broken.stdout + broken.stderr

    assert server.terminate() == 0  # the embedded store, read without a server
    env = {k: v for k, v in server.env.items() if k != "BASIR_SERVER"}
    local = subprocess.run(
        [BASIR, "audit", "verify"], check=False, env=env, capture_output=True, text=True
    )
    assert local.returncode == 1 and "3" in local.stderr
    listed = subprocess.run(
        [BASIR, "audit", "list", "--json", "--actor", "admin"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert [e["id"] for e in json.loads(listed.stdout)["items"]] == [2, 1]


def test_entries_still_queued_at_shutdown_are_written(server_factory: Any) -> None:
    server: Server = server_factory().start()
    with server.client() as admin:
        for _ in range(20):
            applied = admin.post(
                "/api/v1/workflows", content=SPEC, headers={"Content-Type": "application/yaml"}
            )
            assert applied.status_code in (200, 201)
    assert server.terminate() == 0
    env = {k: v for k, v in server.env.items() if k != "BASIR_SERVER"}
    verified = subprocess.run(
        [BASIR, "audit", "verify", "--json"], check=True, env=env, capture_output=True, text=True
    )
    assert json.loads(verified.stdout) == {"ok": True, "entries": 20, "first_broken_id": None}
