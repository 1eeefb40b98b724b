"""Where the shell lexer says each `${{ }}` of a `run:` script stands."""

from __future__ import annotations

import pytest

from basir.spec.expressions import split_template
from basir.spec.shell_lexer import MARK, Place, is_posix_shell, places
from basir.spec.shell_script import refusals

M = MARK
C, D = Place.CODE, Place.DOUBLE


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (f"echo {M}", [C]),
        (f"echo pre{M}post {M}", [C, C]),
        (f'echo "a {M}" {M}', [D, C]),
        (f"echo 'a {M}'", [Place.SINGLE]),
        (f"echo $'a\\'{M}'", [Place.SINGLE]),
        (f"echo $'a\\'b' {M}", [C]),
        (f"echo it\\'s {M}", [C]),
        (f'echo "it\'s {M}"', [D]),
        (f"X={M} Y={M}", [C, C]),
        (f"a#{M}", [C]),
        (f"echo ok # {M}\necho {M}", [Place.COMMENT, C]),
        (f"cat <<EOF\n{M} 'q' \"d\"\nEOF\necho {M}", [D, C]),
        (f"cat <<'EOF'\n{M}\nEOF\necho {M}", [Place.QUOTED_HEREDOC, C]),
        (f'cat <<"EOF"\n{M}\nEOF', [Place.QUOTED_HEREDOC]),
        (f"cat <<\\EOF\n{M}\nEOF", [Place.QUOTED_HEREDOC]),
        (f"cat <<E{M}\nx\nE", [Place.HEREDOC_WORD]),
        (f"cat <<-EOF\n\t{M}\n\tEOF\necho {M}", [D, C]),
        (f"cat <<A <<'B'\n{M}\nA\n{M}\nB\necho {M}", [D, Place.QUOTED_HEREDOC, C]),
        (f"cat <<EOF\n$(date) {M} ${{HOME}} {M}\nEOF", [D, D]),
        (f"cat <<EOF\n$(echo {M})\nEOF", [Place.PARAMETER]),
        (f"cat <<< {M}", [C]),
        (f"echo $(echo {M}) {M}", [C, C]),
        (f'echo "$(echo "{M}")"', [D]),
        (f"echo $(echo $(echo {M}) ) {M}", [C, C]),
        (f"echo $( (echo x) ) {M}", [C]),
        (f"echo `echo {M}`", [Place.BACKTICK]),
        (f'echo "`echo {M}`"', [Place.BACKTICK]),
        (f"echo $(( {M} + 1 )) {M}", [Place.ARITHMETIC, C]),
        (f"echo $[ {M} ]", [Place.ARITHMETIC]),
        (f"(( n = {M} ))", [Place.ARITHMETIC]),
        (f"for ((i=0; i<{M}; i++)); do :; done", [Place.ARITHMETIC]),
        (f"let n={M}", [Place.ARITHMETIC]),
        (f"if let n={M}; then :; fi; echo {M}", [Place.ARITHMETIC, C]),
        (f"declare -i n={M}", [Place.ARITHMETIC]),
        (f"local -ri n; n={M}", [Place.ARITHMETIC]),
        (f"local n={M}", [C]),
        (f"a[{M}]=1", [Place.ARITHMETIC]),
        (f"echo ${{a[{M}]}}", [Place.PARAMETER]),
        (f"echo ${{x:-{M}}}", [Place.PARAMETER]),
        (f"[[ {M} == x* ]]", [C]),
        (f'[[ "{M}" == "x" && -n {M} ]]', [D, C]),
        (f'if [[ "{M}" -eq 1 ]]; then echo {M}; fi', [Place.ARITHMETIC, C]),
        (f"[[ 1 -lt {M} ]] && echo {M}", [Place.ARITHMETIC, C]),
        (f'[ "{M}" = x ] && echo {M}', [D, C]),
        (f'eval "echo {M}"', [Place.EVAL]),
        (f"command eval {M}", [Place.EVAL]),
        (f'sh -c "echo {M}"', [Place.EVAL]),
        (f"sh -c 'echo \"$1\"' sh {M}", [C]),
        (f'bash -e -c "x {M}" _ {M}', [Place.EVAL, C]),
        (f'sudo -u app /bin/bash -lc "x {M}"', [Place.EVAL]),
        (f'docker run img sh -c "x {M}"', [Place.EVAL]),
        (f'python3 -c "print({M})"', [Place.EVAL]),
        (f'node -e "f({M})"', [Place.EVAL]),
        (f"python3 tool.py {M}", [C]),
        (f"ssh host deploy {M}", [Place.EVAL]),
        (f"echo sh {M}", [C]),
        (f"f() {{ echo {M}; }}", [C]),
        (f"case {M} in {M}) echo {M};; esac", [C, C, C]),
        (f"echo x \\\n  {M}", [C]),
        (f"\\let n={M}", [Place.ARITHMETIC]),
        (f'echo "{M}', [Place.UNCLOSED]),
        (f"echo {M} $(date", [Place.UNCLOSED]),
        (f"cat <<EOF\n{M}", [D]),
        (f'"ev"al {M}', [Place.EVAL]),
        (f"$CMD {M}", [Place.DYNAMIC_COMMAND]),
        (f"{M} --flag", [C]),
        (f"X={M} tool {M}", [C, C]),
        (f"echo {M} | sh", [Place.EVAL]),
        (f"echo {M} | grep x | bash -s", [Place.EVAL]),
        (f"sh | echo {M}", [C]),
        (f"echo {M} | python3 tool.py", [C]),
        (f'bash <<< "{M}"', [Place.EVAL]),
        (f"cat <<EOF | sh\n{M}\nEOF\necho {M}", [Place.EVAL, C]),
        (f"ssh host <<EOF\n{M}\nEOF", [Place.EVAL]),
        (f'sh -c <<< x "{M}"', [Place.EVAL]),
        (f'bash -c &> log "{M}"', [Place.EVAL]),
        (f"bash -e <<EOF\n{M}\nEOF", [Place.EVAL]),
        (f"sh -c 'bash' <<EOF\n{M}\nEOF", [Place.EVAL]),
        (f"arr=(a {M} b) {M}", [Place.ARRAY, C]),
        (f"echo {M} 2>&1 >/dev/null; sh -c 'x' {M}", [C, C]),
    ],
)
def test_places(script: str, expected: list[Place]) -> None:
    assert places(script) == expected


def test_refusals_are_located_in_the_script() -> None:
    pieces = split_template("echo ok\n  echo '${{ params.a }}' ${{ params.b }}\n# ${{ 1 }}")
    found = refusals(pieces, None)
    assert [(r.line, r.col, r.place) for r in found] == [
        (2, 9, Place.SINGLE),
        (3, 3, Place.COMMENT),
    ]
    assert all(r.message for r in found)


def test_other_interpreters_refuse_every_expression() -> None:
    assert is_posix_shell(None) and is_posix_shell("bash -e") and is_posix_shell("/bin/zsh")
    assert not is_posix_shell("python3") and not is_posix_shell("pwsh -NoProfile")
    found = refusals(split_template("print(${{ 1 }})"), "python3")
    assert [r.place for r in found] == [Place.INTERPRETER]
    assert "python3" in found[0].message
    assert refusals(split_template("print(1)"), "python3") == []


def test_a_long_script_is_lexed_without_recursion() -> None:
    nested = "echo " + "$(echo " * 5000 + M + ")" * 5000
    assert places(nested) == [C]
    assert places(f"echo {M}\n" * 20_000) == [C] * 20_000
