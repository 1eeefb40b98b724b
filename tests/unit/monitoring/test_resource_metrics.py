"""Pool and machine gauges: filled from the snapshot at scrape time, counters only rise."""

from __future__ import annotations

from pathlib import Path

from basir.monitoring.metrics import Metrics, StateSnapshot, SystemFigures
from basir.monitoring.system import read_system


def value(metrics: Metrics, sample: str) -> float:
    """One sample's value from the text exposition (`name{labels}`)."""
    for line in metrics.render().decode().splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{sample} not exposed")


def figures(sent: int) -> SystemFigures:
    return SystemFigures(0.25, 8 << 30, 6 << 30, 100 << 30, 40 << 30, sent, 1000)


async def test_pool_and_system_metrics_follow_the_snapshot() -> None:
    metrics = Metrics()
    snapshots = [
        StateSnapshot(
            pools=[
                {"name": "gradle", "capacity": 2, "in_use": 2, "waiting": 3, "waited_s": 40.0},
                {"name": "cpu", "capacity": 2.0, "in_use": 0.5, "used": 0.2, "waited_s": 0.0},
            ],
            system=figures(5000),
        ),
        StateSnapshot(
            pools=[{"name": "gradle", "capacity": 3, "in_use": 1, "waiting": 0, "waited_s": 55.0}],
            system=figures(7000),
        ),
    ]

    async def provide() -> StateSnapshot:
        return snapshots.pop(0)

    metrics.bind_state(provide)
    await metrics.refresh()
    assert value(metrics, 'basir_pool_capacity{pool="gradle"}') == 2
    assert value(metrics, 'basir_pool_waiting{pool="gradle"}') == 3
    assert value(metrics, 'basir_pool_wait_seconds_total{pool="gradle"}') == 40
    assert value(metrics, 'basir_pool_used{pool="cpu"}') == 0.2
    assert value(metrics, "basir_system_cpu_utilisation") == 0.25
    assert value(metrics, 'basir_system_memory_bytes{kind="available"}') == 6 << 30
    assert value(metrics, 'basir_system_disk_bytes{kind="free"}') == 40 << 30
    assert value(metrics, 'basir_system_network_bytes_total{direction="sent"}') == 0  # baseline
    await metrics.refresh()
    assert value(metrics, 'basir_pool_capacity{pool="gradle"}') == 3
    assert value(metrics, 'basir_pool_wait_seconds_total{pool="gradle"}') == 55  # rose by 15
    assert value(metrics, 'basir_system_network_bytes_total{direction="sent"}') == 2000


def test_read_system_reads_this_machine(tmp_path: Path) -> None:
    system = read_system(tmp_path / "not-yet" / "home")
    assert 0 <= system.cpu_utilisation <= 1
    assert 0 < system.memory_available <= system.memory_total
    assert 0 < system.disk_free <= system.disk_total
    assert system.network_received >= 0
