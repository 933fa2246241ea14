"""Analytic test functions of (x, y) with hand-derived gradients and Hessians (checked by finite differences)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from gdstudio.engine.problems.base import Bounds, Problem

__all__ = ["ANALYTIC", "AnalyticProblem"]

Coord = npt.NDArray[np.float64]
Fn = Callable[[Coord, Coord], Coord]
Grad = Callable[[Coord, Coord], tuple[Coord, Coord]]
#: (∂²f/∂x², ∂²f/∂x∂y, ∂²f/∂y²); each an array or a constant (broadcast to the points).
Hess = Callable[[Coord, Coord], tuple[Coord | float, Coord | float, Coord | float]]


@dataclass(eq=False)
class AnalyticProblem(Problem):
    """f(x, y) given as an elementwise function, its gradient and its Hessian ``d2f``."""

    name: str
    title: str
    formula: str
    f: Fn
    df: Grad
    bounds: Bounds
    start: tuple[float, ...]
    known_minima: tuple[tuple[float, float], ...] = ()
    note: str = ""
    params: tuple[str, ...] = field(default=("x", "y"))
    d2f: Hess | None = None

    @property
    def minima(self) -> np.ndarray:
        return np.array(self.known_minima, dtype=float).reshape(-1, 2)

    def loss(self, points: np.ndarray) -> np.ndarray:
        p = np.asarray(points, dtype=float)
        with np.errstate(all="ignore"):  # overflow far out is a result (inf), not a warning
            return self.f(p[..., 0], p[..., 1])

    def gradient(self, points: np.ndarray, indices: np.ndarray | None = None) -> np.ndarray:
        p = np.asarray(points, dtype=float)
        with np.errstate(all="ignore"):
            gx, gy = self.df(p[..., 0], p[..., 1])
        out = np.empty(p.shape, dtype=float)
        out[..., 0] = gx
        out[..., 1] = gy
        return out

    def hessian(self, points: np.ndarray, indices: np.ndarray | None = None) -> np.ndarray:
        """The exact Hessian (..., 2, 2) from ``d2f`` (see :meth:`Problem.hessian`)."""
        if self.d2f is None:
            return super().hessian(points, indices)
        p = np.asarray(points, dtype=float)
        with np.errstate(all="ignore"):
            hxx, hxy, hyy = self.d2f(p[..., 0], p[..., 1])
        out = np.empty((*p.shape[:-1], 2, 2), dtype=float)
        out[..., 0, 0] = hxx
        out[..., 0, 1] = hxy
        out[..., 1, 0] = hxy
        out[..., 1, 1] = hyy
        return out


def _rosenbrock(x: Coord, y: Coord) -> Coord:
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def _rosenbrock_grad(x: Coord, y: Coord) -> tuple[Coord, Coord]:
    r = y - x * x
    return -2 * (1 - x) - 400 * x * r, 200 * r


def _rosenbrock_hess(x: Coord, y: Coord) -> tuple[Coord, Coord, float]:
    return 2 - 400 * (y - x * x) + 800 * x * x, -400 * x, 200.0


def _beale(x: Coord, y: Coord) -> Coord:
    return (1.5 - x + x * y) ** 2 + (2.25 - x + x * y**2) ** 2 + (2.625 - x + x * y**3) ** 2


def _beale_grad(x: Coord, y: Coord) -> tuple[Coord, Coord]:
    a = 1.5 - x + x * y
    b = 2.25 - x + x * y**2
    c = 2.625 - x + x * y**3
    gx = 2 * a * (y - 1) + 2 * b * (y**2 - 1) + 2 * c * (y**3 - 1)
    gy = 2 * a * x + 2 * b * 2 * x * y + 2 * c * 3 * x * y**2
    return gx, gy


def _beale_hess(x: Coord, y: Coord) -> tuple[Coord, Coord, Coord]:
    a = 1.5 - x + x * y
    b = 2.25 - x + x * y**2
    c = 2.625 - x + x * y**3
    hxx = 2 * (y - 1) ** 2 + 2 * (y**2 - 1) ** 2 + 2 * (y**3 - 1) ** 2
    hxy = 2 * (x * (y - 1) + a) + 4 * (x * y * (y**2 - 1) + b * y) + 6 * (x * y**2 * (y**3 - 1) + c * y**2)
    hyy = 2 * x * x + 4 * x * (2 * x * y * y + b) + 6 * x * (3 * x * y**4 + 2 * c * y)
    return hxx, hxy, hyy


def _himmelblau(x: Coord, y: Coord) -> Coord:
    return (x * x + y - 11) ** 2 + (x + y * y - 7) ** 2


def _himmelblau_grad(x: Coord, y: Coord) -> tuple[Coord, Coord]:
    a = x * x + y - 11
    b = x + y * y - 7
    return 4 * x * a + 2 * b, 2 * a + 4 * y * b


def _himmelblau_hess(x: Coord, y: Coord) -> tuple[Coord, Coord, Coord]:
    return 4 * (x * x + y - 11) + 8 * x * x + 2, 4 * (x + y), 2 + 4 * (x + y * y - 7) + 8 * y * y


def _booth(x: Coord, y: Coord) -> Coord:
    return (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2


def _booth_grad(x: Coord, y: Coord) -> tuple[Coord, Coord]:
    a = x + 2 * y - 7
    b = 2 * x + y - 5
    return 2 * a + 4 * b, 4 * a + 2 * b


def _booth_hess(x: Coord, y: Coord) -> tuple[float, float, float]:
    return 10.0, 8.0, 10.0


def _bowl(x: Coord, y: Coord) -> Coord:
    return x * x / 20.0 + y * y


def _bowl_grad(x: Coord, y: Coord) -> tuple[Coord, Coord]:
    return x / 10.0, 2.0 * y


def _bowl_hess(x: Coord, y: Coord) -> tuple[float, float, float]:
    return 0.1, 0.0, 2.0


def _rotated(x: Coord, y: Coord) -> Coord:
    return 0.1 * (x + y) ** 2 + 2 * (x - y) ** 2


def _rotated_grad(x: Coord, y: Coord) -> tuple[Coord, Coord]:
    s, d = x + y, x - y
    return 0.2 * s + 4 * d, 0.2 * s - 4 * d


def _rotated_hess(x: Coord, y: Coord) -> tuple[float, float, float]:
    return 4.2, -3.8, 4.2


def _saddle(x: Coord, y: Coord) -> Coord:
    return x * x - y * y


def _saddle_grad(x: Coord, y: Coord) -> tuple[Coord, Coord]:
    return 2 * x, -2 * y


def _saddle_hess(x: Coord, y: Coord) -> tuple[float, float, float]:
    return 2.0, 0.0, -2.0


_TAU = 2 * np.pi


def _rastrigin(x: Coord, y: Coord) -> Coord:
    out: Coord = 20 + x * x - 10 * np.cos(_TAU * x) + y * y - 10 * np.cos(_TAU * y)
    return out


def _rastrigin_grad(x: Coord, y: Coord) -> tuple[Coord, Coord]:
    return 2 * x + 10 * _TAU * np.sin(_TAU * x), 2 * y + 10 * _TAU * np.sin(_TAU * y)


def _rastrigin_hess(x: Coord, y: Coord) -> tuple[Coord, float, Coord]:
    return 2 + 10 * _TAU**2 * np.cos(_TAU * x), 0.0, 2 + 10 * _TAU**2 * np.cos(_TAU * y)


def _ackley(x: Coord, y: Coord) -> Coord:
    r = np.sqrt(0.5 * (x * x + y * y))
    return -20 * np.exp(-0.2 * r) - np.exp(0.5 * (np.cos(_TAU * x) + np.cos(_TAU * y))) + np.e + 20


def _ackley_grad(x: Coord, y: Coord) -> tuple[Coord, Coord]:
    r = np.sqrt(0.5 * (x * x + y * y))
    safe = np.where(r > 0, r, 1.0)
    # d/dx of -20 exp(-0.2 r) = 4 exp(-0.2 r) * dr/dx, dr/dx = 0.5 x / r (0 at the origin).
    k = np.where(r > 0, 2.0 * np.exp(-0.2 * r) / safe, 0.0)
    e = np.exp(0.5 * (np.cos(_TAU * x) + np.cos(_TAU * y)))
    return k * x + e * 0.5 * _TAU * np.sin(_TAU * x), k * y + e * 0.5 * _TAU * np.sin(_TAU * y)


def _ackley_hess(x: Coord, y: Coord) -> tuple[Coord, Coord, Coord]:
    """The cone term's Hessian k·I + q·(x, y)ᵀ(x, y), with k = 2e^(−0.2r)/r and q = −e^(−0.2r)(0.2r + 1)/r³,
    plus the cosine term's; at the origin (the cone's tip, no second derivative) the diagonal is +inf."""
    r = np.sqrt(0.5 * (x * x + y * y))
    safe = np.where(r > 0, r, 1.0)
    decay = np.exp(-0.2 * safe)
    k = np.where(r > 0, 2.0 * decay / safe, np.inf)
    q = np.where(r > 0, -decay * (0.2 * safe + 1) / safe**3, 0.0)
    e = np.exp(0.5 * (np.cos(_TAU * x) + np.cos(_TAU * y)))
    sx, sy = np.sin(_TAU * x), np.sin(_TAU * y)
    quarter = 0.25 * _TAU**2
    hxx = k + q * x * x + e * (0.5 * _TAU**2 * np.cos(_TAU * x) - quarter * sx * sx)
    hyy = k + q * y * y + e * (0.5 * _TAU**2 * np.cos(_TAU * y) - quarter * sy * sy)
    return hxx, q * x * y - quarter * e * sx * sy, hyy


def _camel6(x: Coord, y: Coord) -> Coord:
    return (4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (-4 + 4 * y**2) * y**2


def _camel6_grad(x: Coord, y: Coord) -> tuple[Coord, Coord]:
    return 8 * x - 8.4 * x**3 + 2 * x**5 + y, x - 8 * y + 16 * y**3


def _camel6_hess(x: Coord, y: Coord) -> tuple[Coord, float, Coord]:
    return 8 - 25.2 * x**2 + 10 * x**4, 1.0, -8 + 48 * y**2


def _camel3(x: Coord, y: Coord) -> Coord:
    return 2 * x**2 - 1.05 * x**4 + x**6 / 6 + x * y + y**2


def _camel3_grad(x: Coord, y: Coord) -> tuple[Coord, Coord]:
    return 4 * x - 4.2 * x**3 + x**5 + y, x + 2 * y


def _camel3_hess(x: Coord, y: Coord) -> tuple[Coord, float, float]:
    return 4 - 12.6 * x**2 + 5 * x**4, 1.0, 2.0


def _matyas(x: Coord, y: Coord) -> Coord:
    return 0.26 * (x * x + y * y) - 0.48 * x * y


def _matyas_grad(x: Coord, y: Coord) -> tuple[Coord, Coord]:
    return 0.52 * x - 0.48 * y, 0.52 * y - 0.48 * x


def _matyas_hess(x: Coord, y: Coord) -> tuple[float, float, float]:
    return 0.52, -0.48, 0.52


def _styblinski(x: Coord, y: Coord) -> Coord:
    return 0.5 * (x**4 - 16 * x**2 + 5 * x + y**4 - 16 * y**2 + 5 * y)


def _styblinski_grad(x: Coord, y: Coord) -> tuple[Coord, Coord]:
    return 0.5 * (4 * x**3 - 32 * x + 5), 0.5 * (4 * y**3 - 32 * y + 5)


def _styblinski_hess(x: Coord, y: Coord) -> tuple[Coord, float, Coord]:
    return 6 * x**2 - 16, 0.0, 6 * y**2 - 16


def _ravine(x: Coord, y: Coord) -> Coord:
    return 0.02 * x * x + 5 * (y - 0.5 * np.sin(x)) ** 2


def _ravine_grad(x: Coord, y: Coord) -> tuple[Coord, Coord]:
    r = y - 0.5 * np.sin(x)
    return 0.04 * x - 5 * r * np.cos(x), 10 * r


def _ravine_hess(x: Coord, y: Coord) -> tuple[Coord, Coord, float]:
    c = np.cos(x)
    return 0.04 + 2.5 * c * c + 5 * (y - 0.5 * np.sin(x)) * np.sin(x), -5 * c, 10.0


_STYBLINSKI_MIN = -2.903534027771178

ANALYTIC: tuple[AnalyticProblem, ...] = (
    AnalyticProblem("rosenbrock", "Rosenbrock", "(1−x)² + 100(y−x²)²", _rosenbrock, _rosenbrock_grad,
                    ((-2.0, 2.0), (-1.0, 3.0)), (-1.5, 2.0), ((1.0, 1.0),),
                    "a curved banana valley: easy to find, hard to follow", d2f=_rosenbrock_hess),
    AnalyticProblem("beale", "Beale", "(1.5−x+xy)² + (2.25−x+xy²)² + (2.625−x+xy³)²", _beale, _beale_grad,
                    ((-4.5, 4.5), (-4.5, 4.5)), (1.0, 1.4), ((3.0, 0.5),),
                    "flat plateaus and sharp ridges", d2f=_beale_hess),
    AnalyticProblem("himmelblau", "Himmelblau", "(x²+y−11)² + (x+y²−7)²", _himmelblau, _himmelblau_grad,
                    ((-5.0, 5.0), (-5.0, 5.0)), (-0.5, -0.5),
                    ((3.0, 2.0), (-2.805118086952745, 3.131312518250573),
                     (-3.779310253377747, -3.283185991286170), (3.584428340330492, -1.848126526964404)),
                    "four equal minima: where you start decides where you end", d2f=_himmelblau_hess),
    AnalyticProblem("booth", "Booth", "(x+2y−7)² + (2x+y−5)²", _booth, _booth_grad,
                    ((-10.0, 10.0), (-10.0, 10.0)), (-8.0, -6.0), ((1.0, 3.0),), "a plain convex bowl",
                    d2f=_booth_hess),
    AnalyticProblem("bowl", "Elongated bowl (the book's)", "x²/20 + y²", _bowl, _bowl_grad,
                    ((-10.0, 10.0), (-5.0, 5.0)), (-7.0, 2.0), ((0.0, 0.0),),
                    "steep in y, flat in x: SGD zig-zags (seed 001)", d2f=_bowl_hess),
    AnalyticProblem("rotated-bowl", "Rotated bowl", "0.1(x+y)² + 2(x−y)²", _rotated, _rotated_grad,
                    ((-5.0, 5.0), (-5.0, 5.0)), (-4.0, -2.0), ((0.0, 0.0),),
                    "the elongated bowl turned 45°: per-axis methods lose their edge", d2f=_rotated_hess),
    AnalyticProblem("saddle", "Saddle", "x² − y²", _saddle, _saddle_grad,
                    ((-2.0, 2.0), (-2.0, 2.0)), (-1.8, 1e-3), (),
                    "a saddle at the origin, unbounded below along y", d2f=_saddle_hess),
    AnalyticProblem("rastrigin", "Rastrigin", "20 + x² − 10cos 2πx + y² − 10cos 2πy", _rastrigin, _rastrigin_grad,
                    ((-5.12, 5.12), (-5.12, 5.12)), (-3.3, 2.6), ((0.0, 0.0),),
                    "a bowl covered in local minima", d2f=_rastrigin_hess),
    AnalyticProblem("ackley", "Ackley", "−20e^(−0.2√(½(x²+y²))) − e^(½(cos 2πx + cos 2πy)) + e + 20",
                    _ackley, _ackley_grad, ((-5.0, 5.0), (-5.0, 5.0)), (-3.5, 3.2), ((0.0, 0.0),),
                    "a nearly flat outer region with a deep central hole", d2f=_ackley_hess),
    AnalyticProblem("six-hump-camel", "Six-hump camel", "(4 − 2.1x² + x⁴/3)x² + xy + (4y² − 4)y²",
                    _camel6, _camel6_grad, ((-2.0, 2.0), (-1.2, 1.2)), (-1.5, -0.9),
                    ((0.08984201368301331, -0.7126564032704135), (-0.08984201368301331, 0.7126564032704135)),
                    "six local minima, two global", d2f=_camel6_hess),
    AnalyticProblem("three-hump-camel", "Three-hump camel", "2x² − 1.05x⁴ + x⁶/6 + xy + y²",
                    _camel3, _camel3_grad, ((-2.5, 2.5), (-2.5, 2.5)), (-2.0, 2.0), ((0.0, 0.0),),
                    "one global and two local minima", d2f=_camel3_hess),
    AnalyticProblem("matyas", "Matyas", "0.26(x² + y²) − 0.48xy", _matyas, _matyas_grad,
                    ((-10.0, 10.0), (-10.0, 10.0)), (-8.0, 6.0), ((0.0, 0.0),), "a shallow tilted valley",
                    d2f=_matyas_hess),
    AnalyticProblem("styblinski-tang", "Styblinski–Tang", "½(x⁴ − 16x² + 5x + y⁴ − 16y² + 5y)",
                    _styblinski, _styblinski_grad, ((-5.0, 5.0), (-5.0, 5.0)), (0.5, 4.5),
                    ((_STYBLINSKI_MIN, _STYBLINSKI_MIN),), "four basins of different depths", d2f=_styblinski_hess),
    AnalyticProblem("ravine", "Ravine", "0.02x² + 5(y − ½ sin x)²", _ravine, _ravine_grad,
                    ((-10.0, 10.0), (-3.0, 3.0)), (-9.0, 2.0), ((0.0, 0.0),),
                    "a narrow winding valley sloping gently to the minimum: momentum's case (seed 004)",
                    d2f=_ravine_hess),
)
