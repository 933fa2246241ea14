"""Typed functions f(x, y): a whitelisting parser to SymPy, exact gradients, NumPy evaluation.

The text is parsed with :func:`ast.parse` (``mode="eval"``) and the tree is walked node by
node; the SymPy expression is built from the nodes themselves, so user text is never passed to
``eval``, ``exec``, ``sympify`` or ``lambdify`` (only the built SymPy expression is lambdified).

Accepted (anything else raises :class:`ExpressionError`):

- numbers: int and float literals (``2``, ``0.5``, ``1e-3``); no complex, strings or booleans;
- names: ``x``, ``y``, ``pi``, ``e``;
- operators: ``+ - * / **``, unary ``+``/``-`` and parentheses; ``^`` is accepted as an alias
  for ``**`` (it is replaced before parsing, so ``x^2 + 1`` means ``x**2 + 1``);
- functions, called by bare name: ``sin cos tan asin acos atan sinh cosh tanh exp log log10
  log2 sqrt abs sign`` (one argument; ``log`` is natural), ``atan2(y, x)`` (two) and
  ``min(a, b, ...)``, ``max(a, b, ...)`` (two or more, as a balanced tree
  of two-argument calls).

Limits: at most :data:`MAX_LENGTH` characters, ASCII only, nesting depth at most
:data:`MAX_DEPTH` (a flat chain ``a + b - c`` or ``a * b / c`` counts as one level),
numeric exponents with |n| ≤ :data:`MAX_EXPONENT`, no power inside an exponent (``x**y**z``),
and every constant must be a real number within float range (``1/0``, ``log(0)``,
``sqrt(-1)`` and ``1e308**2`` are refused).

Budget (SymPy folds constants exactly, so ``(1/9**100)**100`` is a rational with 9,543 digits and
two more ``**100`` would take minutes): every exact number keeps at most :data:`MAX_DIGITS` digits
in its numerator and denominator, estimated *before* a power is computed (``digits(b**n) ≈
|n|·digits(b)``); an exact number under a fractional power (which SymPy factors to extract roots)
at most :data:`MAX_ROOT_DIGITS`; a folded exponent (``(x**100)**100`` is ``x**10000``) at most
:data:`MAX_FOLDED_EXPONENT` in magnitude; the tree at most :data:`MAX_NODES` nodes and each
gradient component at most :data:`MAX_GRADIENT_NODES`. Parsing, differentiation and compilation
together get :data:`TIME_LIMIT` seconds of wall time in a worker thread that is abandoned (and
stopped) past it (:mod:`gdstudio.engine.deadline` says why a thread). Whatever is over budget
is refused with an :class:`ExpressionError` naming the part. Decimal numbers (``1e-300``) are
floating point and never grow.

Gradients are exact: ∂f/∂x and ∂f/∂y by :func:`sympy.diff` (with x, y real), taken almost
everywhere at kinks: ∂sign(u)/∂u = 0 (DiracDelta terms are dropped), ∂|u|/∂u = sign(u) and
∂max(a, b)/∂a = H(a − b) with H(0) = ½ (likewise min). Evaluation is vectorized over arrays of
any shape and silent: ``log(-1)``, ``sqrt(-1)``, overflow give NaN or ±inf, which runs report
as divergence.

Hessians (Newton's method) are the same: :func:`prepare_hessian` differentiates the gradient's
components once more (∂²f/∂x², ∂²f/∂x∂y = ∂(∂f/∂x)/∂y, ∂²f/∂y²; the steps' derivatives are 0, so
a kink contributes nothing almost everywhere), on first use only, under the same budget: each
component at most :data:`MAX_GRADIENT_NODES` nodes, and the work :data:`TIME_LIMIT` seconds.
"""

from __future__ import annotations

import ast
import math
import threading
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import sympy

from gdstudio.engine.deadline import DeadlineExceeded, run_with_deadline

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_DIGITS",
    "MAX_EXPONENT",
    "MAX_FOLDED_EXPONENT",
    "MAX_GRADIENT_NODES",
    "MAX_LENGTH",
    "MAX_NODES",
    "MAX_ROOT_DIGITS",
    "NAMES",
    "TIME_LIMIT",
    "CompiledExpression",
    "CompiledHessian",
    "ExpressionError",
    "compile_expression",
    "parse_expression",
    "prepare_expression",
    "prepare_hessian",
]

