"""Settings from `BASIR_*` environment variables (and defaults that work on a laptop)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from basir.i18n import _

POOL_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
MAX_POOL_SLOTS = 1_000_000


def parse_pools(value: object) -> object:
    """`BASIR_POOLS="gradle=2,gpu=1"` → `{"gradle": 2, "gpu": 1}`; a mapping passes through.

    A name is a pool name (`[a-z0-9][a-z0-9._-]*`), a capacity a whole number of slots ≥ 1;
    anything else is an error when the settings are built, naming the bad entry.
    """
    if not isinstance(value, str):
        return value
    pools: dict[str, int] = {}
    for entry in filter(None, (part.strip() for part in value.split(","))):
        name, sep, capacity = (piece.strip() for piece in entry.partition("="))
        if not sep or not POOL_NAME.match(name) or not capacity.isdigit():
            message = _("{entry} is not name=slots (e.g. gradle=2)", entry=entry)
            raise ValueError(message)
        pools[name] = int(capacity)
    return pools


class Settings(BaseSettings):
    """Process-wide settings.  Build one explicitly and pass it down; nothing reads it globally."""

    model_config = SettingsConfigDict(env_prefix="BASIR_", extra="ignore")

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
    pools: Annotated[dict[str, int], NoDecode] = Field(
        default_factory=dict, description="custom resource pools: gradle=2,gpu=1"
    )

    @field_validator("pools", mode="before")
    @classmethod
    def _pools(cls, value: object) -> object:
        return parse_pools(value)

    @field_validator("pools")
    @classmethod
    def _pool_sizes(cls, value: dict[str, int]) -> dict[str, int]:
        for name, capacity in value.items():
            if not POOL_NAME.match(name) or not 1 <= capacity <= MAX_POOL_SLOTS:
                raise ValueError(
                    _(
                        "{entry} is not name=slots (1..{limit} slots)",
                        entry=f"{name}={capacity}",
                        limit=MAX_POOL_SLOTS,
                    )
                )
        return value

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
