"""The shell executor with real processes: outputs, exit codes, logs, env, killing trees."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from basir.executors.base import JsonDict, TaskContext, TaskFailure
from basir.executors.environment import allow_list, inherited_env
from basir.executors.shell import KILL_GRACE_S, ShellExecutor

MakeCtx = Callable[..., TaskContext]


def is_alive(pid: int) -> bool:
    """True while `pid` runs; a zombie nobody has reaped yet counts as gone."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def run(script: str, ctx: TaskContext, **body: object) -> JsonDict:
    return await ShellExecutor().execute({"run": script, **body}, ctx)


def pids_in(path: Path) -> list[int]:
    return [int(line) for line in path.read_text().split()]


async def wait_for_file(path: Path, lines: int = 1) -> None:
    for _ in range(200):
        if path.exists() and len(path.read_text().split()) >= lines:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{path} never got {lines} lines")


async def test_outputs_key_value_and_heredoc(make_ctx: MakeCtx) -> None:
    script = (
        'echo "version=1.2.3" >> "$BASIR_OUTPUT"\n'
        'printf "notes<<EOF\\nfirst\\nsecond\\nEOF\\n" >> "$BASIR_OUTPUT"\n'
    )
    assert await run(script, make_ctx()) == {"version": "1.2.3", "notes": "first\nsecond"}


async def test_no_outputs(make_ctx: MakeCtx) -> None:
    assert await run("true", make_ctx()) == {}


async def test_bad_output_key_fails_the_task(make_ctx: MakeCtx) -> None:
    with pytest.raises(TaskFailure, match="bad output name") as info:
        await run('echo "bad key=1" >> "$BASIR_OUTPUT"', make_ctx())
    assert info.value.exit_code == 0


async def test_outputs_over_the_cap_fail_the_task(make_ctx: MakeCtx) -> None:
    ctx = make_ctx(outputs_cap_bytes=1024)
    with pytest.raises(TaskFailure, match="limit of 1024 bytes"):
        await run('head -c 5000 /dev/zero | tr "\\0" x | sed "s/^/a=/" >> "$BASIR_OUTPUT"', ctx)


async def test_non_zero_exit(make_ctx: MakeCtx) -> None:
    script = (
        'echo "partial=yes" >> "$BASIR_OUTPUT"\n'
        'for i in $(seq 1 30); do echo "line $i"; done\n'
        "exit 3"
    )
    with pytest.raises(TaskFailure) as info:
        await run(script, make_ctx())
    failure = info.value
    assert failure.message == "exited with code 3"
    assert failure.exit_code == 3
    assert failure.outputs == {"partial": "yes"}
    assert failure.detail is not None
    lines = failure.detail.splitlines()
    assert len(lines) == 20
    assert lines[-1] == "line 30"


async def test_killed_by_signal(make_ctx: MakeCtx) -> None:
    with pytest.raises(TaskFailure, match="killed by signal SIGKILL") as info:
        await run("kill -9 $$", make_ctx())
    assert info.value.exit_code == -9


async def test_log_merges_stdout_and_stderr_in_order_with_attempt_headers(
    make_ctx: MakeCtx,
) -> None:
    await run("echo one; echo two >&2; echo three", make_ctx())
    await run("echo again", make_ctx(attempt=2, attempt_id="att-2"))
    log = make_ctx().log_path.read_text()
    assert log == ("--- attempt 1 (att-1) ---\none\ntwo\nthree\n--- attempt 2 (att-2) ---\nagain\n")


async def test_log_cap_truncates_once_and_keeps_draining(make_ctx: MakeCtx) -> None:
    ctx = make_ctx(output_cap_bytes=1024)
    script = 'head -c 3000000 /dev/zero | tr "\\0" x; echo; echo "done=1" >> "$BASIR_OUTPUT"'
    assert await run(script, ctx) == {"done": "1"}
    data = ctx.log_path.read_bytes()
    header = b"--- attempt 1 (att-1) ---\n"
    head, marker, rest = data.partition(b"\n[output truncated]\n")
    assert head == header + b"x" * 1024 and marker
    # Then how much was left out and the output's last 16 KiB (its end: x… and a newline).
    left_out = 3_000_001 - 1024 - 16 * 1024
    assert (
        rest
        == f"[{left_out} bytes left out; the end follows]\n".encode()
        + b"x" * (16 * 1024 - 1)
        + b"\n"
    )


