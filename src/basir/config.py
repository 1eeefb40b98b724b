"""Settings from `BASIR_*` environment variables (and defaults that work on a laptop)."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from basir.i18n import _

POOL_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
MAX_POOL_SLOTS = 1_000_000


def parse_pools(value: object) -> object:
    """`BASIR_POOLS="gradle=2,gpu=1"` → `{"gradle": 2, "gpu": 1}`; a mapping passes through.

    A name is a pool name (`[a-z0-9][a-z0-9._-]*`), a capacity a whole number of slots ≥ 1 —
    except the machine's own pools, written as the spec writes them: `cpu` in cores
    (`cpu=1.5`), `memory` and `disk` as sizes (`memory=4Gi`, or bytes).  Anything else is an
    error when the settings are built, naming the bad entry.
    """
    if not isinstance(value, str):
        return value
    pools: dict[str, float] = {}
    for entry in filter(None, (part.strip() for part in value.split(","))):
        name, sep, capacity = (piece.strip() for piece in entry.partition("="))
        amount = _pool_amount(name, capacity) if sep and POOL_NAME.match(name) else None
        if amount is None:
            message = _("{entry} is not name=slots (e.g. gradle=2)", entry=entry)
            raise ValueError(message)
        pools[name] = amount
    return pools


def _pool_amount(name: str, text: str) -> float | None:
    """One `BASIR_POOLS` capacity: cores for cpu, a size for memory and disk, else slots."""
    if name == "cpu":
        try:
            cores = float(text)
        except ValueError:
            return None
        return cores if math.isfinite(cores) and 0 < cores <= MAX_POOL_SLOTS else None
    if name in ("memory", "disk"):
        from basir.spec.units import parse_size

        try:
            size = parse_size(text)
        except ValueError:
            return None
        return size if size > 0 else None
    return int(text) if text.isdigit() else None


RATE_UNITS_S = {"s": 1.0, "m": 60.0, "h": 3600.0}
MAX_QUEUE_RATE = 1_000_000
QUEUE_ENTRY = re.compile(r"^(?P<slots>\d+)?(?:@(?P<count>\d+)/(?P<unit>[smh]))?$")


class QueueLimit(BaseModel):
    """One named queue's limits: tasks running at once, and starts per time unit.

    `slots` None: no cap on running tasks; `rate` None: no rate limit.  A rate is a token
    bucket holding `rate` tokens, refilled at `rate` per `per_s` seconds: a burst of `rate`
    starts, then one every `per_s / rate` seconds.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    slots: int | None = Field(None, ge=1, le=MAX_POOL_SLOTS)
    rate: int | None = Field(None, ge=1, le=MAX_QUEUE_RATE)
    per_s: float = Field(1.0, gt=0)

    def describe(self) -> str:
        """The limit as written in `BASIR_QUEUES`: `2`, `2@10/s`, `@60/m`."""
        text = "" if self.slots is None else str(self.slots)
        if self.rate is not None:
            text += f"@{describe_rate(self.rate, self.per_s)}"
        return text


def describe_rate(count: int, per_s: float) -> str:
    """A rate as written in settings and specs: `10/s`, `60/m`."""
    unit = next((u for u, s in RATE_UNITS_S.items() if s == per_s), "s")
    return f"{count}/{unit}"


def parse_queue_limit(text: str) -> QueueLimit:
    """`2`, `2@10/s`, `@60/m` → a `QueueLimit`; ValueError naming the text otherwise."""
    match = QUEUE_ENTRY.match(text.strip())
    if match is None or not text.strip():
        raise ValueError(text)
    slots, count, unit = match.group("slots"), match.group("count"), match.group("unit")
    return QueueLimit(
        slots=None if slots is None else int(slots),
        rate=None if count is None else int(count),
        per_s=RATE_UNITS_S[unit] if unit else 1.0,
    )


def parse_queues(value: object) -> object:
    """`BASIR_QUEUES="builds=1,l2-api=4@10/s"` → `{name: QueueLimit}`; a mapping passes through.

    An entry is `name=SLOTS`, `name=SLOTS@COUNT/UNIT` or `name=@COUNT/UNIT` (UNIT `s`, `m`,
    `h`); in a mapping a value may also be a number of slots or such a text.  Anything else is
    an error when the settings are built, naming the bad entry.
    """
    if isinstance(value, str):
        entries = [e.strip() for e in value.split(",") if e.strip()]
        pairs: list[tuple[str, object]] = []
        for entry in entries:
            name, sep, limit = (piece.strip() for piece in entry.partition("="))
            if not sep:
                raise ValueError(_queue_message(entry))
            pairs.append((name, limit))
    elif isinstance(value, dict):
        pairs = list(value.items())
    else:
        return value
    queues: dict[str, object] = {}
    for name, given in pairs:
        entry = f"{name}={given}"
        if not isinstance(name, str) or not POOL_NAME.match(name):
            raise ValueError(_queue_message(entry))
        text = str(given) if isinstance(given, int) and not isinstance(given, bool) else given
        if isinstance(text, str):
            try:
                parsed = parse_queue_limit(text)
            except ValueError:
                raise ValueError(_queue_message(entry)) from None
            if parsed.slots is None and parsed.rate is None:
                raise ValueError(_queue_message(entry))
            queues[name] = parsed
        else:
            queues[name] = given
    return queues


def _queue_message(entry: str) -> str:
    return _(
        "{entry} is not name=slots[@count/unit] (e.g. builds=1, l2-api=4@10/s, mail=@60/m;"
        " slots and count 1..{limit}, unit s, m or h)",
        entry=entry,
        limit=MAX_POOL_SLOTS,
    )


