"""Which executor runs which task body: a registry keyed by body kind.

The runtime builds one registry per process with `default_registry(...)` and closes it with
`aclose()` on shutdown.  Extra kinds (the sub-workflow executor, test doubles) are added with
`register`; a later registration of the same kind replaces the earlier one.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import TYPE_CHECKING

from basir.executors.base import DEFAULT_MAX_IDLE_PROCESSES, Executor
from basir.executors.builtin import BuiltinExecutor
from basir.executors.http import DEFAULT_TIMEOUT_S, HttpExecutor
from basir.executors.python import DEFAULT_MAX_THREADS, PythonExecutor
from basir.executors.shell import KILL_GRACE_S, ShellExecutor
from basir.i18n import _

if TYPE_CHECKING:
    from basir.config import Settings


class UnknownExecutorError(LookupError):
    """No executor is registered for a body kind."""


class ExecutorRegistry:
    """Executors by the body kind they run: `run`, `python`, `http`, `uses`, …"""

    def __init__(self, executors: list[Executor] | None = None) -> None:
        self._executors: dict[str, Executor] = {}
        for executor in executors or []:
            self.register(executor)

    def register(self, executor: Executor) -> None:
        """Add (or replace) the executor for `executor.kind`."""
        self._executors[executor.kind] = executor

    def get(self, kind: str) -> Executor:
        """The executor for `kind`; `UnknownExecutorError` when there is none."""
        try:
            return self._executors[kind]
        except KeyError:
            raise UnknownExecutorError(
                _("no executor for tasks of kind {kind}", kind=kind)
            ) from None

    def __contains__(self, kind: object) -> bool:
        return kind in self._executors

    def __iter__(self) -> Iterator[str]:
        return iter(self._executors)

    def kinds(self) -> list[str]:
        """The registered kinds, in registration order."""
        return list(self._executors)

    async def aclose(self) -> None:
        """Close every executor that holds resources (`aclose()` or `close()`), each once.

        One executor failing to close does not stop the others; the first error is re-raised.
        """
        seen: set[int] = set()
        first_error: Exception | None = None
        for executor in self._executors.values():
            if id(executor) in seen:
                continue
            seen.add(id(executor))
            closer = getattr(executor, "aclose", None) or getattr(executor, "close", None)
            if closer is None:
                continue
            try:
                result = closer()
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                first_error = first_error or exc
        if first_error is not None:
            raise first_error


def default_registry(
    settings: Settings | None = None,
    *,
    python_threads: int | None = None,
    python_idle_processes: int = DEFAULT_MAX_IDLE_PROCESSES,
    http_timeout_s: float = DEFAULT_TIMEOUT_S,
    kill_grace_s: float = KILL_GRACE_S,
) -> ExecutorRegistry:
    """The four standard executors: shell (`run`), python, http and builtins (`uses`).

    With `settings`, the python thread pool gets `settings.max_parallel` threads, so every task
    that may run at once has one; `python_threads` overrides it.  Nothing is started here:
    pools and the HTTP client are created on first use.
    """
    if python_threads is None:
        python_threads = settings.max_parallel if settings is not None else DEFAULT_MAX_THREADS
    return ExecutorRegistry(
        [
            ShellExecutor(kill_grace_s=kill_grace_s),
            PythonExecutor(max_workers=python_threads, max_idle_processes=python_idle_processes),
            HttpExecutor(default_timeout_s=http_timeout_s),
            BuiltinExecutor(),
        ]
    )
