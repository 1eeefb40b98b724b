"""Syntax of `${{ … }}` expressions: tokenizer, immutable AST and a recursive-descent parser.

Grammar, loosest binding first (`a if c else b` is Python-style and optional):

    expr       := or_expr ['if' or_expr 'else' expr]
    or_expr    := and_expr (('or' | '||') and_expr)*
    and_expr   := not_expr (('and' | '&&') not_expr)*
    not_expr   := 'not' not_expr | comparison
    comparison := additive [('=='|'!='|'<'|'<='|'>'|'>='|'in'|'not' 'in') additive]
    additive   := term (('+' | '-') term)*
    term       := unary (('*' | '/' | '%') unary)*
    unary      := ('-' | '+' | '!') unary | postfix
    postfix    := primary ('.' member | '[' expr ']')*
    primary    := number | string | true | false | null | name ['(' args ')']
                | '(' expr ')' | '[' items ']' | '{' key ':' expr, … '}'

Names are GitHub-Actions-like: `[A-Za-z_][A-Za-z0-9_]*(-[A-Za-z0-9_]+)*`, so `pub-get` is one
name and subtraction needs spaces (`a - b`).  After a dot a member may start with a digit
(`tasks.1st.outputs`).  Strings use '…' (with '' for a quote) or "…", both with backslash
escapes.  Only whitelisted functions can be called, and only by name: there is no attribute
access to anything but JSON objects, so no path leads to Python internals.
"""

from __future__ import annotations

import re
from typing import Any

from basir.i18n import _
from basir.spec.expr_ast import (
    Binary,
    Call,
    Conditional,
    Expr,
    ExpressionError,
    Index,
    ListExpr,
    Literal,
    Member,
    Name,
    ObjectExpr,
    Unary,
    children,
)

__all__ = [
    "COMPARISONS",
    "FUNCTION_ARITY",
    "KEYWORDS",
    "MAX_AST_DEPTH",
    "MAX_AST_NODES",
    "MAX_EXPRESSION_CHARS",
    "Binary",
    "Call",
    "Conditional",
    "Expr",
    "ExpressionError",
    "Index",
    "ListExpr",
    "Literal",
    "Member",
    "Name",
    "ObjectExpr",
    "Unary",
    "children",
    "parse_expression",
    "tokenize",
]

MAX_EXPRESSION_CHARS = 4096
MAX_AST_NODES = 1000
MAX_AST_DEPTH = 100

# name → (fewest, most) arguments; None means any number.  Implemented in expr_functions.
FUNCTION_ARITY: dict[str, tuple[int, int | None]] = {
    "len": (1, 1), "contains": (2, 2), "startswith": (2, 2), "endswith": (2, 2),
    "lower": (1, 1), "upper": (1, 1), "join": (1, 2), "split": (1, 3), "format": (1, None),
    "to_json": (1, 1), "toJSON": (1, 1), "from_json": (1, 1), "fromJSON": (1, 1),
    "int": (1, 1), "float": (1, 1), "str": (1, 1), "bool": (1, 1), "range": (1, 3),
    "min": (1, None), "max": (1, None), "sum": (1, 1), "default": (2, 2),
    "hash_files": (1, None),
}  # fmt: skip

KEYWORDS = frozenset({"and", "or", "not", "in", "if", "else", "true", "false", "null"})
COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">=", "in", "not in"})


_TOKEN = re.compile(
    r"""(?P<ws>\s+)
    |(?P<number>0[xX][0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
    |(?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")
    |(?P<name>[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*)
    |(?P<op>==|!=|<=|>=|&&|\|\||[-+*/%<>!()\[\]{},:.])""",
    re.VERBOSE | re.DOTALL,
)
_MEMBER = re.compile(r"[A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)*")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", "'": "'", '"': '"'}


def _syntax(message: str) -> ExpressionError:
    return ExpressionError("expr.syntax", message)


def _unquote(token: str) -> str:
    body = token[1:-1]
    if token[0] == "'":
        body = body.replace("''", "'")
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), body, flags=re.DOTALL)


