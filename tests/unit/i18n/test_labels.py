"""State labels: every state is in the catalog, and labels follow the locale."""

from __future__ import annotations

from basir.i18n import N_, state_label, use_locale
from basir.i18n.labels import STATE_NAMES
from basir.states import RunStatus, TaskStatus


def test_every_run_and_task_state_has_a_label() -> None:
    states = {str(state) for state in (*RunStatus, *TaskStatus)}
    assert set(STATE_NAMES) == states


def test_labels_follow_the_locale() -> None:
    assert state_label("succeeded") == "succeeded"
    with use_locale("ar"):
        assert state_label("succeeded") != "succeeded"
        assert state_label("no-such-state") == "no-such-state"


def test_the_marker_returns_its_argument() -> None:
    assert N_("queued") == "queued"
