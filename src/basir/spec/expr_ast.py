"""The immutable AST of `${{ … }}` expressions, and `ExpressionError`.

Nodes are frozen, slotted dataclasses: safe to cache and share between threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ExpressionError(Exception):
    """A bad expression or a failed evaluation; `code` is stable, `message` is localised."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Expr:
    """Base of every AST node (frozen dataclasses, safe to share and cache)."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Literal(Expr):
    value: Any


@dataclass(frozen=True, slots=True)
class Name(Expr):
    name: str


@dataclass(frozen=True, slots=True)
class Member(Expr):
    target: Expr
    name: str


@dataclass(frozen=True, slots=True)
class Index(Expr):
    target: Expr
    index: Expr


@dataclass(frozen=True, slots=True)
class Unary(Expr):
    op: str  # "-", "+", "not"
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary(Expr):
    op: str  # arithmetic, comparison, "and", "or"
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Conditional(Expr):
    then: Expr
    condition: Expr
    otherwise: Expr


@dataclass(frozen=True, slots=True)
class Call(Expr):
    function: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class ListExpr(Expr):
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class ObjectExpr(Expr):
    pairs: tuple[tuple[str, Expr], ...]


def children(node: Expr) -> tuple[Expr, ...]:
    """The direct sub-expressions of `node`."""
    if isinstance(node, Member):
        return (node.target,)
    if isinstance(node, Index):
        return (node.target, node.index)
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Conditional):
        return (node.then, node.condition, node.otherwise)
    if isinstance(node, Call | ListExpr):
        return node.args if isinstance(node, Call) else node.items
    if isinstance(node, ObjectExpr):
        return tuple(value for _key, value in node.pairs)
    return ()
