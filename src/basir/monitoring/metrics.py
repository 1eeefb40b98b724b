"""Prometheus metrics of one Basir process, in a registry of its own (never the global one).

The engine calls the `observe_*` methods as things happen; gauges of runs and tasks by state
and the queue depth are filled at scrape time from a snapshot provider the engine (or the
app, from the store) binds with `bind_state`.  Every name starts with `basir_`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

TASK_DURATION_BUCKETS_S = (0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400)
LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5)
CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass(slots=True)
class StateSnapshot:
    """How many runs and tasks are in each state right now, and how many tasks wait to start."""

    runs: Mapping[str, int] = field(default_factory=dict)
    tasks: Mapping[str, int] = field(default_factory=dict)
    queue_depth: int | None = None


StateProvider = Callable[[], Awaitable[StateSnapshot]]


class Metrics:
    """The metric families of one process; cheap to call from the engine's hot paths."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.runs = Gauge("basir_runs", "Runs by state", ["state"], registry=registry)
        self.tasks = Gauge(
            "basir_tasks", "Tasks of active runs by state", ["state"], registry=registry
        )
        self.queue_depth = Gauge(
            "basir_queue_depth", "Tasks ready and waiting to start", registry=registry
        )
        self.task_duration = Histogram(
            "basir_task_duration_seconds",
            "Duration of finished task attempts",
            ["status"],
            buckets=TASK_DURATION_BUCKETS_S,
            registry=registry,
        )
        self.tasks_finished = Counter(
            "basir_task_attempts_finished",
            "Finished task attempts",
            ["status"],
            registry=registry,
        )
        self.runs_finished = Counter(
            "basir_runs_finished",
            "Runs that reached a final state",
            ["status"],
            registry=registry,
        )
        self.schedule_latency = Histogram(
            "basir_schedule_latency_seconds",
            "Time from a task becoming ready to its start",
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.commit_latency = Histogram(
            "basir_store_commit_seconds",
            "Time to commit one batch to the store",
            buckets=LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.sse_clients = Gauge(
            "basir_sse_clients", "Open event-stream connections", registry=registry
        )
        self._provider: StateProvider | None = None
        self._known_run_states: set[str] = set()
        self._known_task_states: set[str] = set()

    def observe_task(self, duration_s: float, status: str) -> None:
        """One task attempt finished after `duration_s` with `status`."""
        self.task_duration.labels(status=status).observe(max(duration_s, 0.0))
        self.tasks_finished.labels(status=status).inc()

    def observe_run(self, status: str) -> None:
        """A run reached a final state."""
        self.runs_finished.labels(status=status).inc()

    def observe_schedule_latency(self, seconds: float) -> None:
        """A ready task started `seconds` after it became ready."""
        self.schedule_latency.observe(max(seconds, 0.0))

    def observe_commit(self, seconds: float) -> None:
        """The store committed one batch in `seconds`."""
        self.commit_latency.observe(max(seconds, 0.0))

    def set_queue_depth(self, depth: int) -> None:
        """How many tasks are ready and waiting for a slot."""
        self.queue_depth.set(depth)

    def bind_state(self, provider: StateProvider | None) -> None:
        """Use `provider` at each scrape to fill the runs/tasks-by-state gauges."""
        self._provider = provider

    @property
    def has_state_provider(self) -> bool:
        """Whether someone bound a snapshot provider."""
        return self._provider is not None

    async def refresh(self) -> None:
        """Ask the bound provider for a snapshot and set the state gauges from it."""
        if self._provider is None:
            return
        snapshot = await self._provider()
        self._set_states(self.runs, self._known_run_states, snapshot.runs)
        self._set_states(self.tasks, self._known_task_states, snapshot.tasks)
        if snapshot.queue_depth is not None:
            self.queue_depth.set(snapshot.queue_depth)

    @staticmethod
    def _set_states(gauge: Gauge, known: set[str], counts: Mapping[str, int]) -> None:
        # States seen before but absent now drop to zero rather than keep a stale value.
        known.update(counts)
        for state in known:
            gauge.labels(state=state).set(counts.get(state, 0))

    def render(self) -> bytes:
        """The Prometheus text exposition of this registry."""
        return generate_latest(self.registry)
