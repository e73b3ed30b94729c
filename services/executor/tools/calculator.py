"""``calculator``: arithmetic on numbers, evaluated by walking the ``ast`` of the expression, never with eval.

Only numbers, ``+ - * / // % **``, unary signs, parentheses and a few functions are accepted; names,
attributes, subscripts and keyword arguments are refused. Exponents and result sizes are bounded so that one
expression cannot pin an executor's CPU or memory.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable

from services.executor.tools.registry import ToolArgumentsError, ToolSpec

MAX_EXPRESSION_CHARS = 1_000
# Deeper expressions ("-" * 999 + "1") are refused before evaluation, which recurses once per level.
MAX_DEPTH = 200
MAX_EXPONENT = 1_000
# Integers past this many bits are refused: far beyond any real quantity, and cheap to check.
MAX_INTEGER_BITS = 4_096

Number = int | float

BINARY_OPERATORS: dict[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
UNARY_OPERATORS: dict[type[ast.unaryop], Callable[[Number], Number]] = {ast.USub: operator.neg, ast.UAdd: operator.pos}
FUNCTIONS: dict[str, Callable[..., Number]] = {
    "min": min,
    "max": max,
    "abs": abs,
    "round": round,
    "sqrt": math.sqrt,
    "log": math.log,
}


class CalculationError(ValueError):
    """The expression is not acceptable arithmetic, or its value is not a finite, bounded number."""


def evaluate(expression: str) -> Number:
    """The value of ``expression``: an int when it is integral, else a float."""
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise CalculationError(f"expression longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as error:
        raise CalculationError(f"not an arithmetic expression: {error.msg}") from None
    except (RecursionError, MemoryError):
        raise CalculationError(f"expression nested more than {MAX_DEPTH} levels deep") from None
    _check_depth(tree.body)
    value = _checked(_evaluate(tree.body))
    if isinstance(value, float) and value.is_integer():
        return _checked(int(value))
    return value


def _check_depth(root: ast.expr) -> None:
    # Iterative, so measuring the depth cannot itself overflow the stack.
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise CalculationError(f"expression nested more than {MAX_DEPTH} levels deep")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


def _evaluate(node: ast.expr) -> Number:
    match node:
        case ast.Constant(value=bool()):
            raise CalculationError("booleans are not numbers here")
        case ast.Constant(value=int() | float() as value):
            return value
        case ast.BinOp(left=left, op=op, right=right) if type(op) in BINARY_OPERATORS:
            return _binary(op, _evaluate(left), _evaluate(right))
        case ast.UnaryOp(op=op, operand=operand) if type(op) in UNARY_OPERATORS:
            return UNARY_OPERATORS[type(op)](_evaluate(operand))
        case ast.Call(func=ast.Name(id=name), args=args, keywords=[]) if name in FUNCTIONS:
            return _call(name, [_evaluate(arg) for arg in args])
        case ast.Call():
            raise CalculationError(f"only these functions are allowed: {', '.join(FUNCTIONS)} (positional arguments)")
        case ast.Name(id=name):
            raise CalculationError(f"unknown name {name!r}: only numbers and the functions {', '.join(FUNCTIONS)}")
        case _:
            raise CalculationError(f"{type(node).__name__} is not allowed in an arithmetic expression")


def _binary(op: ast.operator, left: Number, right: Number) -> Number:
    if isinstance(op, ast.Pow) and abs(right) > MAX_EXPONENT:
        raise CalculationError(f"exponent {right} is larger than {MAX_EXPONENT}")
    try:
        return _checked(BINARY_OPERATORS[type(op)](left, right))
    except ZeroDivisionError:
        raise CalculationError("division by zero") from None
    except OverflowError:
        raise CalculationError("result too large") from None


def _call(name: str, args: list[Number]) -> Number:
    if name == "round" and len(args) == 2 and not isinstance(args[1], int):
        raise CalculationError("round's second argument must be a whole number of digits")
    try:
        return _checked(FUNCTIONS[name](*args))
    except (TypeError, ValueError, OverflowError) as error:
        raise CalculationError(f"{name}: {error}") from None


def _checked(value: Number) -> Number:
    if isinstance(value, int) and value.bit_length() > MAX_INTEGER_BITS:
        raise CalculationError("result too large")
    if isinstance(value, float) and not math.isfinite(value):
        raise CalculationError("result is not a finite number")
    if isinstance(value, complex):
        raise CalculationError("result is not a real number")
    return value


def make_calculator() -> ToolSpec:
    async def calculator(expression: str | int | float) -> Number:
        # A whole-result reference ({"$ref": ...}) arrives as the number itself, not as text.
        if isinstance(expression, bool) or not isinstance(expression, str | int | float):
            raise ToolArgumentsError("calculator: argument 'expression' must be a string or a number")
        try:
            return evaluate(str(expression))
        except CalculationError as error:
            raise ToolArgumentsError(f"calculator: argument 'expression' {expression!r}: {error}") from None

    return ToolSpec(
        name="calculator",
        fn=calculator,
        description="Evaluate arithmetic: numbers, + - * / // % **, parentheses, min max abs round sqrt log.",
        timeout_s=5.0,
    )
