"""The resources page's reservations timeline, quotas, recommendations and forecast."""

from __future__ import annotations

import html
import re
import time
from pathlib import Path

import httpx
import pytest
from dashboard_helpers import Browser, csrf_of

from basir.config import Settings
from basir.dashboard.assets import STATIC_DIR
from basir.dashboard.resource_plans import (
    MAX_BARS_PER_LANE,
    PERCENT,
    TIMELINE_S,
    forecast_rows,
    placed,
    quota_form,
    quota_row,
    reservation_form,
    timeline,
)
from basir.engine import resource_policies
from basir.engine.runtime import Engine
from basir.resources.reservations import ReservationInput
from basir.resources.windows import Reservation
from basir.store.memory import MemoryStore
from basir.store.records import MetricPoint

HOUR = 3600.0
NOW = 1_800_000_000.0 + 1800  # half past an hour (UTC)
CLASSES = re.compile(r"\btl-(?:at|w)-\d+\b")


@pytest.fixture
def settings(basir_home: Path) -> Settings:
    """A `gradle` pool of 4 slots."""
    return Settings(home=basir_home, shutdown_grace_s=0.0, pools="gradle=4")


def test_a_window_covers_its_time_and_stays_on_the_track() -> None:
    start, end = 0.0, 100.0
    assert placed(10.2, 20.7, start, end) == (10, 11)
    assert placed(-50.0, 0.5, start, end) == (0, 1)  # started before: from the edge
    assert placed(99.6, 400.0, start, end) == (99, 1)  # never past 100
    assert placed(30.0, 30.0, start, end) == (30, 1)  # never invisible


def test_the_timeline_shows_windows_of_the_next_two_days() -> None:
    once = Reservation(
        "rsv-000000000001", "gradle", 2, "namespace", "mobile", NOW - HOUR, NOW + HOUR
    )
    nightly = Reservation(
        "rsv-000000000002", "cpu", 1500, "workflow", "release",
        cron="0 2 * * *", duration_s=2 * HOUR, timezone="UTC",
    )  # fmt: skip
    gone = Reservation(
        "rsv-000000000003", "gradle", 1, "namespace", "old", NOW - 9 * HOUR, NOW - HOUR
    )
    shown = timeline([once, nightly, gone], NOW)
    assert shown.end - shown.start == TIMELINE_S and shown.start == NOW - 1800
    assert [lane.reservation.id for lane in shown.lanes] == [nightly.id, once.id, gone.id]
    cpu, mobile, old = shown.lanes
    assert cpu.amount == 1.5 and not cpu.active and cpu.next is not None
    assert len(cpu.bars) == 2 and all(b.end - b.start == 2 * HOUR for b in cpu.bars)
    assert (old.active, old.next, old.bars) == (False, None, [])
    assert mobile.active and mobile.until == NOW + HOUR
    assert [(b.at, b.width, b.active) for b in mobile.bars] == [(0, 4, True)]
    assert shown.now_at == 1 and all(0 <= at < PERCENT for at, _t, _l in shown.ticks)
    assert [t % (6 * HOUR) for _at, t, _l in shown.ticks] == [0.0] * len(shown.ticks)
    labelled = [(at, t) for at, t, shown_label in shown.ticks if shown_label]
    assert labelled and all(t % (12 * HOUR) == 0 and at <= 80 for at, t in labelled)


def test_a_lane_shows_its_first_windows_and_says_there_are_more() -> None:
    hourly = Reservation(
        "rsv-000000000004", "gradle", 1, "namespace", "ci",
        cron="0 * * * *", duration_s=HOUR / 2, timezone="UTC",
    )  # fmt: skip
    [lane] = timeline([hourly], NOW).lanes
    assert len(lane.bars) == MAX_BARS_PER_LANE and lane.more
    assert lane.bars[0].start == NOW - 1800 and not lane.bars[0].active  # [start, end)


def test_every_placement_class_exists_in_the_stylesheet() -> None:
    css = (STATIC_DIR / "resources.css").read_text(encoding="utf-8")
    declared = set(CLASSES.findall(css))
    needed = {f"tl-at-{n}" for n in range(PERCENT)} | {f"tl-w-{n}" for n in range(1, 101)}
    assert needed <= declared


