"""Prometheus metrics of one Basir process, in a registry of its own (never the global one).

The engine calls the `observe_*` methods as things happen (`basir.engine.journal.Metrics`);
the HTTP middleware times requests by route template (`basir.monitoring.http`); gauges of
runs and tasks by state, the queue depth and the resource pools are filled at scrape time
from a snapshot provider bound with `bind_state`.  Every name starts with `basir_` and is listed in
docs/reference/metrics.md (a test keeps the two equal).  Labels stay low-cardinality: states,
statuses, workflow names, HTTP methods, route templates and status classes — never run ids.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

TASK_DURATION_BUCKETS_S = (0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400)
WAIT_BUCKETS_S = (0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600)
LATENCY_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5)
BATCH_SIZE_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000, 20000)
CONTENT_TYPE = CONTENT_TYPE_LATEST


@dataclass(slots=True)
class StateSnapshot:
    """How many runs and tasks are in each state right now, and how many tasks wait to start."""

    runs: Mapping[str, int] = field(default_factory=dict)
    tasks: Mapping[str, int] = field(default_factory=dict)
    queue_depth: int | None = None
    # Resource pools: name -> (capacity, in use), cpu in cores, memory in bytes, else slots.
    pools: Mapping[str, tuple[float, float]] = field(default_factory=dict)


StateProvider = Callable[[], Awaitable[StateSnapshot]]


class Metrics:
    """The metric families of one process; cheap to call from the engine's hot paths."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.runs = Gauge("basir_runs", "Active runs by state", ["state"], registry=reg)
        self.tasks = Gauge("basir_tasks", "Tasks of active runs by state", ["state"], registry=reg)
        self.queue_depth = Gauge(
            "basir_queue_depth", "Tasks ready and waiting to start", registry=reg
        )
        self.queue_wait = Histogram(
            "basir_queue_wait_seconds",
            "Time a task waited queued before its attempt started, by workflow",
            ["workflow"],
            buckets=WAIT_BUCKETS_S,
            registry=reg,
        )
        self.schedule_latency = Histogram(
            "basir_schedule_latency_seconds",
            "Time from an attempt being scheduled to its body beginning (commit included)",
            buckets=LATENCY_BUCKETS_S,
            registry=reg,
        )
        self.task_duration = Histogram(
            "basir_task_duration_seconds",
            "Duration of finished task attempts, by workflow and status",
            ["workflow", "status"],
            buckets=TASK_DURATION_BUCKETS_S,
            registry=reg,
        )
        self.tasks_finished = Counter(
            "basir_task_attempts_finished", "Finished task attempts", ["status"], registry=reg
        )
        self.retries = Counter(
            "basir_task_retries", "Failed attempts that will be retried", ["workflow"], registry=reg
        )
        self.preemptions = Counter(
            "basir_preemptions",
            "Running attempts stopped to let a critical task start",
            ["workflow"],
            registry=reg,
        )
        self.runs_finished = Counter(
            "basir_runs_finished",
            "Runs that reached a final state, by workflow and status",
            ["workflow", "status"],
            registry=reg,
        )
        self.deadline_misses = Counter(
            "basir_deadline_misses",
            "Runs still going at their deadline",
            ["workflow"],
            registry=reg,
        )
        self.commit_latency = Histogram(
            "basir_store_commit_seconds",
            "Time to commit one batch to the store",
            buckets=LATENCY_BUCKETS_S,
            registry=reg,
        )
        self.batch_size = Histogram(
            "basir_store_batch_size",
            "Changes and events written in one store commit",
            buckets=BATCH_SIZE_BUCKETS,
            registry=reg,
        )
        self.http_latency = Histogram(
            "basir_http_request_duration_seconds",
            "HTTP request duration by method, route template and status class",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS_S,
            registry=reg,
        )
        self.sse_clients = Gauge("basir_sse_clients", "Open event-stream connections", registry=reg)
        self.pool_capacity = Gauge(
            "basir_pool_capacity", "Capacity of a resource pool", ["pool"], registry=reg
        )
        self.pool_in_use = Gauge(
            "basir_pool_in_use", "Amount of a resource pool held by tasks", ["pool"], registry=reg
        )
        self._provider: StateProvider | None = None
        self._known_run_states: set[str] = set()
        self._known_task_states: set[str] = set()

    def observe_task(self, duration_s: float, status: str, workflow: str = "") -> None:
        """One task attempt of `workflow` finished after `duration_s` with `status`."""
        self.task_duration.labels(workflow=workflow, status=status).observe(max(duration_s, 0.0))
        self.tasks_finished.labels(status=status).inc()

    def observe_queue_wait(self, seconds: float, workflow: str = "") -> None:
        """A queued task of `workflow` started after waiting `seconds`."""
        self.queue_wait.labels(workflow=workflow).observe(max(seconds, 0.0))

    def observe_schedule_latency(self, seconds: float) -> None:
        """A scheduled attempt's body began `seconds` after the scheduler picked it."""
        self.schedule_latency.observe(max(seconds, 0.0))

    def observe_retry(self, workflow: str = "") -> None:
        """A failed attempt of `workflow` will be retried."""
        self.retries.labels(workflow=workflow).inc()

    def observe_preemption(self, workflow: str = "") -> None:
        """An attempt of `workflow` was stopped for a critical task (and queued again)."""
        self.preemptions.labels(workflow=workflow).inc()

    def observe_deadline_miss(self, workflow: str = "") -> None:
        """A run of `workflow` was still going when its deadline passed."""
        self.deadline_misses.labels(workflow=workflow).inc()

    def observe_run(self, status: str, workflow: str = "") -> None:
        """A run reached a final state (counted once it is durable)."""
        self.runs_finished.labels(workflow=workflow, status=status).inc()

    def observe_commit(self, seconds: float, size: int = 0) -> None:
        """The store committed one batch of `size` changes and events in `seconds`."""
        self.commit_latency.observe(max(seconds, 0.0))
        self.batch_size.observe(max(size, 0))

    def observe_http(self, method: str, route: str, status: int, seconds: float) -> None:
        """One HTTP request to `route` (a template such as `/api/v1/runs/{run_id}`) answered."""
        status_class = f"{status // 100}xx"
        self.http_latency.labels(method=method, route=route, status=status_class).observe(
            max(seconds, 0.0)
        )

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
        for pool, (capacity, in_use) in snapshot.pools.items():
            self.pool_capacity.labels(pool=pool).set(capacity)
            self.pool_in_use.labels(pool=pool).set(in_use)

    @staticmethod
    def _set_states(gauge: Gauge, known: set[str], counts: Mapping[str, int]) -> None:
        # States seen before but absent now drop to zero rather than keep a stale value.
        known.update(counts)
        for state in known:
            gauge.labels(state=state).set(counts.get(state, 0))

    def exposed_names(self) -> set[str]:
        """The names as scraped: counters with `_total`, gauges and histograms bare."""
        names: set[str] = set()
        for family in self.registry.collect():
            suffix = "_total" if family.type == "counter" else ""
            names.add(family.name + suffix)
        return names

    def render(self) -> bytes:
        """The Prometheus text exposition of this registry."""
        return generate_latest(self.registry)
