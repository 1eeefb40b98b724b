"""Decision callbacks: one signed POST per ending, retried, and resent after a restart."""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from basir.config import Settings
from basir.coordinator.callback_delivery import (
    CALLBACK_KIND,
    OPEN_KIND,
    callback_url_problem,
    retry_delay_s,
    waiting_record,
)
from basir.coordinator.callbacks import Callbacks
from basir.coordinator.decisions import DecisionRequest, Decisions, decision_run_id
from basir.coordinator.workflows import apply_workflow
from basir.engine.runtime import Engine
from basir.spec import load_workflow
from basir.store.memory import MemoryStore

sys.path.insert(0, str(Path(__file__).parent))
from receiver import Receiver

SECRET = "test-callback-secret"
HELLO = """\
name: hello
tasks:
  - {id: greet, uses: echo, with: {message: hi}}
  - {id: after, needs: [greet], uses: noop}
"""
SLOW = """\
name: slow
tasks:
  - {id: nap, uses: sleep, with: {seconds: 30}}
"""


@dataclass
class Setup:
    store: MemoryStore
    engine: Engine
    decisions: Decisions
    receiver: Receiver


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    store = MemoryStore()
    await store.open()
    engine = Engine(store, Settings(home=tmp_path, shutdown_grace_s=0.0), workdir=tmp_path)
    await engine.start()
    for spec in (HELLO, SLOW):
        await apply_workflow(store, load_workflow(spec, "w.yaml"))
    receiver = await Receiver().start()
    yield Setup(store, engine, Decisions(store, engine), receiver)
    await receiver.close()
    await engine.stop(0.0)
    await store.close()


def make_callbacks(s: Setup, *, secret: str | None = SECRET, max_tries: int = 5) -> Callbacks:
    return Callbacks(
        s.store, s.engine.bus, secret=secret, max_tries=max_tries, first_retry_delay_s=0.01
    )


async def decide(s: Setup, decision_id: str, workflow: str = "hello") -> str:
    request = DecisionRequest(decision_id, workflow, callback_url=s.receiver.url)
    return (await s.decisions.submit(request, by="l2")).run_id


async def events_of(s: Setup, kind: str) -> list[dict[str, object]]:
    return [e.data for e in await s.store.list_events(types=(kind,))]


async def test_one_signed_post_per_decision(setup: Setup) -> None:
    callbacks = make_callbacks(setup)
    await callbacks.start()
    try:
        run_id = await decide(setup, "d-1")
        # A repeat of the decision is the same run: it must not add a second callback.
        assert await decide(setup, "d-1") == run_id
        await setup.engine.wait(run_id)
        got = await setup.receiver.next()
        await callbacks.idle()
    finally:
        await callbacks.stop()
    assert len(setup.receiver.seen) == 1
    assert got.path == "/hook"
    expected = "sha256=" + hmac.new(SECRET.encode(), got.body, hashlib.sha256).hexdigest()
    assert got.headers["x-basir-signature"] == expected
    assert got.headers["content-type"] == "application/json"
    body = got.json()
    assert body["delivery_id"] == got.headers["x-basir-delivery"]
    assert body["decision_id"] == "d-1"
    assert body["run_id"] == run_id == decision_run_id("d-1")
    assert body["workflow"] == "hello"
    assert body["status"] == "succeeded"
    assert body["finished_at"].endswith("Z")
    assert body["tasks"] == {
        "greet": {"status": "succeeded", "attempts": 1},
        "after": {"status": "succeeded", "attempts": 1},
    }
    [delivered] = await events_of(setup, "decision.callback_delivered")
    assert delivered["attempts"] == 1 and delivered["decision_id"] == "d-1"
    assert delivered["delivery_id"] == body["delivery_id"]
    record = await setup.store.kv_get(CALLBACK_KIND, run_id)
    assert record is not None and record["state"] == "delivered"
    assert await setup.store.kv_list(OPEN_KIND) == []  # the outbox holds only open ones


async def test_unsigned_without_secret_and_nothing_for_plain_decisions(setup: Setup) -> None:
    callbacks = make_callbacks(setup, secret=None)
    await callbacks.start()
    try:
        plain = await setup.decisions.submit(DecisionRequest("plain", "hello"), by=None)
        await setup.engine.wait(plain.run_id)
        run_id = await decide(setup, "d-2")
        await setup.engine.wait(run_id)
        got = await setup.receiver.next()
        await callbacks.idle()
    finally:
        await callbacks.stop()
    assert "x-basir-signature" not in got.headers
    assert [r.json()["decision_id"] for r in setup.receiver.seen] == ["d-2"]


