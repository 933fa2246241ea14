"""LaTeX of the optimizers' docstrings and explained quantities -> plain Unicode text for labels,
tooltips and the text output of ``gdstudio explain`` (Qt-free: a utilities-layer module).

Only the small subset the update rules use: ``\\frac``, ``\\sqrt``, ``\\text``, Greek letters,
accents (``\\hat m`` -> m̂), sub/superscripts (``v_{t-1}`` -> vₜ₋₁, ``g_t^2`` -> gₜ²), spacing
commands and ``&``/``\\\\`` alignment. Unknown commands keep their name without the backslash.
"""

from __future__ import annotations

import re

__all__ = ["latex_to_text", "rule_text", "symbol_text"]

_SYMBOLS = {
    "leftarrow": "←", "rightarrow": "→", "nabla": "∇", "theta": "θ", "eta": "η", "beta": "β",
    "epsilon": "ε", "lambda": "λ", "mu": "μ", "tau": "τ", "rho": "ρ", "gamma": "γ", "alpha": "α",
    "delta": "δ", "Delta": "Δ", "psi": "ψ", "Pi": "Π", "infty": "∞", "cdot": "·", "max": "max",
    "min": "min", "qquad": "    ", "quad": "  ", "left": "", "right": "", "ge": "≥", "le": "≤",
    "sum": "Σ", "odot": "⊙", "times": "×", "sigma": "σ", "ell": "ℓ",
}
_ACCENTS = {"hat": "\u0302", "tilde": "\u0303", "bar": "\u0304"}
_SUB = str.maketrans("0123456789+-=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ")
_SUP = str.maketrans("0123456789+-=()nit", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵗ")
_SUB_OK = set("0123456789+-=()aehijklmnoprstuvx")
_SUP_OK = set("0123456789+-=()nit")
_FRACTIONS = {"12": "½", "13": "⅓", "14": "¼"}


class _Reader:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def group(self) -> str:
        """The next argument: a {...} group, a \\command, or one character (converted)."""
        while self.peek() == " ":
            self.i += 1
        c = self.peek()
        if c == "{":
            depth, start = 0, self.i
            while self.i < len(self.s):
                ch = self.s[self.i]
                depth += (ch == "{") - (ch == "}")
                self.i += 1
                if depth == 0:
                    break
            return _convert(self.s[start + 1 : self.i - 1])
        if c == "\\":
            return self.command()
        self.i += 1
        return c

    def command(self) -> str:
        self.i += 1  # the backslash
        m = re.match(r"[A-Za-z]+", self.s[self.i :])
        if not m:  # "\\", "\,", "\ " ...
            ch = self.peek()
            self.i += 1
            return "\n" if ch == "\\" else " " if ch in ", ;:" else ch
        name = m.group(0)
        self.i += len(name)
        if name in ("frac", "tfrac", "dfrac"):
            num, den = self.group(), self.group()
            if name == "tfrac" and num + den in _FRACTIONS:
                return _FRACTIONS[num + den]
            return f"{_wrap(num)}/{_wrap(den)}"
        if name == "sqrt":
            return f"√{_wrap(self.group())}"
        if name == "text":
            return self.group().replace("\\_", "_")
        if name in _ACCENTS:
            return self.group() + _ACCENTS[name]
        return _SYMBOLS.get(name, name)


def _wrap(text: str) -> str:
    simple = re.fullmatch(r"[\w\u0300-\u036f₀-₉ₐ-ₜ⁰-⁹ᵗⁿ]+", text)
    return text if simple else f"({text})"


def _script(text: str, table: dict, ok: set[str], mark: str) -> str:
    if text and all(c in ok for c in text):
        return text.translate(table)
    return f"{mark}{text}" if len(text) == 1 else f"{mark}({text})"


def _convert(text: str) -> str:
    r = _Reader(text)
    out: list[str] = []
    while r.i < len(r.s):
        c = r.peek()
        if c == "\\":
            out.append(r.command())
        elif c in "_^":
            r.i += 1
            arg = r.group()
            out.append(_script(arg, _SUB, _SUB_OK, "_") if c == "_" else _script(arg, _SUP, _SUP_OK, "^"))
        elif c == "&":
            r.i += 1
        elif c in "{}":
            out.append(r.group() if c == "{" else "")
            if c == "}":
                r.i += 1
        else:
            out.append(c)
            r.i += 1
    return "".join(out)


def latex_to_text(tex: str) -> str:
    """Plain Unicode text of a LaTeX formula (one line per ``\\\\``), spaces tidied."""
    lines = _convert(tex).split("\n")
    return "\n".join(re.sub(r"[ \t]+", " ", line).strip() for line in lines if line.strip())


def rule_text(doc: str) -> str:
    """The update rule of an optimizer docstring: its ``.. math::`` block, converted, then the prose."""
    lines = doc.strip("\n").splitlines()
    title = lines[0].strip().replace("``", "") if lines else ""
    math_lines: list[str] = []
    prose: list[str] = []
    in_math = False
    for line in lines[1:]:
        stripped = line.strip()
        if stripped.startswith(".. math::"):
            in_math = True
            rest = stripped[len(".. math::") :].strip()
            if rest:
                math_lines.append(rest)
            continue
        if in_math and (stripped and not line.startswith("        ")):
            in_math = False
        if in_math:
            math_lines.append(stripped)
        elif stripped:
            prose.append(stripped.replace("``", ""))
    parts = [title]
    if math_lines:
        parts.append(latex_to_text(" ".join(math_lines).replace("\\\\", "\\\\\n")))
    if prose:
        parts.append(" ".join(prose))
    return "\n\n".join(p for p in parts if p)


def symbol_text(latex: str) -> str:
    """A row's LaTeX symbol as plain Unicode (``\\texttt{exp\\_avg}`` → exp_avg)."""
    tex = re.sub(r"\\(?:texttt|mathrm|mathbf|operatorname|textrm)\b", r"\\text", latex)
    tex = tex.replace(r"^{\text{eff}}", "ᵉᶠᶠ").replace(r"\vartheta", "ϑ").replace(r"\varepsilon", "ε")
    return latex_to_text(tex)
