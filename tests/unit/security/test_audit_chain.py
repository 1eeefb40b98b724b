"""The audit chain: sealing numbers and links entries; any tampering is found where it is."""

from __future__ import annotations

import dataclasses
import hashlib

from hypothesis import given
from hypothesis import strategies as st

from basir.security.audit import GENESIS, AuditEntry, Verifier, canonical, seal, verify


def entries(n: int) -> list[AuditEntry]:
    return [
        AuditEntry(
            time=1000.0 + i,
            actor="admin" if i % 2 else None,
            action="POST /api/v1/workflows/{name}/runs",
            target={"name": f"wf{i}"},
            status=201,
        )
        for i in range(n)
    ]


def test_sealing_numbers_from_one_and_links_each_entry_to_the_one_before() -> None:
    log = seal(entries(3), 0, GENESIS)
    assert [e.id for e in log] == [1, 2, 3]
    assert log[0].prev_hash == GENESIS
    assert log[1].prev_hash == log[0].hash and log[2].prev_hash == log[1].hash
    text = GENESIS + canonical(log[0])
    assert log[0].hash == hashlib.sha256(text.encode()).hexdigest()
    assert verify(log) is None


def test_sealing_continues_an_existing_chain() -> None:
    first = seal(entries(2), 0, GENESIS)
    more = seal(entries(2), first[-1].id, first[-1].hash)
    assert verify(first + more) is None
    assert more[0].id == 3


def test_the_verifier_walks_a_log_page_by_page() -> None:
    log = seal(entries(10), 0, GENESIS)
    walker = Verifier()
    assert walker.feed(log[:4]) is None and walker.feed(log[4:]) is None
    assert walker.checked == 10
    log[7].status = 500
    walker = Verifier()
    assert walker.feed(log[:4]) is None
    assert walker.feed(log[4:]) == 3
    assert walker.broken is not None and walker.broken.id == 8


FIELDS = st.sampled_from(
    ["time", "actor", "action", "target", "status", "detail", "id", "prev_hash", "hash"]
)


def tampered(entry: AuditEntry, name: str) -> AuditEntry:
    changes: dict[str, object] = {
        "time": entry.time + 0.5,
        "actor": "mallory",
        "action": "GET /nothing",
        "target": {"name": "other"},
        "status": 299,
        "detail": {"x": 1},
        "id": entry.id + 100,
        "prev_hash": "f" * 64,
        "hash": "e" * 64,
    }
    return dataclasses.replace(entry, **{name: changes[name]})


@given(n=st.integers(1, 12), data=st.data())
def test_changing_any_field_of_any_entry_breaks_the_chain_there(
    n: int, data: st.DataObject
) -> None:
    log = seal(entries(n), 0, GENESIS)
    at = data.draw(st.integers(0, n - 1))
    log[at] = tampered(log[at], data.draw(FIELDS))
    assert verify(log) == at


@given(n=st.integers(2, 12), data=st.data())
def test_resealing_a_changed_entry_still_breaks_the_next_link(n: int, data: st.DataObject) -> None:
    log = seal(entries(n), 0, GENESIS)
    at = data.draw(st.integers(0, n - 2))
    forged = tampered(log[at], "status")
    log[at] = seal([forged], forged.id - 1, log[at].prev_hash)[0]
    assert verify(log) == at + 1


@given(n=st.integers(2, 12), data=st.data())
def test_deleting_an_entry_is_found(n: int, data: st.DataObject) -> None:
    log = seal(entries(n), 0, GENESIS)
    at = data.draw(st.integers(0, n - 2))
    del log[at]
    assert verify(log) == at


@given(n=st.integers(2, 12), data=st.data())
def test_swapping_two_entries_is_found(n: int, data: st.DataObject) -> None:
    log = seal(entries(n), 0, GENESIS)
    i = data.draw(st.integers(0, n - 2))
    j = data.draw(st.integers(i + 1, n - 1))
    log[i], log[j] = log[j], log[i]
    assert verify(log) == i


def test_an_empty_log_verifies() -> None:
    assert verify([]) is None
