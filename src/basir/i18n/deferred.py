"""Messages decided now and shown later, in the reader's language.

The engine decides why a task or a run waits ("waiting for cpu: 2/2 in use by run X task Y")
long before anyone reads it, and in no reader's locale.  So it keeps the message, not its text:
`defer("waiting for {pool}: …", pool="cpu")` is a compact JSON text,
`{"m":"waiting for {pool}: …","p":{"pool":"cpu"}}`, stored as is (`tasks.waiting` stays text)
and compared as a string; `render_message(text)` translates it into the active locale where it
is shown (an API request's `Accept-Language`, a dashboard page's language, the CLI's locale).

A parameter may be a message itself: `lazy("run {run} task {task}", run=r, task=t)` is rendered
in the same locale as the message holding it.  Text that is not an encoded message (rows written
before messages were deferred) is shown as is.

A task's or a run's error is kept the same way, with the raw lines that explain it (the last
lines of a process's output) under a third key: `stored_error(lazy("exited with code {code}",
code=3), detail=tail)` is `{"m":"exited with code {code}","p":{"code":3},"d":"…"}`, shown as the
rendered message, a newline, and the detail verbatim (at most `DETAIL_MAX_CHARS`, its end kept;
a text value at most `PARAM_MAX_CHARS`, its start kept).

`defer` and `lazy` are extraction keywords (`basir.i18n.maintenance.KEYWORDS`): their first
argument goes into the catalog like that of `_`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias, overload

from basir.i18n.catalog import gettext, use_locale

Value: TypeAlias = "str | int | float | bool | Lazy | None"
_PREFIX = '{"m":'
_SCALARS = (str, int, float, bool, type(None))
DETAIL_MAX_CHARS = 4000  # an error's raw detail kept in the store: its last characters
PARAM_MAX_CHARS = 1000  # a text value of a stored error (an exception's text): its start
_CUT = "…"
# One encoder: `json.dumps` with options builds a new one per call (a third of the cost).
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass(frozen=True, slots=True)
class Lazy:
    """A message and its parameters, translated only when rendered."""

    msgid: str
    values: Mapping[str, Value]

    def to_json(self) -> dict[str, Any]:
        """`{"m": msgid, "p": {...}}` (no "p" without parameters); nested messages as objects."""
        if not self.values:
            return {"m": self.msgid}
        params = {k: v.to_json() if isinstance(v, Lazy) else v for k, v in self.values.items()}
        return {"m": self.msgid, "p": params}

    def encode(self) -> str:
        """The compact JSON text kept in the store."""
        return _ENCODE(self.to_json())

    def render(self) -> str:
        """The message in the active locale, its parameters (nested messages too) filled in."""
        values = {k: v.render() if isinstance(v, Lazy) else v for k, v in self.values.items()}
        return _fill(self.msgid, values)

    def __str__(self) -> str:
        return self.render()


def _fill(msgid: str, values: dict[str, Any]) -> str:
    try:
        return gettext(msgid, **values)
    except (KeyError, IndexError, ValueError):
        # A message kept by an older version, whose placeholders no longer match its values.
        return msgid.format_map(_Missing(values))


class _Missing(dict[str, Any]):
    """Format values that leave an unknown placeholder as it is written."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def lazy(message: str, /, **values: Value) -> Lazy:
    """A message to translate later, e.g. a parameter of another deferred message."""
    return Lazy(message, values)


def defer(message: str, /, **values: Value) -> str:
    """The message and its values encoded for storage; show it with `render_message`."""
    if not values:
        return _ENCODE({"m": message})
    for key, value in values.items():  # `values` is this call's own dict
        if isinstance(value, Lazy):
            values[key] = value.to_json()  # type: ignore[assignment]
    return _ENCODE({"m": message, "p": values})


def bounded_detail(detail: str) -> str:
    """`detail` cut to `DETAIL_MAX_CHARS`, keeping its end (where a process says what failed)."""
    if len(detail) <= DETAIL_MAX_CHARS:
        return detail
    return _CUT + detail[-(DETAIL_MAX_CHARS - len(_CUT)) :]


def _bounded_value(value: Any) -> Any:
    if isinstance(value, str) and len(value) > PARAM_MAX_CHARS:
        return value[: PARAM_MAX_CHARS - len(_CUT)] + _CUT
    return value


