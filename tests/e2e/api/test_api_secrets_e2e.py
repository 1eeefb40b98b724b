"""A real `basir server` keeps its secrets: tasks never see them; a rotated admin token dies."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from api_e2e import apply_and_start, wait_status  # noqa: E402

TOKEN_A = "rotation-token-AAAA-0123456789"
TOKEN_B = "rotation-token-BBBB-0123456789"
DB_PASSWORD = "hunter2-db-password"
CLOUD_KEY = "cloud-key-0123456789-SECRET"


def test_rotating_the_admin_token_revokes_the_old_one(server_factory: Any) -> None:
    server = server_factory(admin_token=TOKEN_A)
    server.token = TOKEN_A
    server.start()
    with server.client(TOKEN_A) as client:
        assert client.get("/api/v1/runs").status_code == 200
    assert server.terminate() == 0
    server.env["BASIR_ADMIN_TOKEN"] = TOKEN_B
    server.token = TOKEN_B
    server.start()
    with server.client(TOKEN_A) as old:
        assert old.get("/api/v1/runs").status_code == 401
    with server.client(TOKEN_B) as new:
        assert new.get("/api/v1/runs").status_code == 200


def test_a_task_sees_no_server_secret(server_factory: Any, tmp_path: Path) -> None:
    server = server_factory(
        DATABASE_URL=f"postgresql://app:{DB_PASSWORD}@db.internal/app",
        AWS_SECRET_ACCESS_KEY=CLOUD_KEY,
        ALLOWED_BY_OPERATOR="visible",
        BASIR_TASK_ENV_ALLOW="ALLOWED_BY_OPERATOR",
    ).start()
    dump = tmp_path / "env.txt"
    expressions = tmp_path / "expr.txt"
    spec = f"""\
name: snoop
env: {{DECLARED: "by-workflow"}}
tasks:
  - id: look
    run: |
      env > {dump}
      printf '%s|' "${{{{ env.BASIR_ADMIN_TOKEN }}}}" "${{{{ env.DATABASE_URL }}}}" \\
        "${{{{ env.AWS_SECRET_ACCESS_KEY }}}}" "${{{{ env.ALLOWED_BY_OPERATOR }}}}" > {expressions}
"""
    with server.client() as client:
        run = apply_and_start(client, spec)
        done = wait_status(client, run["run_id"], {"succeeded", "failed"})
        assert done["status"] == "succeeded", done
    environment = dump.read_text()
    for secret in (server.token, DB_PASSWORD, CLOUD_KEY):
        assert secret not in environment
        assert secret not in expressions.read_text()
    names = {line.split("=", 1)[0] for line in environment.splitlines() if "=" in line}
    assert {"DECLARED", "ALLOWED_BY_OPERATOR", "BASIR_RUN_ID", "TMPDIR", "PATH"} <= names
    assert "BASIR_ADMIN_TOKEN" not in names and "BASIR_HOME" not in names
    assert expressions.read_text() == "|||visible|"
