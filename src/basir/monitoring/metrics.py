"""Prometheus metrics of one Basir process, in a registry of its own (never the global one).

The engine calls the `observe_*` methods as things happen (`basir.engine.journal.Metrics`);
the HTTP middleware times requests by route template (`basir.monitoring.http`); gauges of
runs and tasks by state, the queue depth and the resource pools are filled at scrape time
from a snapshot provider bound with `bind_state`.  Every name starts with `basir_` and is listed in
docs/reference/metrics.md (a test keeps the two equal).  Labels stay low-cardinality: states,
statuses, workflow names, HTTP methods, route templates and status classes — never run ids.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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
    # Every resource pool as `GET /api/v1/resources` shows it (capacity, in_use, waiting, …).
    pools: Sequence[Mapping[str, Any]] = ()
    system: SystemFigures | None = None


@dataclass(frozen=True, slots=True)
class SystemFigures:
    """The machine now (`monitoring.system`): cpu share, memory, the data dir's disk, network."""

    cpu_utilisation: float  # busy share of all cores since the previous reading, 0..1
    memory_total: int
    memory_available: int
    disk_total: int
    disk_free: int
    network_sent: int  # bytes since boot
    network_received: int


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
        # Children of `http_latency` by (method, route, status class); routes are templates
        # (or "unmatched"), so the set stays small.
        self._http_children: dict[tuple[str, str, int], Any] = {}
        self.http_latency = Histogram(
            "basir_http_request_duration_seconds",
            "HTTP request duration by method, route template and status class",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS_S,
            registry=reg,
        )
        self.sse_clients = Gauge("basir_sse_clients", "Open event-stream connections", registry=reg)
        self.pool_capacity = Gauge(
            "basir_pool_capacity",
            "A pool's capacity (cpu cores, memory bytes, slots)",
            ["pool"],
            registry=reg,
        )
        self.pool_in_use = Gauge(
            "basir_pool_in_use", "Amount of a pool held by running tasks", ["pool"], registry=reg
        )
        self.pool_used = Gauge(
            "basir_pool_used",
            "Measured use by running tasks: cpu cores, resident memory bytes",
            ["pool"],
            registry=reg,
        )
        self.pool_waiting = Gauge(
            "basir_pool_waiting", "Tasks waiting for a pool", ["pool"], registry=reg
        )
        self.pool_wait = Counter(
            "basir_pool_wait_seconds",
            "Seconds tasks have waited for a pool",
            ["pool"],
            registry=reg,
        )
        self._pool_waited: dict[str, float] = {}
        self.system_cpu = Gauge(
            "basir_system_cpu_utilisation",
            "Busy share of all cores of the machine (0..1) since the previous sample",
            registry=reg,
        )
        self.system_memory = Gauge(
            "basir_system_memory_bytes", "Machine memory by kind", ["kind"], registry=reg
        )
        self.system_disk = Gauge(
            "basir_system_disk_bytes",
            "Space of the data dir's file system by kind",
            ["kind"],
            registry=reg,
        )
        self.system_network = Counter(
            "basir_system_network_bytes",
            "Bytes the machine sent and received (all interfaces)",
            ["direction"],
            registry=reg,
        )
        self._network_seen: dict[str, int] = {}
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
        key = (method, route, status // 100)
        child = self._http_children.get(key)
        if child is None:  # `labels()` costs more than the observation: once per label set
            status_class = f"{status // 100}xx"
            child = self.http_latency.labels(method=method, route=route, status=status_class)
            self._http_children[key] = child
        child.observe(max(seconds, 0.0))

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
        for pool in snapshot.pools:
            self._set_pool(pool)
        if snapshot.system is not None:
            self._set_system(snapshot.system)

    def _set_system(self, figures: SystemFigures) -> None:
        self.system_cpu.set(figures.cpu_utilisation)
        self.system_memory.labels(kind="total").set(figures.memory_total)
        self.system_memory.labels(kind="available").set(figures.memory_available)
        self.system_disk.labels(kind="total").set(figures.disk_total)
        self.system_disk.labels(kind="free").set(figures.disk_free)
        for direction, total in (
            ("sent", figures.network_sent),
            ("received", figures.network_received),
        ):
            seen = self._network_seen.get(direction)
            counter = self.system_network.labels(direction=direction)
            if seen is not None and total > seen:  # counters since boot: add the rise only
                counter.inc(total - seen)
            self._network_seen[direction] = total

    def _set_pool(self, pool: Mapping[str, Any]) -> None:
        name = str(pool["name"])
        self.pool_capacity.labels(pool=name).set(pool["capacity"])
        self.pool_in_use.labels(pool=name).set(pool["in_use"])
        self.pool_waiting.labels(pool=name).set(pool.get("waiting", 0))
        if pool.get("used") is not None:
            self.pool_used.labels(pool=name).set(pool["used"])
        waited = float(pool.get("waited_s", 0.0))  # a running total: the counter grows by its rise
        grown = waited - self._pool_waited.get(name, 0.0)
        if grown > 0:
            self.pool_wait.labels(pool=name).inc(grown)
            self._pool_waited[name] = waited

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
