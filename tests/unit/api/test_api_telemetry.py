"""FastAPI's own request telemetry: on only when OpenTelemetry is wanted."""

from __future__ import annotations

from basir.api.app import fastapi_telemetry


def test_off_unless_traces_or_fastapi_auto_configuration_are_asked_for() -> None:
    assert fastapi_telemetry(False, {}) == {"tracing": False, "metrics": False, "logs": False}
    assert fastapi_telemetry(True, {}) is None
    assert fastapi_telemetry(False, {"FASTAPI_OTEL_AUTO_CONFIGURE": "TRUE"}) is None
    assert fastapi_telemetry(False, {"FASTAPI_OTEL_AUTO_CONFIGURE": "no"}) is not None
