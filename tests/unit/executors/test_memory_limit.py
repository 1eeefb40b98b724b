"""Memory-limit modes: detection of a delegated cgroup v2 or a v1 memory hierarchy, the cgroup
chain against a stand-in directory (the kernel's files are the edge: what is written, what is
read back), RLIMIT_AS.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from basir.executors import memory as mem
from basir.executors.base import TaskContext, TaskFailure
from basir.executors.memory import (
    AttemptMemory,
    CgroupTree,
    CgroupV1Tree,
    MemoryLimit,
    cgroup1_usable,
    cgroup_root,
    cgroup_usable,
    looks_out_of_memory,
    own_cgroup1_memory,
    own_cgroup2,
    resolve_mode,
    tree_class,
)
from basir.executors.shell import ShellExecutor

MIB = 1 << 20
# Field 5 is the mount point; after " - " the file system type.
UNIFIED = "35 25 0:30 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
HYBRID = (
    "30 25 0:26 / /sys/fs/cgroup ro - tmpfs tmpfs ro,mode=755\n"
    "31 30 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
    "32 30 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
)


def test_own_cgroup_is_found_under_the_cgroup2_mount() -> None:
    found = own_cgroup2(UNIFIED, "0::/user.slice/user-1000.slice/basir.service\n")
    assert found == Path("/sys/fs/cgroup/user.slice/user-1000.slice/basir.service")
    hybrid = own_cgroup2(HYBRID, "4:memory:/x\n0::/\n")
    assert hybrid == Path("/sys/fs/cgroup/unified")


def test_no_cgroup2_mount_or_entry_means_none() -> None:
    assert own_cgroup2(HYBRID.replace("cgroup2", "cgroup"), "0::/\n") is None
    assert own_cgroup2(UNIFIED, "4:memory:/x\n") is None  # cgroup v1 only


def fake_cgroup(directory: Path, controllers: str, enabled: str) -> Path:
    """A directory shaped like a cgroup v2 one (the interface files we read)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "cgroup.controllers").write_text(controllers + "\n")
    (directory / "cgroup.subtree_control").write_text(enabled + "\n")
    (directory / "cgroup.procs").write_text("")
    return directory


def test_usable_only_with_memory_available_and_delegated(tmp_path: Path) -> None:
    assert cgroup_usable(fake_cgroup(tmp_path / "a", "cpu io memory pids", "memory pids"))
    assert not cgroup_usable(fake_cgroup(tmp_path / "b", "hugetlb", ""))  # this machine's
    assert not cgroup_usable(fake_cgroup(tmp_path / "c", "cpu memory", "cpu"))  # not for children
    assert not cgroup_usable(tmp_path / "missing")


def test_detection_reads_the_process_files(tmp_path: Path) -> None:
    mount = tmp_path / "cg"
    fake_cgroup(mount / "basir.service", "memory", "memory")
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(f"35 25 0:30 / {mount} rw - cgroup2 cgroup2 rw\n")
    cgroup = tmp_path / "cgroup"
    cgroup.write_text("0::/basir.service\n")
    assert cgroup_root(str(mountinfo), str(cgroup)) == mount / "basir.service"
    cgroup.write_text("0::/elsewhere\n")  # not ours to write: no such directory here
    assert cgroup_root(str(mountinfo), str(cgroup)) is None


def test_this_machine_is_never_given_an_unusable_cgroup() -> None:
    root = cgroup_root()
    assert root is None or (cgroup_usable if tree_class(root) is CgroupTree else cgroup1_usable)(
        root
    )


@pytest.mark.parametrize(
    ("setting", "root", "rlimit", "expected"),
    [
        ("auto", Path("/cg"), True, ("cgroup", Path("/cg"))),
        ("auto", None, True, ("rlimit", None)),
        ("auto", None, False, ("sampler", None)),
        ("cgroup", Path("/cg"), True, ("cgroup", Path("/cg"))),
        ("rlimit", Path("/cg"), True, ("rlimit", None)),
        ("sampler", Path("/cg"), True, ("sampler", None)),
    ],
)
def test_modes_resolve(
    setting: str, root: Path | None, rlimit: bool, expected: tuple[str, Path | None]
) -> None:
    assert resolve_mode(setting, root, rlimit=rlimit) == expected


@pytest.mark.parametrize(("setting", "rlimit"), [("cgroup", True), ("rlimit", False)])
def test_a_mode_that_is_impossible_here_is_refused(setting: str, rlimit: bool) -> None:
    with pytest.raises(ValueError, match=setting):
        resolve_mode(setting, None, rlimit=rlimit)


class StandInTree(CgroupTree):
    """A cgroup tree in a plain directory: removing a cgroup removes its files too (as the
    kernel does for its interface files)."""

    @staticmethod
    def _rmdir(path: Path) -> None:
        shutil.rmtree(path)


