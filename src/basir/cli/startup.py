"""The garbage collector while a command starts (rarely, until the process settles) and ends.

While a command starts (imports, reading and validating a workflow file) almost nothing it
allocates is garbage, yet CPython's default thresholds run a collection every 700 net
allocations and a full one every few thousand: 10–20 % of a fresh `basir validate` or
`basir run`.  At the exit, the interpreter's last collection would traverse every object
the command made (~50 ms for `basir validate`); `before_exit` freezes them so it skips them.
This module imports nothing heavy, so `main` can call it before typer loads.
"""

from __future__ import annotations

import gc
import os

# CPython's own thresholds (as this process found them), restored by `settle`.
DEFAULT_GC_THRESHOLDS = gc.get_threshold()
STARTUP_GC_THRESHOLDS = (100_000, 50, 100)


def collect_less_while_starting() -> None:
    """Run the cyclic garbage collector rarely until `settle` (or the exit)."""
    gc.set_threshold(*STARTUP_GC_THRESHOLDS)


def skip_pydantic_plugin_scan() -> None:
    """Spare pydantic's search of every installed package for plugins (~10 ms per command).

    Looking for `pydantic` entry points imports `importlib.metadata` (with `email`, `csv`,
    `zipfile`) and reads every distribution's metadata on the first model.  Basir uses no
    pydantic plugin; a user who wants one sets `PYDANTIC_DISABLE_PLUGINS` (even to an empty
    value) and it is left as given.
    """
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")


def settle() -> None:
    """Back to the default thresholds: the process now does its long-lived work."""
    gc.set_threshold(*DEFAULT_GC_THRESHOLDS)


def before_exit() -> None:
    """Spare the interpreter's final full collection: the process is ending anyway.

    Objects are only moved out of the collector's sight; `atexit` handlers, thread joins and
    the flushing of files run as usual, and memory goes back to the OS with the process.
    """
    gc.freeze()
