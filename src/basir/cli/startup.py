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
import importlib
import os
import sys
import types
from collections.abc import Iterable
from typing import Any

# CPython's own thresholds (as this process found them), restored by `settle`.
DEFAULT_GC_THRESHOLDS = gc.get_threshold()
STARTUP_GC_THRESHOLDS = (100_000, 50, 100)


def collect_less_while_starting() -> None:
    """Run the cyclic garbage collector rarely until `settle` (or the exit)."""
    gc.set_threshold(*STARTUP_GC_THRESHOLDS)


# pydantic's plugin loader: importing it imports `importlib.metadata` (with `email`, `csv`,
# `zipfile`, `socket`), ~10 ms of a fresh `basir validate`, only to learn that plugins are off.
PLUGIN_LOADER = "pydantic.plugin._loader"
PLUGINS_OFF = ("__all__", "1", "true")  # the values pydantic reads as "no plugin at all"


def skip_pydantic_plugin_scan() -> None:
    """Spare pydantic's search of every installed package for plugins (~10 ms per command).

    Looking for `pydantic` entry points imports `importlib.metadata` (with `email`, `csv`,
    `zipfile`) and reads every distribution's metadata on the first model.  Basir uses no
    pydantic plugin; a user who wants one sets `PYDANTIC_DISABLE_PLUGINS` (even to an empty
    value) and it is left as given.  While plugins are off, pydantic's loader module is a
    stand-in that answers "no plugins" without importing `importlib.metadata`; should the
    variable change later, the stand-in hands over to the real loader.
    """
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    if os.environ["PYDANTIC_DISABLE_PLUGINS"] in PLUGINS_OFF:
        sys.modules.setdefault(PLUGIN_LOADER, _plugin_loader_stand_in())


def _plugin_loader_stand_in() -> types.ModuleType:
    """A module with pydantic's `get_plugins`: none while they are off, else the real ones."""
    module = types.ModuleType(PLUGIN_LOADER, "No pydantic plugins while they are off.")

    def get_plugins() -> Iterable[Any]:
        if os.environ.get("PYDANTIC_DISABLE_PLUGINS") in PLUGINS_OFF:
            return ()
        if sys.modules.get(PLUGIN_LOADER) is module:
            del sys.modules[PLUGIN_LOADER]
        real: Iterable[Any] = importlib.import_module(PLUGIN_LOADER).get_plugins()
        return real

    module.get_plugins = get_plugins  # type: ignore[attr-defined]
    return module


def settle() -> None:
    """Back to the default thresholds: the process now does its long-lived work."""
    gc.set_threshold(*DEFAULT_GC_THRESHOLDS)


def before_exit() -> None:
    """Spare the interpreter's final full collection: the process is ending anyway.

    Objects are only moved out of the collector's sight; `atexit` handlers, thread joins and
    the flushing of files run as usual, and memory goes back to the OS with the process.
    """
    gc.freeze()
