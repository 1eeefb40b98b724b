"""A task's error is kept as a message with its output lines, whatever the server's language.

The engine here runs under Arabic (a server started with `BASIR_LANG=ar`): the stored error
still reads in English for an English reader, the retry event's data is English (as all event
data), and an Arabic reader gets Arabic.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from basir.config import Settings
from basir.coordinator.workflows import apply_workflow
from basir.engine.report import run_to_dict
from basir.engine.runtime import Engine
from basir.i18n import use_locale
from basir.i18n.deferred import render_in, split_error
from basir.spec.models import WorkflowSpec
from basir.store.base import Store

FAILING = {
    "name": "failing",
    "tasks": [{"id": "bad", "run": "echo 'last words' >&2; exit 3", "retries": 1}],
}


async def test_an_arabic_server_keeps_the_error_for_every_reader(
    store: Store, tmp_path: Path
) -> None:
    settings = Settings(home=tmp_path / "home", shutdown_grace_s=0.0)
    with use_locale("ar"):  # the engine's tasks inherit the language it started in
        engine = Engine(store, settings, workdir=tmp_path)
        await engine.start(resume=False)
    try:
        version, _ = await apply_workflow(store, WorkflowSpec.model_validate(FAILING))
        with engine.bus.subscribe(lambda e: e.type == "task.retrying") as retrying:
            with use_locale("ar"):
                run = await engine.submit(version)
            event = await asyncio.wait_for(retrying.get(), 20)
        final = await asyncio.wait_for(engine.wait(run.id), 20)
    finally:
        await engine.stop(grace_s=0)
    assert final.status == "failed"
    assert event.data["error"] == "exited with code 3\nlast words"
    (row,) = await store.get_tasks(run.id)
    assert row.error is not None
    head, detail = split_error(row.error)
    assert head is not None and (head.msgid, dict(head.values)) == (
        "exited with code {code}",
        {"code": 3},
    )
    assert detail == "last words" and json.loads(row.error)["d"] == "last words"
    assert render_in("en", row.error) == "exited with code 3\nlast words"
    assert render_in("ar", row.error) == "انتهى برمز الخروج 3\nlast words"
    with use_locale("en"):
        assert run_to_dict(final, [row])["tasks"]["bad"]["error"].startswith("exited with code 3")
