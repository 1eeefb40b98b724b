"""What every command shares: consoles, the error → exit-code mapping, opening the store."""

from __future__ import annotations

import functools
import gc
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

from basir.errors import BasirError
from basir.i18n import _

if TYPE_CHECKING:
    import asyncio

    from rich.console import Console

    from basir.config import Settings
    from basir.spec.errors import SpecError
    from basir.store.base import Store

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2

T = TypeVar("T")


class _LazyConsole:
    """A rich `Console` made on first use: `--help` and `validate` need not import rich."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    @property
    def real(self) -> Console:
        """The console itself, for rich objects that draw on it (Live, Progress)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def real_console(console: Console) -> Console:
    """The rich `Console` behind `err_console` / `out_console` (or `console` itself)."""
    return console.real if isinstance(console, _LazyConsole) else console


def terminal_console() -> Console | None:
    """The stderr console when stderr is a terminal (live drawing), else None (plain lines)."""
    return real_console(err_console) if sys.stderr.isatty() else None


err_console = cast("Console", _LazyConsole(stderr=True, highlight=False))
out_console = cast("Console", _LazyConsole(highlight=False))


def settings(**overrides: Any) -> Settings:
    """Settings from the environment (BASIR_HOME, BASIR_DB, …) and options; a bad value exits 2."""
    from pydantic import ValidationError

    from basir.config import Settings

    try:
        return Settings(**overrides)
    except ValidationError as error:
        for item in error.errors():
            name = "BASIR_" + "_".join(str(part) for part in item["loc"]).upper()
            err_console.print(f"  {name}: {str(item['msg']).removeprefix('Value error, ')}")
        fail(_("the settings from the environment are invalid"))


def fail(message: str, code: int = EXIT_INVALID) -> NoReturn:
    """Print a localised error to stderr and exit with `code`.

    The message is plain text: brackets in it (`slots[@count/unit]`) are printed, not read as
    markup.
    """
    import typer
    from rich.markup import escape

    err_console.print(f"[bold red]{_('error')}:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def report_spec_error(error: SpecError, filename: str) -> NoReturn:
    """Print every located issue of an invalid spec, one per line, and exit 2."""
    import typer

    for issue in error.issues:
        sys.stderr.write(issue.format(filename) + "\n")
    raise typer.Exit(EXIT_INVALID)


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when installed (it comes with uvicorn[standard]), else asyncio's own.

    Every process Basir runs (`basir run`, `resume`, `server`) uses the same loop, and so do
    the benchmarks: uvloop cuts the per-task overhead of the engine by a fifth.
    """
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a dependency of uvicorn[standard]
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def freeze_long_lived() -> None:
    """Keep everything built so far out of the cyclic garbage collector's full passes.

    Imports leave some 70,000 objects behind, pydantic-core validators among them, which are
    slow to traverse: a full collection then takes ~60 ms on the reference machine, a stall
    of the event loop every few runs.  Called once a process has started its engine; what
    is frozen lives as long as the process anyway.  No collection first: the little garbage
    imports leave is not worth a full pass (~40 ms) at the start of every `basir run`.
    The collector's default thresholds come back here (see `cli.startup`).
    """
    from basir.cli.startup import settle

    gc.freeze()
    settle()


def run_async(main: Callable[..., Coroutine[Any, Any, T]]) -> Callable[..., T]:
    """Let a typer command be an async function; map user errors to exit code 2."""

    @functools.wraps(main)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        import asyncio

        try:
            with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
                return runner.run(main(*args, **kwargs))
        except BasirError as error:
            for detail in error.details:
                err_console.print(f"  {detail.get('field', '')}: {detail.get('message', '')}")
            fail(error.message, EXIT_INVALID)

    return wrapper


@asynccontextmanager
async def opened_store(config: Settings) -> AsyncIterator[Store]:
    """The configured store, opened (schema created or migrated) and closed afterwards."""
    from basir.store.factory import open_store

    config.home.mkdir(parents=True, exist_ok=True)
    store = open_store(config.db_url)
    await store.open()
    try:
        yield store
    finally:
        await store.close()
