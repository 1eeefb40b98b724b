"""Labels for words that reach the user from data rather than from a literal `_("…")` call.

A run or task state such as `succeeded` is a stored value, shown to people as `_(status)`. The
extractor only sees literal strings, so the words are marked here with `N_` to put them in the
catalog. Machine output (JSON, events, error codes) keeps the untranslated names.
"""

from __future__ import annotations

from basir.i18n.catalog import gettext


def N_(message: str) -> str:  # noqa: N802 - the conventional gettext marker name
    """Mark `message` for extraction without translating it now (translate later with `_`)."""
    return message


# Every run and task state (basir.states); a test pins that the lists stay equal.
STATE_NAMES = (
    N_("queued"),
    N_("running"),
    N_("paused"),
    N_("succeeded"),
    N_("failed"),
    N_("cancelled"),
    N_("pending"),
    N_("retrying"),
    N_("skipped"),
    N_("upstream_failed"),
)


def state_label(state: str) -> str:
    """The state's label in the active locale; an unknown word is returned unchanged."""
    return gettext(state) if state in STATE_NAMES else state


# The built-in resource pools (basir.resources.fitting); a custom pool keeps its own name.
POOL_NAMES = (N_("cpu"), N_("memory"), N_("disk"))


def pool_label(pool: str) -> str:
    """A built-in pool's name in the active locale; a custom pool's name as its users wrote it."""
    return gettext(pool) if pool in POOL_NAMES else pool
