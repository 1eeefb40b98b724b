"""Helpers of the dashboard unit tests (a module of its own: `conftest` names collide)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httpx

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
Browser = Callable[..., Awaitable[httpx.AsyncClient]]


def csrf_of(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = CSRF.search(html)
    assert found is not None, html
    return found.group(1)
