"""`--junit FILE`: a run as a JUnit XML report, one test case per task, for CI systems.

Built from the run's JSON result with timestamps (`run_to_dict(..., timestamps=True)` or
`GET /runs/{id}`), so a local and a server run give the same report.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from typing import Any

FAILED = {"failed", "upstream_failed"}
NOT_RUN = {"skipped", "cancelled"}


def _seconds(start: str | None, end: str | None) -> float:
    if not start or not end:
        return 0.0
    began = datetime.fromisoformat(start.replace("Z", "+00:00"))
    ended = datetime.fromisoformat(end.replace("Z", "+00:00"))
    return max((ended - began).total_seconds(), 0.0)


def junit_xml(result: dict[str, Any]) -> bytes:
    """The JUnit XML document of a finished run's result."""
    tasks: dict[str, dict[str, Any]] = result["tasks"]
    workflow = str(result["workflow"])
    suite = ET.Element(
        "testsuite",
        name=workflow,
        tests=str(len(tasks)),
        failures=str(sum(1 for t in tasks.values() if t["status"] in FAILED)),
        skipped=str(sum(1 for t in tasks.values() if t["status"] in NOT_RUN)),
        errors="0",
        time=f"{_seconds(result.get('started_at'), result.get('finished_at')):.3f}",
        id=str(result["run_id"]),
    )
    for task_id, task in tasks.items():
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{workflow}.v{result['version']}",
            name=task_id,
            time=f"{_seconds(task.get('started_at'), task.get('finished_at')):.3f}",
        )
        if task["status"] in FAILED:
            error = str(task.get("error") or task["status"])
            failure = ET.SubElement(
                case, "failure", message=error.splitlines()[0], type=str(task["status"])
            )
            failure.text = error
        elif task["status"] in NOT_RUN:
            ET.SubElement(case, "skipped", message=str(task["status"]))
        if task.get("attempts", 0) > 1:
            ET.SubElement(case, "system-out").text = f"attempts: {task['attempts']}"
    suites = ET.Element("testsuites", name=workflow)
    suites.append(suite)
    return bytes(ET.tostring(suites, encoding="utf-8", xml_declaration=True))


def write_junit(path: Path, result: dict[str, Any]) -> None:
    """Write the report, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(junit_xml(result))
