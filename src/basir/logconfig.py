"""Process logging: structured JSON lines for machines, plain lines for people (structlog).

Every record, from Basir's own loggers and from libraries (uvicorn, alembic) alike, goes
through one stdlib handler whose structlog formatter adds the time (ISO 8601, UTC), the level,
the logger's name, the worker id (`host:pid`), and the run, task and attempt of the attempt
being run (`basir.log_context`) or passed as `extra={"run_id": …}`.  `auto` writes JSON when
stderr is not a terminal (a service, a container, CI) and console lines when a person reads it.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from typing import IO, Any, Literal

import structlog
from structlog.typing import EventDict, WrappedLogger

from basir.log_context import ATTEMPT_IDS

LogFormat = Literal["auto", "json", "console"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
ID_FIELDS = ("run_id", "task_id", "attempt", "workflow", "schedule_id", "event_type")


def worker_id() -> str:
    """This process as a worker: `host:pid`."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _add_ids(worker: str) -> structlog.types.Processor:
    def add_ids(_logger: WrappedLogger, _name: str, event: EventDict) -> EventDict:
        ids = ATTEMPT_IDS.get()
        if ids is not None:
            event.setdefault("run_id", ids[0])
            event.setdefault("task_id", ids[1])
            event.setdefault("attempt", ids[2])
        event.setdefault("worker_id", worker)
        return event

    return add_ids


def renders_json(fmt: LogFormat, stream: IO[str]) -> bool:
    """Whether `fmt` means JSON on `stream`: `auto` is JSON unless a person reads a terminal."""
    if fmt == "auto":
        return not (hasattr(stream, "isatty") and stream.isatty())
    return fmt == "json"


def formatter(fmt: LogFormat, stream: IO[str]) -> logging.Formatter:
    """The structlog formatter of the one handler."""
    pre_chain: list[Any] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(allow=ID_FIELDS),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_ids(worker_id()),
    ]
    renderer: Any
    if renders_json(fmt, stream):
        renderer = structlog.processors.JSONRenderer(ensure_ascii=False)
        pre_chain.append(structlog.processors.format_exc_info)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=pre_chain,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
    )


def configure_logging(
    fmt: LogFormat = "auto", level: LogLevel = "INFO", stream: IO[str] | None = None
) -> logging.Handler:
    """Send every logger's records through one structlog handler on `stream` (stderr).

    Replaces the root logger's handlers, so calling it twice does not double lines; returns
    the handler (tests read what it wrote).
    """
    out = stream if stream is not None else sys.stderr
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter(fmt, out))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
