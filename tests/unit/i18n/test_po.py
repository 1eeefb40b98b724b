"""`basir.i18n.po` reads a catalog exactly as Babel's `read_po` does, for every lookup.

The CLI reads the Arabic catalog with it (Babel's import and parser cost ~30 ms a command);
what it does not handle goes to Babel, and `load_catalog` still answers.
"""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po as babel_read_po

from basir.i18n import catalog as catalog_module
from basir.i18n import use_locale
from basir.i18n.maintenance import new_catalog, render
from basir.i18n.po import NotPlainPoError, PoCatalog, read_po

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = catalog_module.catalog_path("ar", ROOT / "src/basir/i18n/locales")

# What Babel writes and reads that a hand-made catalog may hold: escapes, lines split over
# several strings, flags, a plural with a form left out, an obsolete entry, a repeated msgid.
HAND_MADE = r"""# a comment
msgid ""
msgstr ""
"Language: ar\n"
"Plural-Forms: nplurals=6; plural=(n==0 ? 0 : n==1 ? 1 : n==2 ? 2 : n%100>=3 && "
"n%100<=10 ? 3 : n%100>=11 ? 4 : 5);\n"
"Content-Type: text/plain; charset=utf-8\n"

#: src/a.py
#, python-brace-format
msgid "say \"{x}\"\n\ttab \\ back"
msgstr "قل \"{x}\"\n\tجدولة \\ خلفي"

#: src/b.py
#, fuzzy, python-format
msgid ""
"split "
"over lines"
msgstr ""
"مقسّم "
"على أسطر"

msgid "{count} item"
msgid_plural "{count} items"
msgstr[0] "لا عناصر"
msgstr[5] "{count} عنصر"

msgid "twice"
msgstr "مرتان"

#, fuzzy
msgid "twice"
msgstr "مرة ثانية"

msgid "untranslated"
msgstr ""

#~ msgid "gone"
#~ msgstr "ذهب"
"""


def _same(mine: PoCatalog, reference: Catalog) -> None:
    keys = set(reference._messages)
    assert set(mine) == keys
    for key in keys:
        theirs = reference.get(key)
        ours = mine.get(key)
        assert theirs is not None and ours is not None
        string = theirs.string
        expected = tuple(string) if isinstance(string, list | tuple) else string
        assert (ours.string, ours.fuzzy) == (expected, theirs.fuzzy), key
    assert (mine.num_plurals, mine.plural_expr) == (reference.num_plurals, reference.plural_expr)


def test_the_committed_arabic_catalog_reads_as_babel_reads_it() -> None:
    with COMMITTED.open("rb") as handle:
        _same(read_po(COMMITTED), babel_read_po(handle, locale="ar"))


def test_a_hand_made_catalog_reads_as_babel_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "basir.po"
    path.write_text(HAND_MADE, encoding="utf-8")
    reference = babel_read_po(io.BytesIO(HAND_MADE.encode()), locale="ar")
    mine = read_po(path)
    _same(mine, reference)
    assert mine.get(("{count} item", "{count} items")) is mine.get("{count} item")
    assert mine.get("gone") is None


def test_a_babel_written_catalog_reads_as_babel_reads_it(tmp_path: Path) -> None:
    written = new_catalog("ar")
    written.add("a {b}", "أ {b}", flags=["fuzzy"])
    written.add(("{n} x", "{n} xs"), ("0", "1", "2", "3", "4", "5"))
    written.add("long " * 40, "طويل " * 40)
    path = tmp_path / "basir.po"
    path.write_text(render(written, template=False), encoding="utf-8")
    with path.open("rb") as handle:
        _same(read_po(path), babel_read_po(handle, locale="ar"))


@pytest.mark.parametrize(
    "text",
    [
        HAND_MADE.replace("charset=utf-8", "charset=iso-8859-1"),
        HAND_MADE.replace('"Plural-Forms', '"X-Plural'),
        HAND_MADE.replace('msgid "twice"\nmsgstr "مرتان"', 'msgctxt "c"\nmsgid "t"\nmsgstr "x"'),
        HAND_MADE + 'msgid "no translation"\n',
        HAND_MADE + "bogus line\n",
    ],
)
def test_what_it_does_not_read_like_babel_it_refuses(text: str, tmp_path: Path) -> None:
    path = tmp_path / "basir.po"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(NotPlainPoError):
        read_po(path)


@pytest.fixture
def catalog_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setattr(catalog_module, "CATALOG_DIR", tmp_path)
    catalog_module.load_catalog.cache_clear()
    yield tmp_path
    catalog_module.load_catalog.cache_clear()


def test_a_catalog_it_refuses_is_read_with_babel(catalog_dir: Path) -> None:
    path = catalog_module.catalog_path("ar", catalog_dir)
    path.parent.mkdir(parents=True)
    text = HAND_MADE.replace('msgid "twice"\nmsgstr "مرتان"', 'msgctxt "c"\nmsgid "t"\nmsgstr "x"')
    path.write_text(text, encoding="utf-8")
    assert isinstance(catalog_module.load_catalog("ar"), Catalog)
    with use_locale("ar"):
        assert catalog_module.gettext("split over lines") == "split over lines"  # fuzzy
        assert catalog_module.gettext("twice") == "twice"  # fuzzy in its second entry
        assert catalog_module.ngettext("{count} item", "{count} items", 7) == "7 عنصر"


def test_an_arabic_command_reads_its_catalog_without_babel() -> None:
    code = (
        "import sys; sys.argv = ['basir', '--help'];"
        "from basir.cli.main import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('babel' in sys.modules, file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"BASIR_LANG": "ar", "PATH": "/usr/bin:/bin"},
        timeout=60,
        check=True,
    )
    assert "اطبع مخطط JSON Schema" in done.stdout
    assert done.stderr.strip().endswith("False")
