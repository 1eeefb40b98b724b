"""What `basir run` and `basir resume` do in this process once their arguments are parsed.

Shared by the typer commands (`run_cmd`) and the direct path (`direct`), so it imports no
typer: a user error still exits through `fail`, which raises typer's `Exit`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from basir.cli.common import (
    EXIT_INVALID,
    err_console,
    fail,
    freeze_long_lived,
    opened_store,
    report_spec_error,
    run_async,
    settings,
    terminal_console,
)
from basir.cli.run_report import SPEC_SUFFIXES, finish_run
from basir.i18n import _

if TYPE_CHECKING:
    from collections.abc import Sequence

    from basir.config import Settings
    from basir.engine.runtime import Engine
    from basir.spec.models import WorkflowSpec
    from basir.store.base import Store
    from basir.store.records import RunRecord, WorkflowVersion


def parse_params(pairs: list[str]) -> dict[str, str]:
    """`-p key=value` pairs → a dict; a pair without `=` is an input error."""
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            fail(_("a parameter must look like key=value, got: {pair}", pair=pair))
        params[key.strip()] = value
    return params


async def _workflow_for(store: Store, target: str, config: Settings) -> WorkflowVersion:
    from basir.coordinator.workflows import apply_workflow
    from basir.engine.pool_config import configured_pools
    from basir.engine.queue_limits import configured_queues
    from basir.spec.errors import SpecError
    from basir.spec.validate import load_workflow_file

    path = Path(target)
    if path.exists() or path.suffix in SPEC_SUFFIXES:
        if not path.exists():
            fail(_("no such file: {path}", path=target))
        pools = await configured_pools(store, config.pools, config.home)
        queues = await configured_queues(store, config.queues)
        try:
            spec = load_workflow_file(
                path, template_dirs=config.template_dirs, pools=pools, queues=queues
            )
        except SpecError as error:
            report_spec_error(error, target)
        await refuse_over_quota(store, spec, config.template_dirs, target)
        version, _created = await apply_workflow(store, spec, created_by="cli")
        return version
    stored = await store.get_workflow(target)
    if stored is None:
        fail(_("no workflow named {name}; give a file or apply it first", name=target))
    # Checked when it was applied; a capacity lowered since must not leave a task waiting.
    from basir.engine.pool_config import stored_resource_problems

    pools = await configured_pools(store, config.pools, config.home)
    problems = stored_resource_problems(stored.spec, pools, config.template_dirs)
    _exit_on(problems, target)
    from basir.spec.models import WorkflowSpec

    parsed = WorkflowSpec.model_validate(stored.spec)
    await refuse_over_quota(store, parsed, config.template_dirs, target)
    return stored


async def refuse_over_quota(
    store: Store, spec: WorkflowSpec, template_dirs: Sequence[Path], target: str
) -> None:
    """Exit 2 naming each task that asks for more than its namespace's quota allows at once:
    it could never start (the engine refuses the run too; this keeps a file unapplied)."""
    from basir.engine.run_fit import spec_quota_problems, stored_quota
    from basir.spec.templates import TemplateResolver

    quota = await stored_quota(store, spec.namespace)
    _exit_on(spec_quota_problems(spec, quota, TemplateResolver(list(template_dirs))), target)


def _exit_on(problems: list[dict[str, str]], target: str) -> None:
    for problem in problems:
        sys.stderr.write(f"{target}: {problem['field']}: {problem['message']}\n")
    if problems:
        import typer

        raise typer.Exit(EXIT_INVALID)


async def _follow_to_end(
    engine: Engine,
    store: Store,
    run: RunRecord,
    json_out: bool,
    junit: Path | None,
    subscription: Any,
) -> int:
    import asyncio
    import signal

    from basir.cli.progress import RunProgress, following
    from basir.engine.report import run_to_dict

    tasks = await store.get_tasks(run.id)
    progress = RunProgress(terminal_console(), run.id, total=len(tasks))
    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, interrupted.set)

    def waiting_now() -> dict[str, str]:
        waiting = engine.resources_status()["waiting"]
        return {item["task_id"]: item["reason"] for item in waiting if item["run_id"] == run.id}

    watcher = asyncio.ensure_future(progress.watch_waiting(waiting_now))
    try:
        async with following(progress, subscription):
            waiter = asyncio.ensure_future(engine.wait(run.id))
            stopper = asyncio.ensure_future(interrupted.wait())
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if not waiter.done():
                waiter.cancel()
                await engine.stop()
                err_console.print(
                    _("interrupted; continue with: basir resume {run_id}", run_id=run.id)
                )
                return 130
            final = waiter.result()
    finally:
        watcher.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    await engine.stop()
    rows = await store.get_tasks(run.id)
    return finish_run(run_to_dict(final, rows, timestamps=True), json_out, junit)


@run_async
async def run_local(target: str, pairs: list[str], json_out: bool, junit: Path | None) -> int:
    from basir.engine.runtime import Engine

    params = parse_params(pairs)
    config = settings()
    async with opened_store(config) as store:
        version = await _workflow_for(store, target, config)
        engine = Engine(store, config)
        await engine.start(resume=False)
        freeze_long_lived()
        subscription = engine.bus.subscribe()
        try:
            run = await engine.submit(
                version, params=params, params_from_text=True, created_by="cli"
            )
        except BaseException:
            subscription.close()
            await engine.stop()
            raise
        sys.stderr.write(f"run {run.id}\n")
        return await _follow_to_end(engine, store, run, json_out, junit, subscription)


@run_async
async def resume_local(run_id: str, json_out: bool, junit: Path | None) -> int:
    from basir.engine.runtime import Engine

    config = settings()
    async with opened_store(config) as store:
        record = await store.get_run(run_id)
        if record is None:
            fail(_("no run with id {run_id}", run_id=run_id))
        engine = Engine(store, config)
        await engine.start(resume=False)
        freeze_long_lived()
        subscription = engine.bus.subscribe()
        sys.stderr.write(f"run {run_id}\n")
        record = await engine.resume(run_id)
        return await _follow_to_end(engine, store, record, json_out, junit, subscription)
