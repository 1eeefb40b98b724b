"""Loading the gettext catalogs and choosing the locale for the current context.

Catalogs are the `.po` files under `CATALOG_DIR`, read once per process and locale (no
compiled `.mo`; `basir.i18n.po` reads them, Babel when a file needs it). English is the
source language, so it has no catalog: a message without a translation falls back to its
English text.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import gettext as _gettext
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from babel.messages.catalog import Catalog

    from basir.i18n.po import PoCatalog

    LookupCatalog = Catalog | PoCatalog

DEFAULT_LOCALE = "en"
SUPPORTED_LOCALES = ("en", "ar")
CATALOG_DIR = Path(__file__).parent / "locales"
DOMAIN = "basir"
# An Accept-Language header is client input: look at a bounded prefix only.
MAX_ACCEPT_LANGUAGE_CHARS = 1024
MAX_ACCEPT_LANGUAGE_ITEMS = 32

_locale: contextvars.ContextVar[str] = contextvars.ContextVar(
    "basir_locale", default=DEFAULT_LOCALE
)


def catalog_path(locale: str, catalog_dir: Path | None = None) -> Path:
    """Where the `.po` file of `locale` lives (`<dir>/<locale>/LC_MESSAGES/basir.po`)."""
    return (catalog_dir or CATALOG_DIR) / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def load_catalog(locale: str) -> LookupCatalog | None:
    """Read the `.po` catalog of one locale, or None when there is none (English is the source).

    `basir.i18n.po` reads it (a few ms); a file using what that reader leaves to Babel is read
    with Babel (~30 ms with its import).  Cached per process; tests that point `CATALOG_DIR`
    elsewhere call `load_catalog.cache_clear()`.
    """
    path = catalog_path(locale)
    if not path.exists():
        return None
    from basir.i18n.po import read_po as read_plain_po

    try:
        return read_plain_po(path)
    except ValueError:  # not plain (`NotPlainPoError`), not UTF-8: Babel reads it
        pass
    from babel.messages.pofile import read_po  # only when a catalog is read: not for English

    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


@functools.cache
def _plural_function(expression: str) -> Callable[[int], int]:
    return _gettext.c2py(expression)


def plural_index(catalog: LookupCatalog, count: int) -> int:
    """Which plural form of `catalog` a count takes (Arabic: six forms, 0 = zero … 5 = other)."""
    return _plural_function(catalog.plural_expr)(abs(count))


def normalise(locale: str | None) -> str:
    """Map `ar_SA.UTF-8`, `AR`, `ar-EG` … to a supported locale code, else the default."""
    if not locale:
        return DEFAULT_LOCALE
    code = locale.replace("-", "_").split(".")[0].split("@")[0].split("_")[0].strip().lower()
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


def _quality(params: list[str]) -> float:
    """The `q=` weight of one Accept-Language item: 1 when absent, 0 when malformed."""
    for param in params:
        name, _sep, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                quality = float(value.strip())
            except ValueError:
                return 0.0
            return quality if 0.0 <= quality <= 1.0 else 0.0
    return 1.0


def negotiate(accept_language: str | None) -> str:
    """Pick the best supported locale from an HTTP `Accept-Language` header.

    The highest `q` wins, the earlier item on a tie; `q=0` means "not this one"; anything
    unparseable is ignored, so the worst a client gets is the default locale.
    """
    if not accept_language:
        return DEFAULT_LOCALE
    best: tuple[float, str] = (0.0, DEFAULT_LOCALE)
    items = accept_language[:MAX_ACCEPT_LANGUAGE_CHARS].split(",")
    for item in items[:MAX_ACCEPT_LANGUAGE_ITEMS]:
        lang, *params = item.split(";")
        quality = _quality(params)
        code = lang.strip().replace("-", "_").split("_")[0].lower()
        if code in SUPPORTED_LOCALES and quality > best[0]:
            best = (quality, code)
    return best[1]


def _lookup(msgid: str | tuple[str, str], locale: str) -> str | tuple[str, ...] | None:
    catalog = load_catalog(locale)
    if catalog is None:
        return None
    message = catalog.get(msgid)
    if message is None or message.fuzzy:
        return None
    string = message.string
    if isinstance(string, tuple | list):
        return tuple(string) if any(string) else None
    return string or None


def _format(text: str, fallback: str, values: dict[str, Any]) -> str:
    """Fill placeholders; a translation with a broken placeholder falls back to English."""
    try:
        return text.format(**values)
    except (KeyError, IndexError, ValueError):
        if text is fallback:
            raise
        return fallback.format(**values)


def gettext(message: str, /, **values: Any) -> str:
    """Translate `message` into the active locale, then fill `{placeholders}` from `values`.

    Without `values` the text is returned as is, so a message that shows a literal
    `${{ expression }}` and takes no values needs no brace escaping; one that takes values
    writes literal braces doubled (`{{`), as in `str.format`.
    """
    found = _lookup(message, current_locale())
    text = found if isinstance(found, str) else message
    return _format(text, message, values) if values else text


def ngettext(singular: str, plural: str, count: int, /, **values: Any) -> str:
    """Plural-aware translation (Arabic has six plural forms); `{count}` is always available."""
    locale = current_locale()
    fallback = singular if count == 1 else plural
    found = _lookup((singular, plural), locale)
    catalog = load_catalog(locale)
    text = fallback
    if isinstance(found, tuple) and catalog is not None:
        index = plural_index(catalog, count)
        # A form left empty borrows the last ("other") form before falling back to English.
        text = (found[index] if index < len(found) else "") or found[-1] or fallback
    return _format(text, fallback, {"count": count, **values})
