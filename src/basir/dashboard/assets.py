"""Static files: our own CSS/JS from `static/`, and the pinned libraries from `node_modules`.

Only the few files the pages load are served from `node_modules`, by name, never the folder.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter, HTTPException
from starlette.responses import FileResponse, Response

STATIC_DIR = Path(__file__).parent / "static"
ASSETS_ENV = "BASIR_DASHBOARD_ASSETS"
# Served name → path inside node_modules (versions pinned by package-lock.json).
VENDOR_FILES = {
    "htmx.min.js": "htmx.org/dist/htmx.min.js",
    "sse.min.js": "htmx-ext-sse/dist/sse.min.js",
    "dagre.min.js": "@dagrejs/dagre/dist/dagre.min.js",
    "uPlot.iife.min.js": "uplot/dist/uPlot.iife.min.js",
    "uPlot.min.css": "uplot/dist/uPlot.min.css",
}
OWN_FILES = (
    "app.css",
    "app.js",
    "dag.js",
    "live_chart.js",
    "chart.js",
    "pools.js",
    "resources.css",
    "boards.css",
    "boards.js",
    "run_form.js",
    "task_log.js",
)
STATIC_MAX_AGE_S = 3600
_MEDIA = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


def find_node_modules(start: Path | None = None) -> Path | None:
    """`$BASIR_DASHBOARD_ASSETS`, else the nearest `node_modules` above this package or cwd."""
    configured = os.environ.get(ASSETS_ENV)
    if configured:
        path = Path(configured)
        return path if path.is_dir() else None
    for base in (start or Path(__file__).resolve().parent, Path.cwd()):
        for folder in (base, *base.parents):
            candidate = folder / "node_modules"
            if (candidate / VENDOR_FILES["htmx.min.js"]).is_file():
                return candidate
    return None


def _file(path: Path) -> Response:
    if not path.is_file():
        raise HTTPException(404)
    return FileResponse(
        path,
        media_type=_MEDIA.get(path.suffix, "application/octet-stream"),
        headers={
            "Cache-Control": f"public, max-age={STATIC_MAX_AGE_S}",
            "X-Content-Type-Options": "nosniff",
        },
    )


def router(node_modules: Path | None) -> APIRouter:
    """Routes for `/static/app/<file>` and `/static/vendor/<file>`."""
    routes = APIRouter(include_in_schema=False)

    @routes.get("/static/app/{name}")
    async def own(name: str) -> Response:
        if name not in OWN_FILES:
            raise HTTPException(404)
        return _file(STATIC_DIR / name)

    @routes.get("/static/vendor/{name}")
    async def vendor(name: str) -> Response:
        relative = VENDOR_FILES.get(name)
        if relative is None or node_modules is None:
            raise HTTPException(404)
        return _file(node_modules / relative)

    return routes