#: Longest accepted text, in characters.
MAX_LENGTH = 500
#: Deepest accepted nesting (nodes from the root to a leaf; a chain a + b - c ... counts once).
MAX_DEPTH = 50
#: Largest |n| of a numeric exponent.
MAX_EXPONENT = 100
#: Most decimal digits of an exact integer, or of a rational's numerator or denominator, after folding
#: (a float's 1.8e308 has 309; cost of arithmetic on such numbers: microseconds).
MAX_DIGITS = 400
#: Most digits of an exact number under a fractional power: SymPy factors it to extract roots, which
#: took ≤ 0.1 s at 100 digits here but 1.4 s at 200 and 46 s at 1,900.
MAX_ROOT_DIGITS = 100
#: Largest |exponent| after folding powers of powers ((x**100)**100 is x**10000).
MAX_FOLDED_EXPONENT = MAX_EXPONENT**2
#: Most nodes in the expression tree (a 500-character text makes at most ~800).
MAX_NODES = 2_000
#: Most nodes in each gradient component.
MAX_GRADIENT_NODES = 50_000
#: Wall-clock seconds for parsing, differentiating and compiling one expression.
TIME_LIMIT = 1.75

_LOG2_10 = math.log2(10)
_MAX_BITS = math.ceil(MAX_DIGITS * _LOG2_10)
_MAX_ROOT_BITS = math.ceil(MAX_ROOT_DIGITS * _LOG2_10)
_DECIMAL_HINT = "a decimal such as 1e-300 computes in floating point"

X, Y = sympy.symbols("x y", real=True)

#: The names an expression may use.
NAMES: dict[str, sympy.Expr] = {"x": X, "y": Y, "pi": sympy.pi, "e": sympy.E}

_ANY = -2  # two or more arguments


class Step(sympy.Function):  # type: ignore[misc]  # sympy is untyped
    """The Heaviside step H(u) with H(0) = ½, and derivative 0 (almost everywhere).

    SymPy's own Heaviside asks the assumptions system about its argument when it is built
    (is it negative? zero?), which costs seconds for the long arguments that max() of many
    planes differentiates to; this one only evaluates numbers.
    """

    nargs = 1

    @classmethod
    def eval(cls, a: sympy.Expr) -> sympy.Expr | None:
        return sympy.Heaviside(a, sympy.S.Half) if a.is_number else None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.S.Zero


class Max2(sympy.Function):  # type: ignore[misc]  # sympy is untyped
    """max(a, b), with ∂/∂a = H(a − b) and ∂/∂b = H(b − a) (H the Heaviside step, H(0) = ½).

    Binary and cheap to differentiate: SymPy's n-ary Max differentiates to terms that each
    hold a Max of the other arguments, which grows quadratically and takes seconds.
    """

    nargs = 2

    @classmethod
    def eval(cls, a: sympy.Expr, b: sympy.Expr) -> sympy.Expr | None:
        if a == b:
            return a
        if a.is_number and b.is_number:
            return sympy.Max(a, b)
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        a, b = self.args
        return Step(a - b if argindex == 1 else b - a)


class Min2(sympy.Function):  # type: ignore[misc]  # sympy is untyped
    """min(a, b), with ∂/∂a = H(b − a) and ∂/∂b = H(a − b)."""

    nargs = 2

    @classmethod
    def eval(cls, a: sympy.Expr, b: sympy.Expr) -> sympy.Expr | None:
        if a == b:
            return a
        if a.is_number and b.is_number:
            return sympy.Min(a, b)
        return None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        a, b = self.args
        return Step(b - a if argindex == 1 else a - b)


class Sign(sympy.Function):  # type: ignore[misc]  # sympy is untyped
    """sign(u), with derivative 0 (almost everywhere).

    SymPy's own sign leaves ``Derivative(sign(x/y), x)`` unevaluated when it cannot prove its
    argument real (x/y may be zoo), which NumPy cannot evaluate.
    """

    nargs = 1

    @classmethod
    def eval(cls, a: sympy.Expr) -> sympy.Expr | None:
        return sympy.sign(a) if a.is_number else None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return sympy.S.Zero


class AbsVal(sympy.Function):  # type: ignore[misc]  # sympy is untyped
    """|u|, with d|u|/du = sign(u) (SymPy's Abs falls back to re/im parts for such arguments)."""

    nargs = 1

    @classmethod
    def eval(cls, a: sympy.Expr) -> sympy.Expr | None:
        return sympy.Abs(a) if a.is_number else None

    def fdiff(self, argindex: int = 1) -> sympy.Expr:
        return Sign(self.args[0])


def _fold(fn: type[sympy.Function]) -> Callable[..., sympy.Expr]:
    """fn of two or more arguments as a balanced tree of binary calls (keeps gradients small)."""

    def folded(*args: sympy.Expr) -> sympy.Expr:
        if len(args) == 1:
            return args[0]
        half = len(args) // 2
        return fn(folded(*args[:half]), folded(*args[half:]))

    return folded


