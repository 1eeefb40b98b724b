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