async def test_environment(make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FROM_PARENT", "parent")
    ctx = make_ctx(env={"EXTRA": "extra value", "BASIR_RUN_ID": "spoofed"})
    script = (
        "for name in BASIR_RUN_ID BASIR_TASK_ID BASIR_WORKFLOW BASIR_ATTEMPT BASIR_ATTEMPT_ID "
        'BASIR_IDEMPOTENCY_KEY EXTRA FROM_PARENT; do eval "echo $name=\\$$name"; done '
        '>> "$BASIR_OUTPUT"'
    )
    assert await run(script, ctx) == {
        "BASIR_RUN_ID": "run-1",
        "BASIR_TASK_ID": "task-1",
        "BASIR_WORKFLOW": "wf",
        "BASIR_ATTEMPT": "1",
        "BASIR_ATTEMPT_ID": "att-1",
        "BASIR_IDEMPOTENCY_KEY": "run-1/task-1",
        "EXTRA": "extra value",
        "FROM_PARENT": "",  # the server's own variables stay out unless allow-listed
    }


async def test_environment_is_an_allow_list(
    make_ctx: MakeCtx, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("FROM_PARENT", "parent")
    monkeypatch.setenv("BASIR_ADMIN_TOKEN", "secret-admin-token-0123456789")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-key")
    base = inherited_env(extra=allow_list("FROM_PARENT, BASIR_ADMIN_TOKEN"))
    dump = tmp_path / "env.txt"
    outputs = await run(
        f'env > {dump}; echo "tmp=$TMPDIR" >> "$BASIR_OUTPUT"', make_ctx(base_env=base)
    )
    names = {line.split("=", 1)[0] for line in dump.read_text().splitlines() if "=" in line}
    assert {"FROM_PARENT", "PATH", "TMPDIR", "BASIR_RUN_ID"} <= names
    assert "BASIR_ADMIN_TOKEN" not in names and "AWS_SECRET_ACCESS_KEY" not in names
    assert "secret" not in dump.read_text()
    assert not Path(outputs["tmp"]).exists()  # the attempt's own TMPDIR, removed after


async def test_output_file_is_fresh_per_attempt(make_ctx: MakeCtx) -> None:
    first = await run('echo "$BASIR_OUTPUT"; echo a=1 >> "$BASIR_OUTPUT"', make_ctx())
    second = await run('test ! -s "$BASIR_OUTPUT" && echo b=2 >> "$BASIR_OUTPUT"', make_ctx())
    assert (first, second) == ({"a": "1"}, {"b": "2"})


async def test_workdir_is_created_and_used(make_ctx: MakeCtx, tmp_path: Path) -> None:
    workdir = tmp_path / "a" / "b"
    result = await run('echo "cwd=$(pwd -P)" >> "$BASIR_OUTPUT"', make_ctx(workdir=workdir))
    assert result == {"cwd": str(workdir.resolve())}


async def test_bash_shell(make_ctx: MakeCtx) -> None:
    script = 'arr=(a b c); echo "n=${#arr[@]}" >> "$BASIR_OUTPUT"'
    assert await run(script, make_ctx(), shell="bash") == {"n": "3"}


async def test_shell_with_options(make_ctx: MakeCtx) -> None:
    with pytest.raises(TaskFailure, match="exited with code 1"):
        await run("false; echo never", make_ctx(), shell="bash -e")


async def test_empty_shell_means_sh(make_ctx: MakeCtx) -> None:
    assert await run('echo "a=1" >> "$BASIR_OUTPUT"', make_ctx(), shell="") == {"a": "1"}


async def test_shell_must_be_text(make_ctx: MakeCtx) -> None:
    with pytest.raises(TaskFailure, match="shell must be a string"):
        await run("true", make_ctx(), shell=["bash"])


async def test_missing_shell(make_ctx: MakeCtx) -> None:
    with pytest.raises(TaskFailure, match="cannot start no-such-shell-xyz"):
        await run("true", make_ctx(), shell="no-such-shell-xyz")


async def test_nul_byte_in_script(make_ctx: MakeCtx) -> None:
    with pytest.raises(TaskFailure, match="cannot start"):
        await run("echo a\0b", make_ctx())


async def test_missing_script(make_ctx: MakeCtx) -> None:
    with pytest.raises(TaskFailure, match="needs a script"):
        await ShellExecutor().execute({}, make_ctx())


async def test_timeout_kills_the_whole_process_group(make_ctx: MakeCtx, tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    script = f"sleep 100 & echo $! >> {pid_file}; sleep 100 & echo $! >> {pid_file}; wait"
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            await run(script, make_ctx())
    assert time.monotonic() - started < 10 + KILL_GRACE_S  # the sleeps were 100 s
    pids = pids_in(pid_file)
    assert len(pids) == 2
    assert not any(is_alive(pid) for pid in pids)


async def test_cancel_kills_a_tree_that_ignores_sigterm(make_ctx: MakeCtx, tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    script = f"trap '' TERM; sleep 100 & echo $! >> {pid_file}; wait; wait"
    task = asyncio.ensure_future(run(script, make_ctx()))
    await wait_for_file(pid_file)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    elapsed = time.monotonic() - started
    assert (
        KILL_GRACE_S * 0.9 < elapsed < KILL_GRACE_S + 10
    )  # SIGTERM ignored: SIGKILL after the grace
    assert not is_alive(pids_in(pid_file)[0])


async def test_cancel_is_quick_when_the_process_obeys_sigterm(make_ctx: MakeCtx) -> None:
    task = asyncio.ensure_future(run("sleep 100", make_ctx()))
    await asyncio.sleep(0.2)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < KILL_GRACE_S  # no need to wait for SIGKILL


async def test_background_jobs_do_not_outlive_the_task(make_ctx: MakeCtx, tmp_path: Path) -> None:
    pid_file = tmp_path / "pids"
    started = time.monotonic()
    result = await run(
        f'sleep 100 & echo $! > {pid_file}; echo "ok=1" >> "$BASIR_OUTPUT"', make_ctx()
    )
    assert result == {"ok": "1"}
    assert time.monotonic() - started < KILL_GRACE_S + 1
    assert not is_alive(pids_in(pid_file)[0])


async def test_many_tasks_in_parallel(make_ctx: MakeCtx, tmp_path: Path) -> None:
    async def one(index: int) -> JsonDict:
        ctx = make_ctx(task_id=f"t{index}", log_path=tmp_path / "logs" / f"t{index}.log")
        return await run(f'echo "i={index}" >> "$BASIR_OUTPUT"', ctx)

    results = await asyncio.gather(*(one(index) for index in range(50)))
    assert results == [{"i": str(index)} for index in range(50)]
