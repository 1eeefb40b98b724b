"""Catalog maintenance for developers: extract messages, merge them into `.po` files, check them.

Used by `scripts/i18n.py` (and `make i18n-extract | i18n-check`) and by the test that fails when
a message has no Arabic translation. Nothing here runs in the server or the CLI.
"""

from __future__ import annotations

import io
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from basir.i18n.catalog import DOMAIN, catalog_path

AR_PLURAL_FORMS = (
    "nplurals=6; plural=(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : "
    "n%100>=3 && n%100<=10 ? 3 : n%100>=11 ? 4 : 5);"
)
PLURAL_FORMS = {"ar": AR_PLURAL_FORMS}
TEAMS = {"ar": "Arabic"}
COMMENT_TAGS = ("TRANSLATORS:",)
# Babel's gettext names plus the deferred-message markers of `basir.i18n.deferred`, whose first
# argument is a msgid (`defer("waiting for {pool}: …", pool=p)`).
KEYWORDS: dict[str, Any] = {**DEFAULT_KEYWORDS, "defer": None, "lazy": None}
BUGS_ADDRESS = "Basir developers"
HEADER_COMMENT = """\
# {language} messages of Basir L3 (the basir package).
# Keep {{placeholders}} and technical tokens (run, needs, file paths, codes) unchanged.
# Update with `make i18n-extract`; verify with `make i18n-check`.
#"""
# Header lines that change on every run; ignored when deciding whether a file changed.
_VOLATILE_HEADERS = re.compile(r'^"(POT-Creation-Date|PO-Revision-Date): .*\\n"$', re.MULTILINE)
_FIELD_NAME = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*|\d+)$")
_NAIVE_FIELD = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)[^{}]*\}")

ProblemKind = Literal["missing", "fuzzy", "placeholders"]


@dataclass(frozen=True)
class Problem:
    """One message that is not ready to ship in a locale."""

    msgid: str
    kind: ProblemKind
    locations: tuple[str, ...]
    detail: str = ""

    def describe(self) -> str:
        """One human-readable line: where, what and which message."""
        where = ", ".join(self.locations[:3]) or "?"
        text = f"{where}: {self.kind}: {escape(self.msgid)}"
        return f"{text} ({self.detail})" if self.detail else text


