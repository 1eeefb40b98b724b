"""Settings from `BASIR_*` environment variables (and defaults that work on a laptop)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    shutdown_grace_s: float = Field(10.0, ge=0, le=3600)
    max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    output_cap_bytes: int = Field(10 * 1024 * 1024, ge=1024)
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
