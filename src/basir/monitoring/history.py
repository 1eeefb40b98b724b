"""The built-in metric history: every `basir_*` series sampled into the store, rolled up.

Every `interval_s` (10 s by default) the sampler reads the registry (`Metrics`) and writes, in
one store batch (the SQLite writer thread, off the event loop), each series' value three
times: a raw point, and the point of its minute and of its hour (upserted: the last sample in
a minute or hour is that rollup's value — for counters, which only grow, that is exact).
Old points are pruned per resolution (raw after an hour, per-minute after a week, per-hour
after a year), and at most `MAX_SERIES` series are kept per sample, so the history's size is
bounded whatever the workload.  Histogram buckets are left out (their `_sum` and `_count`
are kept): a bucket per series per sample would multiply the size for little use.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from basir.monitoring.metrics import Metrics
from basir.periodic import Periodic
from basir.store.base import MetricStore
from basir.store.records import MetricPoint

log = logging.getLogger(__name__)

RAW_S, MINUTE_S, HOUR_S = 0, 60, 3600
RESOLUTIONS_S = (RAW_S, MINUTE_S, HOUR_S)
# How long each resolution is kept.
RETENTION_S = {RAW_S: 3600.0, MINUTE_S: 7 * 86400.0, HOUR_S: 365 * 86400.0}
DEFAULT_INTERVAL_S = 10.0
PRUNE_EVERY_S = 60.0
MAX_SERIES = 2000
_SKIPPED_SUFFIXES = ("_bucket", "_created", "_gsum", "_gcount")


@dataclass(frozen=True, slots=True)
class Sample:
    """One series' current value: its sample name, canonical labels JSON, and value."""

    name: str
    labels: str
    value: float


def canonical_labels(labels: dict[str, str]) -> str:
    """The labels of a series as compact JSON with sorted keys (`{}` for none)."""
    return json.dumps(labels, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def collect(registry: CollectorRegistry, limit: int = MAX_SERIES) -> list[Sample]:
    """Every `basir_*` series of `registry` worth keeping, at most `limit` of them."""
    samples: list[Sample] = []
    for family in registry.collect():
        for sample in family.samples:
            if not sample.name.startswith("basir_") or sample.name.endswith(_SKIPPED_SUFFIXES):
                continue
            if math.isnan(sample.value):
                continue
            samples.append(Sample(sample.name, canonical_labels(sample.labels), sample.value))
            if len(samples) >= limit:
                return samples
    return samples


def points_at(samples: Iterable[Sample], now: float) -> list[MetricPoint]:
    """The raw, per-minute and per-hour points of `samples` taken at `now`."""
    minute = math.floor(now / MINUTE_S) * MINUTE_S
    hour = math.floor(now / HOUR_S) * HOUR_S
    points: list[MetricPoint] = []
    for s in samples:
        points.append(MetricPoint(s.name, s.labels, RAW_S, round(now, 3), s.value))
        points.append(MetricPoint(s.name, s.labels, MINUTE_S, float(minute), s.value))
        points.append(MetricPoint(s.name, s.labels, HOUR_S, float(hour), s.value))
    return points


def prune_cutoffs(now: float) -> dict[int, float]:
    """For each resolution, the time before which its points are deleted."""
    return {resolution: now - kept for resolution, kept in RETENTION_S.items()}


class HistorySampler:
    """Samples a `Metrics` registry into the store every `interval_s` and prunes old points."""

    def __init__(
        self,
        metrics: Metrics,
        store: MetricStore,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.metrics = metrics
        self.store = store
        self.interval_s = interval_s
        self.clock = clock
        self._last_prune = -math.inf
        self._periodic = Periodic(
            self.sample,
            self.interval_s,
            name="basir-metric-history",
            log=log,
            failure="metric history sample failed",
        )

    async def sample(self) -> int:
        """Take one sample now and write it (and prune when due); return the points written."""
        await self.metrics.refresh()
        now = self.clock()
        points = points_at(collect(self.metrics.registry), now)
        await self.store.metrics_write(points)
        if now - self._last_prune >= PRUNE_EVERY_S:
            self._last_prune = now
            await self.store.metrics_prune(prune_cutoffs(now))
        return len(points)

    def start(self) -> None:
        """Sample every `interval_s` in the background until `stop` (0: never)."""
        self._periodic.start()

    async def stop(self) -> None:
        """Stop sampling."""
        await self._periodic.stop()