def test_a_quota_row_puts_each_limit_beside_its_use() -> None:
    row = quota_row(
        {"namespace": "mobile", "tasks": 4, "cpu": 2.0, "memory": None, "runs": None,
         "runs_per_hour": 10, "policy": "refuse", "weight": 3,
         "in_use": {"tasks": 3, "cpu": 0.5, "memory": 0, "runs": 1, "runs_past_hour": 12}}
    )  # fmt: skip
    shares = {limit.name: (limit.used, limit.limit, limit.percent) for limit in row.limits}
    assert shares["tasks"] == (3.0, 4.0, 75)
    assert shares["cpu"] == (0.5, 2.0, 25)
    assert shares["memory"] == (0.0, None, None)
    assert shares["runs_per_hour"] == (12.0, 10.0, 100)
    assert (row.policy, row.weight) == ("refuse", 3)


def test_the_quota_form_reads_whole_numbers_cores_and_sizes() -> None:
    form = {"namespace": "mobile", "tasks": "4", "cpu": "1.5", "memory": "8Gi", "policy": "refuse"}
    assert quota_form(form) == (
        "mobile",
        {"policy": "refuse", "tasks": 4, "cpu": 1.5, "memory": "8Gi"},
        {},
    )
    _ns, _body, errors = quota_form({"namespace": "Not Valid", "tasks": "four", "cpu": "x"})
    assert set(errors) == {"namespace", "tasks", "cpu"}


def test_the_reservation_form_reads_utc_times_and_a_holder() -> None:
    given, errors = reservation_form(
        {"pool": "gpu", "amount": "2", "holder_kind": "workflow", "holder": "release",
         "from": "2026-12-02T02:00", "to": "2026-12-02T04:00"}
    )  # fmt: skip
    assert errors == {}
    assert (given.pool, given.amount, given.workflow, given.namespace) == (
        "gpu",
        2.0,
        "release",
        None,
    )
    assert (given.start, given.end) == ("2026-12-02T02:00+00:00", "2026-12-02T04:00+00:00")
    nightly, _errors = reservation_form(
        {"pool": "memory", "amount": "4Gi", "holder": "mobile", "cron": "0 2 * * *",
         "duration": "2h", "timezone": "Asia/Riyadh"}
    )  # fmt: skip
    assert (nightly.amount, nightly.namespace, nightly.cron, nightly.start) == (
        "4Gi",
        "mobile",
        "0 2 * * *",
        None,
    )
    _given, errors = reservation_form({"pool": "GPU!", "holder": "", "amount": ""})
    assert set(errors) == {"pool", "holder", "amount"}


def test_the_forecast_lists_the_soonest_to_fill_first() -> None:
    def pool(name: str, eta: float | None) -> dict[str, object]:
        return {
            "pool": name, "capacity": 4.0, "utilisation_now": 0.5, "trend_per_day": 0.1,
            "daily_peak_offset": 0.05, "saturates_in_s": eta,
            "saturates_at": None if eta is None else NOW + eta,
        }  # fmt: skip

    rows = forecast_rows([pool("a", None), pool("b", 7200.0), pool("c", 0.0)])
    assert [(r.pool, r.saturated) for r in rows] == [("c", True), ("b", False), ("a", False)]
    assert (rows[1].now_percent, rows[1].trend_percent_per_day) == (50.0, 10.0)


async def _reserve(engine: Engine) -> str:
    given = ReservationInput(
        pool="gradle", amount=2, namespace="mobile", start=time.time() - 60, end=time.time() + HOUR
    )
    made = await resource_policies.add_reservation(engine, given, "tests")
    return str(made["id"])


async def _post(client: httpx.AsyncClient, url: str, **form: str) -> httpx.Response:
    page = await client.get("/resources")
    return await client.post(url, data={"csrf": csrf_of(page.text), **form})


async def test_everyone_sees_reservations_and_quotas_operators_delete(
    browser: Browser, engine: Engine
) -> None:
    reservation = await _reserve(engine)
    await resource_policies.set_quota(engine, "mobile", {"tasks": 4, "policy": "refuse"})
    viewer = await browser("viewer")
    page = (await viewer.get("/resources")).text
    assert f'data-reservation="{reservation}"' in page and "tl-bar tl-at-" in page
    assert 'data-namespace="mobile"' in page and "0 of 4" in page
    assert "rsv-delete" not in page and 'id="quota-form"' not in page
    refused = await viewer.post(
        f"/resources/reservations/{reservation}/delete", data={"csrf": csrf_of(page)}
    )
    assert refused.status_code == 403
    part = await viewer.get("/resources?part=reservations")
    assert part.text.lstrip().startswith('<div id="reservations-live"')

    operator = await browser("operator")
    page = (await operator.get("/resources")).text
    assert "rsv-delete" in page and 'id="quota-form"' not in page
    stale = await operator.post(f"/resources/reservations/{reservation}/delete", data={})
    assert stale.status_code == 403
    done = await _post(operator, f"/resources/reservations/{reservation}/delete")
    assert done.status_code == 303
    assert await resource_policies.list_reservations(engine) == []
    assert "No reservations" in (await operator.get("/resources")).text
    quota = await _post(operator, "/resources/quotas", namespace="mobile", tasks="2")
    assert quota.status_code == 403


