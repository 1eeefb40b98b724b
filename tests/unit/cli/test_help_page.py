"""`basir --help` drawn without typer is the page the whole typer app draws (issue 8).

The direct path (`basir.cli.direct`) prints `help_page.top_level_help`; these tests hold it
to click's own layout: the short help of every command at every width, the definition
lists, and the whole page in English and Arabic against the app's.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from typer._click import Context
from typer._click.formatting import HelpFormatter
from typer._click.utils import make_default_short_help
from typer.main import get_group

from basir.cli import help_page
from basir.cli.app import build_app
from basir.i18n import _, set_locale


@pytest.fixture(params=["en", "ar"])
def lang(request: pytest.FixtureRequest) -> Iterator[str]:
    set_locale(request.param)
    yield request.param
    set_locale("en")


def test_short_help_cuts_as_click_does(lang: str) -> None:
    texts = [_(text) for text in help_page.COMMAND_HELP.values()]
    texts += ["One. Two.", "a" * 60, "word " * 20, "x", ""]
    for text in texts:
        for limit in range(5, 90):
            assert help_page.short_help(text, limit) == make_default_short_help(text, limit)


@pytest.mark.parametrize("width", [50, 57, 64, 78])
def test_definition_lists_are_laid_out_as_click_does(lang: str, width: int) -> None:
    rows = [(name, _(text)) for name, text in help_page.COMMAND_HELP.items()]
    rows += [("--a-very-long-option-name-beyond-thirty", _(help_page.APP_HELP))]
    formatter = HelpFormatter(width=width)
    with formatter.indentation():
        formatter.write_dl(rows)
    assert "\n".join(help_page._definitions(rows, width)) + "\n" == formatter.getvalue()


@pytest.mark.parametrize("columns", ["40", "60", "75", "80", "120"])
def test_the_page_is_the_whole_apps_page(columns: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # English only in this process: the groups defined at module level were translated when
    # first imported.  tests/integration/cli/test_direct_path.py compares fresh processes.
    set_locale("en")
    monkeypatch.setenv("COLUMNS", columns)
    group = get_group(build_app())
    whole = group.get_help(Context(group, info_name="basir"))
    assert help_page.top_level_help("basir") == whole


def test_every_command_of_the_app_is_listed_in_order() -> None:
    assert list(get_group(build_app()).commands) == list(help_page.COMMAND_HELP)


def test_a_text_click_would_reshape_is_left_to_the_app() -> None:
    assert help_page.plain("List runs, newest first.")
    assert not help_page.plain("two\n\nparagraphs")
    assert not help_page.plain("  indented")
    assert not help_page.plain("tab\there")
