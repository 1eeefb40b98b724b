"""Hard memory limits for task processes: a cgroup's memory limit, else `RLIMIT_AS`.

A task's declared `memory` is its limit.  Where the machine allows it, each attempt gets a child
cgroup of a delegated cgroup v2 directory (`memory.max` = the limit, `memory.swap.max` = 0), or
of this process's cgroup in a writable cgroup v1 `memory` hierarchy (`memory.limit_in_bytes` =
`memory.memsw.limit_in_bytes` = the limit), and its process is moved in while it waits at its
gate (`executors.processes`), before its body has allocated anything; the kernel then kills it
inside its limit, and `memory.events` (v2) or `memory.oom_control` (v1) counts the `oom_kill`.
Elsewhere `RLIMIT_AS` is set on the waiting process (`prlimit`), inherited by the body and
everything it starts: an allocation beyond the limit fails (`MemoryError`, `std::bad_alloc`,
`Cannot allocate memory`).  The usage sampler (`engine.usage_watch`) stays as a backstop in
every mode.

Which mode applies (`BASIR_MEMORY_LIMIT`, resolved once by `resolve_mode`):

- `cgroup`: needs a cgroup2 mount where this process's own cgroup lists `memory` in both
  `cgroup.controllers` and `cgroup.subtree_control` and is writable, else a cgroup v1 `memory`
  mount where this process's own cgroup is writable (`cgroup_root`);
- `rlimit`: Linux `prlimit`; counts address space, not resident memory, so runtimes that
  reserve a lot up front (the JVM, the Dart VM) need more than they use, or a task's
  `resources.memory_limit: sampler`;
- `sampler`: no hard limit, only the sampler's check every interval;
- `auto`: `cgroup` when usable, else `rlimit`.

Standard library only: the isolated python child imports this module's `executors` siblings.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Mode = Literal["cgroup", "rlimit", "sampler"]
SETTINGS = ("auto", "cgroup", "rlimit", "sampler")
PROC_MOUNTINFO = "/proc/self/mountinfo"
PROC_CGROUP = "/proc/self/cgroup"
# What a process that died of a failed allocation leaves at the end of its output (rlimit
# mode): Python, C (strerror(ENOMEM): glibc, bash's fork), C++, the JVM, the Dart VM.
OOM_MARKERS = (
    "MemoryError",
    "Cannot allocate memory",
    "std::bad_alloc",
    "java.lang.OutOfMemoryError",
    "Out of memory",
)
V1_LIMIT = "memory.limit_in_bytes"
SERVER_LEAF = "basir-server"  # where `delegate` moves the server process
REMOVE_WAIT_S = 2.0
REMOVE_POLL_S = 0.02


@dataclass(frozen=True, slots=True)
class MemoryLimit:
    """An attempt's memory limit and how it is enforced (`cgroup_root`: where, for cgroup)."""

    limit_bytes: int
    mode: Mode
    cgroup_root: str | None = None

    @property
    def hard(self) -> bool:
        """Whether the kernel enforces it (not only the sampler)."""
        return self.mode != "sampler"


def own_cgroup2(mountinfo: str, cgroup: str) -> Path | None:
    """The directory of this process's cgroup v2, from `/proc/self/mountinfo` and `cgroup`.

    None when no cgroup2 file system is mounted or the process has no v2 entry (`0::path`).
    """
    path = next((line[3:] for line in cgroup.splitlines() if line.startswith("0::")), None)
    if path is None:
        return None
    return _mounted(mountinfo, path, lambda kind, _options: kind == "cgroup2")


def own_cgroup1_memory(mountinfo: str, cgroup: str) -> Path | None:
    """The directory of this process's cgroup in the cgroup v1 `memory` hierarchy.

    None when no v1 hierarchy holds the `memory` controller (`N:memory:/path` in `cgroup`,
    a `cgroup` mount with `memory` among its options).
    """
    path = None
    for line in cgroup.splitlines():
        _number, _sep, rest = line.partition(":")
        controllers, _sep, where = rest.partition(":")
        if "memory" in controllers.split(","):
            path = where
            break
    if path is None:
        return None
    return _mounted(mountinfo, path, lambda kind, options: kind == "cgroup" and "memory" in options)


