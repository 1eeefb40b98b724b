"""Live progress of one run on the terminal: a bar and per-task states (plain lines if no TTY).

Without a terminal (CI logs, pipes) rich is never imported: lines go straight to the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TextIO

from basir.events.bus import Subscription
from basir.i18n import _

if TYPE_CHECKING:
    from rich.console import Console, Group
    from rich.live import Live

MAX_TASK_ROWS = 12
WAIT_POLL_S = 0.5  # how often the waiting reasons of an in-process run are looked at
FINAL = {"succeeded", "failed", "skipped", "cancelled", "upstream_failed"}
STYLE = {
    "succeeded": "green",
    "failed": "red",
    "upstream_failed": "red",
    "cancelled": "yellow",
    "skipped": "dim",
    "running": "cyan",
    "retrying": "magenta",
    "queued": "blue",
}


class RunProgress:
    """Consumes a run's events and draws them; `close()` leaves the final picture."""

    def __init__(
        self, console: Console | None, run_id: str, total: int, stream: TextIO | None = None
    ) -> None:
        """Draw on `console` (a terminal) live, or write plain lines to `stream` (stderr)."""
        self.console = console
        self.stream = stream if stream is not None else sys.stderr
        self.run_id = run_id
        self.states: dict[str, str] = {}
        self.total = total
        self.done = 0  # tasks in a FINAL state, kept up to date per event (O(1), not a sum)
        # The rows worth showing, kept per event so a frame never walks every task.
        self.active: dict[str, str] = {}
        self.troubled: dict[str, str] = {}
        self.reasons: dict[str, str] = {}  # why a queued task has not started, as last shown
        self.live: Live | None = None
        if console is not None:
            self._start_live(console)

    def _start_live(self, console: Console) -> None:
        from rich.live import Live
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        self.bar = self.progress.add_task(_("tasks"), total=self.total)
        # Drawn at the refresh rate from `get_renderable`, not once per event.
        self.live = Live(
            console=console,
            refresh_per_second=8,
            transient=False,
            get_renderable=self._render,
        )
        self.live.start()

    def _render(self) -> Group:
        from rich.console import Group
        from rich.markup import escape
        from rich.table import Table

        self.progress.update(self.bar, total=self.total, completed=self.done)
        table = Table(show_header=False, box=None, pad_edge=False)
        rows = itertools.chain(self.active.items(), self.troubled.items())
        for task_id, state in itertools.islice(rows, MAX_TASK_ROWS):
            shown = f"[{STYLE.get(state, '')}]{_(state)}[/]"
            reason = self.reasons.get(task_id) if state == "queued" else None
            if reason:
                shown += f" [dim]{escape(reason)}[/]"
            table.add_row(task_id, shown)
        return Group(self.progress, table)

    def waiting(self, now: Mapping[str, str]) -> None:
        """Show why queued tasks have not started (`now`: task id → reason), each new reason
        once: a line of its own without a terminal, beside the task's row with one."""
        for task_id, reason in now.items():
            if self.reasons.get(task_id) == reason or self.states.get(task_id) in FINAL:
                continue
            self.reasons[task_id] = reason
            if self.live is None:
                line = _("task {task_id} waiting: {reason}", task_id=task_id, reason=reason)
                self.stream.write(line + "\n")
        for task_id in [task_id for task_id in self.reasons if task_id not in now]:
            del self.reasons[task_id]  # started (or gone): a later wait is news again

    async def watch_waiting(
        self, source: Callable[[], Mapping[str, str]], interval_s: float = WAIT_POLL_S
    ) -> None:
        """Ask `source` for this run's waiting tasks every `interval_s` until cancelled."""
        while True:
            self.waiting(source())
            await asyncio.sleep(interval_s)

    def handle(self, event: Any) -> None:
        """Apply one event of this run to the display."""
        data = event.data
        task_id = data.get("task_id")
        if event.run_id != self.run_id or task_id is None:
            return
        status = str(data.get("status", ""))
        self._count(task_id, self.states.get(task_id), status)
        self.states[task_id] = status
        self.total = max(self.total, len(self.states))
        if self.live is None and (status in FINAL or status in {"running", "retrying"}):
            line = _("task {task_id} {status}", task_id=task_id, status=_(status))
            if data.get("error") and status in {"failed", "retrying"}:
                line += f": {data['error']}"
            # Plain text straight to the stream: rich's print costs ~0.5 ms a line, which is
            # seconds for a 10,000-task run, and an error text is not markup.
            self.stream.write(line + "\n")
        elif self.live is None and getattr(event, "type", None) == "task.preempted":
            line = _(
                "task {task_id} preempted by run {run_id} task {by}; queued again",
                task_id=task_id,
                run_id=data.get("by_run_id"),
                by=data.get("by_task_id"),
            )
            self.stream.write(line + "\n")

    def _count(self, task_id: str, before: str | None, after: str) -> None:
        """Keep the counts true when one task moves `before` → `after` (a retry leaves FINAL)."""
        self.done += (after in FINAL) - (before in FINAL)
        if after in FINAL:
            self.active.pop(task_id, None)
            if after != "succeeded":
                self.troubled[task_id] = after
        else:
            self.active[task_id] = after
            self.troubled.pop(task_id, None)

    async def follow(self, subscription: Subscription) -> None:
        """Draw events until cancelled."""
        while True:
            self.handle(await subscription.get())

    def close(self) -> None:
        """Stop live drawing, leaving the last frame on screen."""
        if self.live is not None:
            self.live.refresh()
            self.live.stop()


@contextlib.asynccontextmanager
async def following(progress: RunProgress, subscription: Subscription):  # type: ignore[no-untyped-def]
    """Run `progress.follow` in the background for the duration of the block."""
    task = asyncio.create_task(progress.follow(subscription))
    try:
        yield progress
    finally:
        while (event := subscription.get_nowait()) is not None:
            progress.handle(event)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        progress.close()
        subscription.close()
