"""Reservations and quotas through the real `basir` executable, on the embedded store."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path

from cli_helpers import Cli, write

POOLS = {"BASIR_POOLS": "gradle=1"}

PAIR = """\
name: pair
namespace: mobile
tasks:
  - {{id: a, run: 'date +%s.%N > {dir}/a.start; sleep 0.3; date +%s.%N > {dir}/a.end'}}
  - {{id: b, run: 'date +%s.%N > {dir}/b.start; sleep 0.3; date +%s.%N > {dir}/b.end'}}
"""
RELEASE = """\
name: ship
namespace: release
tasks:
  - {id: build, run: 'echo built', resources: {pools: {gradle: 1}}}
"""


def iso(instant: float) -> str:
    return datetime.fromtimestamp(instant, UTC).isoformat()


def test_reserve_list_refuse_overlap_and_unreserve(cli: Cli, tmp_path: Path) -> None:
    now = time.time()
    window = ("--from", iso(now - 60), "--to", iso(now + 3600))
    done = cli("resources", "reserve", "gradle", "1", "--namespace", "release", *window, env=POOLS)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("reserved: rsv-")
    listed = json.loads(cli("resources", "reservations", "--json", env=POOLS).stdout)
    status = json.loads(cli("resources", "status", "--json", env=POOLS).stdout)
    assert {p["name"]: p["reserved"] for p in status["pools"]}["gradle"] == 1
    assert [(r["pool"], r["amount"], r["namespace"], r["active"]) for r in listed] == [
        ("gradle", 1, "release", True)
    ]
    nightly = ("--cron", "0 2 * * *", "--duration", "2h", "--timezone", "Asia/Riyadh")
    clash = cli("resources", "reserve", "gradle", "1", "--workflow", "w", *window, env=POOLS)
    assert clash.returncode == 2 and "more than its capacity 1" in clash.stderr
    arabic = cli("--lang", "ar", "resources", "reserve", "gradle", "1", "--workflow", "w",
                 *window, env=POOLS)  # fmt: skip
    assert arabic.returncode == 2 and "more than" not in arabic.stderr and "gradle" in arabic.stderr
    # The holder's own run uses the reserved slot (an embedded run applies stored reservations).
    shipped = cli("run", str(write(tmp_path / "ship.yaml", RELEASE)), "--json", env=POOLS)
    assert shipped.returncode == 0, shipped.stderr
    assert json.loads(shipped.stdout)["status"] == "succeeded"
    gone = cli("resources", "unreserve", listed[0]["id"], env=POOLS)
    assert gone.returncode == 0, gone.stderr
    assert cli("resources", "unreserve", listed[0]["id"], env=POOLS).returncode == 2
    recurring = cli("resources", "reserve", "gradle", "1", "--workflow", "w", *nightly, env=POOLS)
    assert recurring.returncode == 0, recurring.stderr
    shown = json.loads(cli("resources", "reservations", "--json", env=POOLS).stdout)
    assert shown[0]["cron"] == "0 2 * * *" and shown[0]["next"].endswith("T23:00:00Z")


def test_quota_set_list_and_a_run_kept_to_one_task_at_a_time(cli: Cli, tmp_path: Path) -> None:
    done = cli("resources", "quota", "set", "mobile", "--tasks", "1", "--weight", "3")
    assert done.returncode == 0, done.stderr
    listed = json.loads(cli("resources", "quota", "list", "--json").stdout)
    assert [(q["namespace"], q["tasks"], q["weight"], q["policy"]) for q in listed] == [
        ("mobile", 1, 3, "queue")
    ]
    assert "mobile" in cli("resources", "quota", "list").stdout
    sized = cli("resources", "quota", "set", "web", "--cpu", "1.5", "--memory", "100Mi")
    assert sized.returncode == 0, sized.stderr
    [row] = [
        line for line in cli("resources", "quota", "list").stdout.splitlines() if "web" in line
    ]
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    assert cells[:4] == ["web", "-", "1.5", "100Mi"]  # as written, not 104857600 bytes
    bad = cli("resources", "quota", "set", "mobile", "--policy", "drop")
    assert bad.returncode == 2 and "queue or refuse" in bad.stderr
    ran = cli("run", str(write(tmp_path / "pair.yaml", PAIR.format(dir=tmp_path))), "--json")
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["status"] == "succeeded"
    spans = sorted(
        (float((tmp_path / f"{t}.start").read_text()), float((tmp_path / f"{t}.end").read_text()))
        for t in "ab"
    )
    assert spans[0][1] <= spans[1][0], spans  # one task of `mobile` at a time


def test_refuse_policy_counts_runs_of_earlier_processes(cli: Cli, tmp_path: Path) -> None:
    done = cli("resources", "quota", "set", "mobile", "--runs-per-hour", "1", "--policy", "refuse")
    assert done.returncode == 0, done.stderr
    path = write(
        tmp_path / "one.yaml", "name: one\nnamespace: mobile\ntasks:\n  - {id: a, run: 'true'}\n"
    )
    assert cli("run", str(path)).returncode == 0
    refused = cli("run", str(path))  # a new process: the first run is read back from the store
    assert refused.returncode == 2
    assert "run refused by the quota of namespace mobile (runs_per_hour)" in refused.stderr
    assert "1/1 runs started in the past hour" in refused.stderr
    other = write(tmp_path / "other.yaml", "name: other\ntasks:\n  - {id: a, run: 'true'}\n")
    assert cli("run", str(other)).returncode == 0  # another namespace is not limited


HEAVY = """\
name: heavy
namespace: qa
tasks:
  - {id: big, run: 'true', resources: {memory: 200Mi}}
"""


def test_a_task_over_its_namespace_quota_is_refused_at_apply_and_at_run(
    cli: Cli, tmp_path: Path
) -> None:
    path = write(tmp_path / "heavy.yaml", HEAVY)
    assert cli("workflows", "apply", str(path)).returncode == 0  # no quota yet: stored
    assert cli("resources", "quota", "set", "qa", "--memory", "100Mi").returncode == 0
    by_name = cli("run", "heavy")
    assert by_name.returncode == 2, by_name.stderr
    assert (
        "heavy: tasks[0].resources.memory: task big asks for 200Mi of memory, more than the"
        " quota of namespace qa allows at once (100Mi)"
    ) in by_name.stderr
    changed = write(tmp_path / "heavier.yaml", HEAVY.replace("200Mi", "300Mi"))
    for command in (("workflows", "apply"), ("run",)):
        refused = cli(*command, str(changed))
        assert refused.returncode == 2, refused.stderr
        assert "asks for 300Mi of memory" in refused.stderr
    versions = json.loads(cli("workflows", "versions", "heavy", "--json").stdout)
    assert [v["version"] for v in versions] == [1]  # the refused file was not stored
