"""Threshold expressions: a number, or arithmetic over named quantities.

A pack may write a threshold as ``"0.3 * frontier_tpp"`` or ``"max(weights_ops_threshold,
published_model_floor_ops)"``. Only numbers, names, ``+ - * /``, unary minus and the
functions ``min``/``max`` are allowed; names are the pack's parameters and the quantities
the engine derives from the catalogue (``frontier_tpp``, ``h100_tpp``).
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping

_FUNCTIONS = {"min": min, "max": max}


class ExpressionError(ValueError):
    """An expression that is not allowed or names an unknown quantity."""


def names_in(text: str) -> set[str]:
    """The quantity names an expression refers to (after checking it is well formed)."""
    tree = _parse(text)
    return {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id not in _FUNCTIONS}


def _parse(text: str) -> ast.Expression:
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        raise ExpressionError(f"not an arithmetic expression: {text!r}") from None
    for node in ast.walk(tree):
        allowed = (
            ast.Expression,
            ast.BinOp,
            ast.UnaryOp,
            ast.Constant,
            ast.Name,
            ast.Load,
            ast.Call,
            ast.Add,
            ast.Sub,
            ast.Mult,
            ast.Div,
            ast.USub,
            ast.UAdd,
        )
        if not isinstance(node, allowed):
            raise ExpressionError(f"{type(node).__name__} is not allowed in {text!r}")
        if isinstance(node, ast.Constant) and (
            isinstance(node.value, bool) or not isinstance(node.value, (int, float))
        ):
            raise ExpressionError(f"only numbers are allowed as constants in {text!r}")
        if isinstance(node, ast.Constant) and isinstance(node.value, float) and not math.isfinite(node.value):
            raise ExpressionError(f"{text!r} holds a number too large to represent")
        if isinstance(node, ast.Call) and (
            not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS or node.keywords
        ):
            raise ExpressionError(f"only min(...) and max(...) may be called in {text!r}")
    return tree


def evaluate(text: str, quantities: Mapping[str, float]) -> float:
    """The value of ``text`` given the named quantities: always a finite number (a step that overflows, or a
    quantity that is not a finite number, is an :class:`ExpressionError`)."""
    tree = _parse(text)

    def value(node: ast.AST) -> float:
        found = step(node)
        if not math.isfinite(found):
            raise ExpressionError(f"{ast.unparse(node)!r} in {text!r} is not a finite number (it overflows)")
        return found

    def step(node: ast.AST) -> float:
        if isinstance(node, ast.Expression):
            return value(node.body)
        if isinstance(node, ast.Constant):
            assert isinstance(node.value, (int, float))  # _parse admits numbers only
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in quantities:
                known = ", ".join(sorted(quantities)) or "none"
                raise ExpressionError(f"unknown quantity {node.id!r} (known: {known})")
            found = quantities[node.id]
            if isinstance(found, bool) or not isinstance(found, (int, float)) or not math.isfinite(found):
                raise ExpressionError(f"quantity {node.id!r} is {found!r}, not a finite number")
            return float(found)
        if isinstance(node, ast.UnaryOp):
            inner = value(node.operand)
            return -inner if isinstance(node.op, ast.USub) else inner
        if isinstance(node, ast.BinOp):
            left, right = value(node.left), value(node.right)
            if isinstance(node.op, ast.Add):
                return left + right
            if isinstance(node.op, ast.Sub):
                return left - right
            if isinstance(node.op, ast.Mult):
                return left * right
            if right == 0:
                raise ExpressionError(f"division by zero in {text!r}")
            return left / right
        if isinstance(node, ast.Call):
            assert isinstance(node.func, ast.Name)
            args = [value(arg) for arg in node.args]
            if not args:
                raise ExpressionError(f"{node.func.id}() needs arguments in {text!r}")
            return float(_FUNCTIONS[node.func.id](args))
        raise ExpressionError(f"cannot evaluate {text!r}")  # pragma: no cover - _parse forbids it

    return value(tree)