async def test_a_failing_receiver_is_retried_with_one_delivery_id(setup: Setup) -> None:
    setup.receiver.script = [500, 503]
    callbacks = make_callbacks(setup)
    await callbacks.start()
    try:
        run_id = await decide(setup, "d-3")
        await setup.engine.wait(run_id)
        for _ in range(3):
            await setup.receiver.next()
        await callbacks.idle()
    finally:
        await callbacks.stop()
    assert len(setup.receiver.seen) == 3
    assert len({r.headers["x-basir-delivery"] for r in setup.receiver.seen}) == 1
    [delivered] = await events_of(setup, "decision.callback_delivered")
    assert delivered["attempts"] == 3
    assert await events_of(setup, "decision.callback_failed") == []


async def test_gives_up_after_max_tries_and_says_so(setup: Setup) -> None:
    setup.receiver.script = [500, 500, 500]
    callbacks = make_callbacks(setup, max_tries=3)
    await callbacks.start()
    try:
        run = await setup.engine.wait(await decide(setup, "d-4"))
        await callbacks.idle()
    finally:
        await callbacks.stop()
    assert len(setup.receiver.seen) == 3
    [failed] = await events_of(setup, "decision.callback_failed")
    assert failed["attempts"] == 3 and failed["error"] == "HTTP 500"
    record = await setup.store.kv_get(CALLBACK_KIND, run.id)
    assert record is not None and record["state"] == "failed"
    assert await setup.store.kv_list(OPEN_KIND) == []


async def test_a_cancelled_run_is_announced(setup: Setup) -> None:
    callbacks = make_callbacks(setup)
    await callbacks.start()
    try:
        run_id = await decide(setup, "d-5", "slow")
        await setup.engine.cancel_run(run_id)
        await setup.engine.wait(run_id)
        got = await setup.receiver.next()
        await callbacks.idle()
    finally:
        await callbacks.stop()
    assert got.json()["status"] == "cancelled"
    assert got.json()["tasks"]["nap"]["status"] == "cancelled"


async def test_a_run_that_ended_while_no_server_delivered_is_sent_on_start(setup: Setup) -> None:
    # The run ends with no callback service running (the server was down): its record waits.
    run_id = await decide(setup, "d-6")
    await setup.engine.wait(run_id)
    waiting = await setup.store.kv_get(CALLBACK_KIND, run_id)
    assert waiting is not None and waiting["state"] == "waiting"
    assert await setup.store.kv_get(OPEN_KIND, run_id) == {}
    # A delivery interrupted mid-way keeps its id and tries made across the restart.
    other = await decide(setup, "d-7")
    await setup.engine.wait(other)
    interrupted = await setup.store.kv_get(CALLBACK_KIND, other)
    assert interrupted is not None
    finished = await setup.store.get_run(other)
    assert finished is not None
    interrupted.update(
        state="sending", delivery_id="abc123", attempts=1, finished_at=finished.finished_at
    )
    await setup.store.kv_put(CALLBACK_KIND, other, interrupted)
    assert setup.receiver.seen == []
    callbacks = make_callbacks(setup)
    await callbacks.start()
    try:
        first, second = await setup.receiver.next(), await setup.receiver.next()
        await callbacks.idle()
    finally:
        await callbacks.stop()
    by_decision = {r.json()["decision_id"]: r for r in (first, second)}
    assert set(by_decision) == {"d-6", "d-7"}
    assert by_decision["d-7"].headers["x-basir-delivery"] == "abc123"
    attempts = {
        e["decision_id"]: e["attempts"]
        for e in await events_of(setup, "decision.callback_delivered")
    }
    assert attempts == {"d-6": 1, "d-7": 2}
    assert await setup.store.kv_list(OPEN_KIND) == []
    # Delivered records are not sent again by a later start.
    again = make_callbacks(setup)
    await again.start()
    await again.idle()
    await again.stop()
    assert len(setup.receiver.seen) == 2


