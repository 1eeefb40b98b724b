"""Which store errors are transient, and how long to wait before writing again.

A transient error (SQLite busy or locked, a full disk, an I/O error, a lost PostgreSQL
connection) leaves the store unchanged, so the engine writes the same batch again after a
backoff and carries on once the store is back.  Anything else leaves the engine's state
unknown: it stops and the run resumes from the store (`Engine.resume`).  Pure functions only.
"""

from __future__ import annotations

import errno
import sqlite3

# Messages of sqlite3.OperationalError that pass once the other writer or the disk recovers.
_SQLITE_TRANSIENT = ("locked", "busy", "disk i/o", "disk is full", "unable to open")
_OS_TRANSIENT = frozenset({errno.ENOSPC, errno.EIO, errno.EAGAIN, errno.EDQUOT})
# Class names of PostgreSQL driver errors for a connection that dropped or is not yet back
# (asyncpg, SQLAlchemy); named rather than imported so the SQLite path loads neither driver.
_DRIVER_TRANSIENT = frozenset(
    {
        "OperationalError",
        "InterfaceError",
        "DisconnectionError",
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "PostgresConnectionError",
        "CannotConnectNowError",
        "TooManyConnectionsError",
        "AdminShutdownError",
        "CrashShutdownError",
        "ConnectionResetError",
        "ConnectionRefusedError",
        "BrokenPipeError",
    }
)
# PostgreSQL SQLSTATEs that pass: connection exceptions (class 08), admin/crash shutdown and
# "cannot connect now" while the server restarts (57P01–57P03), too many connections (53300).
_PG_TRANSIENT_STATES = ("08", "57P01", "57P02", "57P03", "53300")
# How far down `__cause__` / `__context__` an error is inspected.
_MAX_CHAIN = 8

STORE_RETRY_FIRST_S = 0.05
STORE_RETRY_MAX_DELAY_S = 5.0
# After this long without one successful write the engine gives up and stops (state unknown).
STORE_RETRY_GIVE_UP_S = 300.0


def _chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and len(chain) < _MAX_CHAIN and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def is_transient_store_error(exc: BaseException) -> bool:
    """True when writing the same batch again may succeed once the store recovers."""
    chain = _chain(exc)
    for error in chain:
        if isinstance(error, sqlite3.Error):  # SQLite decides by its message, not its class
            text = str(error).lower()
            return isinstance(error, sqlite3.OperationalError) and any(
                part in text for part in _SQLITE_TRANSIENT
            )
    for error in chain:
        if isinstance(error, OSError) and error.errno in _OS_TRANSIENT:
            return True
        if getattr(error, "connection_invalidated", False) is True:  # SQLAlchemy: disconnect
            return True
        if str(getattr(error, "sqlstate", "") or "").startswith(_PG_TRANSIENT_STATES):
            return True
        if any(cls.__name__ in _DRIVER_TRANSIENT for cls in type(error).__mro__):
            return True
    return False


def store_retry_delay_s(failures: int) -> float:
    """Seconds before the next write after `failures` (≥ 1) transient failures in a row."""
    return min(STORE_RETRY_MAX_DELAY_S, STORE_RETRY_FIRST_S * 2.0 ** min(failures - 1, 30))
