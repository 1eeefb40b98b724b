"""Typer's own messages — usage errors, help headings — in the command line's language.

A mistyped option, a missing argument, a value that is not a number, a command that does not
exist: in Arabic the whole answer is Arabic (exit 2 as always); in English it stays click's.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cli_helpers import BASIR


def _basir(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {"BASIR_HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "COLUMNS": "80"}
    return subprocess.run(
        [BASIR, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


@pytest.mark.parametrize(
    ("args", "usage", "error"),
    [
        (["run", "--bogus"], "basir run", "خطأ: لا يوجد خيار باسم --bogus"),
        (["validate"], "basir validate", "خطأ: الوسيط 'files' مفقود."),
        (["run", "a", "b"], "basir run", "خطأ: وسائط إضافية غير متوقعة (b)"),
        (["nosuch"], "basir", "خطأ: لا يوجد أمر باسم 'nosuch'."),
        (
            ["runs", "list", "--limit", "many"],
            "basir runs list",
            "خطأ: قيمة غير صالحة لـ '--limit': يجب أن تكون القيمة عددًا صحيحًا",
        ),
    ],
)
def test_usage_errors_are_arabic_in_arabic(
    args: list[str], usage: str, error: str, tmp_path: Path
) -> None:
    done = _basir("--lang", "ar", *args, tmp_path=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[0].startswith(f"الاستخدام: {usage} ")
    assert lines[1] == f"جرّب '{usage} --help' للمساعدة."
    assert lines[-1] == error


def test_usage_errors_stay_english_in_english(tmp_path: Path) -> None:
    done = _basir("--lang", "en", "run", "--bogus", tmp_path=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines()[0].startswith("Usage: basir run ")
    assert done.stderr.splitlines()[-1] == "Error: No such option: --bogus"


def test_a_commands_help_has_arabic_headings(tmp_path: Path) -> None:
    done = _basir("--lang", "ar", "run", "--help", tmp_path=tmp_path)
    assert done.returncode == 0
    out = done.stdout
    assert out.startswith("الاستخدام: basir run ")
    for heading in ("الوسائط:", "الخيارات:"):
        assert heading in out.splitlines()
    assert "اعرض هذه الرسالة ثم اخرج." in out and "[مطلوب]" in out
    assert "Options:" not in out and "Show this message" not in out
