"""WAL checkpoints on a thread of their own, off the writer's commit path.

SQLite checkpoints a WAL database from inside a commit once the WAL passes 1,000 pages: that
commit then copies the pages into the database file and fsyncs it, 15–40 ms on the reference
machine, and every task waiting for that commit waits too.  The writer connection turns that
off (`wal_autocheckpoint=0`) and signals this thread after each commit instead; the thread
lets commits gather for `delay_s`, then runs a PASSIVE checkpoint on its own connection.  A
passive checkpoint never blocks the writer (it appends to the WAL while pages are copied) and
the sqlite3 module lets go of the GIL while it runs, so the fsync costs the engine nothing.

As with SQLite's own automatic checkpoints, the next write after a complete checkpoint starts
the WAL over; `journal_size_limit` then trims the file.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

# How long commits gather before a checkpoint: at most this many fsyncs of the database per
# second come from checkpoints, however fast the writer commits.
DEFAULT_DELAY_S = 0.5


class WalCheckpointer:
    """Runs `PRAGMA wal_checkpoint(PASSIVE)` shortly after commits, on its own connection."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        *,
        delay_s: float = DEFAULT_DELAY_S,
        name: str = "basir-sqlite-checkpoint",
    ) -> None:
        self._connect = connect
        self._delay_s = delay_s
        self._committed = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def committed(self) -> None:
        """Called by the writer after each commit (cheap: it only sets a flag)."""
        self._committed.set()

    def stop(self) -> None:
        """Checkpoint what is left and end the thread (blocking; call it from a thread)."""
        self._stopping.set()
        self._committed.set()
        self._thread.join()

    def _run(self) -> None:
        conn = self._connect()
        try:
            while not self._stopping.is_set():
                self._committed.wait()
                self._stopping.wait(self._delay_s)  # let commits gather (or stop early)
                self._committed.clear()
                self._checkpoint(conn)
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:  # e.g. a busy database: the next commit tries again
            log.warning("WAL checkpoint failed: %s", exc)
            with contextlib.suppress(sqlite3.Error):
                conn.rollback()
