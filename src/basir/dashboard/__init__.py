"""The dashboard: server-rendered pages (Jinja2 + htmx) of the same engine the API serves.

`mount(app, context)` binds its routes to an app; `basir.api.app.create_app` calls it, so the
dashboard is served at `/` by `basir server` while the API stays under `/api/v1`.  Front-end
libraries come from the repository's `node_modules` (installed by `make assets` from the pinned
`package-lock.json`); nothing third-party is committed.
"""

from __future__ import annotations

from basir.dashboard.app import mount
from basir.dashboard.context import DashboardContext

__all__ = ["DashboardContext", "mount"]