def tokenize(text: str) -> list[tuple[str, str, int]]:
    """(kind, text, offset) tokens, ending with ("end", "", len(text))."""
    tokens: list[tuple[str, str, int]] = []
    pos = 0
    while pos < len(text):
        if tokens and tokens[-1][1] == "." and tokens[-1][0] == "op":
            member = _MEMBER.match(text, pos)
            if member:
                tokens.append(("member", member.group(), pos))
                pos = member.end()
                continue
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _syntax(_("unexpected character {char!r} at {pos}", char=text[pos], pos=pos + 1))
        kind = match.lastgroup or "op"
        if kind != "ws":
            tokens.append((kind, match.group(), pos))
        pos = match.end()
    tokens.append(("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.pos = 0
        self.nodes = 0

    def peek(self, offset: int = 0) -> tuple[str, str, int]:
        return self.tokens[min(self.pos + offset, len(self.tokens) - 1)]

    def at(self, *texts: str) -> bool:
        kind, text, _pos = self.peek()
        return kind in ("op", "name") and text in texts

    def take(self) -> tuple[str, str, int]:
        token = self.peek()
        self.pos += 1
        return token

    def expect(self, text: str) -> None:
        kind, found, pos = self.take()
        if found != text or kind not in ("op", "name"):
            if kind == "end":
                raise _syntax(_("the expression ends too early: expected {want}", want=text))
            raise _syntax(
                _("expected {want} at {pos}, found {got}", want=text, pos=pos + 1, got=found)
            )

    def node(self, node: Expr, depth: int) -> Expr:
        self.nodes += 1
        if self.nodes > MAX_AST_NODES:
            raise ExpressionError(
                "expr.too_complex", _("expression too complex (over {n} parts)", n=MAX_AST_NODES)
            )
        self.enter(depth)
        return node

    @staticmethod
    def enter(depth: int) -> None:
        # Checked on the way down, so hostile nesting never reaches Python's recursion limit.
        if depth > MAX_AST_DEPTH:
            raise ExpressionError(
                "expr.too_complex", _("expression nested too deeply (over {n})", n=MAX_AST_DEPTH)
            )

    def expr(self, depth: int) -> Expr:
        self.enter(depth)
        value = self.or_expr(depth + 1)
        if self.at("if"):
            self.take()
            condition = self.or_expr(depth + 1)
            self.expect("else")
            otherwise = self.expr(depth + 1)
            return self.node(Conditional(value, condition, otherwise), depth)
        return value

    def binary_chain(self, ops: dict[str, str], sub: Any, depth: int) -> Expr:
        left: Expr = sub(depth + 1)
        while self.at(*ops):
            op = ops[self.take()[1]]
            depth += 1
            left = self.node(Binary(op, left, sub(depth + 1)), depth)
        return left

    def or_expr(self, depth: int) -> Expr:
        return self.binary_chain({"or": "or", "||": "or"}, self.and_expr, depth)

    def and_expr(self, depth: int) -> Expr:
        return self.binary_chain({"and": "and", "&&": "and"}, self.not_expr, depth)

    def not_expr(self, depth: int) -> Expr:
        self.enter(depth)
        if self.at("not") and self.peek(1)[1] != "in":
            self.take()
            return self.node(Unary("not", self.not_expr(depth + 1)), depth)
        return self.comparison(depth)

    def comparison_op(self) -> str | None:
        if self.at("not") and self.peek(1)[1] == "in":
            self.pos += 2
            return "not in"
        if self.at("==", "!=", "<", "<=", ">", ">=", "in"):
            return self.take()[1]
        return None

    def comparison(self, depth: int) -> Expr:
        left = self.additive(depth + 1)
        op = self.comparison_op()
        if op is None:
            return left
        node = self.node(Binary(op, left, self.additive(depth + 1)), depth)
        if self.at("==", "!=", "<", "<=", ">", ">=", "in"):
            raise _syntax(_("chained comparisons are not supported; use and"))
        return node

    def additive(self, depth: int) -> Expr:
        return self.binary_chain({"+": "+", "-": "-"}, self.term, depth)

    def term(self, depth: int) -> Expr:
        return self.binary_chain({"*": "*", "/": "/", "%": "%"}, self.unary, depth)

    def unary(self, depth: int) -> Expr:
        self.enter(depth)
        if self.at("-", "+", "!"):
            op = self.take()[1]
            return self.node(Unary("not" if op == "!" else op, self.unary(depth + 1)), depth)
        return self.postfix(depth)

    def postfix(self, depth: int) -> Expr:
        node = self.primary(depth + 1)
        while self.at(".", "["):
            depth += 1
            if self.take()[1] == ".":
                kind, text, pos = self.take()
                if kind not in ("member", "name"):
                    raise _syntax(_("expected a name after '.' at {pos}", pos=pos + 1))
                node = self.node(Member(node, text), depth)
            else:
                index = self.expr(depth + 1)
                self.expect("]")
                node = self.node(Index(node, index), depth)
        return node

    def primary(self, depth: int) -> Expr:
        kind, text, pos = self.take()
        if kind == "number":
            value: Any = int(text, 16) if text[:2] in ("0x", "0X") else _number(text)
            return self.node(Literal(value), depth)
        if kind == "string":
            return self.node(Literal(_unquote(text)), depth)
        if kind == "name":
            return self.name(text, pos, depth)
        if text == "(" and kind == "op":
            inner = self.expr(depth + 1)
            self.expect(")")
            return inner
        if text == "[" and kind == "op":
            items = self.sequence("]", depth)
            return self.node(ListExpr(tuple(items)), depth)
        if text == "{" and kind == "op":
            return self.node(ObjectExpr(tuple(self.pairs(depth))), depth)
        if kind == "end":
            raise _syntax(_("the expression ends too early"))
        raise _syntax(_("unexpected {token} at {pos}", token=text, pos=pos + 1))

    def name(self, text: str, pos: int, depth: int) -> Expr:
        constants = {"true": True, "false": False, "null": None}
        if text in constants:
            return self.node(Literal(constants[text]), depth)
        if text in KEYWORDS:
            raise _syntax(_("unexpected {token} at {pos}", token=text, pos=pos + 1))
        if not self.at("("):
            return self.node(Name(text), depth)
        if text not in FUNCTION_ARITY:
            raise ExpressionError("expr.unknown_function", _("unknown function {name}", name=text))
        self.take()
        args = self.sequence(")", depth)
        low, high = FUNCTION_ARITY[text]
        if len(args) < low or (high is not None and len(args) > high):
            raise ExpressionError(
                "expr.bad_argument",
                _("{name} takes {low} to {high} arguments", name=text, low=low, high=high or "…"),
            )
        return self.node(Call(text, tuple(args)), depth)

    def sequence(self, close: str, depth: int) -> list[Expr]:
        items: list[Expr] = []
        while not self.at(close):
            items.append(self.expr(depth + 1))
            if not self.at(close):
                self.expect(",")
        self.take()
        return items

    def pairs(self, depth: int) -> list[tuple[str, Expr]]:
        pairs: list[tuple[str, Expr]] = []
        while not self.at("}"):
            kind, text, pos = self.take()
            if kind not in ("string", "name"):
                raise _syntax(_("expected a key at {pos}", pos=pos + 1))
            self.expect(":")
            pairs.append((_unquote(text) if kind == "string" else text, self.expr(depth + 1)))
            if not self.at("}"):
                self.expect(",")
        self.take()
        return pairs


def _number(text: str) -> int | float:
    if "." in text or "e" in text or "E" in text:
        value = float(text)
        if value in (float("inf"), float("-inf")):
            raise _syntax(_("number too large: {text}", text=text[:40]))
        return value
    if len(text) > 30:
        raise _syntax(_("number too large: {text}", text=text[:40]))
    return int(text)


def parse_expression(text: str) -> Expr:
    """Parse the inside of one `${{ … }}`; ExpressionError when it is not valid."""
    if len(text) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(
            "expr.too_long",
            _(
                "expression too long: {n} characters, at most {limit}",
                n=len(text),
                limit=MAX_EXPRESSION_CHARS,
            ),
        )
    parser = _Parser(text)
    if parser.peek()[0] == "end":
        raise _syntax(_("empty expression"))
    node = parser.expr(0)
    kind, found, pos = parser.peek()
    if kind != "end":
        raise _syntax(_("unexpected {token} at {pos}", token=found, pos=pos + 1))
    return node