async def test_a_rejected_decision_never_calls_back(setup: Setup) -> None:
    request = DecisionRequest("d-8", "hello", params={"nope": 1}, callback_url=setup.receiver.url)
    with pytest.raises(Exception, match="nope"):
        await setup.decisions.submit(request, by=None)
    record = await setup.store.kv_get(CALLBACK_KIND, decision_run_id("d-8"))
    assert record is not None and record["state"] == "rejected"
    assert await setup.store.kv_list(OPEN_KIND) == []
    callbacks = make_callbacks(setup)
    await callbacks.start()
    assert await callbacks.rescan() == 0
    await callbacks.stop()


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("ftp://l2.example/hook", "http or https"),
        ("https://user:pw@l2.example/hook", "credentials"),
        ("https://token@l2.example/hook", "credentials"),
        ("https:///hook", "host"),
        ("https://l2.example/a b", "spaces"),
        ("https://l2.example:99999/", "URL"),
        ("https://l2.example/" + "a" * 2100, "at most 2048"),
    ],
)
def test_bad_callback_urls_are_refused(url: str, fragment: str) -> None:
    problem = callback_url_problem(url)
    assert problem is not None and fragment in problem


def test_good_callback_urls_pass() -> None:
    assert callback_url_problem("https://l2.example/hook?x=1") is None
    assert callback_url_problem("http://127.0.0.1:8080/cb") is None


def test_retry_delays_double_and_are_capped() -> None:
    assert [retry_delay_s(n, 1.0) for n in range(5)] == [0.0, 1.0, 2.0, 4.0, 8.0]
    assert retry_delay_s(30, 1.0) == 60.0


def test_waiting_record_names_its_decision() -> None:
    record = waiting_record("d", "r", "w", "https://x.example/")
    assert record["state"] == "waiting" and record["attempts"] == 0


async def test_a_marker_left_without_a_run_is_dropped(setup: Setup) -> None:
    """A crash between writing the callback and submitting the run leaves only a marker."""
    await setup.store.kv_put(OPEN_KIND, "no-such-run", {})
    callbacks = make_callbacks(setup)
    await callbacks.start()
    await callbacks.idle()
    await callbacks.stop()
    assert await setup.store.kv_list(OPEN_KIND) == []
    assert setup.receiver.seen == []


async def test_a_retried_run_is_announced_again_with_a_new_delivery(setup: Setup) -> None:
    setup.receiver.script = []
    callbacks = make_callbacks(setup)
    await callbacks.start()
    try:
        request = DecisionRequest("d-9", "slow", callback_url=setup.receiver.url)
        run_id = (await setup.decisions.submit(request, by=None)).run_id
        await setup.engine.cancel_run(run_id)
        first = await setup.receiver.next()
        await callbacks.idle()
        await setup.engine.retry_run(run_id)
        await setup.engine.cancel_run(run_id)
        second = await setup.receiver.next()
        await callbacks.idle()
    finally:
        await callbacks.stop()
    assert first.json()["status"] == second.json()["status"] == "cancelled"
    assert first.headers["x-basir-delivery"] != second.headers["x-basir-delivery"]
    assert len(setup.receiver.seen) == 2


async def test_a_run_ending_again_during_a_delivery_is_announced_after_it(setup: Setup) -> None:
    setup.receiver.script = [500]
    # A long enough wait before the second try for the run to be retried and end again.
    callbacks = Callbacks(setup.store, setup.engine.bus, secret=SECRET, first_retry_delay_s=0.5)
    await callbacks.start()
    try:
        request = DecisionRequest("d-10", "slow", callback_url=setup.receiver.url)
        run_id = (await setup.decisions.submit(request, by=None)).run_id
        await setup.engine.cancel_run(run_id)
        refused = await setup.receiver.next()
        await setup.engine.retry_run(run_id)
        await setup.engine.cancel_run(run_id)
        await setup.engine.wait(run_id)
        retried, second = await setup.receiver.next(), await setup.receiver.next()
        await callbacks.idle()
    finally:
        await callbacks.stop()
    ids = [r.headers["x-basir-delivery"] for r in (refused, retried, second)]
    assert ids[0] == ids[1] != ids[2]
    assert json.loads(refused.body)["finished_at"] != json.loads(second.body)["finished_at"]
    assert await setup.store.kv_list(OPEN_KIND) == []
