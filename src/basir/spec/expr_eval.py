"""Evaluation of an expression AST over a context of JSON values, within a step budget.

Member access and indexing only ever read JSON objects (`Mapping`) and lists: a missing key,
an index out of range or a member of null gives null, like GitHub Actions.  There is no
`getattr`, no `eval`, and every function comes from `expr_functions.FUNCTIONS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from basir.i18n import _
from basir.spec.expr_functions import FUNCTIONS
from basir.spec.expr_size import check_items, check_total
from basir.spec.expr_syntax import (
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
)
from basir.spec.expr_values import (
    Budget,
    check_number,
    check_size,
    is_list,
    is_number,
    json_equal,
    truthy,
    type_error,
    type_name,
)


def _cannot(op: str, left: Any, right: Any) -> ExpressionError:
    return type_error(
        _(
            "cannot apply {op} to {left} and {right}",
            op=op,
            left=type_name(left),
            right=type_name(right),
        )
    )


def _add(left: Any, right: Any, budget: Budget) -> Any:
    if is_number(left) and is_number(right):
        return check_number(left + right)
    if isinstance(left, str) and isinstance(right, str):
        check_total(len(left) + len(right))  # before the text is built
        budget.tick((len(left) + len(right)) // 1024)
        return left + right
    if is_list(left) and is_list(right):
        check_items(len(left) + len(right))  # before the list is built
        budget.tick((len(left) + len(right)) // 16)
        return [*left, *right]
    raise _cannot("+", left, right)


def _arithmetic(op: str, left: Any, right: Any) -> Any:
    if not (is_number(left) and is_number(right)):
        raise _cannot(op, left, right)
    if op == "-":
        return check_number(left - right)
    if op == "*":
        return check_number(left * right)
    if right == 0:
        raise ExpressionError("expr.division_by_zero", _("division by zero"))
    if op == "%":
        return check_number(left % right)
    if isinstance(left, int) and isinstance(right, int) and left % right == 0:
        return left // right
    return check_number(left / right)


def _order(op: str, left: Any, right: Any) -> bool:
    comparable = (is_number(left) and is_number(right)) or (
        isinstance(left, str) and isinstance(right, str)
    )
    if not comparable:
        raise _cannot(op, left, right)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def _member_of(needle: Any, container: Any, budget: Budget) -> bool:
    if container is None:
        return False
    if isinstance(container, str):
        if not isinstance(needle, str):
            raise _cannot("in", needle, container)
        budget.tick(len(container) // 1024)
        return needle in container
    if is_list(container):
        return any(json_equal(item, needle, budget) for item in container)
    if isinstance(container, Mapping):
        return isinstance(needle, str) and needle in container
    raise _cannot("in", needle, container)


class Evaluator:
    """Evaluates ASTs against one context; all evaluations share one budget."""

    def __init__(self, context: Mapping[str, Any], budget: Budget) -> None:
        self.context = context
        self.budget = budget
        self.handlers: dict[type[Expr], Callable[[Any], Any]] = {
            Literal: lambda node: node.value,
            Name: lambda node: self.context.get(node.name),
            Member: self.member,
            Index: self.index,
            Unary: self.unary,
            Binary: self.binary,
            Conditional: self.conditional,
            Call: self.call,
            ListExpr: lambda node: check_size([self.eval(item) for item in node.items]),
            ObjectExpr: lambda node: {key: self.eval(value) for key, value in node.pairs},
        }

    def eval(self, node: Expr) -> Any:
        """The value of `node`."""
        self.budget.tick()
        return self.handlers[type(node)](node)

    def member(self, node: Member) -> Any:
        target = self.eval(node.target)
        return target.get(node.name) if isinstance(target, Mapping) else None

    def index(self, node: Index) -> Any:
        target = self.eval(node.target)
        key = self.eval(node.index)
        if isinstance(target, Mapping):
            return target.get(key) if isinstance(key, str) else None
        if isinstance(target, list | tuple | str) and isinstance(key, int):
            if isinstance(key, bool) or not -len(target) <= key < len(target):
                return None
            return target[key]
        return None

    def unary(self, node: Unary) -> Any:
        value = self.eval(node.operand)
        if node.op == "not":
            return not truthy(value)
        if not is_number(value):
            raise type_error(_("cannot apply {op} to {kind}", op=node.op, kind=type_name(value)))
        return check_number(-value if node.op == "-" else value)

    def binary(self, node: Binary) -> Any:
        op = node.op
        left = self.eval(node.left)
        if op == "and":
            return self.eval(node.right) if truthy(left) else left
        if op == "or":
            return left if truthy(left) else self.eval(node.right)
        right = self.eval(node.right)
        if op in ("==", "!="):
            return json_equal(left, right, self.budget) == (op == "==")
        if op in ("in", "not in"):
            return _member_of(left, right, self.budget) == (op == "in")
        if op in ("<", "<=", ">", ">="):
            return _order(op, left, right)
        if op == "+":
            return _add(left, right, self.budget)
        return _arithmetic(op, left, right)

    def conditional(self, node: Conditional) -> Any:
        chosen = node.then if truthy(self.eval(node.condition)) else node.otherwise
        return self.eval(chosen)

    def call(self, node: Call) -> Any:
        args = [self.eval(arg) for arg in node.args]
        return check_size(FUNCTIONS[node.function](args, self.budget))
