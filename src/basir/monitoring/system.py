"""The machine's own figures for the metric history: cpu, memory, the data dir's disk, network.

Read with psutil at scrape / sample time (a few small `/proc` reads and one `statvfs`, well
under a millisecond), so no thread of its own: `psutil.cpu_percent(None)` gives the busy share
since its previous call.
"""

from __future__ import annotations

from pathlib import Path

import psutil

from basir.monitoring.metrics import SystemFigures
from basir.resources.capacity import disk_free_bytes


def read_system(data_dir: Path) -> SystemFigures:
    """The machine now; disk figures are those of the file system holding `data_dir`."""
    memory = psutil.virtual_memory()
    path = data_dir
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        disk_total = int(psutil.disk_usage(str(path)).total)
    except OSError:
        disk_total = 0
    network = psutil.net_io_counters()
    return SystemFigures(
        cpu_utilisation=psutil.cpu_percent(None) / 100.0,
        memory_total=int(memory.total),
        memory_available=int(memory.available),
        disk_total=disk_total,
        disk_free=disk_free_bytes(data_dir),
        network_sent=int(network.bytes_sent) if network is not None else 0,
        network_received=int(network.bytes_recv) if network is not None else 0,
    )
