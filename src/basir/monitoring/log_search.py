"""Searching task logs across runs: newest runs first, bounded in matches and bytes read.

Logs are the executors' files `logs_dir/<run_id>/<task_id>.log`.  The runs of the window come
from the store page by page (so `workflow` and `since` narrow the files read); each page's
files are scanned in a worker thread, line by line, for a case-insensitive substring.  The scan
stops at `limit` matches or after `MAX_SCAN_BYTES`, and says so (`truncated`), so one search
never reads a whole disk.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path

from basir.errors import BasirError
from basir.i18n import _
from basir.store.base import MAX_RUNS_PER_READ, Store

MAX_SCAN_BYTES = 256 * 1024 * 1024
MAX_LINE_CHARS = 1000
MAX_LIMIT = 1000
MAX_QUERY_CHARS = 200  # as `GET /api/v1/logs/search?q=` allows


def check_query(needle: str) -> None:
    """Refuse an empty search text (it matched every line) or one longer than the API takes."""
    if not 1 <= len(needle) <= MAX_QUERY_CHARS:
        raise BasirError(
            "request.invalid",
            _("this log search is not valid"),
            details=[
                {
                    "field": "text",
                    "message": _("give 1 to {n} characters to find", n=MAX_QUERY_CHARS),
                }
            ],
        )


@dataclass(frozen=True, slots=True)
class LogMatch:
    """One matching line: where it is and what it says (shortened to `MAX_LINE_CHARS`)."""

    run_id: str
    workflow: str
    task_id: str
    line_no: int
    line: str


@dataclass(slots=True)
class SearchResult:
    """Matches (newest run first, then task and line), and whether the scan stopped early."""

    matches: list[LogMatch] = field(default_factory=list)
    truncated: bool = False
    scanned_bytes: int = 0


def run_log_files(logs_dir: Path, run_id: str) -> list[tuple[str, Path]]:
    """`(task_id, path)` of every log file of a run, by task id."""
    folder = logs_dir / run_id
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = [
        (entry.name.removesuffix(".log"), Path(entry.path))
        for entry in entries
        if entry.is_file() and entry.name.endswith(".log")
    ]
    return sorted(found)


def scan(
    files: list[tuple[str, str, str, Path]], needle: str, result: SearchResult, limit: int
) -> None:
    """Add the lines of `files` (`run_id, workflow, task_id, path`) containing `needle`."""
    wanted = needle.casefold()
    for run_id, workflow, task_id, path in files:
        try:
            handle = path.open("r", encoding="utf-8", errors="replace")
        except OSError:
            continue
        with handle:
            for line_no, line in enumerate(handle, start=1):
                result.scanned_bytes += len(line)
                if wanted in line.casefold():
                    text = line.rstrip("\n")[:MAX_LINE_CHARS]
                    result.matches.append(LogMatch(run_id, workflow, task_id, line_no, text))
                    if len(result.matches) >= limit:
                        result.truncated = True
                        return
                if result.scanned_bytes >= MAX_SCAN_BYTES:
                    result.truncated = True
                    return


def _scan_runs(
    logs_dir: Path, runs: list[tuple[str, str]], needle: str, result: SearchResult, limit: int
) -> None:
    files = [
        (run_id, workflow, task_id, path)
        for run_id, workflow in runs
        for task_id, path in run_log_files(logs_dir, run_id)
    ]
    scan(files, needle, result, limit)


async def search_logs(
    store: Store,
    logs_dir: Path,
    needle: str,
    *,
    since: float = 0.0,
    until: float = float("inf"),
    workflow: str | None = None,
    limit: int = 100,
) -> SearchResult:
    """Lines containing `needle` in the logs of runs created in `[since, until)`."""
    check_query(needle)
    result = SearchResult()
    limit = max(1, min(limit, MAX_LIMIT))
    cursor: str | None = None
    while True:
        page = await store.list_runs(workflow=workflow, limit=MAX_RUNS_PER_READ, cursor=cursor)
        runs = [(r.id, r.workflow) for r in page.items if since <= r.created_at < until]
        await asyncio.to_thread(_scan_runs, logs_dir, runs, needle, result, limit)
        if result.truncated:
            return result
        if page.next is None or (page.items and page.items[-1].created_at < since):
            return result
        cursor = page.next
