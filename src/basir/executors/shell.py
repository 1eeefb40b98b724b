"""The `run:` executor: a shell script in its own process group, output streamed to the log.

Each attempt runs `<shell> -c <script>` (default `/bin/sh`; `shell: bash` or `shell: bash -e`
choose another interpreter) as the leader of a new session, so the whole tree it starts can
be signalled at once.  Standard output and error share one pipe, so the log keeps their order.

The process gets a clean environment (`executors.environment`): the allow-listed part of the
server's, the task's `env:`, the attempt's `BASIR_*` ids, `BASIR_OUTPUT`, its own `TMPDIR`
(removed afterwards) and the body's `expr_env` — the `BASIR_EXPR_<i>` values the script's
expressions refer to, so a value is never script text.

When the attempt ends — normally, by timeout or by cancellation — nothing it started survives:
background processes still in its process group get SIGTERM, then SIGKILL after
`KILL_GRACE_S`.  A process that leaves the group on purpose (`setsid`) is not followed here:
the sweeper (`engine.sweeper`) finds it by its `BASIR_ATTEMPT_ID` seconds later and stops it.

The shell starts gated (`executors.processes`): it waits until the engine has recorded its
process group and start time (`TaskContext.on_spawn`), so a crash at any moment leaves either
nothing running or a group the next start can find and stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shlex
import shutil
import signal
import tempfile
from pathlib import Path

from basir.executors.base import JsonDict, TaskContext, TaskFailure
from basir.executors.environment import task_process_env
from basir.executors.logs import CappedLog, attempt_header
from basir.executors.memory import AttemptMemory
from basir.executors.outputs import OutputsError, read_outputs
from basir.executors.processes import GO_BYTE, gated_argv, start_ticks
from basir.i18n.deferred import lazy

DEFAULT_SHELL = "/bin/sh"
# An attempt's private directory (outputs file, `TMPDIR`): `basir-out-<owner pid>-…`, so the
# sweeper (`resources.sweep`) can tell the leftovers of a process that died from live ones.
OUT_PREFIX = "basir-out-"
KILL_GRACE_S = 1.0
DRAIN_AFTER_EXIT_S = 2.0
DRAIN_AFTER_KILL_S = 0.3
READ_CHUNK_BYTES = 64 * 1024


class ShellExecutor:
    """Runs `{"run": script, "shell": interpreter?}` bodies."""

    kind = "run"

    def __init__(self, *, kill_grace_s: float = KILL_GRACE_S) -> None:
        self.kill_grace_s = kill_grace_s

    async def execute(self, body: JsonDict, ctx: TaskContext) -> JsonDict:
        """Run the script once; return what it wrote to `$BASIR_OUTPUT`."""
        script = body.get("run")
        if not isinstance(script, str):
            raise TaskFailure(lazy("a run task needs a script"))
        argv = [*_shell_argv(body.get("shell")), "-c", script]
        out_dir = Path(tempfile.mkdtemp(prefix=f"{OUT_PREFIX}{os.getpid()}-"))
        try:
            outputs_path = out_dir / "outputs"
            outputs_path.touch()
            tmp_dir = out_dir / "tmp"
            tmp_dir.mkdir()
            extra = {"BASIR_OUTPUT": str(outputs_path), "TMPDIR": str(tmp_dir)}
            expr_env = body.get("expr_env")
            if isinstance(expr_env, dict):
                extra.update({str(key): str(value) for key, value in expr_env.items()})
            env = task_process_env(ctx.base_env, ctx.env, ctx.basir_env(), extra)
            memory = AttemptMemory(ctx.memory_limit, ctx.limit_name)
            try:
                code, log = await self._run(argv, ctx, env, memory)
                oom = memory.out_of_memory(code, log.tail())
            finally:
                if memory.cgroup is not None:
                    await asyncio.to_thread(memory.close)
            return _finish(code, log, outputs_path, ctx, oom=oom)
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)

    async def _run(
        self, argv: list[str], ctx: TaskContext, env: dict[str, str], memory: AttemptMemory
    ) -> tuple[int, CappedLog]:
        ctx.workdir.mkdir(parents=True, exist_ok=True)
        log = CappedLog(ctx.log_path, ctx.output_cap_bytes, attempt_header(ctx))
        read_fd, write_fd = os.pipe()
        try:
            proc = await self._start(argv, ctx, env, write_fd, log, memory)
        except BaseException:
            os.close(read_fd)
            log.close()
            raise
        finally:
            os.close(write_fd)
        pump = _Pump(read_fd, log)
        try:
            await pump.start()
            code = await proc.wait()
            # Leftover background jobs would hold the pipe open (and outlive the task).
            await self._stop_group(proc, pump)
        except BaseException:
            await self._stop_group(proc, pump)
            raise
        finally:
            pump.close()
            log.close()
        return code, log

    async def _start(
        self,
        argv: list[str],
        ctx: TaskContext,
        env: dict[str, str],
        out_fd: int,
        log: CappedLog,
        memory: AttemptMemory,
    ) -> asyncio.subprocess.Process:
        """Start the shell at its gate, record it through `ctx.on_spawn`, limit its memory,
        then release it."""
        go_read, go_write = os.pipe()
        spawn = asyncio.ensure_future(_spawn_gated(argv, ctx, env, go_read, out_fd))
        try:
            # Shielded: a cancel that lands while asyncio is still wiring up a process that
            # already runs must not leave its group alive (asyncio would kill only the shell).
            proc = await asyncio.shield(spawn)
        except asyncio.CancelledError:
            os.close(go_write)
            with contextlib.suppress(BaseException):
                await self._terminate(await spawn)
            raise
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the script or env
            os.close(go_write)
            log.write(f"{exc}\n".encode())
            error = getattr(exc, "strerror", None) or str(exc)
            raise TaskFailure(
                lazy("cannot start {shell}: {error}", shell=argv[0], error=error)
            ) from exc
        except BaseException:
            os.close(go_write)
            raise
        finally:
            os.close(go_read)  # only after the spawn has finished with it
        try:
            await _release(proc, ctx, go_write, memory)
        except BaseException:
            # The body never ran: whatever waits at the gate goes (end of file alone would do).
            with contextlib.suppress(BaseException):
                await self._terminate(proc)
            raise
        return proc

    async def _terminate(self, proc: asyncio.subprocess.Process) -> None:
        """SIGTERM the group of a process we never read from; SIGKILL it after the grace."""
        if _signal_group(proc.pid, signal.SIGTERM):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), self.kill_grace_s)
        _signal_group(proc.pid, signal.SIGKILL)
        await proc.wait()

    async def _stop_group(self, proc: asyncio.subprocess.Process, pump: _Pump) -> None:
        """SIGTERM the process group; SIGKILL it once the grace period ends or all is quiet."""
        if not _signal_group(proc.pid, signal.SIGTERM) and proc.returncode is not None:
            # Only a process that left the group can still hold the pipe: do not wait forever.
            await pump.wait(DRAIN_AFTER_EXIT_S)
            return
        waiter: asyncio.Future[object] = asyncio.ensure_future(proc.wait())
        try:
            await asyncio.wait([waiter, pump.task], timeout=self.kill_grace_s)
        finally:
            _signal_group(proc.pid, signal.SIGKILL)
            waiter.cancel()
        await proc.wait()
        await pump.wait(DRAIN_AFTER_KILL_S)


async def _spawn_gated(
    argv: list[str], ctx: TaskContext, env: dict[str, str], go_read: int, out_fd: int
) -> asyncio.subprocess.Process:
    """Start `argv` behind the gate (`executors.processes`) as a new session's leader."""
    _check_runnable(argv[0], env)
    return await asyncio.create_subprocess_exec(
        *gated_argv(argv),
        stdin=go_read,
        stdout=out_fd,
        stderr=out_fd,
        cwd=ctx.workdir,
        env=env,
        start_new_session=True,
    )