def stored_error(message: Lazy | str, detail: str | None = None) -> str:
    """An error to keep: a message rendered when read, then `detail` verbatim (bounded).

    A plain `message` (an exception's own text) is kept as plain text, its detail on the next
    line, as errors were always kept.
    """
    if isinstance(message, str):
        if len(message) > DETAIL_MAX_CHARS:
            message = message[: DETAIL_MAX_CHARS - len(_CUT)] + _CUT
        return f"{message}\n{bounded_detail(detail)}" if detail else message
    data = message.to_json()
    params = data.get("p")
    if params:
        data["p"] = {k: _bounded_value(v) for k, v in params.items()}
    if detail:
        data["d"] = bounded_detail(detail)
    return _ENCODE(data)


def split_error(text: str) -> tuple[Lazy | None, str | None]:
    """A stored error's message and its detail; `(None, None)` for plain text."""
    if not text.startswith(_PREFIX):
        return None, None
    try:
        data = json.loads(text)
    except ValueError:
        return None, None
    if type(data) is not dict:
        return None, None
    detail = data.pop("d", None)
    head = _from_json(data)
    if head is None or not (detail is None or isinstance(detail, str)):
        return None, None
    return head, detail


def labelled(label: str, text: str) -> str:
    """`label: text` for a stored error, e.g. a task's id before its error; a message stays one."""
    head, detail = split_error(text)
    if head is None:
        return f"{label}: {text}"
    return stored_error(Lazy("{label}: {error}", {"label": label, "error": head}), detail)


def is_message(text: str) -> bool:
    """Whether `text` looks like an encoded message (cheap: its first characters)."""
    return text.startswith(_PREFIX)


def message_key(text: str) -> str:
    """What identifies a stored message whatever its detail, e.g. to count a reason.

    The message id and its parameters for an encoded message, the first line of plain text.
    """
    if text.startswith(_PREFIX):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if type(data) is dict and "m" in data:
            data.pop("d", None)
            return _ENCODE(data)
    return text.split("\n", 1)[0]


def _from_json(data: object) -> Lazy | None:
    if not isinstance(data, dict) or not isinstance(data.get("m"), str):
        return None
    params = data.get("p", {})
    if not isinstance(params, dict) or set(data) - {"m", "p"}:
        return None
    values: dict[str, Value] = {}
    for key, value in params.items():
        if isinstance(value, dict):
            nested = _from_json(value)
            if nested is None:
                return None
            values[key] = nested
        elif value is None or isinstance(value, str | int | float | bool):
            values[key] = value
        else:
            return None
    return Lazy(data["m"], values)


def decode(text: str) -> Lazy | None:
    """The message `text` encodes, or None when it is plain text (or not a message)."""
    if not text.startswith(_PREFIX):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return _from_json(data)


def _show(data: object) -> str | None:
    """`data` (decoded JSON) rendered in the active locale, or None when it is not a message.

    The same checks as `decode`, without building `Lazy` objects: this runs for every reason
    shown (a page may list thousands).
    """
    if type(data) is not dict:
        return None
    detail = data.get("d")
    if detail is not None:
        if type(detail) is not str:
            return None
        data = {k: v for k, v in data.items() if k != "d"}
        head = _show(data)
        return None if head is None else f"{head}\n{detail}"
    msgid, params = data.get("m"), data.get("p")
    if type(msgid) is not str or len(data) != (1 if params is None else 2):
        return None
    if params is None:
        return _fill(msgid, {})
    if type(params) is not dict:
        return None
    values: dict[str, Any] = {}
    for key, value in params.items():
        if type(value) is dict:
            nested = _show(value)
            if nested is None:
                return None
            values[key] = nested
        elif isinstance(value, _SCALARS):
            values[key] = value
        else:
            return None
    return _fill(msgid, values)


@overload
def render_message(text: str) -> str: ...
@overload
def render_message(text: None) -> None: ...
def render_message(text: str | None) -> str | None:
    """Show a stored message in the active locale; plain (older) text and None as they are."""
    if text is None or not text.startswith(_PREFIX):
        return text
    try:
        data = json.loads(text)
    except ValueError:
        return text
    shown = _show(data)
    return text if shown is None else shown


def render_in(locale: str, text: str) -> str:
    """`render_message` in a given locale, e.g. English for an event's data."""
    with use_locale(locale):
        return render_message(text)
