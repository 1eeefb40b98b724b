"""`EngineHealth`: the engine's own readiness, as `/readyz` shows it (`Engine.health`)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True, slots=True)
class EngineHealth:
    """The engine's own readiness, as `/readyz` shows it."""

    pump_alive: bool
    store_retrying: str | None = None  # the transient store error being waited out
    fault: str | None = None  # why the engine stopped, once it has
