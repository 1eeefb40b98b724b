"""The collector runs rarely while a command starts and as usual once the process settles."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from basir.cli import startup
from basir.cli.common import freeze_long_lived


@pytest.fixture
def thresholds() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)
    gc.unfreeze()


def test_startup_raises_then_settling_restores_the_thresholds(thresholds: None) -> None:
    startup.collect_less_while_starting()
    assert gc.get_threshold() == startup.STARTUP_GC_THRESHOLDS
    assert startup.STARTUP_GC_THRESHOLDS[0] > startup.DEFAULT_GC_THRESHOLDS[0]
    freeze_long_lived()  # what `basir run` and `basir server` call once their engine runs
    assert gc.get_threshold() == startup.DEFAULT_GC_THRESHOLDS


def test_before_exit_hides_what_exists_from_the_last_collection(thresholds: None) -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    startup.before_exit()
    assert gc.get_freeze_count() > 0


def _python(code: str, **env: str) -> str:
    """stdout of a fresh interpreter running `code` (PYDANTIC_DISABLE_PLUGINS as given)."""
    import os
    import subprocess
    import sys

    base = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


MODEL = (
    "from basir.cli.startup import skip_pydantic_plugin_scan; skip_pydantic_plugin_scan();"
    "import os, sys, pydantic\n"
    "class M(pydantic.BaseModel):\n    x: int\n"
    "assert M(x='1').x == 1\n"
)


def test_with_plugins_off_pydantic_never_reads_package_metadata() -> None:
    assert _python(MODEL + "print('importlib.metadata' in sys.modules)") == "False"


def test_plugins_turned_on_later_reach_pydantics_own_loader() -> None:
    code = MODEL + (
        "os.environ['PYDANTIC_DISABLE_PLUGINS'] = ''\n"
        "from pydantic.plugin._loader import get_plugins\n"
        "plugins = list(get_plugins())\n"
        "print(plugins, hasattr(sys.modules['pydantic.plugin._loader'], 'entry_points'))"
    )
    assert _python(code) == "[] True"


def test_a_users_plugin_setting_is_left_as_given() -> None:
    code = MODEL + "print(repr(os.environ['PYDANTIC_DISABLE_PLUGINS']))"
    assert _python(code, PYDANTIC_DISABLE_PLUGINS="") == "''"
    loaded = MODEL + "print('importlib.metadata' in sys.modules)"
    assert _python(loaded, PYDANTIC_DISABLE_PLUGINS="") == "True"
