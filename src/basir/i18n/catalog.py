"""Loading the gettext catalogs and choosing the locale for the current context."""

from __future__ import annotations

import contextlib
import contextvars
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

DEFAULT_LOCALE = "en"
SUPPORTED_LOCALES = ("en", "ar")
CATALOG_DIR = Path(__file__).parent / "locales"
DOMAIN = "basir"

_locale: contextvars.ContextVar[str] = contextvars.ContextVar("basir_locale", default=DEFAULT_LOCALE)


@functools.cache
def load_catalog(locale: str) -> Catalog | None:
    """Read the `.po` catalog of one locale, or None when there is none (English is the source)."""
    path = CATALOG_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    if not path.exists():
        return None
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def normalise(locale: str | None) -> str:
    """Map `ar_SA.UTF-8`, `AR`, `ar-EG` … to a supported locale code, else the default."""
    if not locale:
        return DEFAULT_LOCALE
    code = locale.replace("-", "_").split(".")[0].split("_")[0].strip().lower()
    return code if code in SUPPORTED_LOCALES else DEFAULT_LOCALE


def set_locale(locale: str | None) -> str:
    """Make `locale` the active one for this context; returns the normalised code."""
    code = normalise(locale)
    _locale.set(code)
    return code


def current_locale() -> str:
    """The locale of the current context (task, request or CLI invocation)."""
    return _locale.get()


@contextlib.contextmanager
def use_locale(locale: str | None) -> Iterator[str]:
    """Temporarily switch the locale, e.g. for one HTTP request."""
    token = _locale.set(normalise(locale))
    try:
        yield _locale.get()
    finally:
        _locale.reset(token)


def negotiate(accept_language: str | None) -> str:
    """Pick the best supported locale from an HTTP `Accept-Language` header."""
    if not accept_language:
        return DEFAULT_LOCALE
    best: tuple[float, str] = (0.0, DEFAULT_LOCALE)
    for part in accept_language.split(",")[:20]:
        lang, _sep, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            with contextlib.suppress(ValueError):
                quality = float(params.strip()[2:])
        code = lang.strip().replace("-", "_").split("_")[0].lower()
        if code in SUPPORTED_LOCALES and quality > best[0]:
            best = (quality, code)
    return best[1]


def _lookup(msgid: str | tuple[str, str], locale: str) -> str | tuple[str, ...] | None:
    catalog = load_catalog(locale)
    if catalog is None:
        return None
    message = catalog.get(msgid)
    if message is None or not message.string or message.fuzzy:
        return None
    string: str | tuple[str, ...] = message.string
    return string


def gettext(message: str, /, **values: Any) -> str:
    """Translate `message` into the active locale, then fill `{placeholders}` from `values`."""
    found = _lookup(message, current_locale())
    text = found if isinstance(found, str) else message
    return text.format(**values) if values else text


def ngettext(singular: str, plural: str, count: int, /, **values: Any) -> str:
    """Plural-aware translation (Arabic has six plural forms); `{count}` is always available."""
    locale = current_locale()
    catalog = load_catalog(locale)
    found = _lookup((singular, plural), locale)
    if isinstance(found, tuple) and catalog is not None:
        index = catalog.plural_func(count)
        text = found[index] if index < len(found) and found[index] else found[-1]
    else:
        text = singular if count == 1 else plural
    return text.format(count=count, **values)
