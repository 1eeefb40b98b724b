"""deploy/grafana's dashboard is valid JSON and only queries documented `basir_*` metrics."""

from __future__ import annotations

import json
import re
from pathlib import Path

from test_metrics_docs import documented

DASHBOARD = Path(__file__).parents[3] / "deploy" / "grafana" / "basir-dashboard.json"
_NAME = re.compile(r"\bbasir_[a-z0-9_]+")
_SUFFIXES = ("_bucket", "_count", "_sum")


def base_name(sample: str) -> str:
    """`basir_x_seconds_bucket` → `basir_x_seconds` (a histogram's documented name)."""
    for suffix in _SUFFIXES:
        if sample.endswith(suffix):
            return sample.removesuffix(suffix)
    return sample


def test_every_query_uses_documented_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert dashboard["uid"] == "basir-l3" and dashboard["panels"]
    used = {
        base_name(name)
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in _NAME.findall(target["expr"])
    }
    assert used, "no basir_* metric queried"
    assert used - documented() == set()
    # Every documented metric has a panel.
    assert documented() - used == set()
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
