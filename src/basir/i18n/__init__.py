"""Every user-facing string goes through here: gettext catalogs for English and Arabic.

`_("message {name}", name=x)` translates into the active locale, then formats.  The locale is
a context variable, so one server can answer one request in Arabic and the next in English.
Catalogs are the `.po` files beside this module, read with Babel once per process.
"""

from __future__ import annotations

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
from basir.i18n.deferred import defer, lazy, render_message
from basir.i18n.labels import N_, state_label

_ = gettext

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
