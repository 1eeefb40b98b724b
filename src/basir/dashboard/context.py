"""What the dashboard serves from: the engine, the settings and the shutdown signal."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from basir.api.cache import ListCache
from basir.config import Settings
from basir.dashboard.sessions import SessionCache
from basir.engine.runtime import Engine
from basir.monitoring.alert_manager import AlertManager
from basir.monitoring.metrics import Metrics
from basir.security.auth import Authenticator
from basir.store.base import Store


@dataclass(slots=True)
class DashboardContext:
    """Built by the app factory and kept on `app.state.dashboard`."""

    engine: Engine
    settings: Settings
    # Set when the server shuts down: the live streams end.
    shutdown: asyncio.Event = field(default_factory=asyncio.Event)
    # Where the pinned front-end packages are (None: not installed; pages still render).
    assets_dir: Path | None = None
    # The API's alerting (acknowledge, silence) and authenticator (forget a revoked token at
    # once); None when the dashboard is mounted without them (the alerts page says so).
    alerts: AlertManager | None = None
    auth: Authenticator | None = None
    # The server's metrics (the live streams count in `basir_sse_clients`), when served.
    metrics: Metrics | None = None
    # Costly views shared by every viewer (the resources page's advice and forecast read a
    # week of history): key -> (when computed, values); the lock computes each once at a time.
    views: dict[str, tuple[float, Any]] = field(default_factory=dict)
    views_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Rendered runs pages by (what the principal may see, language, query), emptied by every
    # committed event; None: every request reads and renders.
    pages_cache: ListCache[Any] | None = None
    # Live sessions by cookie (emptied by any session, token, user or language write).
    sessions: SessionCache = field(default_factory=SessionCache)

    @property
    def store(self) -> Store:
        """The engine's store."""
        return self.engine.store
