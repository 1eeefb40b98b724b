#!/usr/bin/env python3
"""Message catalogs: `extract` from the sources, `check` the Arabic one, list what is `missing`.

    python scripts/i18n.py extract   # src → locales/basir.pot → merged into ar/LC_MESSAGES/basir.po
    python scripts/i18n.py check     # exit 1 listing untranslated, fuzzy or placeholder-broken ones
    python scripts/i18n.py missing   # untranslated msgids, one per line (newlines shown as \\n)

`check` and `missing` extract from the current sources in memory, so they also catch a message
added since the last `extract`. Translations are read from the committed `.po` files at run time
(see basir.i18n.catalog); no `.mo` files are compiled.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from basir.i18n.catalog import CATALOG_DIR, DEFAULT_LOCALE, SUPPORTED_LOCALES, catalog_path
from basir.i18n.maintenance import (
    escape,
    extract,
    problems,
    read_catalog,
    untranslated,
    update_catalogs,
)

ROOT = Path(__file__).resolve().parent.parent
MAPPING_FILE = ROOT / "babel.cfg"
TRANSLATED_LOCALES = tuple(code for code in SUPPORTED_LOCALES if code != DEFAULT_LOCALE)


def cmd_extract(_args: argparse.Namespace) -> int:
    written = update_catalogs(ROOT, MAPPING_FILE, CATALOG_DIR, TRANSLATED_LOCALES)
    for path in written:
        print(f"wrote {path.relative_to(ROOT)}")
    if not written:
        print("catalogs already up to date")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    template = extract(ROOT, MAPPING_FILE)
    failed = False
    for locale in args.locales:
        found = problems(template, read_catalog(catalog_path(locale), locale))
        for problem in found:
            print(f"{locale}: {problem.describe()}")
        if found:
            failed = True
            print(f"{locale}: {len(found)} message(s) need work", file=sys.stderr)
    if failed:
        print(
            "run `make i18n-extract`, translate the entries, then `make i18n-check`",
            file=sys.stderr,
        )
        return 1
    print(f"{len([m for m in template if m.id])} messages, all translated")
    return 0


def cmd_missing(args: argparse.Namespace) -> int:
    template = extract(ROOT, MAPPING_FILE)
    for locale in args.locales:
        for msgid in untranslated(template, read_catalog(catalog_path(locale), locale)):
            print(escape(msgid))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("extract", help="update basir.pot and the .po files").set_defaults(
        func=cmd_extract
    )
    for name, func, text in (
        ("check", cmd_check, "fail on untranslated messages or broken placeholders"),
        ("missing", cmd_missing, "print untranslated msgids, one per line"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--locale", dest="locales", action="append", choices=TRANSLATED_LOCALES)
        sub.set_defaults(func=func)
    args = parser.parse_args(argv)
    if getattr(args, "locales", None) is None:
        args.locales = list(TRANSLATED_LOCALES)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
