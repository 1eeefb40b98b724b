"""docs/reference/metrics.md and the registry name the same metrics, no more, no less."""

from __future__ import annotations

import re
from pathlib import Path

from basir.monitoring.metrics import Metrics

DOC = Path(__file__).parents[3] / "docs" / "reference" / "metrics.md"
_ROW = re.compile(r"^\|\s*`(basir_[a-z0-9_]+)`\s*\|", re.MULTILINE)


def documented() -> set[str]:
    """Names in the first column of the reference table."""
    return set(_ROW.findall(DOC.read_text(encoding="utf-8")))


def test_every_registered_metric_has_its_doc_line_and_back() -> None:
    registered = Metrics().exposed_names()
    assert registered, "the registry is empty"
    assert registered - documented() == set(), "registered but not in docs/reference/metrics.md"
    assert documented() - registered == set(), "documented but not registered"


def test_every_name_is_basir_prefixed() -> None:
    assert all(name.startswith("basir_") for name in Metrics().exposed_names())


def test_http_status_is_a_class_and_route_a_template() -> None:
    metrics = Metrics()
    metrics.observe_http("GET", "/api/v1/runs/{run_id}", 404, 0.01)
    text = metrics.render().decode()
    assert (
        'basir_http_request_duration_seconds_count{method="GET",'
        'route="/api/v1/runs/{run_id}",status="4xx"} 1.0'
    ) in text
