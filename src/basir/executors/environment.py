"""The environment a task process starts with: an allow-list, never the server's own.

A task is code written by a workflow author, who must not learn the server's secrets
(`BASIR_ADMIN_TOKEN`, a database URL with its password, cloud keys).  So a task process gets
only a few harmless variables of the server's environment — `PATH`, `HOME`, the locale, the
time zone, the user — plus any names the operator lists in `BASIR_TASK_ENV_ALLOW`, then what
the workflow declares in `env:`, then the attempt's `BASIR_*` ids.  `${{ env.X }}` sees the
same allow-listed view (see `engine.rendering`), so an expression cannot read more than the
process could.

Names starting with `BASIR_` are server settings and never pass from the server's
environment, even when listed; the attempt's own `BASIR_*` variables are set afresh.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

ALWAYS_ALLOWED = frozenset(
    {"PATH", "HOME", "LANG", "LANGUAGE", "TZ", "USER", "LOGNAME", "SHELL", "TERM"}
)
ALLOWED_PREFIXES = ("LC_",)
SETTINGS_PREFIX = "BASIR_"


def allow_list(setting: str | Iterable[str] = "") -> frozenset[str]:
    """The extra names of `BASIR_TASK_ENV_ALLOW` ("FOO,BAR" or "FOO BAR"), minus `BASIR_*`."""
    names = setting.replace(",", " ").split() if isinstance(setting, str) else setting
    return frozenset(
        name for name in (n.strip() for n in names) if name and not name.startswith("BASIR_")
    )


def inherited_env(
    source: Mapping[str, str] | None = None, extra: Iterable[str] = ()
) -> dict[str, str]:
    """The part of `source` (default: this process's environment) a task may see."""
    source = os.environ if source is None else source
    allowed = ALWAYS_ALLOWED | frozenset(extra)
    return {
        name: value
        for name, value in source.items()
        if not name.startswith(SETTINGS_PREFIX)
        and (name in allowed or name.startswith(ALLOWED_PREFIXES))
    }


def task_process_env(
    base: Mapping[str, str] | None,
    declared: Mapping[str, object],
    basir: Mapping[str, str],
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The whole environment of a task process, later layers winning.

    `base` is the allow-listed inheritance (None: the default allow-list over `os.environ`),
    `declared` the workflow's and task's `env:`, `basir` the attempt's ids, `extra` what the
    executor adds last (`BASIR_OUTPUT`, `TMPDIR`, expression values).
    """
    env = dict(inherited_env() if base is None else base)
    env.update({key: str(value) for key, value in declared.items()})
    env.update(basir)
    if extra:
        env.update(extra)
    return env
