"""How a finished run is reported, wherever it ran: JSON on stdout or a summary, JUnit file.

Shared by `basir run` in this process (`run_cmd`) and on a server (`remote_run`), so neither
imports the other.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from basir.cli.common import EXIT_FAILED, EXIT_OK
from basir.i18n import _

SPEC_SUFFIXES = {".yaml", ".yml", ".json"}


def finish_run(result: dict[str, Any], json_out: bool, junit: Path | None) -> int:
    """Report a finished run (JSON on stdout or a summary on stderr, JUnit file); exit code."""
    if junit is not None:
        from basir.cli.junit import write_junit

        write_junit(junit, result)
    if json_out:
        sys.stdout.write(json.dumps(public_result(result), ensure_ascii=False) + "\n")
    else:
        _print_summary(result)
    return EXIT_OK if result["status"] == "succeeded" else EXIT_FAILED


def public_result(result: dict[str, Any]) -> dict[str, Any]:
    """The DESIGN §6 shape of `basir run --json`: no timestamps."""
    keep = ("status", "attempts", "outputs", "error")
    return {
        "run_id": result["run_id"],
        "workflow": result["workflow"],
        "version": result["version"],
        "status": result["status"],
        "tasks": {
            task_id: {key: entry[key] for key in keep if key in entry}
            for task_id, entry in result["tasks"].items()
        },
    }


def _print_summary(result: dict[str, Any]) -> None:
    counts: dict[str, int] = {}
    for entry in result["tasks"].values():
        counts[entry["status"]] = counts.get(entry["status"], 0) + 1
    parts = ", ".join(f"{n} {_(status)}" for status, n in sorted(counts.items()))
    # Plain text, not rich: an error message is not markup, and rich costs ~50 ms to import.
    summary = _(
        "run {run_id} {status}: {parts}",
        run_id=result["run_id"],
        status=_(result["status"]),
        parts=parts,
    )
    lines = [summary]
    for task_id, entry in result["tasks"].items():
        if entry["status"] in {"failed", "upstream_failed"} and entry.get("error"):
            lines.append(f"  {task_id}: {entry['error']}")
    sys.stderr.write("\n".join(lines) + "\n")
