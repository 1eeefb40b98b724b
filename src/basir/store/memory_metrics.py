"""The metric history of the in-memory store (`MemoryStore` inherits it): points in a dict."""

from __future__ import annotations

from basir.store.records import MetricPoint


class MemoryMetricHistory:
    """`metrics_write|query|rows|names|prune` over `(name, resolution, labels, time) -> value`."""

    _points: dict[tuple[str, int, str, float], float]

    def _check_open(self) -> None:
        raise NotImplementedError  # the store's

    async def metrics_write(self, points: list[MetricPoint]) -> None:
        """Insert points; a point at an existing key replaces its value."""
        self._check_open()
        for p in points:
            self._points[(p.name, p.resolution_s, p.labels, p.time)] = p.value

    async def metrics_query(
        self, name: str, resolution_s: int, start: float, end: float
    ) -> list[MetricPoint]:
        """Points of `name` at `resolution_s` with `start <= time <= end`, by series and time."""
        found = [
            MetricPoint(n, labels, r, t, value)
            for (n, r, labels, t), value in self._points.items()
            if n == name and r == resolution_s and start <= t <= end
        ]
        return sorted(found, key=lambda p: (p.labels, p.time))

    async def metrics_rows(
        self, name: str, resolution_s: int, start: float, end: float
    ) -> list[tuple[str, float, float]]:
        """Points as `(labels, time, value)`, oldest first (labels break ties)."""
        found = await self.metrics_query(name, resolution_s, start, end)
        return sorted(((p.labels, p.time, p.value) for p in found), key=lambda r: (r[1], r[0]))

    async def metrics_names(self) -> list[str]:
        """Every metric name with at least one point, sorted."""
        return sorted({key[0] for key in self._points})

    async def metrics_prune(self, before: dict[int, float]) -> int:
        """Delete points older than `before[resolution_s]`; return how many went."""
        self._check_open()
        old = [k for k in self._points if k[1] in before and k[3] < before[k[1]]]
        for key in old:
            del self._points[key]
        return len(old)
