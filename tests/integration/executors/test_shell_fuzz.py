"""Random scripts made of shell fragments: wherever the lexer allows an expression, a payload
passed as its value never runs, under real `sh` and `bash` (a seeded, bounded fuzz)."""

from __future__ import annotations

import contextlib
import random
import shutil
import subprocess
from pathlib import Path

from basir.spec.shell_lexer import MARK, Place, places
from basir.spec.shell_script import reference

FRAGMENTS = [
    "echo ", '"', "'", "$(", ")", "`", "${", "}", "$((", "))", "((", "[[ ", " ]]", "\n", "#",
    "<<EOF\n", "\nEOF\n", "<<'EOF'\n", "<<-EOF\n", "let ", "x=", " ", ";", "sh -c ", "eval ",
    "\\", "a[", "]", "declare -i ", "case ", " in ", ") ", ";; ", "esac", "cat ", "$", "{", "(",
    " && ", " | ", "x", "$'", "if ", "then ", "fi", "export ", "<<<", "=", "-c ", "$[",
    "\\let ", '"eval" ', "'sh' -c ", "$CMD -c ", "bash -e ", "python3 -c ", "n=", "arr=(",
    MARK, MARK, MARK,
]  # fmt: skip
PAYLOADS = ["$(touch {m})", "`touch {m}`", "'; touch {m}; '", '"; touch {m}; "', "\ntouch {m}\n"]
SCRIPTS = 250


def test_no_allowed_placement_runs_a_payload(tmp_path: Path) -> None:
    shells = [shell for shell in ("/bin/sh", shutil.which("bash")) if shell]
    rng = random.Random(20261201)
    marker = tmp_path / "m"
    tried = 0
    for _ in range(SCRIPTS):
        script = "".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(2, 12))) + MARK
        found = places(script)
        if any(place not in (Place.CODE, Place.DOUBLE) for place in found):
            continue  # refused (or numbers only): nothing to run
        pieces = script.split(MARK)
        command = pieces[0] + "".join(
            reference(index, found[index]) + piece for index, piece in enumerate(pieces[1:])
        )
        for payload in PAYLOADS:
            value = payload.replace("{m}", str(marker))
            env = {"PATH": "/usr/bin:/bin", "CMD": "sh"}
            env.update({f"BASIR_EXPR_{index}": value for index in range(len(found))})
            for shell in shells:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    subprocess.run(
                        [shell, "-c", command],
                        cwd=tmp_path,
                        env=env,
                        capture_output=True,
                        stdin=subprocess.DEVNULL,
                        timeout=5,
                        check=False,
                    )
                assert not marker.exists(), (shell, script, payload)
        tried += 1
    assert tried > 50  # the corpus does exercise allowed placements
