"""The runtime catalog: every message translated, locale negotiation, formatting and plurals."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog

from basir.i18n import (
    _,
    current_locale,
    gettext,
    negotiate,
    ngettext,
    set_locale,
    use_locale,
)
from basir.i18n import catalog as catalog_module
from basir.i18n.catalog import normalise, plural_index
from basir.i18n.maintenance import (
    extract,
    new_catalog,
    problems,
    read_catalog,
    render,
    template_path,
)

ROOT = Path(__file__).resolve().parents[3]
FILE_FORMS = (
    "لا ملفات",
    "ملف واحد",
    "ملفان",
    "{count} ملفات",
    "{count} ملفًا",
    "{count} ملف",
)


# --- every message of the current source has an Arabic translation ---------------------------


def test_every_message_has_an_arabic_translation(tmp_path: Path) -> None:
    """Extract from the current source and compare with the committed Arabic catalog.

    Fails listing each message that is untranslated, fuzzy, or whose {placeholders} differ.
    Fix with `make i18n-extract`, translate, then `make i18n-check`.
    """
    template = extract(ROOT, ROOT / "babel.cfg")
    pot = template_path(tmp_path)
    pot.write_text(render(template, template=True), encoding="utf-8")
    assert 'msgid ""' in pot.read_text(encoding="utf-8")

    committed = catalog_module.catalog_path("ar", ROOT / "src/basir/i18n/locales")
    found = problems(template, read_catalog(committed, "ar"))
    listing = "\n".join(problem.describe() for problem in found)
    assert not found, f"{len(found)} message(s) need an Arabic translation:\n{listing}"


def test_the_committed_arabic_catalog_declares_six_plural_forms() -> None:
    committed = catalog_module.catalog_path("ar", ROOT / "src/basir/i18n/locales")
    arabic = read_catalog(committed, "ar")
    assert arabic.num_plurals == 6
    assert "n%100>=11 ? 4 : 5" in arabic.plural_expr


# --- a fixture catalog, so the behaviour does not depend on today's messages -----------------


def _fixture_catalog() -> Catalog:
    arabic = new_catalog("ar")
    arabic.add("hello {name}", "مرحبًا {name}")
    arabic.add("plain", "نص")
    arabic.add("literal ${{ params.x }}", "حرفي ${{ params.x }}")
    arabic.add("stale {name}", "قديم {name}", flags=["fuzzy"])
    arabic.add("broken {name}", "معطوب {nom}")
    arabic.add(("{count} file", "{count} files"), FILE_FORMS)
    arabic.add(("{count} day", "{count} days"), ("", "", "", "", "", "{count} يوم"))
    arabic.add(("{count} week", "{count} weeks"), ("", "", "", "", "", ""))
    return arabic


@pytest.fixture
def fixture_catalogs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    path = catalog_module.catalog_path("ar", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text(render(_fixture_catalog(), template=False), encoding="utf-8")
    monkeypatch.setattr(catalog_module, "CATALOG_DIR", tmp_path)
    catalog_module.load_catalog.cache_clear()
    yield tmp_path
    catalog_module.load_catalog.cache_clear()


@pytest.mark.usefixtures("fixture_catalogs")
class TestGettext:
    def test_translates_and_formats(self) -> None:
        with use_locale("ar"):
            assert gettext("hello {name}", name="سارة") == "مرحبًا سارة"
            assert _("plain") == "نص"

    def test_english_is_the_source(self) -> None:
        assert gettext("hello {name}", name="Sara") == "hello Sara"

    def test_untranslated_falls_back_to_english(self) -> None:
        with use_locale("ar"):
            assert gettext("nobody translated {what}", what="this") == "nobody translated this"

    def test_fuzzy_translations_are_not_used(self) -> None:
        with use_locale("ar"):
            assert gettext("stale {name}", name="x") == "stale x"

    def test_a_broken_placeholder_falls_back_to_english(self) -> None:
        with use_locale("ar"):
            assert gettext("broken {name}", name="x") == "broken x"

    def test_a_missing_value_in_the_source_is_a_bug(self) -> None:
        with pytest.raises(KeyError):
            gettext("hello {name}", other="x")

    def test_without_values_braces_stay_literal(self) -> None:
        with use_locale("ar"):
            assert gettext("literal ${{ params.x }}") == "حرفي ${{ params.x }}"
        assert gettext("literal ${{ params.x }}") == "literal ${{ params.x }}"

    def test_a_locale_without_a_catalog_falls_back(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(catalog_module, "SUPPORTED_LOCALES", ("en", "ar", "fr"))
        with use_locale("fr"):
            assert current_locale() == "fr"
            assert gettext("plain") == "plain"
            assert ngettext("{count} file", "{count} files", 2) == "2 files"


@pytest.mark.usefixtures("fixture_catalogs")
class TestNgettext:
    @pytest.mark.parametrize(
        ("count", "form"),
        [
            (0, 0),
            (1, 1),
            (2, 2),
            (3, 3),
            (10, 3),
            (11, 4),
            (99, 4),
            (100, 5),
            (101, 5),
            (102, 5),
            (103, 3),
            (111, 4),
            (1000, 5),
        ],
    )
    def test_arabic_has_six_forms(self, count: int, form: int) -> None:
        with use_locale("ar"):
            assert ngettext("{count} file", "{count} files", count) == FILE_FORMS[form].format(
                count=count
            )

    def test_plural_index_follows_the_header_rule(self) -> None:
        arabic = catalog_module.load_catalog("ar")
        assert arabic is not None
        assert [plural_index(arabic, n) for n in (0, 1, 2, 5, 50, 200, -1)] == [
            0,
            1,
            2,
            3,
            4,
            5,
            1,
        ]

    def test_english_singular_and_plural(self) -> None:
        assert ngettext("{count} file", "{count} files", 1) == "1 file"
        assert ngettext("{count} file", "{count} files", 0) == "0 files"
        assert ngettext("{count} file", "{count} files", 7, extra="x") == "7 files"

    def test_an_empty_form_borrows_the_other_form(self) -> None:
        with use_locale("ar"):
            assert ngettext("{count} day", "{count} days", 1) == "1 يوم"

    def test_an_untranslated_plural_falls_back_to_english(self) -> None:
        with use_locale("ar"):
            assert ngettext("{count} week", "{count} weeks", 3) == "3 weeks"
            assert ngettext("{count} unknown", "{count} unknowns", 1) == "1 unknown"


# --- choosing the locale ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("ar", "ar"),
        ("ar-SA", "ar"),
        ("ar_EG", "ar"),
        ("AR-sa", "ar"),
        ("ar-SA,ar;q=0.9,en-US;q=0.8,en;q=0.7", "ar"),
        ("en-US,en;q=0.9,ar;q=0.8", "en"),
        ("en;q=0.5, ar;q=0.9", "ar"),
        ("fr-FR, ar;q=0.3", "ar"),
        ("fr, de", "en"),
        ("en, ar", "en"),
        ("ar, en", "ar"),
        ("ar;q=0", "en"),
        ("ar;q=0, en;q=0", "en"),
        ("ar;q=abc", "en"),
        ("ar;q=2", "en"),
        ("ar;q=nan", "en"),
        ("ar;q=-1, en;q=0.1", "en"),
        ("ar;level=1;q=0.4, en;q=0.3", "ar"),
        ("*", "en"),
        ("*;q=0.5, ar;q=0.6", "ar"),
        ("\x00;;;,,,==;q=", "en"),
        ("😀, ar-😀;q=0.5", "ar"),
        (";q=1, ,", "en"),
    ],
)
def test_negotiate(header: str | None, expected: str) -> None:
    assert negotiate(header) == expected


def test_negotiate_reads_a_bounded_prefix_of_an_overlong_header() -> None:
    header = "fr;q=0.9, " * 200_000 + "ar"
    assert negotiate(header) == "en"  # the trailing "ar" lies beyond the part that is read
    assert negotiate("ar, " + header) == "ar"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, "en"),
        ("", "en"),
        ("ar", "ar"),
        ("AR", "ar"),
        ("ar_SA.UTF-8", "ar"),
        ("ar-EG", "ar"),
        ("ar_SA@calendar", "ar"),
        ("en_US.UTF-8", "en"),
        ("C.UTF-8", "en"),
        ("POSIX", "en"),
        ("fr", "en"),
        ("  ar  ", "ar"),
    ],
)
def test_normalise(given: str | None, expected: str) -> None:
    assert normalise(given) == expected


def test_set_locale_returns_the_normalised_code() -> None:
    assert set_locale("ar_SA.UTF-8") == "ar"
    assert current_locale() == "ar"
    assert set_locale("xx") == "en"


def test_use_locale_restores_the_previous_locale() -> None:
    set_locale("ar")
    with use_locale("en-GB") as inner:
        assert inner == "en"
        assert current_locale() == "en"
    assert current_locale() == "ar"


def test_use_locale_restores_after_an_exception() -> None:
    with pytest.raises(RuntimeError), use_locale("ar"):
        raise RuntimeError
    assert current_locale() == "en"


async def test_use_locale_is_isolated_across_asyncio_tasks() -> None:
    both_inside = asyncio.Barrier(2)
    seen: dict[str, list[str]] = {}

    async def request(name: str, locale: str) -> None:
        with use_locale(locale):
            await both_inside.wait()  # the other task switched its locale meanwhile
            seen[name] = [current_locale()]
            await asyncio.sleep(0)
        seen[name].append(current_locale())

    await asyncio.gather(request("arabic", "ar"), request("english", "en"))
    assert seen == {"arabic": ["ar", "en"], "english": ["en", "en"]}
    assert current_locale() == "en"


async def test_set_locale_in_a_task_does_not_leak_to_its_parent() -> None:
    async def child() -> str:
        return set_locale("ar")

    assert await asyncio.create_task(child()) == "ar"
    assert current_locale() == "en"