async def test_an_admin_sets_a_quota_with_errors_beside_the_fields(
    browser: Browser, engine: Engine
) -> None:
    admin = await browser("admin")
    bad = await _post(admin, "/resources/quotas", namespace="mobile", tasks="lots")
    assert bad.status_code == 422 and 'id="quota-tasks-error"' in bad.text
    assert 'value="lots"' in bad.text
    refused = await _post(admin, "/resources/quotas", namespace="mobile", weight="5000")
    assert refused.status_code == 422 and 'id="quota-error"' in refused.text
    done = await _post(
        admin, "/resources/quotas", namespace="mobile", tasks="3", memory="1Gi", policy="refuse"
    )
    assert done.status_code == 303
    shown = await resource_policies.get_quota(engine, "mobile")
    assert (shown["tasks"], shown["memory"], shown["policy"]) == (3, 1 << 30, "refuse")
    part = (await admin.get("/resources?part=quotas")).text
    assert part.lstrip().startswith('<div id="quotas-live"') and "1 GiB" in part


async def test_recommendations_and_forecast_from_the_history_in_arabic(
    browser: Browser, store: MemoryStore
) -> None:
    now = time.time()
    minute = now - now % 60
    points = []
    for i in range(120):  # two hours: use rising from 0 to 3 of 4 slots, 30 min of waiting
        t = minute - (120 - i) * 60
        labels = '{"pool":"gradle"}'
        points += [
            MetricPoint("basir_pool_capacity", labels, 60, t, 4.0),
            MetricPoint("basir_pool_in_use", labels, 60, t, 3.0 * i / 119),
            MetricPoint("basir_pool_wait_seconds_total", labels, 60, t, 15.0 * i),
        ]
    await store.metrics_write(points)
    viewer = await browser("viewer")
    first = (await viewer.get("/resources")).text
    assert 'hx-trigger="load, ' in first and 'data-kind="raise_pool"' not in first
    part = (await viewer.get("/resources?part=plans")).text
    assert part.lstrip().startswith('<div id="plans-live"')
    page = (await viewer.get("/resources")).text  # computed a moment ago: on the page at once
    advice = html.escape("raise pool gradle from 4 to 5: tasks waited 30 min for it")
    assert 'data-kind="raise_pool"' in page and advice in page
    assert 'hx-trigger="load, ' not in page
    row = page.split('<tr data-pool="gradle">')[-1].split("</tr>")[0]
    assert "around" in row and "<time" in row
    arabic = await browser("viewer", **{"Accept-Language": "ar"})
    part = (await arabic.get("/resources?part=plans")).text
    assert "التوقعات" in part and "gradle" in part and "raise pool" not in part


async def test_operators_reserve_from_the_page_with_the_api_checks(
    browser: Browser, engine: Engine
) -> None:
    operator = await browser("operator")
    page = (await operator.get("/resources")).text
    assert 'id="reserve-form"' in page and '<option value="gradle"' in page
    form = {"pool": "gradle", "amount": "3", "holder_kind": "namespace", "holder": "mobile",
            "cron": "0 2 * * *", "duration": "2h", "timezone": "Asia/Riyadh"}  # fmt: skip
    done = await _post(operator, "/resources/reservations", **form)
    assert done.status_code == 303
    [made] = await resource_policies.list_reservations(engine)
    assert (made["pool"], made["amount"], made["namespace"]) == ("gradle", 3, "mobile")
    assert (made["cron"], made["duration_s"], made["created_by"]) == ("0 2 * * *", 7200, "operator")
    over = await _post(operator, "/resources/reservations", **{**form, "amount": "2"})
    assert over.status_code == 422 and 'id="reservation-error"' in over.text
    assert 'id="rsv-amount" name="amount" type="text" value="2"' in over.text
    viewer = await browser("viewer")
    assert 'id="reserve-form"' not in (await viewer.get("/resources")).text
    refused = await _post(viewer, "/resources/reservations", **form)
    assert refused.status_code == 403
