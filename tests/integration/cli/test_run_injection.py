"""Through the real `basir` executable: injection payloads stay data; bad placements are refused."""

from __future__ import annotations

import json
from pathlib import Path

from cli_helpers import Cli, write

SPEC = """\
name: inject
params: {v: {type: string, default: x}}
tasks:
  - id: bare
    run: printf '%s' ${{ params.v }} > bare.txt
  - id: quoted
    run: |
      printf '%s' "[${{ params.v }}]" > quoted.txt
      cat > heredoc.txt <<EOF
      ${{ params.v }}
      EOF
      echo "v=${{ params.v }}" >> "$BASIR_OUTPUT"
"""

PAYLOADS = [
    "$(touch {m})",
    '"; touch {m}; "',
    "a[$(touch {m})]",
    "مرحبا $HOME *",
]


def test_payloads_passed_on_the_command_line_stay_data(cli: Cli, tmp_path: Path) -> None:
    spec = write(tmp_path / "inject.yaml", SPEC)
    marker = tmp_path / "marker"
    for payload in PAYLOADS:
        value = payload.replace("{m}", str(marker))
        done = cli("run", str(spec), "-p", f"v={value}", "--json")
        assert done.returncode == 0, done.stderr
        assert not marker.exists(), payload
        assert (tmp_path / "bare.txt").read_text() == value
        assert (tmp_path / "quoted.txt").read_text() == f"[{value}]"
        assert (tmp_path / "heredoc.txt").read_text() == value + "\n"
        assert json.loads(done.stdout)["tasks"]["quoted"]["outputs"] == {"v": value}


def test_unsafe_placements_are_refused_before_anything_runs(cli: Cli, tmp_path: Path) -> None:
    spec = write(
        tmp_path / "bad.yaml",
        """\
name: bad
params: {n: {type: string, default: "1"}}
tasks:
  - id: single
    run: echo '${{ params.n }}' > ran.txt
  - id: nested
    run: |
      echo start
      sh -c "echo ${{ params.n }}"
  - id: python
    shell: python3
    run: print("${{ params.n }}")
""",
    )
    checked = cli("validate", str(spec))
    assert checked.returncode == 2
    lines = [line for line in checked.stdout.splitlines() + checked.stderr.splitlines() if line]
    assert any(f"{spec}:5:" in line and "single quotes" in line for line in lines), lines
    assert any("line 2, column 13 of the script" in line for line in lines), lines
    assert any("python3 is not a POSIX shell" in line for line in lines), lines
    ran = cli("run", str(spec))
    assert ran.returncode == 2 and not (tmp_path / "ran.txt").exists()
    arabic = cli("validate", str(spec), env={"BASIR_LANG": "ar"})
    assert "علامتي الاقتباس" in arabic.stdout + arabic.stderr