def _mounted(mountinfo: str, path: str, wanted: Callable[[str, list[str]], bool]) -> Path | None:
    """Where cgroup `path` is in the file system: under the first mount in `mountinfo` whose
    type and super options are `wanted` and whose root holds `path`."""
    for line in mountinfo.splitlines():
        left, sep, right = line.partition(" - ")
        fields, kind = left.split(), right.split()
        if not sep or len(fields) < 5 or len(kind) < 3 or not wanted(kind[0], kind[2].split(",")):
            continue
        root, mount_point = fields[3], fields[4]
        if root != "/" and not (path == root or path.startswith(root + "/")):
            continue  # a mount of another part of the hierarchy
        inside = path[len(root) :] if root != "/" else path
        return Path(mount_point) / inside.lstrip("/")
    return None


def cgroup_usable(directory: Path) -> bool:
    """Whether children with their own `memory.max` can be made in `directory` by us.

    `memory` must be available (`cgroup.controllers`) and enabled for children
    (`cgroup.subtree_control`), and the directory and its `cgroup.procs` writable.
    """
    try:
        controllers = (directory / "cgroup.controllers").read_text().split()
        enabled = (directory / "cgroup.subtree_control").read_text().split()
    except OSError:
        return False
    return (
        "memory" in controllers
        and "memory" in enabled
        and os.access(directory, os.W_OK)
        and os.access(directory / "cgroup.procs", os.W_OK)
    )


def cgroup1_usable(directory: Path) -> bool:
    """Whether children with their own memory limit can be made in cgroup v1 `directory` by
    us: its `memory.limit_in_bytes` exists, the directory and its `cgroup.procs` writable."""
    return (
        (directory / V1_LIMIT).exists()
        and os.access(directory, os.W_OK)
        and os.access(directory / "cgroup.procs", os.W_OK)
    )


def cgroup_root(
    mountinfo_path: str = PROC_MOUNTINFO, cgroup_path: str = PROC_CGROUP
) -> Path | None:
    """The cgroup directory where per-attempt memory limits are possible, or None.

    First this process's delegated cgroup v2 directory: where the memory controller is
    available but not yet enabled for children, and this process is alone in its cgroup (a
    systemd service with `Delegate=yes`, a container with its own cgroup namespace), it is
    enabled (`delegate`).  Else its cgroup in a writable cgroup v1 `memory` hierarchy (v1 has
    no "no internal processes" rule: attempts' cgroups are its children as it is).
    """
    try:
        mountinfo = Path(mountinfo_path).read_text()
        cgroup = Path(cgroup_path).read_text()
    except OSError:
        return None
    found = own_cgroup2(mountinfo, cgroup)
    if found is not None:
        if found.name == SERVER_LEAF and cgroup_usable(found.parent):
            return found.parent  # moved there by an earlier `delegate`
        if cgroup_usable(found):
            return found
        delegated = delegate(found, os.getpid())
        if delegated is not None:
            return delegated
    found = own_cgroup1_memory(mountinfo, cgroup)
    return found if found is not None and cgroup1_usable(found) else None


def delegate(directory: Path, pid: int) -> Path | None:
    """Enable `memory` for the children of our own cgroup `directory`; it then or None.

    A cgroup with processes cannot enable controllers for its children ("no internal
    processes"), so this process moves first into a leaf child, `SERVER_LEAF`; attempts' cgroups
    are its siblings.  Done only when `pid` is the only process in `directory` (others are not
    ours to move) and `memory` is available there.
    """
    try:
        controllers = (directory / "cgroup.controllers").read_text().split()
        procs = (directory / "cgroup.procs").read_text().split()
    except OSError:
        return None
    if "memory" not in controllers or procs != [str(pid)] or not os.access(directory, os.W_OK):
        return None
    try:
        leaf = directory / SERVER_LEAF
        leaf.mkdir(exist_ok=True)
        (leaf / "cgroup.procs").write_text(f"{pid}\n")
        (directory / "cgroup.subtree_control").write_text("+memory\n")
    except OSError:
        return None
    return directory


def rlimit_available() -> bool:
    """Whether `RLIMIT_AS` can be set on another process here (Linux `prlimit`)."""
    import resource

    return sys.platform.startswith("linux") and hasattr(resource, "prlimit")


def resolve_mode(setting: str, root: Path | None, *, rlimit: bool) -> tuple[Mode, Path | None]:
    """The mode `BASIR_MEMORY_LIMIT=setting` gives on this machine, with the cgroup root.

    Raises ValueError when the mode asked for is not possible here (never silently weaker).
    """
    if setting not in SETTINGS:
        raise ValueError(f"BASIR_MEMORY_LIMIT must be one of {', '.join(SETTINGS)}")
    if setting == "sampler":
        return "sampler", None
    if setting in ("auto", "cgroup") and root is not None:
        return "cgroup", root
    if setting == "cgroup":
        raise ValueError(
            "BASIR_MEMORY_LIMIT=cgroup needs a delegated cgroup v2 directory with the memory"
            " controller enabled for children, or a writable cgroup v1 memory hierarchy;"
            " none is usable here"
        )
    if rlimit:
        return "rlimit", None
    if setting == "rlimit":
        raise ValueError("BASIR_MEMORY_LIMIT=rlimit needs Linux prlimit")
    return "sampler", None


