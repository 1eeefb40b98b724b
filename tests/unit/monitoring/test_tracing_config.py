"""Tracing asked for without the `otel` extra is refused with a code, in both languages."""

from __future__ import annotations

import importlib.util

import pytest

from basir.errors import BasirError
from basir.i18n import use_locale
from basir.monitoring.tracing import check_otel_available


def test_tracing_without_the_extra_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    check_otel_available()  # installed here: accepted
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name.startswith("opentelemetry") else real(name, *a),
    )
    with pytest.raises(BasirError) as refused:
        check_otel_available()
    assert refused.value.code == "config.otel_unavailable"
    assert "basir[otel]" in refused.value.message
    with use_locale("ar"), pytest.raises(BasirError) as in_arabic:
        check_otel_available()
    assert (
        "basir[otel]" in in_arabic.value.message
        and in_arabic.value.message != refused.value.message
    )
