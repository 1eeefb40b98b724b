"""Alert notifications through apprise URLs: email (`mailto://`), Slack, Telegram and the rest.

apprise is imported on first use only (it loads a plugin per service).  A URL is checked
when its route is saved (`supported`), so a route that apprise cannot use is refused then,
not discovered at the first alert.  Its credentials never leave the store: the API shows a
route's URL as `shown_url` (scheme and host only).
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

APPRISE_TIMEOUT_S = 30.0


@lru_cache(maxsize=1)
def _apprise() -> Any:
    """The apprise module with its plugins loaded (once).

    Its email plugin imports `imghdr`, deprecated in Python 3.11: that warning is apprise's
    business, not ours, and must not turn into an error where warnings are errors (tests).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        import apprise

        apprise.Apprise().add("json://127.0.0.1/")  # plugins load on the first lookup
    return apprise


def supported(url: str) -> bool:
    """Whether apprise knows how to send to `url`."""
    return bool(_apprise().Apprise().add(url))


def shown_url(url: str) -> str:
    """`url` without what may be secret: `scheme://host[:port]/…`."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    rest = "/…" if (parts.path.strip("/") or parts.query or parts.username) else ""
    return f"{parts.scheme}://{host}{port}{rest}"


async def send(url: str, title: str, body: str) -> str | None:
    """Send one notification; None when apprise reports success, else why it did not."""
    sender = _apprise().Apprise()
    if not sender.add(url):
        return "apprise does not support this URL"
    result = await sender.async_notify(body=body, title=title)
    return None if result else "apprise could not deliver the notification"
