"""`basir server` in-process: banner, examples, serving, and a graceful SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from basir.cli import server_cmd
from basir.cli import serving as serving_module
from basir.config import Settings

REPO = Path(__file__).resolve().parents[3]


async def test_serve_prints_banner_and_stops_on_sigterm(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = Settings(home=tmp_path / "home", shutdown_grace_s=0.0)
    serving = asyncio.create_task(serving_module.serve(config, REPO / "examples", port=0))
    output = ""
    for _ in range(600):
        output += capsys.readouterr().out
        if "admin token" in output or serving.done():
            break
        await asyncio.sleep(0.05)
    assert not serving.done(), serving.exception()
    url = re.search(r"listening on (http://\S+)", output).group(1)  # type: ignore[union-attr]
    token = re.search(r"keep it safe\): (\S+)", output).group(1)  # type: ignore[union-attr]
    assert f"{url}/docs" in output
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}) as c:
        assert (await c.get("/readyz")).status_code == 200
        names = {w["name"] for w in (await c.get("/api/v1/workflows")).json()["items"]}
        assert "hello" in names
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(serving, 30)
    assert (tmp_path / "home" / "basir.db").exists()


async def test_bad_examples_are_reported_and_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from basir.store.memory import MemoryStore

    folder = tmp_path / "examples"
    folder.mkdir()
    (folder / "good.yaml").write_text("name: good\ntasks: [{id: a, uses: noop}]\n")
    (folder / "bad.yaml").write_text("name: bad\ntasks: [{id: a}]\n")
    store = MemoryStore()
    await store.open()
    assert await serving_module.apply_examples(store, folder, []) == 1
    assert "bad.yaml" in capsys.readouterr().err


def test_weak_admin_token_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        server_cmd.server_app,
        ["--port", "0"],
        env={"BASIR_HOME": str(tmp_path), "BASIR_ADMIN_TOKEN": "short"},
    )
    assert result.exit_code == 2
    assert "BASIR_ADMIN_TOKEN" in result.output
