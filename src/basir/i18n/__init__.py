"""Every user-facing string goes through here: gettext catalogs for English and Arabic.

`_("message {name}", name=x)` translates into the active locale, then formats.  The locale is
a context variable, so one server can answer one request in Arabic and the next in English.
Catalogs are the `.po` files beside this module, read with Babel once per process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from basir.i18n.catalog import (
    DEFAULT_LOCALE,
    SUPPORTED_LOCALES,
    current_locale,
    gettext,
    negotiate,
    ngettext,
    set_locale,
    use_locale,
)
from basir.i18n.labels import N_, state_label

if TYPE_CHECKING:
    from basir.i18n.deferred import defer, lazy, render_message

_ = gettext
_DEFERRED = frozenset({"defer", "lazy", "render_message"})


def __getattr__(name: str) -> Any:
    """`defer`, `lazy` and `render_message` on first use: only the engine and the readers of
    stored reasons need them (and `json`), not every command's start."""
    if name in _DEFERRED:
        from basir.i18n import deferred

        return getattr(deferred, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_LOCALE",
    "N_",
    "SUPPORTED_LOCALES",
    "_",
    "current_locale",
    "defer",
    "gettext",
    "lazy",
    "negotiate",
    "ngettext",
    "render_message",
    "set_locale",
    "state_label",
    "use_locale",
]
