"""The Flutter and Dart library templates run their SDK commands as the docs promise.

No Flutter or Dart SDK is installed here: stand-in `flutter` and `dart` executables on `PATH`
record the command lines they are given, and a workflow using every library template runs
to the end with `basir run`.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from cli_helpers import Cli, write

STAND_IN = """#!/bin/sh
echo "$(basename "$0") $*" >> "{log}"
"""
WORKFLOW = """\
name: sdk-templates
tasks:
  - {id: pub-get, uses: flutter/pub-get}
  - {id: analyze, uses: flutter/analyze, needs: [pub-get]}
  - {id: test, uses: flutter/test, with: {coverage: true}, needs: [pub-get]}
  - {id: build, uses: flutter/build, with: {target: apk}, needs: [analyze, test]}
  - {id: dart-analyze, uses: dart/analyze}
  - {id: dart-format, uses: dart/format-check}
  - {id: dart-test, uses: dart/test}
"""


def test_library_templates_run_with_stand_in_sdk_executables(cli: Cli, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    for name in ("flutter", "dart"):
        path = bin_dir / name
        path.write_text(STAND_IN.format(log=log), encoding="utf-8")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
    spec = write(tmp_path / "sdk.yaml", WORKFLOW)
    env = {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}

    done = cli("run", str(spec), "--json", env=env)

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {task["status"] for task in result["tasks"].values()} == {"succeeded"}
    calls = {line.strip() for line in log.read_text(encoding="utf-8").splitlines()}
    assert calls == {
        "flutter pub get",
        "flutter analyze --no-fatal-infos",
        "flutter test --machine --coverage",
        "flutter build apk --release",
        "dart analyze",
        "dart format --output=none --set-exit-if-changed .",
        "dart test --reporter json --platform vm",
    }
