"""Weights given as expressions of branches: parsed once, checked, evaluated per chunk with numpy.

An expression is Python arithmetic over branch names and numbers: ``+ - * / **``, unary minus,
parentheses and the functions ``abs``, ``sqrt``, ``exp``, ``log``, ``min``, ``max`` (elementwise).
A branch name alone is an expression; so is a number. Nothing else is accepted (no attributes,
no other calls), so an expression cannot run code.

Example:
    >>> expression_branches("w_lumi * abs(w_gen) / 2")
    ('w_lumi', 'w_gen')
    >>> evaluate("w * 2 + 1", {"w": np.array([0.5, 1.0])}).tolist()
    [2.0, 3.0]
    >>> evaluate(0.25, {}, n=2).tolist()
    [0.25, 0.25]
"""

from __future__ import annotations

import ast
import functools
import operator
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["evaluate", "expression_branches"]

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: operator.pow,
}

_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": np.abs,
    "sqrt": np.sqrt,
    "exp": np.exp,
    "log": np.log,
    "min": np.minimum,
    "max": np.maximum,
}


def __dir__() -> list[str]:
    return __all__


def _reason(node: ast.AST) -> str | None:
    """Why ``node`` is not allowed in a weight expression (``None``: it is allowed)."""
    if isinstance(node, ast.Call):
        if not (isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS):
            return f"only the functions {', '.join(_FUNCTIONS)} may be called"
        return "functions take no keyword arguments" if node.keywords else None
    if isinstance(node, ast.BinOp):
        allowed = type(node.op) in _BINARY
        return None if allowed else f"operator {type(node.op).__name__} is not allowed"
    if isinstance(node, ast.UnaryOp):
        allowed = isinstance(node.op, ast.USub | ast.UAdd)
        return None if allowed else "only unary + and - are allowed"
    if isinstance(node, ast.Constant):
        number = isinstance(node.value, int | float) and not isinstance(node.value, bool)
        return None if number else f"constant {node.value!r} is not a number"
    if isinstance(node, ast.Name | ast.Load | ast.operator | ast.unaryop):
        return None
    return f"{type(node).__name__} is not allowed in a weight expression"


@functools.cache
def _parse(text: str) -> ast.expr:
    """The syntax tree of ``text``; ValueError when it is not an allowed expression."""
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as error:
        msg = f"not an arithmetic expression ({error.msg})"
        raise ValueError(msg) from None
    for node in ast.walk(tree):
        reason = _reason(node)
        if reason is not None:
            raise ValueError(reason)
    return tree


def expression_branches(expression: float | str) -> tuple[str, ...]:
    """The branches an expression reads, in order of first use (none for a number).

    Raises:
        ValueError: the expression is not allowed (the message says why).
    """
    if not isinstance(expression, str):
        return ()
    calls = {id(node.func) for node in ast.walk(_parse(expression)) if isinstance(node, ast.Call)}
    names = [
        node.id
        for node in ast.walk(_parse(expression))
        if isinstance(node, ast.Name) and id(node) not in calls
    ]
    return tuple(dict.fromkeys(names))


def _value(node: ast.expr, columns: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.Name):
        return np.asarray(columns[node.id], dtype=np.float64)
    if isinstance(node, ast.UnaryOp):
        operand = _value(node.operand, columns)
        return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_value(node.left, columns), _value(node.right, columns))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return _FUNCTIONS[node.func.id](*(_value(a, columns) for a in node.args))
    msg = f"cannot evaluate {type(node).__name__}"  # unreachable after _parse
    raise ValueError(msg)


def evaluate(
    expression: float | str, columns: Mapping[str, Any], *, n: int | None = None
) -> NDArray[np.float64]:
    """The expression's value per event (float64; NaN/inf where the arithmetic gives them).

    Args:
        expression: A number or an expression of the branches in ``columns``.
        columns: Branch -> per-event numbers.
        n: Number of events (needed when the expression reads no branch).
    """
    size = n if n is not None else len(next(iter(columns.values())))
    if not isinstance(expression, str):
        return np.full(size, float(expression))
    with np.errstate(all="ignore"):
        value = _value(_parse(expression), columns)
    return np.broadcast_to(np.asarray(value, dtype=np.float64), (size,)).copy()