@pytest.fixture
def stand_in(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A delegated cgroup v2 directory stand-in; attempts make their cgroups in it."""
    monkeypatch.setattr(AttemptMemory, "tree_type", StandInTree)
    return fake_cgroup(tmp_path / "delegated", "memory", "memory")


def test_an_attempt_cgroup_gets_the_limit_and_the_process(stand_in: Path) -> None:
    memory = AttemptMemory(MemoryLimit(64 * MIB, "cgroup", str(stand_in)), "basir-1-a1")
    memory.apply(4242)
    cgroup = stand_in / "basir-1-a1"
    assert memory.cgroup == cgroup
    assert (cgroup / "memory.max").read_text() == f"{64 * MIB}\n"
    assert (cgroup / "memory.swap.max").read_text() == "0\n"
    assert (cgroup / "cgroup.procs").read_text() == "4242\n"
    (cgroup / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 0\n")
    assert not memory.out_of_memory(-9)  # hit max, reclaimed, nobody killed
    (cgroup / "memory.events").write_text("low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n")
    assert memory.out_of_memory(-9)
    memory.close()
    assert not cgroup.exists()


def test_a_sampler_limit_touches_nothing(stand_in: Path) -> None:
    memory = AttemptMemory(MemoryLimit(64 * MIB, "sampler"), "basir-1-a2")
    memory.apply(4242)
    assert memory.cgroup is None and not memory.hard
    assert not memory.out_of_memory(1, "MemoryError")  # the sampler says so itself
    assert not any(p.is_dir() for p in stand_in.iterdir())  # no cgroup made


def test_rlimit_is_set_on_the_process_and_counts_address_space() -> None:
    # A waiting child stands for a task process at its gate.
    child = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        memory = AttemptMemory(MemoryLimit(512 * MIB, "rlimit"), "x")
        memory.apply(child.pid, headroom_bytes=MIB)
        assert resource.prlimit(child.pid, resource.RLIMIT_AS) == (513 * MIB, 513 * MIB)
    finally:
        child.kill()
        child.wait()
    assert memory.out_of_memory(1, "Traceback …\nMemoryError")
    assert not memory.out_of_memory(0, "MemoryError")  # it succeeded all the same
    assert not memory.out_of_memory(3, "some other failure")


@pytest.mark.parametrize(
    "tail",
    [
        "MemoryError",
        "bash: fork: Cannot allocate memory",
        "terminate called after throwing an instance of 'std::bad_alloc'",
        'Exception in thread "main" java.lang.OutOfMemoryError: Java heap space',
        "Out of memory",
    ],
)
def test_the_last_words_of_a_failed_allocation_are_known(tail: str) -> None:
    assert looks_out_of_memory(tail)


def test_other_last_words_are_not_taken_for_memory() -> None:
    assert not looks_out_of_memory("error: cannot open file\nexit 1")


async def test_a_shell_task_killed_in_its_cgroup_fails_with_reason_oom(
    stand_in: Path, tmp_path: Path
) -> None:
    ctx = TaskContext(
        run_id="r1",
        task_id="t1",
        attempt=1,
        attempt_id="a1",
        workflow="w",
        workdir=tmp_path / "work",
        log_path=tmp_path / "t1.log",
        memory_limit=MemoryLimit(64 * MIB, "cgroup", str(stand_in)),
    )
    cgroup = stand_in / ctx.limit_name
    # The kernel's part, played by the script: count an oom kill, then die of SIGKILL.
    script = (
        f"cp {cgroup}/cgroup.procs {tmp_path}/procs; echo $$ > {tmp_path}/pid;"
        f" printf 'oom_kill 1\\n' > {cgroup}/memory.events; kill -9 $$"
    )
    with pytest.raises(TaskFailure) as failed:
        await ShellExecutor().execute({"run": script}, ctx)
    assert failed.value.reason == "oom"
    assert failed.value.message == "killed by signal SIGKILL"
    assert not cgroup.exists()  # removed after the attempt
    # Moved in at its gate, before its body ran: the body (exec'd from the gate) is the pid.
    assert (tmp_path / "procs").read_text() == (tmp_path / "pid").read_text()


async def test_a_shell_task_without_an_oom_kill_keeps_its_own_failure(
    stand_in: Path, tmp_path: Path
) -> None:
    ctx = TaskContext(
        run_id="r1",
        task_id="t2",
        attempt=1,
        attempt_id="a2",
        workflow="w",
        workdir=tmp_path / "work",
        log_path=tmp_path / "t2.log",
        memory_limit=MemoryLimit(64 * MIB, "cgroup", str(stand_in)),
    )
    with pytest.raises(TaskFailure) as failed:
        await ShellExecutor().execute({"run": "echo MemoryError; exit 1"}, ctx)
    assert failed.value.reason is None  # cgroup mode trusts memory.events only
    assert not (stand_in / ctx.limit_name).exists()


def test_mode_names_are_the_settings() -> None:
    assert mem.SETTINGS == ("auto", "cgroup", "rlimit", "sampler")


def test_the_cgroups_of_dead_engines_are_swept(stand_in: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()  # its pid is free now: an engine that died
    tree = StandInTree(stand_in)
    left = tree.create(f"basir-{dead.pid}-a1", 64 * MIB)
    mine = tree.create(f"basir-{os.getpid()}-a2", 64 * MIB)
    other = tree.create("someone-else", 64 * MIB)
    assert tree.sweep(os.getpid()) == [left]
    assert not left.exists() and mine.exists() and other.exists()


def test_a_lone_process_moves_to_a_leaf_to_enable_memory_for_children(tmp_path: Path) -> None:
    from basir.executors.memory import SERVER_LEAF, delegate

    own = fake_cgroup(tmp_path / "service", "cpu memory pids", "")  # Delegate=yes, nothing on
    (own / "cgroup.procs").write_text("4242\n")
    assert delegate(own, 4242) == own
    assert (own / SERVER_LEAF / "cgroup.procs").read_text() == "4242\n"
    assert (own / "cgroup.subtree_control").read_text() == "+memory\n"


def test_a_cgroup_shared_with_other_processes_is_left_alone(tmp_path: Path) -> None:
    from basir.executors.memory import SERVER_LEAF, delegate

    own = fake_cgroup(tmp_path / "session", "memory", "")
    (own / "cgroup.procs").write_text("4242\n77\n")  # the shell that started us, say
    assert delegate(own, 4242) is None
    assert not (own / SERVER_LEAF).exists()
    assert (own / "cgroup.subtree_control").read_text() == "\n"
    bare = fake_cgroup(tmp_path / "bare", "hugetlb", "")
    (bare / "cgroup.procs").write_text("4242\n")
    assert delegate(bare, 4242) is None  # no memory controller to enable


def test_after_the_move_the_parent_is_the_root(tmp_path: Path) -> None:
    from basir.executors.memory import SERVER_LEAF

    mount = tmp_path / "cg"
    fake_cgroup(mount / "svc", "memory", "memory")
    fake_cgroup(mount / "svc" / SERVER_LEAF, "memory", "")
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(f"35 25 0:30 / {mount} rw - cgroup2 cgroup2 rw\n")
    cgroup = tmp_path / "cgroup"
    cgroup.write_text(f"0::/svc/{SERVER_LEAF}\n")
    assert cgroup_root(str(mountinfo), str(cgroup)) == mount / "svc"  # never nested deeper


def test_own_cgroup_in_the_v1_memory_hierarchy_is_found() -> None:
    cgroup = "9:name=systemd:/\n5:cpu,memory:/process_api/abc\n0::/\n"
    assert own_cgroup1_memory(HYBRID, cgroup) == Path("/sys/fs/cgroup/memory/process_api/abc")
    assert own_cgroup1_memory(HYBRID, "0::/\n") is None  # no v1 memory entry
    assert own_cgroup1_memory(UNIFIED, cgroup) is None  # no v1 memory mount


def fake_v1_cgroup(directory: Path) -> Path:
    """A directory shaped like a cgroup v1 `memory` one (the interface files we use)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "memory.limit_in_bytes").write_text("9223372036854771712\n")
    (directory / "cgroup.procs").write_text("")
    return directory