#: Function name -> (SymPy builder, number of arguments; ``_ANY`` means two or more).
FUNCTIONS: dict[str, tuple[Callable[..., sympy.Expr], int]] = {
    "sin": (sympy.sin, 1),
    "cos": (sympy.cos, 1),
    "tan": (sympy.tan, 1),
    "asin": (sympy.asin, 1),
    "acos": (sympy.acos, 1),
    "atan": (sympy.atan, 1),
    "sinh": (sympy.sinh, 1),
    "cosh": (sympy.cosh, 1),
    "tanh": (sympy.tanh, 1),
    "exp": (sympy.exp, 1),
    "log": (sympy.log, 1),
    "log10": (lambda a: sympy.log(a, 10), 1),
    "log2": (lambda a: sympy.log(a, 2), 1),
    "sqrt": (sympy.sqrt, 1),
    "abs": (AbsVal, 1),
    "sign": (Sign, 1),
    "atan2": (sympy.atan2, 2),
    "min": (_fold(Min2), _ANY),
    "max": (_fold(Max2), _ANY),
}

_BINOPS: dict[type[ast.operator], str] = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
}
_GROUP: dict[type[ast.operator], int] = {ast.Add: 1, ast.Sub: 1, ast.Mult: 2, ast.Div: 2}
_REFUSED_OPS: dict[type[ast.operator], str] = {
    ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
    ast.BitOr: "|", ast.BitAnd: "&", ast.BitXor: "^",
}
_REFUSED_NODES: dict[type[ast.AST], str] = {
    ast.Attribute: "Attribute access ('.') is not allowed",
    ast.Subscript: "Indexing ('[...]') is not allowed",
    ast.Lambda: "Lambdas are not allowed",
    ast.ListComp: "Comprehensions are not allowed",
    ast.SetComp: "Comprehensions are not allowed",
    ast.DictComp: "Comprehensions are not allowed",
    ast.GeneratorExp: "Comprehensions are not allowed",
    ast.JoinedStr: "Strings are not allowed",
    ast.FormattedValue: "Strings are not allowed",
    ast.Compare: "Comparisons are not allowed",
    ast.BoolOp: "'and' / 'or' are not allowed",
    ast.Starred: "Starred ('*') arguments are not allowed",
    ast.NamedExpr: "Assignments (':=') are not allowed",
    ast.IfExp: "Conditional expressions ('if ... else') are not allowed",
    ast.Tuple: "Tuples are not allowed (a comma outside a function call?)",
    ast.List: "Lists are not allowed",
    ast.Set: "Sets are not allowed",
    ast.Dict: "Dicts are not allowed",
    ast.Slice: "Slices are not allowed",
    ast.Await: "'await' is not allowed",
    ast.Yield: "'yield' is not allowed",
    ast.YieldFrom: "'yield' is not allowed",
}
_HINTS = {"×": "*", "·": "*", "÷": "/", "−": "-", "²": "**2", "³": "**3", "π": "pi"}
_FLOAT_MAX = sympy.Float(np.finfo(float).max, 17)


