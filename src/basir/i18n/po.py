"""A `.po` catalog read for lookups only, as Babel's `read_po` reads it, without Babel.

Importing Babel and running its parser costs a fresh `basir` in Arabic ~30 ms, on every
command, `--help` included; this reader keeps what a lookup needs — each message's
translation and whether it is fuzzy, keyed by its (singular) msgid as Babel keys them, and
the plural rule of the header — and reads the committed catalog in a few milliseconds.
Anything it does not handle the way Babel does (another charset, a header without
`Plural-Forms`, a malformed line) makes it give up, and `catalog.load_catalog` reads the
file with Babel instead.  A test compares both readings of the committed catalog.
"""

from __future__ import annotations

import re
from pathlib import Path

_ESCAPE = re.compile(r'\\([\\trn"])')
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


class NotPlainPoError(ValueError):
    """The file uses a feature this reader leaves to Babel."""


class PoMessage:
    """A message of the catalog: its translation (a tuple of forms for a plural) and flag."""

    __slots__ = ("fuzzy", "string")

    def __init__(self, string: str | tuple[str, ...], fuzzy: bool) -> None:
        self.string = string
        self.fuzzy = fuzzy


class PoCatalog:
    """Messages by msgid (the singular one for a plural), and the catalog's plural rule."""

    def __init__(self, messages: dict[str, PoMessage], num_plurals: int, plural_expr: str) -> None:
        self._messages = messages
        self.num_plurals = num_plurals
        self.plural_expr = plural_expr

    def get(self, msgid: str | tuple[str, ...]) -> PoMessage | None:
        """The message of `msgid` (a plural's `(singular, plural)` is found by its singular)."""
        return self._messages.get(msgid[0] if isinstance(msgid, tuple) else msgid)

    def __len__(self) -> int:
        return len(self._messages)

    def __iter__(self) -> object:
        return iter(self._messages)


def _unescape(literal: str) -> str:
    """The text of one quoted line (`"Say \\"hi\\"\\n"`), escapes resolved as Babel does."""
    if len(literal) < 2 or literal[0] != '"' or literal[-1] != '"':
        raise NotPlainPoError(literal)
    if "\\" not in literal:
        return literal[1:-1]
    return _ESCAPE.sub(lambda match: _ESCAPES.get(match[1], match[1]), literal[1:-1])


class _Entry:
    """The entry being read: its msgids, translations by index, flags, context."""

    def __init__(self) -> None:
        self.ids: list[list[str]] = []
        self.strings: list[tuple[int, list[str]]] = []
        self.fuzzy = False
        self.context = False
        self.obsolete = False
        self.target: list[str] | None = None


class _Reader:
    def __init__(self) -> None:
        self.messages: dict[str, PoMessage] = {}
        self.header: str | None = None
        self.num_plurals = 2
        self.entry = _Entry()

    def finish(self) -> None:
        """Store the entry read so far, if it has a msgid (else keep collecting its flags)."""
        entry = self.entry
        if not entry.ids:
            return
        if not entry.strings or entry.context:
            raise NotPlainPoError("an entry without msgstr, or with msgctxt")
        self._add(entry)
        self.entry = _Entry()

    def _add(self, entry: _Entry) -> None:
        msgid = "".join(entry.ids[0])
        string: str | tuple[str, ...]
        if len(entry.ids) > 1:
            forms = [""] * self.num_plurals
            for index, parts in sorted(entry.strings, key=lambda item: item[0]):
                if index >= self.num_plurals:
                    raise NotPlainPoError("more translations than plural forms")
                forms[index] = "".join(parts)
            string = tuple(forms)
        else:
            string = "".join(entry.strings[0][1])
        if entry.obsolete:
            return
        if msgid == "" and len(entry.ids) == 1:
            self._read_header(string if isinstance(string, str) else "")
            return
        current = self.messages.get(msgid)
        if current is None:
            self.messages[msgid] = PoMessage(string, entry.fuzzy)
            return
        if isinstance(string, tuple) and not isinstance(current.string, tuple):
            current.string = string  # the later entry adds the plural, as in Babel
        current.fuzzy = current.fuzzy or entry.fuzzy

    def _read_header(self, text: str) -> None:
        self.header = text
        for line in text.splitlines():
            name, _colon, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-type" and "charset" in value.lower():
                charset = value.lower().split("charset=", 1)[-1].split(";")[0].strip()
                if charset not in ("utf-8", "utf8"):
                    raise NotPlainPoError(f"charset {charset}")
            elif name == "plural-forms":
                params = dict(
                    part.strip().partition("=")[::2] for part in value.split(";") if "=" in part
                )
                self.num_plurals = int(params.get("nplurals", "2").strip())
                self.plural_expr = params.get("plural", "(n != 1)").strip()

    def keyword(self, line: str, obsolete: bool) -> None:
        keyword, _space, argument = line.partition(" ")
        argument = argument.strip()
        if keyword in ("msgid", "msgctxt"):
            self.finish()
        entry = self.entry
        entry.obsolete = obsolete
        if keyword in ("msgid", "msgid_plural"):
            entry.target = [_unescape(argument)]
            entry.ids.append(entry.target)
        elif keyword == "msgctxt":
            entry.context = True
            entry.target = [_unescape(argument)]
        elif keyword == "msgstr" or keyword.startswith("msgstr["):
            _name, bracket, index = keyword.partition("[")
            entry.target = [_unescape(argument)]
            entry.strings.append((int(index[:-1]) if bracket else 0, entry.target))
        else:
            raise NotPlainPoError(line)


def read_po(path: Path) -> PoCatalog:
    """Read `path` as Babel would for lookups; `NotPlainPoError` for what it leaves to Babel."""
    reader = _Reader()
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#~"):
            line = line[2:].lstrip()
            if line.startswith('"'):
                _continue(reader, line)
            elif line:
                reader.keyword(line, obsolete=True)
        elif line[0] == "#":
            reader.finish()
            if line.startswith("#,"):
                flags = (flag.strip() for flag in line[2:].split(","))
                reader.entry.fuzzy = reader.entry.fuzzy or "fuzzy" in flags
        elif line[0] == '"':
            _continue(reader, line)
        else:
            reader.keyword(line, obsolete=False)
    reader.finish()
    plural_expr = getattr(reader, "plural_expr", None)
    if reader.header is None or plural_expr is None:
        raise NotPlainPoError("no header with Plural-Forms")
    return PoCatalog(reader.messages, reader.num_plurals, plural_expr)


def _continue(reader: _Reader, line: str) -> None:
    target = reader.entry.target
    if target is None:
        raise NotPlainPoError(line)
    target.append(_unescape(line))
