"""No value of a `${{ }}` in `run:` ever runs as code, in any placement, under sh and bash.

Each placement is a script writing the expression's value into a file; each payload is tried
in each placement with real `/bin/sh` and `bash` processes.  Either the placement is refused
at validation (and by the renderer), or the file holds exactly the expected bytes — and the
marker file that every payload tries to create never appears.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from basir.executors.base import TaskContext
from basir.executors.shell import ShellExecutor
from basir.spec.expressions import ExpressionError, render_run, split_template
from basir.spec.shell_lexer import Place
from basir.spec.shell_script import refusals

SHELLS = [shell for shell in ("/bin/sh", shutil.which("bash") or "") if shell]

PAYLOADS = [
    "$(touch {m})",
    "`touch {m}`",
    '"; touch {m}; "',
    "'; touch {m}; '",
    "$((1))",
    "a[$(touch {m})]",
    "x\ntouch {m}",
    "x\nEOF\ntouch {m}\ncat <<EOF",
    "*",
    "-e",
    "-n",
    "$HOME",
    "${HOME}",
    "",
    "  two  spaces  ",
    "\\",
    "مرحبا بالعالم ${{ x }}",
    "} ; touch {m} ; {",
    ") ; touch {m} ; (",
    "&& touch {m} ||",
]

# (name, script, expected file content with {v} the value) — None: refused at validation.
PLACEMENTS: list[tuple[str, str, str | None]] = [
    ("bare", "printf '%s' ${{ params.v }} > out", "{v}"),
    ("joined", "printf '%s' pre${{ params.v }}post > out", "pre{v}post"),
    ("double", "printf '%s' \"<${{ params.v }}>\" > out", "<{v}>"),
    ("assignment", "X=${{ params.v }}\nprintf '%s' \"$X\" > out", "{v}"),
    ("local-ish", "export X=${{ params.v }}\nprintf '%s' \"$X\" > out", "{v}"),
    ("heredoc", "cat > out <<EOF\n${{ params.v }}\nEOF", "{v}\n"),
    ("heredoc-dash", "cat > out <<-EOF\n\t[${{ params.v }}]\n\tEOF", "[{v}]\n"),
    ("subst", "printf '%s' \"$(printf '%s' ${{ params.v }})\" > out", "{v}"),
    ("subst-in-double", "printf '%s' \"$(printf '%s' \"${{ params.v }}\")\" > out", "{v}"),
    ("case", "case ${{ params.v }} in *) printf '%s' ${{ params.v }} > out ;; esac", "{v}"),
    ("single", "printf '%s' '${{ params.v }}' > out", None),
    ("single-in-word", "printf '%s' x'${{ params.v }}'x > out", None),
    ("ansi-c", "printf '%s' $'${{ params.v }}' > out", None),
    ("heredoc-quoted", "cat > out <<'EOF'\n${{ params.v }}\nEOF", None),
    ("heredoc-subst", "cat > out <<EOF\n$(echo ${{ params.v }})\nEOF", None),
    ("backticks", "printf '%s' `printf '%s' ${{ params.v }}` > out", None),
    ("double-brackets", "[[ ${{ params.v }} == x ]] || printf '%s' no > out", "no"),
    ("parameter", "printf '%s' ${X:-${{ params.v }}} > out", None),
    ("eval", 'eval "printf %s ${{ params.v }}" > out', None),
    ("sh-c", 'sh -c "printf %s ${{ params.v }}" > out', None),
    ("pipe-to-shell", "echo ${{ params.v }} | sh > out", None),
    ("comment", "echo ok > out # ${{ params.v }}", None),
]


# Shell arithmetic evaluates a variable's text as code, so only whole numbers may go there.
ARITHMETIC: list[tuple[str, str]] = [
    ("arithmetic", "echo $(( ${{ params.v }} )) > out"),
    ("arithmetic-command", "(( x = ${{ params.v }} )); echo $x > out"),
    ("let", "let x=${{ params.v }}; echo $x > out"),
    ("declare-i", "declare -i n\nn=${{ params.v }}\necho $n > out"),
    ("subscript", "a[${{ params.v }}]=x; echo ${!a[@]} > out"),
    (
        "double-brackets-eq",
        '[[ "${{ params.v }}" -eq ${{ params.v }} ]] && echo ${{ params.v }} > out',
    ),
]


@pytest.mark.parametrize(("name", "script"), ARITHMETIC, ids=[a[0] for a in ARITHMETIC])
def test_arithmetic_takes_whole_numbers_only(tmp_path: Path, name: str, script: str) -> None:
    assert refusals(split_template(script), None) == []
    for payload in PAYLOADS:
        marker = tmp_path / "marker"
        value = payload.replace("{m}", str(marker))
        with pytest.raises(ExpressionError) as caught:
            render_run(script, {"params": {"v": value}})
        assert caught.value.code == "expr.placement"
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    for number in ("42", "0", 7, 12.0):
        command, values = render_run(script, {"params": {"v": number}})
        out = tmp_path / "out"
        out.unlink(missing_ok=True)
        env = {"PATH": "/usr/bin:/bin", **values}
        subprocess.run([bash, "-c", command], cwd=tmp_path, env=env, check=False, timeout=30)
        assert out.read_text() == f"{int(number)}\n", (name, number)


@pytest.mark.parametrize(("name", "script", "expected"), PLACEMENTS, ids=[p[0] for p in PLACEMENTS])
def test_every_payload_in_every_placement(
    tmp_path: Path, name: str, script: str, expected: str | None
) -> None:
    pieces = split_template(script)
    refused = refusals(pieces, None)
    if expected is None:
        assert refused, f"{name} must be refused"
        assert all(r.place is not Place.CODE and r.message for r in refused)
        with pytest.raises(ExpressionError) as caught:
            render_run(script, {"params": {"v": "x"}})
        assert caught.value.code == "expr.placement"
        return
    assert refused == []
    for payload in PAYLOADS:
        marker = tmp_path / "marker"
        value = payload.replace("{m}", str(marker))
        command, values = render_run(script, {"params": {"v": value}})
        assert value not in command or value in ("", "*", "-e", "-n", "\\")
        for shell in SHELLS:
            out = tmp_path / "out"
            out.unlink(missing_ok=True)
            subprocess.run(
                [shell, "-c", command],
                cwd=tmp_path,
                env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **values},
                capture_output=True,
                check=False,
                timeout=30,
            )
            assert not marker.exists(), (name, payload, shell)
            wanted = expected.replace("{v}", value).encode()
            assert out.read_bytes() == wanted, (name, payload, shell)


async def test_the_shell_executor_sets_the_expression_values(
    tmp_path: Path, make_ctx: object
) -> None:
    value = "$(touch marker) `touch marker` \"'; touch marker"
    script, values = render_run("printf '%s' \"${{ params.v }}\" > out", {"params": {"v": value}})
    ctx: TaskContext = make_ctx(workdir=tmp_path)  # type: ignore[operator]
    await ShellExecutor().execute({"run": script, "expr_env": values}, ctx)
    assert (tmp_path / "out").read_text() == value
    assert not (tmp_path / "marker").exists()
