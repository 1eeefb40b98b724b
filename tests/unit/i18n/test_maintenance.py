"""Catalog maintenance: extraction (Python and Jinja2), merging, checking, and scripts/i18n.py."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from basir.i18n.catalog import catalog_path
from basir.i18n.maintenance import (
    AR_PLURAL_FORMS,
    Problem,
    escape,
    extract,
    merge,
    new_catalog,
    placeholders,
    problems,
    read_catalog,
    render,
    template_path,
    untranslated,
    update_catalogs,
    write_if_changed,
)

ROOT = Path(__file__).resolve().parents[3]

PYTHON_SOURCE = """
from basir.i18n import _, ngettext

def greet(name, n):
    # TRANSLATORS: shown when a user logs in
    print(_("hello {name}", name=name))
    print(ngettext("{count} run", "{count} runs", n))
    print(_("line one\\nline two"))
"""
TEMPLATE_SOURCE = """<h1>{{ _("Runs") }}</h1>
<p>{{ _("{count} tasks waiting", count=n) }}</p>
"""
MAPPING = """[python: src/basir/**.py]
[jinja2: src/basir/dashboard/templates/**.html]
encoding = utf-8
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A tiny source tree laid out like the repository, with its own babel.cfg."""
    package = tmp_path / "src" / "basir"
    (package / "dashboard" / "templates").mkdir(parents=True)
    (package / "hello.py").write_text(PYTHON_SOURCE, encoding="utf-8")
    (package / "dashboard" / "templates" / "runs.html").write_text(TEMPLATE_SOURCE, "utf-8")
    # Never walked: outside the folders babel.cfg names, or hidden.
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "x.py").write_text('_("from the venv")\n', encoding="utf-8")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "t.py").write_text('_("from a test")\n', encoding="utf-8")
    (tmp_path / "babel.cfg").write_text(MAPPING, encoding="utf-8")
    return tmp_path


def _ids(project: Path) -> set[str | tuple[str, ...]]:
    return {message.id for message in extract(project, project / "babel.cfg") if message.id}


def test_extract_reads_python_and_jinja2(project: Path) -> None:
    assert _ids(project) == {
        "hello {name}",
        ("{count} run", "{count} runs"),
        "line one\nline two",
        "Runs",
        "{count} tasks waiting",
    }


def test_extract_keeps_translator_comments_and_locations(project: Path) -> None:
    template = extract(project, project / "babel.cfg")
    hello = template.get("hello {name}")
    assert hello is not None
    assert hello.auto_comments == ["shown when a user logs in"]
    assert hello.locations == [("src/basir/hello.py", 6)]


def test_update_catalogs_writes_the_template_and_a_new_arabic_catalog(project: Path) -> None:
    locales = project / "locales"
    written = update_catalogs(project, project / "babel.cfg", locales, ["ar"])
    po = catalog_path("ar", locales)
    assert written == [template_path(locales), po]
    text = po.read_text(encoding="utf-8")
    assert f'"Plural-Forms: {AR_PLURAL_FORMS}\\n"' in text
    assert "msgstr[5]" in text
    assert "#: src/basir/hello.py\n" in text  # no line numbers in .po: smaller diffs
    assert "#: src/basir/hello.py:6" in template_path(locales).read_text(encoding="utf-8")
    # A second run with nothing changed writes nothing, not even new dates.
    assert update_catalogs(project, project / "babel.cfg", locales, ["ar"]) == []


def test_merge_keeps_translations_and_drops_removed_messages(project: Path) -> None:
    locales = project / "locales"
    update_catalogs(project, project / "babel.cfg", locales, ["ar"])
    po = catalog_path("ar", locales)
    arabic = read_catalog(po, "ar")
    arabic["hello {name}"].string = "مرحبًا {name}"
    arabic["Runs"].string = "التشغيلات"
    write_if_changed(po, render(arabic, template=False))

    source = project / "src" / "basir" / "dashboard" / "templates" / "runs.html"
    source.write_text('{{ _("Runs!") }}\n', encoding="utf-8")
    update_catalogs(project, project / "babel.cfg", locales, ["ar"])

    merged = read_catalog(po, "ar")
    assert merged["hello {name}"].string == "مرحبًا {name}"
    assert merged.get("{count} tasks waiting") is None
    renamed = merged["Runs!"]
    assert renamed.fuzzy  # matched to the old text, still to be confirmed
    assert "{count} tasks waiting" not in po.read_text(encoding="utf-8")


def test_merge_sets_the_arabic_plural_rule_on_an_old_header() -> None:
    arabic = new_catalog("ar")
    arabic.mime_headers = [("Plural-Forms", "nplurals=2; plural=(n != 1);")]
    template = new_catalog("en")
    assert merge(template, arabic).plural_forms == AR_PLURAL_FORMS


def test_write_if_changed_ignores_dates(tmp_path: Path) -> None:
    path = tmp_path / "x.po"
    first = '"POT-Creation-Date: 2026-01-01 00:00+0000\\n"\nmsgid "a"\n'
    assert write_if_changed(path, first)
    assert not write_if_changed(path, first.replace("2026-01-01", "2027-02-02"))
    assert write_if_changed(path, first.replace('"a"', '"b"'))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", set()),
        ("hello {name}", {"name"}),
        ("{a} and {b!r} and {c:>10}", {"a", "b", "c"}),
        ("{item.name} {items[0]}", {"item", "items"}),
        ("literal ${{ params.x }} and {real}", {"real"}),
        ("a lone { brace and {name}", {"name"}),
        ("a lone } brace", set()),
        ("a single '{' or '}' must be doubled", set()),
        ("positional {0} and {1}", {"0", "1"}),
    ],
)
def test_placeholders(text: str, expected: set[str]) -> None:
    assert placeholders(text) == expected


def _checked(*entries: tuple[object, object, list[str]]) -> dict[str, str]:
    template = new_catalog("en")
    arabic = new_catalog("ar")
    for msgid, msgstr, flags in entries:
        template.add(msgid, None, [("src/basir/x.py", 3)])
        if msgstr is not None:
            arabic.add(msgid, msgstr, flags=flags)
    return {p.msgid: p.kind for p in problems(template, arabic)}


def test_problems_by_kind() -> None:
    found = _checked(
        ("ok {name}", "حسن {name}", []),
        ("absent", None, []),
        ("empty", "", []),
        ("fuzzy", "مبهم", ["fuzzy"]),
        ("lost {name}", "ضائع", []),
        ("renamed {name}", "{nom}", []),
        ("extra", "{zusatz}", []),
    )
    assert found == {
        "absent": "missing",
        "empty": "missing",
        "fuzzy": "fuzzy",
        "lost {name}": "placeholders",
        "renamed {name}": "placeholders",
        "extra": "placeholders",
    }


def test_plural_problems() -> None:
    one_two = ("ملف واحد", "ملفان")
    found = _checked(
        (("{count} file", "{count} files"), ("لا ملفات", *one_two, "{count} ملفات", "x", "y"), []),
        (("{count} run", "{count} runs"), ("", "", "", "", "", ""), []),
        (("{count} dir", "{count} dirs"), ("a", "b", "c", "d", "e", ""), []),
        (("{count} of {kind}", "{count} of {kind}s"), ("{kind}", "{count}", "", "", "", ""), []),
        (("{count} of {t}", "{count} of {t}s"), ("{t}", "{t}", "{t}", "{t}", "{t}", "{zz}"), []),
    )
    assert found == {
        "{count} run": "missing",
        "{count} dir": "missing",
        "{count} of {kind}": "missing",
        "{count} of {t}": "placeholders",
    }


def test_untranslated_lists_missing_and_fuzzy_only() -> None:
    template = new_catalog("en")
    arabic = new_catalog("ar")
    for msgid in ("a", "b {x}", "c"):
        template.add(msgid)
    arabic.add("a", "أ", flags=["fuzzy"])
    arabic.add("b {x}", "ب")
    assert untranslated(template, arabic) == ["a", "c"]


def test_problem_describe_and_escape() -> None:
    problem = Problem("two\nlines", "placeholders", ("a.py:1", "b.py:2"), "expected ['x']")
    assert problem.describe() == "a.py:1, b.py:2: placeholders: two\\nlines (expected ['x'])"
    assert Problem("m", "missing", ()).describe() == "?: missing: m"
    assert escape("tab\there\\") == "tab\\there\\\\"


# --- scripts/i18n.py ----------------------------------------------------------------------------


@pytest.fixture
def script(project: Path, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """scripts/i18n.py, pointed at the tiny project instead of the repository."""
    spec = importlib.util.spec_from_file_location("i18n_script", ROOT / "scripts" / "i18n.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "i18n_script", module)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "ROOT", project)
    monkeypatch.setattr(module, "MAPPING_FILE", project / "babel.cfg")
    monkeypatch.setattr(module, "CATALOG_DIR", project / "locales")
    monkeypatch.setattr(
        module, "catalog_path", lambda locale: catalog_path(locale, project / "locales")
    )
    return module


def test_script_extract_check_missing(
    script: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert script.main(["extract"]) == 0
    assert "wrote locales/basir.pot" in capsys.readouterr().out
    assert script.main(["extract"]) == 0
    assert "already up to date" in capsys.readouterr().out

    assert script.main(["missing"]) == 0
    missing = capsys.readouterr().out.splitlines()
    assert "line one\\nline two" in missing
    assert len(missing) == 5

    assert script.main(["check", "--locale", "ar"]) == 1
    captured = capsys.readouterr()
    assert "ar: src/basir/hello.py:6: missing: hello {name}" in captured.out
    assert "make i18n-extract" in captured.err

    po = catalog_path("ar", script.CATALOG_DIR)
    arabic = read_catalog(po, "ar")
    for message in arabic:
        if message.id:
            forms = 6 if isinstance(message.id, tuple) else 1
            text = "{count} ترجمة" if "{count}" in str(message.id) else "ترجمة"
            text = text + (" {name}" if "{name}" in str(message.id) else "")
            message.string = tuple([text] * forms) if forms > 1 else text
    write_if_changed(po, render(arabic, template=False))
    assert script.main(["check"]) == 0
    assert "5 messages, all translated" in capsys.readouterr().out