def escape(text: str) -> str:
    """A msgid on one line: newlines and tabs shown as escapes."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def placeholders(text: str) -> frozenset[str]:
    """The `{name}` fields of a str.format message (literal `{{ }}` are not fields)."""
    try:
        fields = [name for _text, name, _spec, _conv in string.Formatter().parse(text) if name]
    except ValueError:
        # Not valid format syntax (e.g. a lone brace in a message that takes no values).
        fields = _NAIVE_FIELD.findall(text)
    names = (re.split(r"[.\[!:]", name, maxsplit=1)[0] for name in fields)
    # `'{' or '}'` parses as a field named "' or '": only identifiers and indexes are fields.
    return frozenset(name for name in names if _FIELD_NAME.match(name))


def _project_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("basir")
    except PackageNotFoundError:
        return "0"


def _walk_filter(root: Path, method_map: list[tuple[str, str]]) -> Any:
    """Descend only into the top-level folders the mapping patterns name (never .venv …)."""
    tops = {pattern.split("/", 1)[0] for pattern, method in method_map if method != "ignore"}

    def keep(dirpath: str) -> bool:
        relative = Path(dirpath).relative_to(root)
        name = relative.name
        return not name.startswith((".", "_")) and relative.parts[0] in tops

    return keep


def extract(root: Path, mapping_file: Path) -> Catalog:
    """Collect every message of the sources that `mapping_file` (babel.cfg) names under `root`."""
    with mapping_file.open(encoding="utf-8") as handle:
        # Babel ships this function without annotations.
        parsed = parse_mapping_cfg(handle, str(mapping_file))  # type: ignore[no-untyped-call]
    method_map: list[tuple[str, str]] = parsed[0]
    options_map: dict[str, dict[str, Any]] = parsed[1]
    template = Catalog(
        project=DOMAIN,
        version=_project_version(),
        msgid_bugs_address=BUGS_ADDRESS,
        copyright_holder="Basir developers",
        header_comment=HEADER_COMMENT.format(language="Source (English)"),
        charset="utf-8",
        fuzzy=False,
    )
    results = extract_from_dir(
        root,
        method_map,
        options_map,
        keywords=KEYWORDS,
        comment_tags=COMMENT_TAGS,
        strip_comment_tags=True,
        directory_filter=_walk_filter(root, method_map),
    )
    for filename, lineno, message, comments, context in results:
        template.add(
            message,
            None,
            [(Path(filename).as_posix(), lineno)],
            auto_comments=comments,
            context=context,
        )
    return template


def new_catalog(locale: str) -> Catalog:
    """An empty catalog for `locale` with its plural rule and team in the header."""
    catalog = Catalog(
        locale=locale,
        domain=DOMAIN,
        project=DOMAIN,
        version=_project_version(),
        msgid_bugs_address=BUGS_ADDRESS,
        copyright_holder="Basir developers",
        header_comment=HEADER_COMMENT.format(language=TEAMS.get(locale, locale)),
        language_team=TEAMS.get(locale, locale),
        last_translator="Basir developers",
        charset="utf-8",
        fuzzy=False,
    )
    if locale in PLURAL_FORMS:
        catalog.mime_headers = [("Plural-Forms", PLURAL_FORMS[locale])]
    return catalog


def read_catalog(path: Path, locale: str) -> Catalog:
    """Read a `.po` file, or a fresh catalog when the file does not exist yet."""
    if not path.exists():
        return new_catalog(locale)
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def merge(template: Catalog, catalog: Catalog) -> Catalog:
    """Bring `catalog` in line with `template`: keep translations, add new messages, drop gone ones.

    A changed msgid is matched to its closest old one and kept as a fuzzy translation, which
    `check` still reports until a translator confirms it.
    """
    catalog.update(template, no_fuzzy_matching=False, update_creation_date=True)
    catalog.obsolete.clear()
    catalog.fuzzy = False
    if catalog.locale_identifier in PLURAL_FORMS:
        catalog.mime_headers = [("Plural-Forms", PLURAL_FORMS[catalog.locale_identifier])]
    return catalog


def render(catalog: Catalog, *, template: bool) -> str:
    """The `.pot` / `.po` text: unwrapped lines; line numbers only in the template."""
    buffer = io.BytesIO()
    catalog.revision_date = datetime.now(UTC)
    write_po(
        buffer,
        catalog,
        width=0,
        include_lineno=template,
        ignore_obsolete=True,
        sort_by_file=False,
    )
    return buffer.getvalue().decode("utf-8")


def write_if_changed(path: Path, text: str) -> bool:
    """Write `text` unless only the volatile date headers differ; True when written."""
    if path.exists():
        old = path.read_text(encoding="utf-8")
        if _VOLATILE_HEADERS.sub("", old) == _VOLATILE_HEADERS.sub("", text):
            return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


def _locations(message: Message) -> tuple[str, ...]:
    return tuple(f"{filename}:{lineno}" for filename, lineno in message.locations)


def _msgid_text(message: Message) -> str:
    return message.id if isinstance(message.id, str) else message.id[0]


def _placeholder_problem(message: Message, translated: Message) -> str:
    """Why the translation's placeholders do not match the msgid's, or "" when they do."""
    if isinstance(message.id, str):
        expected = placeholders(message.id)
        actual = placeholders(_forms(translated)[0])
        if expected != actual:
            return f"expected {sorted(expected)}, found {sorted(actual)}"
        return ""
    # Plural forms may leave out {count} ("ملفان" says two by itself); all others are required.
    allowed = placeholders(message.id[0]) | placeholders(message.id[1]) | {"count"}
    required = allowed - {"count"}
    for index, form in enumerate(_forms(translated)):
        if not form:
            continue
        found = placeholders(form)
        if not required <= found <= allowed:
            return f"form {index}: expected {sorted(required)} (+count), found {sorted(found)}"
    return ""


def _forms(message: Message) -> tuple[str, ...]:
    """The msgstr of a message as a tuple: one item, or one per plural form."""
    if message.string is None:
        return ("",)
    if isinstance(message.string, str):
        return (message.string,)
    return tuple(message.string)


def _is_translated(message: Message) -> bool:
    return all(_forms(message))


def problems(template: Catalog, catalog: Catalog) -> list[Problem]:
    """Every message of `template` that `catalog` does not translate, or translates badly."""
    found: list[Problem] = []
    for message in template:
        if not message.id:
            continue  # the header
        msgid = _msgid_text(message)
        where = _locations(message)
        translated = catalog.get(message.id, message.context)
        if translated is None or not _is_translated(translated):
            found.append(Problem(msgid, "missing", where))
        elif translated.fuzzy:
            found.append(Problem(msgid, "fuzzy", where))
        elif detail := _placeholder_problem(message, translated):
            found.append(Problem(msgid, "placeholders", where, detail))
    return found


def untranslated(template: Catalog, catalog: Catalog) -> list[str]:
    """The msgids of `template` that have no usable translation in `catalog`."""
    return [p.msgid for p in problems(template, catalog) if p.kind in ("missing", "fuzzy")]


def template_path(catalog_dir: Path) -> Path:
    """Where the extracted template lives."""
    return catalog_dir / f"{DOMAIN}.pot"


def update_catalogs(
    root: Path, mapping_file: Path, catalog_dir: Path, locales: Iterable[str]
) -> list[Path]:
    """Extract into `basir.pot` and merge into each locale's `.po`; returns the files written."""
    template = extract(root, mapping_file)
    written: list[Path] = []
    pot = template_path(catalog_dir)
    if write_if_changed(pot, render(template, template=True)):
        written.append(pot)
    for locale in locales:
        path = catalog_path(locale, catalog_dir)
        merged = merge(template, read_catalog(path, locale))
        if write_if_changed(path, render(merged, template=False)):
            written.append(path)
    return written