def looks_out_of_memory(output: str) -> bool:
    """Whether a failed process's last output says an allocation failed (`OOM_MARKERS`)."""
    return any(marker in output for marker in OOM_MARKERS)


def address_space_bytes(pid: int) -> int:
    """The virtual size of process `pid` now (`/proc/<pid>/statm`), 0 when unknown."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as file:
            pages = int(file.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * os.sysconf("SC_PAGE_SIZE")


class CgroupTree:
    """Child cgroups of one delegated cgroup v2 directory (the kernel's files are the edge)."""

    LIMIT_FILE = "memory.max"
    SWAP_FILE = "memory.swap.max"  # swap alone: 0
    OOM_FILE = "memory.events"  # its `oom_kill` line counts the kills

    def __init__(self, root: Path) -> None:
        self.root = root

    def create(self, name: str, limit_bytes: int) -> Path:
        """A new child with its memory limit = `limit_bytes` and no swap; raises OSError."""
        path = self.root / name
        path.mkdir()
        try:
            (path / self.LIMIT_FILE).write_text(f"{limit_bytes}\n")
        except OSError:
            self._rmdir(path)
            raise
        # Absent without swap accounting: then there is no swap to limit.
        with contextlib.suppress(OSError):
            (path / self.SWAP_FILE).write_text(f"{self.swap_limit(limit_bytes)}\n")
        return path

    @staticmethod
    def swap_limit(limit_bytes: int) -> int:
        """What the swap file gets for no swap at all."""
        return 0

    @staticmethod
    def enter(path: Path, pid: int) -> None:
        """Move process `pid` into the cgroup at `path` (what it starts follows it)."""
        (path / "cgroup.procs").write_text(f"{pid}\n")

    def oom_kills(self, path: Path) -> int:
        """How many processes the kernel killed in the cgroup for its limit (`oom_kill`)."""
        try:
            text = (path / self.OOM_FILE).read_text()
        except OSError:
            return 0
        for line in text.splitlines():
            key, _sep, value = line.partition(" ")
            if key == "oom_kill" and value.strip().isdigit():
                return int(value)
        return 0

    def remove(self, path: Path) -> bool:
        """Remove the cgroup, killing what is still in it first; False if it stays."""
        deadline = time.monotonic() + REMOVE_WAIT_S
        killed = False
        while True:
            try:
                self._rmdir(path)
                return True
            except FileNotFoundError:
                return True
            except OSError:
                if time.monotonic() >= deadline:
                    return False
            if not killed:
                killed = True
                self._kill_all(path)
            time.sleep(REMOVE_POLL_S)

    def sweep(self, own_pid: int) -> list[Path]:
        """Remove the attempt cgroups of engines that are gone (`basir-<pid>-…`, pid dead).

        What an engine that crashed left behind; its processes, if any survive, are killed
        (the next start stops an interrupted attempt's group anyway).  Returns what went.
        """
        removed: list[Path] = []
        try:
            children = sorted(self.root.iterdir())
        except OSError:
            return removed
        for child in children:
            owner = _owner_pid(child.name)
            if owner is None or owner == own_pid or os.path.exists(f"/proc/{owner}"):
                continue
            if child.is_dir() and self.remove(child):
                removed.append(child)
        return removed

    @staticmethod
    def _kill_all(path: Path) -> None:
        """SIGKILL every process left in the cgroup (a process that escaped its group)."""
        with contextlib.suppress(OSError):
            (path / "cgroup.kill").write_text("1\n")
            return
        with contextlib.suppress(OSError):
            for pid in (path / "cgroup.procs").read_text().split():
                with contextlib.suppress(OSError, ValueError):
                    os.kill(int(pid), signal.SIGKILL)

    @staticmethod
    def _rmdir(path: Path) -> None:
        os.rmdir(path)


class CgroupV1Tree(CgroupTree):
    """Child cgroups in a cgroup v1 `memory` hierarchy: the same life, other file names."""

    LIMIT_FILE = V1_LIMIT
    SWAP_FILE = "memory.memsw.limit_in_bytes"  # memory and swap together: the limit itself
    OOM_FILE = "memory.oom_control"

    @staticmethod
    def swap_limit(limit_bytes: int) -> int:
        """Memory and swap together may not pass the limit: no swap."""
        return limit_bytes


def tree_class(root: Path) -> type[CgroupTree]:
    """The tree of cgroup directory `root`: v2 has `cgroup.controllers`, v1 does not."""
    return CgroupTree if (root / "cgroup.controllers").exists() else CgroupV1Tree


def _owner_pid(name: str) -> int | None:
    """The engine pid in an attempt cgroup's name `basir-<pid>-<attempt>`, else None."""
    prefix, _sep, rest = name.partition("-")
    pid, _sep, attempt = rest.partition("-")
    return int(pid) if prefix == "basir" and pid.isdigit() and attempt else None


class AttemptMemory:
    """One attempt's hard memory limit: set on its waiting process, read back, cleaned up."""

    tree_type: type[CgroupTree] | None = None  # None: by the root's version (`tree_class`)

    def __init__(self, limit: MemoryLimit | None, name: str) -> None:
        self.limit = limit
        self.name = name
        self.cgroup: Path | None = None
        self._tree: CgroupTree | None = None
        self._saved: tuple[int, int] | None = None  # the address-space limit before `apply`

    @classmethod
    def tree_at(cls, root: Path) -> CgroupTree:
        """The attempts' cgroup tree under `root`, of its cgroup version."""
        return (cls.tree_type or tree_class(root))(root)

    @property
    def hard(self) -> bool:
        """Whether a kernel limit is (to be) set for this attempt."""
        return self.limit is not None and self.limit.hard

    def apply(self, pid: int, *, headroom_bytes: int = 0, soft_only: bool = False) -> None:
        """Limit process `pid` (waiting, its body not started); raises OSError when impossible.

        `headroom_bytes` is added to an address-space limit: what a reused process already
        maps, which its new call did not ask for.  `soft_only` sets only the soft
        address-space limit, so that `restore` can lift it again without privileges (a
        reused process); the hard limit stays as it was.
        """
        limit = self.limit
        if limit is None or not limit.hard:
            return
        if limit.mode == "cgroup":
            assert limit.cgroup_root is not None
            self._tree = self.tree_at(Path(limit.cgroup_root))
            self.cgroup = self._tree.create(self.name, limit.limit_bytes)
            self._tree.enter(self.cgroup, pid)
            return
        import resource

        cap = limit.limit_bytes + headroom_bytes
        _soft, hard = resource.prlimit(pid, resource.RLIMIT_AS)
        if soft_only:
            cap = cap if hard == resource.RLIM_INFINITY else min(cap, hard)
            self._saved = resource.prlimit(pid, resource.RLIMIT_AS, (cap, hard))
        else:
            self._saved = resource.prlimit(pid, resource.RLIMIT_AS, (cap, cap))

    def restore(self, pid: int) -> bool:
        """Give a reusable process back its limit from before `apply`; False when it cannot
        be (a cgroup is never left; raising a hard limit needs CAP_SYS_RESOURCE, a soft one
        up to the hard one does not)."""
        if not self.hard:
            return True
        if self._saved is None:
            return False
        import resource

        try:
            resource.prlimit(pid, resource.RLIMIT_AS, self._saved)
        except (OSError, ValueError):
            return False
        return True

    def out_of_memory(self, exit_code: int | None, output: str = "") -> bool:
        """Whether the attempt ended because it reached its limit.

        cgroup: the kernel killed a process of it for its limit (`memory.events` `oom_kill`).
        rlimit: it failed (non-zero exit or a signal) and its last output names a failed
        allocation (`OOM_MARKERS`).  Never for a sampler-only limit (the sampler says so).
        """
        limit = self.limit
        if limit is None or not limit.hard:
            return False
        if limit.mode == "cgroup":
            return self.cgroup is not None and self.cgroup_oom_kills() > 0
        return exit_code != 0 and looks_out_of_memory(output)

    def cgroup_oom_kills(self) -> int:
        """`oom_kill` of the attempt's cgroup (0 without one)."""
        if self._tree is None or self.cgroup is None:
            return 0
        return self._tree.oom_kills(self.cgroup)

    def close(self) -> None:
        """Remove the attempt's cgroup (blocking, up to `REMOVE_WAIT_S`: call off the loop)."""
        if self._tree is not None and self.cgroup is not None:
            self._tree.remove(self.cgroup)
            self.cgroup = None