class ExpressionError(ValueError):
    """A typed function that cannot be accepted.

    ``position`` is the 0-based character index in the text where the problem is (None when it
    concerns the whole text); messages give it 1-based, as "column N".
    """

    def __init__(self, message: str, position: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


def _at(position: int | None) -> str:
    return "" if position is None else f" at column {position + 1}"


# -- sizes of exact numbers --------------------------------------------------------------------


def _bits(q: sympy.Rational) -> int:
    """Bits of an exact number: numerator plus denominator."""
    return int(q.p).bit_length() + int(q.q).bit_length()


def _digits(bits: float) -> str:
    """About how many decimal digits ``bits`` bits make, for messages ("9,543")."""
    return f"{int(bits / _LOG2_10) + 1:,}"


def _exposed(expr: sympy.Basic) -> tuple[int, int, float]:
    """What arithmetic on ``expr`` may fold, as (exact bits, bits under a fractional power, |exponent|).

    SymPy raises every factor of a product to an integer power, multiplies exponents of powers of
    powers and combines roots of numbers in products; a symbolic sum (``(x + 3)**100``) and
    function calls (``sin(1/3)``) are left alone, a constant sum is computed. The counts are
    upper bounds (sums over the tree, not only the parts that actually fold).
    """
    if expr.is_Rational:
        return _bits(expr), 0, 0.0
    if expr.is_Pow:
        base, exp = expr.args
        bits, roots, _ = _exposed(base)
        if exp.is_Rational:
            if not exp.is_Integer:
                roots = bits
            bits += _bits(exp)
        magnitude = float(abs(exp)) if exp.is_number and exp.is_comparable else 0.0
        return bits, roots, magnitude
    if expr.is_Mul or (expr.is_Add and expr.is_number):
        bits = roots = 0
        magnitude = 0.0
        for arg in expr.args:
            b, r, m = _exposed(arg)
            bits, roots, magnitude = bits + b, roots + r, max(magnitude, m)
        return bits, roots, magnitude
    return 0, 0, 0.0


def _count_nodes(expr: sympy.Basic) -> int:
    return sum(1 for _ in sympy.preorder_traversal(expr))


class _Parser:
    """Parses one text; maps positions in the parsed source back to the original text."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise ExpressionError(f"The expression must be text, not {type(text).__name__}")
        if len(text) > MAX_LENGTH:
            raise ExpressionError(
                f"Expression too long: {len(text)} characters (at most {MAX_LENGTH})"
            )
        if not text.strip():
            raise ExpressionError("Empty expression: type a function of x and y, e.g. x**2 + y**2")
        for i, ch in enumerate(text):
            if not (ch.isascii() and (ch.isprintable() or ch in "\t\n\r")):
                hint = f" (use {_HINTS[ch]!r})" if ch in _HINTS else ""
                raise ExpressionError(f"Unsupported character {ch!r}{_at(i)}{hint}", i)
        self.text = text
        # '^' -> '**', remembering where each source character came from.
        source: list[str] = []
        origin: list[int] = []
        for i, ch in enumerate(text):
            rep = "**" if ch == "^" else ch
            source.append(rep)
            origin.extend([i] * len(rep))
        src = "".join(source)
        lead = len(src) - len(src.lstrip())  # eval mode refuses leading indentation
        self.src = src[lead:]
        self.origin = [*origin[lead:], len(text)]
        starts = [0]
        for i, ch in enumerate(self.src):
            if ch == "\n":
                starts.append(i + 1)
        self.line_starts = starts

    def pos(self, lineno: int | None, col: int | None) -> int | None:
        """Original-text index of (1-based line, 0-based column) in the parsed source."""
        if lineno is None or col is None:
            return None
        line = min(max(lineno, 1), len(self.line_starts)) - 1
        i = min(max(self.line_starts[line] + col, 0), len(self.src))
        return self.origin[i]

    def node_pos(self, node: ast.AST) -> int | None:
        return self.pos(getattr(node, "lineno", None), getattr(node, "col_offset", None))

    def segment(self, node: ast.AST, limit: int = 40) -> str:
        """The text of ``node`` (one line, at most ``limit`` characters) for messages."""
        start = self.node_pos(node)
        end = self.pos(getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None))
        if start is None or end is None or end <= start:
            return ""
        text = " ".join(self.text[start:end].split())
        return text if len(text) <= limit else text[: limit - 1] + "…"

    def op_pos(self, node: ast.BinOp, symbol: str) -> int | None:
        """Where the operator of ``node`` is in the text (between its operands)."""
        left = self.pos(node.left.end_lineno, node.left.end_col_offset)
        right = self.node_pos(node.right)
        if left is None or right is None:
            return self.node_pos(node)
        spellings = ("**", "^") if symbol == "**" else (symbol,)
        hits = [i for s in spellings if (i := self.text.find(s, left, right)) >= 0]
        return min(hits) if hits else self.node_pos(node)

    def after(self, node: ast.AST, symbol: str) -> int | None:
        """Where ``symbol`` first occurs after ``node`` (else where the node starts)."""
        end = self.pos(getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None))
        found = -1 if end is None else self.text.find(symbol, end)
        return found if found >= 0 else self.node_pos(node)

    def parse(self) -> sympy.Expr:
        try:
            with warnings.catch_warnings():  # e.g. SyntaxWarning for "1if x"
                warnings.simplefilter("ignore")
                tree = ast.parse(self.src, mode="eval")
        except SyntaxError as exc:
            msg = exc.msg or "invalid syntax"
            if not exc.offset or (exc.lineno or 1) > len(self.line_starts):
                position: int | None = len(self.text.rstrip())  # Python's 0 means "at the end"
                msg = f"{msg} (unexpected end of the expression)"
            else:
                position = self.pos(exc.lineno or 1, exc.offset - 1)
            if "decimal literal" in msg:
                msg = f"{msg} (write * to multiply, e.g. 2*x)"
            raise ExpressionError(f"Syntax error{_at(position)}: {msg}", position) from None
        except (RecursionError, MemoryError):
            raise ExpressionError(
                f"Expression nested too deeply (more than {MAX_DEPTH} levels)"
            ) from None
        except ValueError as exc:  # e.g. null bytes
            raise ExpressionError(f"Cannot parse the expression: {exc}") from None
        try:
            return self.build(tree.body, 1)
        except ExpressionError:
            raise
        except (RecursionError, MemoryError, OverflowError, ValueError, TypeError,
                ZeroDivisionError, ArithmeticError) as exc:
            raise ExpressionError(
                f"Cannot build the expression: {exc or type(exc).__name__}"
            ) from None

    # -- the walk -------------------------------------------------------------------------------

    def fail(self, message: str, position: int | None, hint: str = "") -> ExpressionError:
        return ExpressionError(f"{message}{_at(position)}{hint}", position)

    def build(self, node: ast.AST, depth: int) -> sympy.Expr:
        position = self.node_pos(node)
        if depth > MAX_DEPTH:
            raise self.fail(f"Expression nested too deeply (more than {MAX_DEPTH} levels)",
                            position)
        if isinstance(node, ast.Constant):
            return self.constant(node.value, position)
        if isinstance(node, ast.Name):
            return self.name(node.id, position)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return self.checked(-self.build(node.operand, depth + 1), position, node)
            if isinstance(node.op, ast.UAdd):
                return self.build(node.operand, depth + 1)
            word = "not" if isinstance(node.op, ast.Not) else "~"
            raise self.fail(f"Operator {word!r} is not allowed", position)
        if isinstance(node, ast.BinOp):
            return self.binop(node, depth)
        if isinstance(node, ast.Call):
            return self.call(node, depth, position)
        if isinstance(node, (ast.Attribute, ast.Subscript)):
            self.build(node.value, depth + 1)  # report the leftmost problem first
            position = self.after(node.value, "." if isinstance(node, ast.Attribute) else "[")
        for kind, message in _REFUSED_NODES.items():
            if isinstance(node, kind):
                raise self.fail(message, position)
        raise self.fail(f"{type(node).__name__} is not allowed", position)

    def constant(self, value: Any, position: int | None) -> sympy.Expr:
        if isinstance(value, bool) or value is None or value is Ellipsis:
            raise self.fail(f"{value!r} is not allowed (only numbers, x, y, pi, e)", position)
        if isinstance(value, complex):
            raise self.fail("Complex numbers are not allowed", position)
        if isinstance(value, (str, bytes)):
            raise self.fail("Strings are not allowed", position)
        if isinstance(value, int):
            number: sympy.Expr = sympy.Integer(value)
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise self.fail("Number too large for a float", position)
            number = sympy.Float(repr(value), 17)
        else:
            raise self.fail(f"{type(value).__name__} constants are not allowed", position)
        return self.checked(number, position)

    def name(self, name: str, position: int | None) -> sympy.Expr:
        if name in NAMES:
            return NAMES[name]
        if name.startswith("__"):
            raise self.fail(f"Names starting with '__' are not allowed ({name!r})", position)
        if name in FUNCTIONS:
            raise self.fail(f"{name!r} is a function: call it as {name}(...)", position)
        allowed = ", ".join(NAMES)
        raise self.fail(f"Unknown name {name!r}", position, f" (allowed: {allowed})")

    def binop(self, node: ast.BinOp, depth: int) -> sympy.Expr:
        op = type(node.op)
        if op not in _BINOPS:
            symbol = _REFUSED_OPS.get(op, op.__name__)
            position = self.op_pos(node, symbol)
            raise self.fail(f"Operator {symbol!r} is not allowed (use + - * / **)", position)
        if op is ast.Pow:
            return self.power(node, depth)
        # A flat chain a + b - c ... (or a * b / c ...) is one level, walked without recursion.
        group = _GROUP[op]
        chain: list[ast.BinOp] = []
        first: ast.expr = node
        while isinstance(first, ast.BinOp) and _GROUP.get(type(first.op)) == group:
            chain.append(first)
            first = first.left
        result = self.build(first, depth + 1)
        for link in reversed(chain):
            right = self.build(link.right, depth + 1)
            position = self.op_pos(link, _BINOPS[type(link.op)])
            result = self.arith(type(link.op), result, right, position, link)
        return result

    def power(self, node: ast.BinOp, depth: int) -> sympy.Expr:
        for sub in ast.walk(node.right):
            if isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.Pow):
                raise self.fail(
                    "Power towers are not allowed (a power inside an exponent)",
                    self.op_pos(sub, "**"),
                )
        base = self.build(node.left, depth + 1)
        exponent = self.build(node.right, depth + 1)
        # Compared exactly: a constant exponent is finite and real here (checked).
        if exponent.is_number and bool(abs(exponent) > MAX_EXPONENT):
            where = self.node_pos(node.right)
            raise self.fail(f"Exponent too large (|exponent| ≤ {MAX_EXPONENT})", where)
        return self.arith(ast.Pow, base, exponent, self.op_pos(node, "**"), node)

    def arith(
        self, op: type[ast.operator], a: sympy.Expr, b: sympy.Expr, position: int | None,
        node: ast.AST | None = None,
    ) -> sympy.Expr:
        if op is ast.Pow:
            self.check_power(a, b, position, node)
        elif op in (ast.Mult, ast.Div):
            self.check_roots(_exposed(a)[1] + _exposed(b)[1], position, node)
        try:
            if op is ast.Add:
                result = a + b
            elif op is ast.Sub:
                result = a - b
            elif op is ast.Mult:
                result = a * b
            elif op is ast.Div:
                result = a / b
            else:
                result = a**b
        except ZeroDivisionError:  # e.g. SymPy's Float(1) / Float(0)
            raise self.fail("Undefined value (division by zero)", position) from None
        return self.checked(result, position, node)

    def call(self, node: ast.Call, depth: int, position: int | None) -> sympy.Expr:
        allowed = ", ".join(FUNCTIONS)
        if not isinstance(node.func, ast.Name):
            self.build(node.func, depth + 1)  # refuses what is not allowed (never runs it)
            raise self.fail("Only functions called by name are allowed (write * to multiply)",
                            self.after(node.func, "("))
        name = node.func.id
        if name.startswith("__"):
            raise self.fail(f"Names starting with '__' are not allowed ({name!r})", position)
        if name not in FUNCTIONS:
            what = "a variable, not a function" if name in NAMES else "an unknown function"
            raise self.fail(f"{name!r} is {what}", position, f" (functions: {allowed})")
        if node.keywords:
            kw = node.keywords[0]
            raise self.fail(f"Keyword arguments are not allowed in {name}()", self.node_pos(kw))
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.fail("Starred ('*') arguments are not allowed", self.node_pos(arg))
        fn, arity = FUNCTIONS[name]
        n = len(node.args)
        if arity == _ANY and n < 2:
            raise self.fail(f"{name}() takes two or more arguments ({n} given)", position)
        if arity != _ANY and n != arity:
            need = "one argument" if arity == 1 else f"{arity} arguments"
            raise self.fail(f"{name}() takes {need} ({n} given)", position)
        args = [self.build(arg, depth + 1) for arg in node.args]
        if name == "sqrt":
            self.check_power(args[0], sympy.S.Half, position, node)
        return self.checked(fn(*args), position, node)

    # -- the budget -----------------------------------------------------------------------------

    def _part(self, node: ast.AST | None) -> str:
        text = "" if node is None else self.segment(node)
        return f" in {text}" if text else ""

    def check_power(
        self, base: sympy.Expr, exponent: sympy.Expr, position: int | None, node: ast.AST | None
    ) -> None:
        """Refuse base**exponent before SymPy computes it if it would fold to numbers over budget."""
        bits, _, magnitude = _exposed(base)
        if not exponent.is_number or not exponent.is_comparable:
            return  # a symbolic exponent (2**x) folds nothing
        n = abs(float(exponent))
        if magnitude * n > MAX_FOLDED_EXPONENT:
            raise self.fail(f"Exponent too large after folding{self._part(node)}", position,
                            f": |exponent| {magnitude * n:,.6g} (at most {MAX_FOLDED_EXPONENT:,})")
        if not exponent.is_Rational:
            return  # a decimal exponent gives floating point
        if not exponent.is_Integer:
            self.check_roots(bits, position, node)
        grown = bits * max(1, math.ceil(n))
        if grown > _MAX_BITS:
            raise self.fail(f"Number too large{self._part(node)}", position,
                            f": its exact value would have ~{_digits(grown)} digits (at most {MAX_DIGITS:,}; "
                            f"{_DECIMAL_HINT})")

    def check_roots(self, bits: int, position: int | None, node: ast.AST | None) -> None:
        if bits > _MAX_ROOT_BITS:
            raise self.fail(f"Exact number too large under a fractional power{self._part(node)}", position,
                            f": ~{_digits(bits)} digits (at most {MAX_ROOT_DIGITS}; {_DECIMAL_HINT})")

    def check_size(self, value: sympy.Expr, position: int | None, node: ast.AST | None) -> None:
        """Refuse a built value with too many nodes, too long exact numbers or too large exponents."""
        nodes = _count_nodes(value)
        if nodes > MAX_NODES:
            raise self.fail(f"Expression too large{self._part(node)}", position,
                            f": {nodes:,} nodes after simplification (at most {MAX_NODES:,})")
        for q in value.atoms(sympy.Rational):
            bits = max(int(q.p).bit_length(), int(q.q).bit_length())
            if bits > _MAX_BITS:
                raise self.fail(f"Number too large{self._part(node)}", position,
                                f": ~{_digits(bits)} digits (at most {MAX_DIGITS:,}; {_DECIMAL_HINT})")
        for power in value.atoms(sympy.Pow):
            exp = power.exp
            if exp.is_number and exp.is_comparable and abs(float(exp)) > MAX_FOLDED_EXPONENT:
                raise self.fail(f"Exponent too large after folding{self._part(node)}", position,
                                f": |exponent| {abs(float(exp)):,.6g} (at most {MAX_FOLDED_EXPONENT:,})")

    def checked(self, value: sympy.Expr, position: int | None, node: ast.AST | None = None) -> sympy.Expr:
        """Refuse undefined, infinite, non-real, out-of-range or over-budget constants."""
        if value.has(sympy.zoo, sympy.nan):
            raise self.fail("Undefined value (e.g. division by zero or log(0))", position)
        if value.has(sympy.oo, -sympy.oo):
            raise self.fail("Infinite value", position)
        for atom in value.atoms(sympy.Number):
            if bool(abs(atom) > _FLOAT_MAX):
                raise self.fail("Number too large for a float", position)
        if value.is_number and value.is_extended_real is False:
            raise self.fail("Not a real number (e.g. sqrt(-1), log(-1) or asin(2))",
                            position)
        self.check_size(value, position, node)
        return value


def parse_expression(text: str) -> sympy.Expr:
    """The SymPy expression of ``text``, a function of x and y (real symbols ``X``, ``Y``).

    Raises :class:`ExpressionError` (a ValueError) saying where and why the text is refused.
    """
    return _Parser(text).parse()


# -- numerics ----------------------------------------------------------------------------------

Fn = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _as_float(q: sympy.Rational) -> sympy.Float:
    """The double nearest to q (beyond the float range: a Float that prints as ±inf)."""
    try:
        return sympy.Float(repr(q.p / q.q), 17)  # int / int is correctly rounded
    except OverflowError:
        return sympy.Float(q, 17)


def _floatify(expr: sympy.Expr) -> sympy.Expr:
    """Integers and rationals too big for exact float arithmetic become Floats (→ ±inf)."""
    big = {
        q: _as_float(q)
        for q in expr.atoms(sympy.Rational)
        if abs(q.p) > 2**53 or q.q > 2**53
    }
    return expr.xreplace(big) if big else expr


_NUMPY_EXTRA = {
    "Max2": np.maximum, "Min2": np.minimum, "Sign": np.sign, "AbsVal": np.abs,
    "Step": lambda u: np.heaviside(u, 0.5),
}


def compile_expression(expr: sympy.Expr) -> Fn:
    """A vectorized NumPy function (x, y) -> f(x, y) of a built SymPy expression.

    The result has the broadcast shape of x and y (also for constants), dtype float; complex
    values (a real function undefined there) become NaN, and no floating-point warnings leak.
    """
    raw = sympy.lambdify((X, Y), _floatify(expr), modules=[_NUMPY_EXTRA, "numpy"], cse=True)

    def fn(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        shape = np.broadcast_shapes(x.shape, y.shape)
        with np.errstate(all="ignore"):
            out = np.asarray(raw(x, y))
            if np.iscomplexobj(out):
                out = np.where(out.imag == 0, out.real, np.nan)
            out = out.astype(float, copy=False)
        if out.shape != shape:
            out = np.broadcast_to(out, shape)
        return np.array(out, dtype=float)  # writable, owned

    return fn


def _derivative(expr: sympy.Expr, var: sympy.Symbol) -> sympy.Expr:
    """∂expr/∂var almost everywhere (DiracDelta terms dropped)."""
    d = sympy.diff(expr, var)
    if d.has(sympy.DiracDelta):
        d = d.replace(sympy.DiracDelta, lambda *args: sympy.S.Zero)
    return d


@dataclass(frozen=True)
class CompiledExpression:
    """A typed function ready to evaluate: f, its exact gradient, and their NumPy functions."""

    text: str
    expr: sympy.Expr
    grad_exprs: tuple[sympy.Expr, sympy.Expr]
    f: Fn
    gx: Fn
    gy: Fn


_T = TypeVar("_T")
_CACHE: OrderedDict[str, CompiledExpression] = OrderedDict()
_CACHE_SIZE = 64
_CACHE_LOCK = threading.Lock()


def _compile_text(text: str, stage: list[str]) -> CompiledExpression:
    """Parse, differentiate and compile, recording the current stage in ``stage[0]`` for messages."""
    expr = parse_expression(text)
    stage[0] = "differentiating it"
    grads = (_derivative(expr, X), _derivative(expr, Y))
    for var, g in zip("xy", grads, strict=True):
        nodes = _count_nodes(g)
        if nodes > MAX_GRADIENT_NODES:
            raise ExpressionError(f"Gradient too large: ∂f/∂{var} has {nodes:,} nodes "
                                  f"(at most {MAX_GRADIENT_NODES:,})")
    stage[0] = "compiling it"
    try:
        fns = [compile_expression(e) for e in (expr, *grads)]
    except Exception as exc:  # a SymPy construct NumPy cannot print
        raise ExpressionError(f"Cannot evaluate the expression numerically: {exc}") from None
    return CompiledExpression(text, expr, grads, *fns)


def prepare_expression(text: str) -> CompiledExpression:
    """``text`` parsed, differentiated and compiled within the budget (see the module docstring).

    Thread-safe, and cached by text (the last 64 accepted texts), so calling it off the UI thread
    first makes :class:`~gdstudio.engine.problems.expression.ExpressionProblem` of the same text instant. Raises
    :class:`ExpressionError`, also when the work takes longer than :data:`TIME_LIMIT` seconds
    (naming the stage: parsing, differentiating or compiling).
    """
    if not isinstance(text, str):
        stage = ["parsing it"]
        return _within_budget(lambda: _compile_text(text, stage), stage)
    return _cached(_CACHE, text, _compile_text, "parsing it")


def _within_budget(work: Callable[[], _T], stage: list[str]) -> _T:
    """``work()`` on a worker thread within :data:`TIME_LIMIT`; ExpressionError naming
    ``stage[0]`` (the step it reached) when it runs out of time or recursion depth."""
    try:
        return run_with_deadline(work, TIME_LIMIT, "gdstudio-expression")
    except DeadlineExceeded:
        raise ExpressionError(
            f"Expression too complex: {stage[0]} took more than {TIME_LIMIT:g} s (simplify it)"
        ) from None
    except RecursionError:
        raise ExpressionError(f"Expression too complex: {stage[0]} recursed too deeply (simplify it)") from None


def _cached(cache: OrderedDict[str, _T], text: str, make: Callable[[Any, list[str]], _T], first_stage: str,
            source: Any = None) -> _T:
    """``make(source or text, stage)`` within the budget, kept in the LRU ``cache`` by text."""
    with _CACHE_LOCK:
        if text in cache:
            cache.move_to_end(text)
            return cache[text]
    stage = [first_stage]
    value = _within_budget(lambda: make(text if source is None else source, stage), stage)
    with _CACHE_LOCK:
        cache[text] = value
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
    return value


@dataclass(frozen=True)
class CompiledHessian:
    """A typed function's exact Hessian: (∂²f/∂x², ∂²f/∂x∂y, ∂²f/∂y²) and their NumPy functions."""

    exprs: tuple[sympy.Expr, sympy.Expr, sympy.Expr]
    hxx: Fn
    hxy: Fn
    hyy: Fn


_HESSIANS: OrderedDict[str, CompiledHessian] = OrderedDict()
_HESSIAN_NAMES = ("∂²f/∂x²", "∂²f/∂x∂y", "∂²f/∂y²")


def _hessian_of(compiled: CompiledExpression, stage: list[str]) -> CompiledHessian:
    gx, gy = compiled.grad_exprs
    stage[0] = "differentiating it twice"
    exprs = (_derivative(gx, X), _derivative(gx, Y), _derivative(gy, Y))
    for name, h in zip(_HESSIAN_NAMES, exprs, strict=True):
        nodes = _count_nodes(h)
        if nodes > MAX_GRADIENT_NODES:
            raise ExpressionError(f"Hessian too large: {name} has {nodes:,} nodes (at most {MAX_GRADIENT_NODES:,})")
    stage[0] = "compiling its Hessian"
    try:
        fns = [compile_expression(e) for e in exprs]
    except Exception as exc:  # a SymPy construct NumPy cannot print
        raise ExpressionError(f"Cannot evaluate the Hessian numerically: {exc}") from None
    return CompiledHessian(exprs, *fns)


def prepare_hessian(text: str) -> CompiledHessian:
    """The exact Hessian of ``text`` (after :func:`prepare_expression`), within the same budget.

    Thread-safe and cached by text like :func:`prepare_expression`. Raises
    :class:`ExpressionError` when the text is refused, a second derivative has more than
    :data:`MAX_GRADIENT_NODES` nodes, or the work takes longer than :data:`TIME_LIMIT` seconds.
    """
    compiled = prepare_expression(text)
    return _cached(_HESSIANS, text, _hessian_of, "differentiating it twice", source=compiled)