def _check_runnable(program: str, env: dict[str, str]) -> None:
    """Raise the OSError `exec` would give, here, since the gate (not we) runs `program`."""
    path = os.pathsep.join(os.get_exec_path(env))
    if shutil.which(program, path=path) is None:
        code = errno.EACCES if "/" in program and os.path.exists(program) else errno.ENOENT
        raise OSError(code, os.strerror(code), program)


async def _release(
    proc: asyncio.subprocess.Process, ctx: TaskContext, go_write: int, memory: AttemptMemory
) -> None:
    """Record the waiting process (its group and start time), limit its memory (its body has
    allocated nothing yet), then let it run the body.

    The process leads its own session, so its pid is its process group id.
    """
    try:
        if ctx.on_spawn is not None:
            await ctx.on_spawn(proc.pid, start_ticks(proc.pid))
        try:
            memory.apply(proc.pid)
        except OSError as exc:  # never run the body without the limit it was given
            error = exc.strerror or str(exc)
            raise TaskFailure(lazy("cannot set the memory limit: {error}", error=error)) from exc
        with contextlib.suppress(BrokenPipeError):  # killed meanwhile: its exit status tells
            os.write(go_write, GO_BYTE)
    finally:
        os.close(go_write)


class _Pump:
    """Copies the pipe into the log until end of file (every writer gone) or `close()`."""

    def __init__(self, read_fd: int, log: CappedLog) -> None:
        self._fd = read_fd
        self._log = log
        self._transport: asyncio.ReadTransport | None = None
        self._reader = asyncio.StreamReader()
        self.task: asyncio.Future[object] = asyncio.get_running_loop().create_future()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        pipe = os.fdopen(self._fd, "rb", buffering=0)
        protocol = asyncio.StreamReaderProtocol(self._reader)
        try:
            self._transport, _protocol = await loop.connect_read_pipe(lambda: protocol, pipe)
        except BaseException:
            pipe.close()
            raise
        self.task = asyncio.ensure_future(self._copy())

    async def _copy(self) -> None:
        while chunk := await self._reader.read(READ_CHUNK_BYTES):
            self._log.write(chunk)

    async def wait(self, timeout_s: float) -> None:
        """Wait up to `timeout_s` for end of file (a process outside the group may hold it)."""
        await asyncio.wait([self.task], timeout=timeout_s)

    def close(self) -> None:
        self.task.cancel()
        if self._transport is not None:
            self._transport.close()


def _shell_argv(shell: object) -> list[str]:
    if shell is None or shell == "":
        return [DEFAULT_SHELL]
    if not isinstance(shell, str):
        raise TaskFailure(lazy("shell must be a string such as bash"))
    parts = shlex.split(shell)
    if not parts:
        return [DEFAULT_SHELL]
    return parts


def _signal_group(pgid: int, signum: signal.Signals) -> bool:
    """Signal every process of the group; False when the group is already empty."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


def _finish(
    code: int, log: CappedLog, outputs_path: Path, ctx: TaskContext, *, oom: bool = False
) -> JsonDict:
    if code == 0:
        try:
            return dict(read_outputs(outputs_path, ctx.outputs_cap_bytes))
        except OutputsError as exc:
            raise TaskFailure(str(exc), exit_code=0, detail=log.tail()) from None
    outputs: JsonDict = {}
    with contextlib.suppress(OutputsError):
        outputs = dict(read_outputs(outputs_path, ctx.outputs_cap_bytes))
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        message = lazy("killed by signal {signal}", signal=name)
    else:
        message = lazy("exited with code {code}", code=code)
    reason = "oom" if oom else None
    raise TaskFailure(message, exit_code=code, outputs=outputs, detail=log.tail(), reason=reason)
