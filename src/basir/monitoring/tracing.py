"""OpenTelemetry export (the `otel` extra): a run is a trace, each attempt a span in it.

Spans are made from the committed events on the bus, not from inside the engine, so tracing
costs the engine nothing and every span's start and end are the events' own times: a run span
opens at `run.queued` (or at the first event seen of a run resumed by this process), an
attempt span at `task.started`, and both close at the matching final event, with an error
status and the error text when the task or run failed.  With `BASIR_OTEL_LOGS` the process's
log records go to OpenTelemetry as well.  Where they are sent is OpenTelemetry's own
configuration (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_SERVICE_NAME`, …): any Tempo, Jaeger or
Loki that speaks OTLP collects them.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from basir.errors import BasirError
from basir.events.bus import EventBus, Subscription
from basir.i18n import _
from basir.states import RUN_TERMINAL, TASK_TERMINAL, TaskStatus
from basir.store.records import EventRecord

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

log = logging.getLogger("basir.tracing")
MAX_OPEN_RUNS = 100_000
# Attempt ends besides the task's final states: a failed try to be retried, a crash, a task
# sent back to wait (preempted, held).
ATTEMPT_ENDS = frozenset({*TASK_TERMINAL, TaskStatus.RETRYING, "interrupted", "pending", "queued"})
FAILED = frozenset({"failed", "retrying", "interrupted", "upstream_failed"})


def check_otel_available() -> None:
    """Refuse to start with tracing asked for but the `otel` extra missing."""
    if importlib.util.find_spec("opentelemetry.sdk") is None:
        raise BasirError(
            "config.otel_unavailable",
            _("OpenTelemetry export needs the otel extra: install basir[otel]"),
        )


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


@dataclass
class _OpenRun:
    span: Span
    attempts: dict[str, Span] = field(default_factory=dict)


class RunTracer:
    """Turns run and task events into spans (call `handle` per event, in log order)."""

    def __init__(self, tracer: Tracer, *, max_open_runs: int = MAX_OPEN_RUNS) -> None:
        self.tracer = tracer
        self.max_open_runs = max_open_runs
        self._runs: dict[str, _OpenRun] = {}

    @property
    def open_runs(self) -> int:
        """Runs with a span still open."""
        return len(self._runs)

    def handle(self, event: EventRecord) -> None:
        """Open or close the spans `event` starts or ends."""
        kind, _sep, state = event.type.partition(".")
        if event.run_id is None or kind not in ("run", "task"):
            return
        run = self._run_of(event)
        if run is None:
            return
        if kind == "task" and event.task_id is not None:
            self._task_event(run, event, state)
        elif state in RUN_TERMINAL:
            for task_id in list(run.attempts):
                self._end(run.attempts.pop(task_id), event, state)
            self._end(run.span, event, state)
            del self._runs[event.run_id]
        else:
            run.span.add_event(event.type, timestamp=_ns(event.time))

    def _run_of(self, event: EventRecord) -> _OpenRun | None:
        from opentelemetry.context import Context

        assert event.run_id is not None
        found = self._runs.get(event.run_id)
        if found is not None or len(self._runs) >= self.max_open_runs:
            return found
        attributes: dict[str, Any] = {"basir.run_id": event.run_id}
        if event.workflow:
            attributes["basir.workflow"] = event.workflow
        for key in ("trigger", "by"):
            if isinstance(event.data.get(key), str):
                attributes[f"basir.{key}"] = event.data[key]
        span = self.tracer.start_span(
            f"run {event.workflow or event.run_id}",
            context=Context(),  # a new trace, whatever is current here
            start_time=_ns(event.time),
            attributes=attributes,
        )
        opened = self._runs[event.run_id] = _OpenRun(span)
        return opened

    def _task_event(self, run: _OpenRun, event: EventRecord, state: str) -> None:
        from opentelemetry import trace

        assert event.task_id is not None
        if state == "started":
            attempt = event.data.get("attempt")
            attributes: dict[str, Any] = {
                "basir.run_id": event.run_id or "",
                "basir.task_id": event.task_id,
            }
            if isinstance(attempt, int):
                attributes["basir.attempt"] = attempt
            old = run.attempts.pop(event.task_id, None)
            if old is not None:  # never left open: a new attempt ends the one before
                self._end(old, event, "interrupted")
            run.attempts[event.task_id] = self.tracer.start_span(
                event.task_id,
                context=trace.set_span_in_context(run.span),
                start_time=_ns(event.time),
                attributes=attributes,
            )
        elif state in ATTEMPT_ENDS:
            span = run.attempts.pop(event.task_id, None)
            if span is not None:
                self._end(span, event, state)

    @staticmethod
    def _end(span: Span, event: EventRecord, state: str) -> None:
        from opentelemetry.trace import Status, StatusCode

        span.set_attribute("basir.status", state)
        if state in FAILED or state == "cancelled":
            error = event.data.get("error")
            span.set_status(Status(StatusCode.ERROR, str(error) if error else state))
        else:
            span.set_status(Status(StatusCode.OK))
        span.end(end_time=_ns(event.time))


class TraceExport:
    """Feeds a `RunTracer` from the event bus while the server runs."""

    def __init__(
        self, bus: EventBus, tracer: RunTracer, flush: Callable[[], object] | None = None
    ) -> None:
        self.bus, self.tracer, self._flush = bus, tracer, flush
        self._subscription: Subscription | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Subscribe and handle events until `stop`."""
        accept = lambda e: e.type.startswith(("run.", "task."))  # noqa: E731
        self._subscription = self.bus.subscribe(accept)
        self._task = asyncio.create_task(self._loop(), name="basir-otel-traces")

    async def _loop(self) -> None:
        assert self._subscription is not None
        warned = False
        async for event in self._subscription:
            if self._subscription.lagged and not warned:
                warned = True
                log.warning("tracing fell behind the event log: some spans are missing")
            try:
                self.tracer.handle(event)
            except Exception:  # a broken exporter must not stop the server
                log.exception("could not record the span of event %s", event.id)

    async def stop(self) -> None:
        """Stop listening and send what is buffered (spans still open stay unsent)."""
        if self._subscription is not None:
            self._subscription.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._flush is not None:
            await asyncio.to_thread(self._flush)


def otlp_tracer(logs: bool) -> tuple[RunTracer, Any]:
    """A `RunTracer` exporting over OTLP/HTTP (and the log handler when `logs`); the provider.

    The provider is returned so the server can flush it (`shutdown()`) when it stops.
    """
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": "basir-l3"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if logs:
        _export_logs(resource)
    return RunTracer(provider.get_tracer("basir.l3")), provider


def _export_logs(resource: Any) -> None:
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    provider = LoggerProvider(resource=resource)
    provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
    logging.getLogger().addHandler(LoggingHandler(logger_provider=provider))
