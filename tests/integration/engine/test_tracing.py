"""OpenTelemetry: a run is one trace, each attempt a span under the run's span."""

from __future__ import annotations

import asyncio
from pathlib import Path

from engine_funcs import RunFn
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from basir.engine.runtime import Engine
from basir.monitoring.tracing import RunTracer, TraceExport


async def test_a_run_becomes_a_trace_with_a_span_per_attempt(
    engine: Engine, run_workflow: RunFn, tmp_path: Path
) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = RunTracer(provider.get_tracer("test"))
    export = TraceExport(engine.bus, tracer, flush=provider.shutdown)
    export.start()
    marker = tmp_path / "flaky"
    result = await run_workflow(
        {
            "name": "traced",
            "tasks": [
                {"id": "first", "uses": "noop"},
                {
                    "id": "flaky",
                    "needs": ["first"],
                    "python": "engine_funcs:flaky",
                    "args": [str(marker), 1],
                    "retries": {"max": 1, "delay": "10ms"},
                },
                {"id": "boom", "needs": ["flaky"], "uses": "fail", "with": {"message": "no"}},
            ],
        }
    )
    assert result["status"] == "failed"
    for _ in range(100):
        if tracer.open_runs == 0 and len(exporter.get_finished_spans()) >= 5:
            break
        await asyncio.sleep(0.02)
    await export.stop()
    spans = exporter.get_finished_spans()
    [run_span] = [s for s in spans if s.parent is None]
    assert run_span.name == "run traced"
    assert (
        run_span.attributes is not None and run_span.attributes["basir.run_id"] == result["run_id"]
    )
    assert run_span.status.status_code is StatusCode.ERROR
    attempts = [s for s in spans if s.parent is not None]
    assert {s.context.trace_id for s in spans} == {run_span.context.trace_id}
    assert all(
        s.parent is not None and s.parent.span_id == run_span.context.span_id for s in attempts
    )
    by_task: dict[str, list[object]] = {}
    for span in sorted(attempts, key=lambda s: s.start_time or 0):
        by_task.setdefault(span.name, []).append(span)
    assert sorted(by_task) == ["boom", "first", "flaky"]
    first_try, second_try = by_task["flaky"]
    assert first_try.status.status_code is StatusCode.ERROR  # type: ignore[attr-defined]
    assert "failure 1" in (first_try.status.description or "")  # type: ignore[attr-defined]
    assert second_try.status.status_code is StatusCode.OK  # type: ignore[attr-defined]
    assert second_try.attributes["basir.attempt"] == 2  # type: ignore[attr-defined]
    for span in spans:
        assert span.start_time is not None and span.end_time is not None
        assert span.start_time <= span.end_time
        assert run_span.start_time <= span.start_time and span.end_time <= run_span.end_time  # type: ignore[operator]