ENV_PREFIX = "basir_"


def environment_values(names: Iterable[str]) -> dict[str, str]:
    """The `BASIR_<NAME>` variables of this process for the given field names, as given.

    Names match without regard to case, as shells and service managers spell them both ways;
    values stay text for the model to validate (no JSON decoding: the parsers below read the
    compact forms such as `gradle=2,gpu=1`).
    """
    wanted = set(names)
    found: dict[str, str] = {}
    for key, value in os.environ.items():
        lowered = key.lower()
        if lowered.startswith(ENV_PREFIX) and lowered[len(ENV_PREFIX) :] in wanted:
            found[lowered[len(ENV_PREFIX) :]] = value
    return found


class Settings(BaseModel):
    """Process-wide settings.  Build one explicitly and pass it down; nothing reads it globally.

    Values come from the keyword arguments, then the `BASIR_*` environment, then the defaults.
    A plain model reading the environment itself: the command line starts faster without
    pydantic-settings, and nothing here needs its other sources.
    """

    model_config = ConfigDict(extra="ignore")

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**environment_values(type(self).model_fields), **values})

    home: Path = Field(default_factory=lambda: Path.home() / ".basir")
    db: str | None = Field(None, description="store URL; default sqlite:///$BASIR_HOME/basir.db")
    lang: str = "en"
    template_path: str = Field("", description="extra template folders, separated by ':'")
    max_parallel: int = Field(1024, ge=1, le=100_000, description="tasks running at once")
    host: str = "127.0.0.1"
    port: int = Field(8765, ge=1, le=65535)
    admin_token: str | None = None
    callback_secret: SecretStr | None = Field(
        None, description="HMAC-SHA256 key signing decision callbacks (X-Basir-Signature)"
    )
    shutdown_grace_s: float = Field(10.0, ge=0, le=3600)
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    output_cap_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    metrics_interval_s: float = Field(
        10.0, ge=0, le=3600, description="metric history sample period; 0 turns it off"
    )
    usage_interval_s: float = Field(
        1.0, ge=0, le=60, description="task usage sample period (memory limits); 0 turns it off"
    )
    memory_limit: Literal["auto", "cgroup", "rlimit", "sampler"] = Field(
        "auto",
        description="how a task's memory is limited: cgroup v2 memory.max, RLIMIT_AS, or only"
        " the usage sampler; auto: cgroup when a delegated cgroup v2 is usable, else rlimit",
    )
    sweep_interval_s: float = Field(
        60.0,
        ge=0,
        le=86400,
        description="cleanup sweeper period (leaked holds, processes, temp dirs); 0 turns it off",
    )
    alert_rules_file: Path | None = Field(
        None, description="YAML file of alert rules ({rules: [...]}), read at start"
    )
    alert_eval_interval_s: float = Field(
        15.0, gt=0, le=3600, description="how often the alert rules are evaluated"
    )
    pools: dict[str, float] = Field(
        default_factory=dict,
        description="custom resource pools: gradle=2,gpu=1 (cpu=1.5 cores, memory=4Gi override)",
    )

    @field_validator("pools", mode="before")
    @classmethod
    def _pools(cls, value: object) -> object:
        return parse_pools(value)

    @field_validator("pools")
    @classmethod
    def _pool_sizes(cls, value: dict[str, float]) -> dict[str, float]:
        for name, capacity in value.items():
            whole = name in ("cpu", "memory", "disk") or float(capacity).is_integer()
            top = 1 << 50 if name in ("memory", "disk") else MAX_POOL_SLOTS
            if not POOL_NAME.match(name) or not whole or not 0 < capacity <= top:
                raise ValueError(
                    _(
                        "{entry} is not name=slots (1..{limit} slots)",
                        entry=f"{name}={capacity:g}",
                        limit=MAX_POOL_SLOTS,
                    )
                )
        return {
            name: capacity if name == "cpu" else int(capacity) for name, capacity in value.items()
        }

    queues: dict[str, QueueLimit] = Field(
        default_factory=dict, description="named queues: builds=1,l2-api=4@10/s,mail=@60/m"
    )

    @field_validator("queues", mode="before")
    @classmethod
    def _queues(cls, value: object) -> object:
        return parse_queues(value)

    task_log_retention_days: float = Field(
        30.0, ge=0, le=36500, description="days the task logs of finished runs are kept; 0: ever"
    )
    task_logs_max_bytes: int = Field(
        10 * 1024**3, ge=0, description="cap on all task logs; oldest finished runs go first"
    )
    otel_traces: bool = Field(
        False, description="export runs as OpenTelemetry traces (the otel extra; OTEL_* env)"
    )
    otel_logs: bool = Field(False, description="send log records to OpenTelemetry too")
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="server logs: JSON lines, console lines, or auto (JSON off a terminal)"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    task_env_allow: str = Field(
        "", description="extra server variables tasks may see, e.g. 'HTTP_PROXY,CI'"
    )

    @property
    def db_url(self) -> str:
        """The store URL, defaulting to the embedded SQLite file under `home`."""
        return self.db or f"sqlite:///{self.home / 'basir.db'}"

    @property
    def logs_dir(self) -> Path:
        """Where task logs are written: `home/logs/<run>/<task>.log`."""
        return self.home / "logs"

    @property
    def template_dirs(self) -> list[Path]:
        """User template folders from `BASIR_TEMPLATE_PATH`, in search order."""
        return [Path(p) for p in self.template_path.split(":") if p.strip()]
