"""Settings read the `BASIR_*` environment themselves (no pydantic-settings on the command path)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from basir.config import Settings, environment_values


def test_environment_fills_fields_and_keywords_win(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BASIR_HOME", str(tmp_path))
    monkeypatch.setenv("BASIR_MAX_PARALLEL", "7")
    monkeypatch.setenv("BASIR_OTEL_TRACES", "true")
    monkeypatch.setenv("BASIR_POOLS", "gradle=2,gpu=1")
    monkeypatch.setenv("BASIR_QUEUES", "builds=1,l2-api=4@10/s")

    config = Settings(max_parallel=3)

    assert config.home == tmp_path
    assert config.max_parallel == 3
    assert config.otel_traces is True
    assert config.pools == {"gradle": 2, "gpu": 1}
    assert config.queues["builds"].slots == 1
    assert config.queues["l2-api"].rate == 10
    assert config.db_url == f"sqlite:///{tmp_path / 'basir.db'}"


def test_names_match_without_regard_to_case_and_strangers_are_ignored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("basir_lang", "ar")
    monkeypatch.setenv("BASIR_NOT_A_SETTING", "x")

    assert environment_values(["lang", "port"]) == {"lang": "ar"}
    assert Settings().lang == "ar"


def test_a_bad_value_from_the_environment_is_refused_with_its_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BASIR_PORT", "99999")

    with pytest.raises(ValidationError) as raised:
        Settings()

    assert raised.value.errors()[0]["loc"] == ("port",)


def test_pools_override_cpu_in_cores_and_memory_as_a_size(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As the spec writes them: `cpu=1.5` cores, `memory=4Gi` (both were "not name=slots")."""
    monkeypatch.setenv("BASIR_POOLS", "cpu=1.5,memory=4Gi,disk=10G,gradle=2")
    pools = Settings().pools
    assert pools == {"cpu": 1.5, "memory": 4 << 30, "disk": 10**10, "gradle": 2}
    assert isinstance(pools["gradle"], int) and isinstance(pools["memory"], int)
    for bad in ("gradle=1.5", "cpu=0", "cpu=nan", "memory=4XB", "memory=0", "gpu=0", "gpu"):
        monkeypatch.setenv("BASIR_POOLS", bad)
        with pytest.raises(ValidationError):
            Settings()
