"""`--junit FILE`: a run as a JUnit XML report, one test case per task, for CI systems."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from basir.store.records import RunRecord, TaskRecord


def junit_xml(run: RunRecord, tasks: list[TaskRecord]) -> bytes:
    """The JUnit XML document of a finished run."""
    failures = sum(1 for t in tasks if t.status in {"failed", "upstream_failed"})
    skipped = sum(1 for t in tasks if t.status in {"skipped", "cancelled"})
    duration = (run.finished_at or run.updated_at) - (run.started_at or run.created_at)
    suite = ET.Element(
        "testsuite",
        name=run.workflow,
        tests=str(len(tasks)),
        failures=str(failures),
        skipped=str(skipped),
        errors="0",
        time=f"{max(duration, 0.0):.3f}",
        id=run.id,
    )
    for task in tasks:
        elapsed = (task.finished_at or 0.0) - (task.started_at or task.finished_at or 0.0)
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"{run.workflow}.v{run.version}",
            name=task.task_id,
            time=f"{max(elapsed, 0.0):.3f}",
        )
        if task.status in {"failed", "upstream_failed"}:
            failure = ET.SubElement(
                case, "failure", message=task.error or str(task.status), type=str(task.status)
            )
            failure.text = task.error or ""
        elif task.status in {"skipped", "cancelled"}:
            ET.SubElement(case, "skipped", message=str(task.status))
        if task.attempts > 1:
            ET.SubElement(case, "system-out").text = f"attempts: {task.attempts}"
    suites = ET.Element("testsuites", name=run.workflow)
    suites.append(suite)
    return bytes(ET.tostring(suites, encoding="utf-8", xml_declaration=True))


def write_junit(path: Path, run: RunRecord, tasks: list[TaskRecord]) -> None:
    """Write the report, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(junit_xml(run, tasks))