def test_a_writable_v1_memory_cgroup_is_the_root_when_v2_gives_none(tmp_path: Path) -> None:
    v1, v2 = tmp_path / "memory", tmp_path / "unified"
    fake_v1_cgroup(v1 / "svc")
    fake_cgroup(v2, "hugetlb", "")  # this machine's unified tree: no memory controller
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        f"31 30 0:27 / {v2} rw - cgroup2 cgroup2 rw\n"
        f"32 30 0:28 / {v1} rw - cgroup cgroup rw,memory\n"
    )
    cgroup = tmp_path / "cgroup"
    cgroup.write_text("4:memory:/svc\n0::/\n")
    assert cgroup_root(str(mountinfo), str(cgroup)) == v1 / "svc"
    assert tree_class(v1 / "svc") is CgroupV1Tree and tree_class(v2) is CgroupTree
    (v1 / "svc" / "memory.limit_in_bytes").unlink()  # not a memory cgroup: unusable
    assert cgroup_root(str(mountinfo), str(cgroup)) is None


class StandInV1Tree(CgroupV1Tree):
    @staticmethod
    def _rmdir(path: Path) -> None:
        shutil.rmtree(path)


def test_a_v1_attempt_cgroup_gets_the_limit_without_swap_and_reads_its_oom_kills(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(AttemptMemory, "tree_type", StandInV1Tree)
    root = fake_v1_cgroup(tmp_path / "v1")
    memory = AttemptMemory(MemoryLimit(64 * MIB, "cgroup", str(root)), "basir-1-a9")
    memory.apply(4242)
    cgroup = root / "basir-1-a9"
    assert (cgroup / "memory.limit_in_bytes").read_text() == f"{64 * MIB}\n"
    assert (cgroup / "memory.memsw.limit_in_bytes").read_text() == f"{64 * MIB}\n"
    assert (cgroup / "cgroup.procs").read_text() == "4242\n"
    (cgroup / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 0\n")
    assert not memory.out_of_memory(-9)
    (cgroup / "memory.oom_control").write_text("oom_kill_disable 0\nunder_oom 0\noom_kill 2\n")
    assert memory.out_of_memory(-9)
    memory.close()
    assert not cgroup.exists()
