"""Serving: the API, the scheduler and the embedded workers in one process (`basir server`).

Lifecycle: open the store, make sure an admin exists, apply `--load-examples`, start the
engine (which resumes interrupted runs), the schedule clock (`coordinator.schedules`) and
the decision callbacks (`coordinator.callbacks`, which resend undelivered ones), then serve
HTTP.  On SIGTERM or Ctrl+C: endless
streams end, uvicorn stops accepting and drains requests, the engine stops (running tasks
get the grace period, then are stored as interrupted and resume on the next start), the
store closes, and the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import sys
from collections.abc import Callable, Collection, Generator
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import uvicorn

from basir.cli.common import event_loop_factory, freeze_long_lived
from basir.config import Settings
from basir.i18n import _

if TYPE_CHECKING:
    from basir.events.bus import EventBus
    from basir.monitoring.tracing import TraceExport
    from basir.store.base import Store

HTTP_DRAIN_TIMEOUT_S = 5
STANDBY_POLL_S = 1.0  # how often a standby server tries the store's engine lock
log = logging.getLogger("basir.server")


class BasirServer(uvicorn.Server):
    """uvicorn's server, with signals handled on the loop and not re-raised after shutdown.

    uvicorn re-raises a captured SIGTERM once `serve()` returns, which would kill the process
    before the engine could stop; here the caller decides what happens after serving.
    """

    def __init__(
        self,
        config: uvicorn.Config,
        on_exit: Callable[[], None],
        on_started: Callable[[int], None],
    ) -> None:
        super().__init__(config)
        self._on_exit = on_exit
        self._on_started = on_started

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """Route SIGINT and SIGTERM to `handle_exit` through the event loop."""
        loop = asyncio.get_running_loop()
        handled = (signal.SIGINT, signal.SIGTERM)
        for sig in handled:
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in handled:
                loop.remove_signal_handler(sig)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """First signal: graceful shutdown; a second SIGINT forces it."""
        super().handle_exit(sig, frame)
        self._on_exit()

    async def startup(self, sockets: list[Any] | None = None) -> None:
        """Start listening, then report the actual port (useful with `--port 0`)."""
        await super().startup(sockets)
        if self.started and self.servers:
            port = int(self.servers[0].sockets[0].getsockname()[1])
            self._on_started(port)


def _banner(host: str, port: int, token: str | None) -> None:
    url = f"http://{host}:{port}"
    sys.stdout.write(_("Basir server listening on {url}", url=url) + "\n")
    sys.stdout.write(_("dashboard: {url}/ (log in as user admin)", url=url) + "\n")
    sys.stdout.write(_("API docs: {url}/docs", url=url) + "\n")
    if token is not None:
        sys.stdout.write(_("admin token (shown only once, keep it safe): {token}", token=token))
        sys.stdout.write("\n")
    sys.stdout.flush()


async def apply_examples(
    store: Any,
    folder: Path,
    template_dirs: list[Path],
    pools: dict[str, float] | None = None,
    queues: Collection[str] = (),
) -> int:
    """Apply every `*.yaml` of `folder`; report bad ones on stderr; returns how many applied.

    Pools and queues named by tasks are checked against `pools` and `queues` (the configured
    ones), as on any apply.
    """
    from basir.coordinator.workflows import apply_workflow
    from basir.spec.errors import SpecError
    from basir.spec.validate import load_workflow_file

    applied = 0
    for path in sorted(folder.glob("*.yaml")):
        try:
            spec = load_workflow_file(
                path, template_dirs=template_dirs, pools=pools or {}, queues=queues
            )
        except SpecError as error:
            sys.stderr.write(error.format() + "\n")
            continue
        await apply_workflow(store, spec, "examples")
        applied += 1
    return applied


async def serve(config: Settings, examples: Path | None = None, *, port: int | None = None) -> None:
    """Run the whole server until a signal asks it to stop (`port` overrides the settings')."""
    from basir.api.app import context_of, create_app
    from basir.api.http_limits import uvicorn_limits
    from basir.coordinator.callbacks import Callbacks
    from basir.coordinator.schedules import Scheduler
    from basir.engine.runtime import Engine
    from basir.monitoring.metrics import Metrics
    from basir.security.tokens import ensure_admin
    from basir.store.factory import open_store

    if config.otel_traces:  # refused before anything starts
        from basir.monitoring.tracing import check_otel_available

        check_otel_available()
    config.home.mkdir(parents=True, exist_ok=True)
    store = open_store(config.db_url)
    await store.open()
    try:
        await stand_by(store)
        token = await ensure_admin(store, config.admin_token)
        if examples is not None:
            count = await apply_examples(
                store, examples, config.template_dirs, config.pools, config.queues
            )
            sys.stderr.write(_("applied {count} example workflows", count=count) + "\n")
        metrics = Metrics()
        engine = Engine(store, config, metrics=metrics)
        await engine.start()
        clock = Scheduler(store, engine)
        await clock.start()
        callbacks = Callbacks(store, engine.bus, secret=_secret(config))
        if not callbacks.signed:
            log.warning("BASIR_CALLBACK_SECRET is not set: decision callbacks are sent unsigned")
        await callbacks.start()
        traces = _start_tracing(config, engine.bus)
        try:
            app = create_app(engine, config, metrics=metrics)
            freeze_long_lived()  # the app's routes and validators too: never garbage
            ctx = context_of(app)
            uconfig = uvicorn.Config(
                app,
                host=config.host,
                port=config.port if port is None else port,
                log_level="warning",
                log_config=None,  # uvicorn's records go through our handler (basir.logconfig)
                access_log=False,
                lifespan="on",
                timeout_graceful_shutdown=HTTP_DRAIN_TIMEOUT_S,
                **uvicorn_limits(),
            )
            server = BasirServer(
                uconfig,
                on_exit=ctx.shutdown.set,
                on_started=lambda port: _banner(config.host, port, token),
            )
            await server.serve()
            ctx.shutdown.set()
        finally:
            gc.unfreeze()
            # Deliveries in flight stay open in the store and are resent on the next start.
            await callbacks.stop()
            await clock.stop()
            if traces is not None:
                await traces.stop()
            await engine.stop(config.shutdown_grace_s)
    finally:
        await store.close()


async def stand_by(store: Store, poll_s: float = STANDBY_POLL_S) -> None:
    """Return once this server may drive `store` (`Store.take_engine_lock`); until then stand
    by, neither serving nor running anything, so two servers never run the same runs."""
    if await store.take_engine_lock():
        return
    sys.stderr.write(
        _("another server drives this store: standing by to take over when it stops") + "\n"
    )
    while not await store.take_engine_lock():
        await asyncio.sleep(poll_s)
    sys.stderr.write(_("the other server stopped: taking over this store") + "\n")


def _start_tracing(config: Settings, bus: EventBus) -> TraceExport | None:
    """OpenTelemetry export of runs as traces, when `BASIR_OTEL_TRACES` asks for it."""
    if not config.otel_traces:
        return None
    from basir.monitoring.tracing import TraceExport, otlp_tracer

    tracer, provider = otlp_tracer(config.otel_logs)
    export = TraceExport(bus, tracer, flush=provider.shutdown)
    export.start()
    return export


def _secret(config: Settings) -> str | None:
    secret = config.callback_secret
    return secret.get_secret_value() if secret is not None else None


GIL_SWITCH_INTERVAL_S = 0.0005


def run_server(config: Settings, examples: Path | None = None, *, port: int | None = None) -> None:
    """Blocking entry point: serve on uvloop when available."""
    from basir.logconfig import configure_logging

    configure_logging(config.log_format, config.log_level)
    # The store's writer and reader threads hand the GIL over at each SQLite step and must
    # win it back from the busy event loop, which holds it for up to the switch interval
    # (5 ms by default) each time.  At 0.5 ms, with 50 readers and 20 runs/s started, the
    # time `POST /runs` spends in its reads and commit fell from p50 25 / p90 125 ms to
    # p50 17 / p90 89 ms (p99 unchanged; docs/performance.md, Dashboard).
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(serve(config, examples, port=port))
