"""Problems: losses against independent scalar references, gradients against central finite
differences (also on mini-batches), known minima, shapes, grids and the registry."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from gdstudio.engine.problems import ANALYTIC, DATASETS, PROBLEMS, DataProblem, Problem, make_problem
from gdstudio.engine.problems.data import LinearRegression, LineThroughOrigin, SigmoidNeuron

TAU = 2 * math.pi

# Independent references: each function written again from its textbook definition, one point at
# a time with the math module (no shared code with gdstudio.engine.problems.analytic).
REF_ANALYTIC = {
    "rosenbrock": lambda x, y: (1 - x) ** 2 + 100 * (y - x**2) ** 2,
    "beale": lambda x, y: sum((c - x * (1 - y**k)) ** 2 for k, c in ((1, 1.5), (2, 2.25), (3, 2.625))),
    "himmelblau": lambda x, y: (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2,
    "booth": lambda x, y: (x + 2 * y - 7) ** 2 + (2 * x + y - 5) ** 2,
    "bowl": lambda x, y: x**2 / 20 + y**2,
    "rotated-bowl": lambda x, y: 0.1 * (x + y) ** 2 + 2 * (x - y) ** 2,
    "saddle": lambda x, y: x**2 - y**2,
    "rastrigin": lambda x, y: 10 * 2 + sum(v**2 - 10 * math.cos(TAU * v) for v in (x, y)),
    "ackley": lambda x, y: (-20 * math.exp(-0.2 * math.sqrt((x**2 + y**2) / 2))
                            - math.exp((math.cos(TAU * x) + math.cos(TAU * y)) / 2) + math.e + 20),
    "six-hump-camel": lambda x, y: (4 - 2.1 * x**2 + x**4 / 3) * x**2 + x * y + (-4 + 4 * y**2) * y**2,
    "three-hump-camel": lambda x, y: 2 * x**2 - 1.05 * x**4 + x**6 / 6 + x * y + y**2,
    "matyas": lambda x, y: 0.26 * (x**2 + y**2) - 0.48 * x * y,
    "styblinski-tang": lambda x, y: sum(v**4 - 16 * v**2 + 5 * v for v in (x, y)) / 2,
    "ravine": lambda x, y: 0.02 * x**2 + 5 * (y - 0.5 * math.sin(x)) ** 2,
}


def _ref_sample_loss(name: str, theta: tuple[float, ...], x: float, y: float) -> float:
    """The articles' per-sample losses (seeds 000, 002, 003), one sample at a time."""
    if name == "sigmoid-neuron":
        w, b = theta
        z = w * x + b
        yp = 1.0 / (1.0 + math.exp(-z)) if z > -700 else 0.0
        return 0.5 * (yp - y) ** 2
    if name == "linear-regression":
        a, b = theta
        return (a * x + b - y) ** 2
    if name == "line-through-origin":
        (w,) = theta
        return (w * x - y) ** 2
    raise AssertionError(name)


def ref_loss(problem: Problem, point, indices=None) -> float:
    """Independent loss at one point: the analytic formula, or the mean over the data subset."""
    point = tuple(float(v) for v in np.asarray(point).ravel())
    if isinstance(problem, DataProblem):
        idx = range(problem.n_samples) if indices is None else indices
        vals = [_ref_sample_loss(problem.name, point, float(problem.x[i]), float(problem.y[i])) for i in idx]
        return math.fsum(vals) / len(vals)
    return REF_ANALYTIC[problem.name](*point)


def _data_problems() -> list[DataProblem]:
    rng = np.random.default_rng(7)
    xs = rng.normal(0, 2, 57)
    return [
        SigmoidNeuron(),
        make_problem("sigmoid-neuron", dataset="six-point"),
        make_problem("sigmoid-neuron", data_x=xs, data_y=rng.uniform(0, 1, 57)),
        LinearRegression(),
        make_problem("linear-regression", data_x=xs, data_y=3 * xs - 1 + rng.normal(0, 0.5, 57)),
        LineThroughOrigin(),
        make_problem("line-through-origin", dataset="y=x+3"),
    ]


DATA = _data_problems()
ALL: list[Problem] = [*ANALYTIC, *DATA]


def _id(p: Problem) -> str:
    return f"{p.name}[{getattr(p, 'dataset', '')}{getattr(p, 'n_samples', '') or ''}]"


def _random_points(problem: Problem, n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    lo = np.array([b[0] for b in problem.bounds])
    hi = np.array([b[1] for b in problem.bounds])
    return lo + (hi - lo) * rng.random((n, problem.dim))


def _fd_gradient(f, point: np.ndarray) -> np.ndarray:
    """Central differences with a step relative to the coordinate's size."""
    g = np.empty(point.size)
    for d in range(point.size):
        h = 1e-6 * max(1.0, abs(point[d]))
        up, dn = point.copy(), point.copy()
        up[d] += h
        dn[d] -= h
        g[d] = (f(up) - f(dn)) / (up[d] - dn[d])
    return g


def _assert_fd_close(g: np.ndarray, fd: np.ndarray, fscale: float, what: str) -> None:
    # FD error: rounding ~ eps·|f|/h plus truncation ~ h²·f''' (tiny here).
    atol = 1e-7 * max(1.0, fscale) + 1e-7
    np.testing.assert_allclose(g, fd, rtol=1e-6, atol=atol, err_msg=what)


# -- the catalogue ------------------------------------------------------------------------------

def test_spec_problems_are_registered():
    for name in ("rosenbrock", "beale", "himmelblau", "booth", "bowl", "rotated-bowl", "saddle",
                 "rastrigin", "ackley", "six-hump-camel", "three-hump-camel", "matyas", "styblinski-tang",
                 "ravine", "sigmoid-neuron", "linear-regression", "line-through-origin"):
        assert name in PROBLEMS
        p = make_problem(name)
        assert p.name == name
        assert p.formula and p.title
        assert len(p.params) == p.dim == len(p.bounds) == len(p.start)
        assert all(lo < hi for lo, hi in p.bounds)
        assert np.all(np.isfinite(p.loss(np.array(p.start))))
    assert set(REF_ANALYTIC) == {p.name for p in ANALYTIC}


def test_book_bowl_and_default_data_match_the_articles():
    bowl = make_problem("bowl")
    assert bowl.start == (-7.0, 2.0)  # seed 001's start
    s = make_problem("sigmoid-neuron")
    np.testing.assert_array_equal(s.x, [0.5, 2.5])
    np.testing.assert_array_equal(s.y, [0.2, 0.9])
    six = make_problem("sigmoid-neuron", dataset="six-point")
    np.testing.assert_array_equal(six.x, [3.5, 0.35, 3.2, -2.0, 1.5, -0.5])
    np.testing.assert_array_equal(six.y, [0.5, 0.5, 0.5, 0.5, 0.1, 0.3])
    lr = make_problem("linear-regression")
    np.testing.assert_array_equal(lr.x, np.linspace(-1, 1, 100))
    np.testing.assert_allclose(lr.y, [2 * x + 3 for x in np.linspace(-1, 1, 100)], rtol=0, atol=1e-15)
    named = make_problem("linear-regression", dataset="line-2x+3")
    np.testing.assert_array_equal(named.x, lr.x)
    np.testing.assert_array_equal(named.y, lr.y)
    line = make_problem("line-through-origin")
    assert line.dim == 1
    np.testing.assert_array_equal(line.x, [1, 2, 3])
    np.testing.assert_array_equal(line.y, [2, 4, 6])


@pytest.mark.parametrize("problem", ALL, ids=_id)
def test_loss_matches_independent_reference(problem):
    pts = _random_points(problem, 40, seed=1)
    got = problem.loss(pts)
    want = np.array([ref_loss(problem, p) for p in pts])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


# -- gradients ------------------------------------------------------------------------------------

@pytest.mark.parametrize("problem", ALL, ids=_id)
def test_gradient_matches_finite_differences(problem):
    pts = _random_points(problem, 60, seed=2)
    grads = problem.gradient(pts)
    assert grads.shape == pts.shape
    for p, g in zip(pts, grads, strict=True):
        fd = _fd_gradient(lambda q: ref_loss(problem, q), p)
        _assert_fd_close(g, fd, abs(ref_loss(problem, p)), f"{problem.name} at {p}")


@pytest.mark.parametrize("problem", DATA, ids=_id)
def test_minibatch_gradient_is_fd_of_the_subset_mean(problem):
    rng = np.random.default_rng(3)
    n = problem.n_samples
    pts = _random_points(problem, 25, seed=4)
    for p in pts:
        size = int(rng.integers(1, n + 1))
        idx = rng.choice(n, size=size, replace=False)
        g = problem.gradient(p, idx)
        assert g.shape == p.shape
        fd = _fd_gradient(lambda q, idx=idx: ref_loss(problem, q, idx), p)
        _assert_fd_close(g, fd, abs(ref_loss(problem, p, idx)), f"{problem.name} at {p} on {idx}")
    # The same batch for many points at once equals the per-point answers.
    idx = rng.choice(n, size=max(1, n // 2), replace=False)
    many = problem.gradient(pts, idx)
    one_by_one = np.array([problem.gradient(p, idx) for p in pts])
    np.testing.assert_allclose(many, one_by_one, rtol=1e-13, atol=1e-15)
    # Repeated indices count twice (a batch is a multiset).
    rep = np.array([0, 0, n - 1])
    fd = _fd_gradient(lambda q: ref_loss(problem, q, rep), pts[0])
    _assert_fd_close(problem.gradient(pts[0], rep), fd, abs(ref_loss(problem, pts[0], rep)), "repeated")


@pytest.mark.parametrize("problem", [p for p in ANALYTIC], ids=_id)
def test_analytic_gradient_ignores_indices(problem):
    pts = _random_points(problem, 5, seed=5)
    np.testing.assert_array_equal(problem.gradient(pts, np.array([0, 1])), problem.gradient(pts))


# -- minima ---------------------------------------------------------------------------------------

EXPECT_NO_MINIMA = {"saddle"}


@pytest.mark.parametrize("problem", ALL, ids=_id)
def test_known_minima_are_stationary_and_lowest(problem):
    mins = problem.minima
    assert mins.ndim == 2 and mins.shape[1] == problem.dim
    # No closed form: the saddle has none; a sigmoid neuron only when it can fit 2 points exactly.
    if problem.name in EXPECT_NO_MINIMA or (problem.name == "sigmoid-neuron" and problem.n_samples != 2):
        assert problem.name != "sigmoid-neuron" or len(mins) == 0
        return
    assert len(mins) >= 1, f"{problem.name} lists no minimum"
    pts = _random_points(problem, 2000, seed=6)
    lowest_random = float(np.min(problem.loss(pts)))
    for m in mins:
        g = problem.gradient(m)
        assert np.linalg.norm(g) < 1e-7, f"{problem.name}: gradient {g} at minimum {m}"
        f_min = ref_loss(problem, m)
        assert f_min <= lowest_random + 1e-12
        # A minimum, not a saddle: the FD Hessian (from the exact gradient) is positive semidefinite.
        hess = np.array([_fd_gradient(lambda q, d=d: problem.gradient(q)[d], m) for d in range(problem.dim)])
        eig = np.linalg.eigvalsh(0.5 * (hess + hess.T))
        assert eig.min() > -1e-5 * max(1.0, abs(eig).max()), f"{problem.name}: Hessian eigenvalues {eig}"
    # Several listed minima of one problem are global minima together: equal losses.
    vals = problem.loss(mins)
    np.testing.assert_allclose(vals, vals.min(), rtol=0, atol=1e-10)


def test_saddle_is_a_saddle():
    s = make_problem("saddle")
    np.testing.assert_array_equal(s.gradient(np.zeros(2)), [0.0, 0.0])
    assert s.loss(np.array([0.0, 1.0])) < 0 < s.loss(np.array([1.0, 0.0]))


# -- shapes and grids -----------------------------------------------------------------------------

@pytest.mark.parametrize("problem", ALL, ids=_id)
def test_loss_and_gradient_on_any_shape(problem):
    d = problem.dim
    one = np.array(problem.start, dtype=float)
    assert np.shape(problem.loss(one)) == ()
    assert problem.gradient(one).shape == (d,)
    pts = _random_points(problem, 12, seed=8)
    assert problem.loss(pts).shape == (12,)
    cube = pts.reshape(3, 4, d)
    np.testing.assert_array_equal(problem.loss(cube), problem.loss(pts).reshape(3, 4))
    np.testing.assert_array_equal(problem.gradient(cube), problem.gradient(pts).reshape(3, 4, d))
    for i, p in enumerate(pts):
        assert problem.loss(pts)[i] == pytest.approx(float(problem.loss(p)), rel=1e-14, abs=1e-300)


@pytest.mark.parametrize("problem", ALL, ids=_id)
def test_grid_matches_a_direct_loop(problem):
    res = 11
    surf = problem.grid(res)
    xs = np.linspace(*problem.bounds[0], res)
    np.testing.assert_array_equal(surf.xs, xs)
    if problem.dim == 1:
        assert surf.ys is None and surf.z.shape == (res,)
        want = np.array([ref_loss(problem, [x]) for x in xs])
    else:
        ys = np.linspace(*problem.bounds[1], res)
        np.testing.assert_array_equal(surf.ys, ys)
        assert surf.z.shape == (res, res)
        want = np.array([[ref_loss(problem, [x, y]) for x in xs] for y in ys])  # rows are y
    scale = max(1.0, float(np.max(np.abs(want))))
    np.testing.assert_allclose(surf.z, want, rtol=1e-10, atol=1e-12 * scale)


@pytest.mark.parametrize("problem", [p for p in ALL if p.dim == 2], ids=_id)
def test_grid_with_custom_bounds_is_not_transposed(problem):
    bounds = ((-0.5, 1.5), (0.25, 0.75))
    surf = problem.grid(7, bounds)
    xx, yy = np.meshgrid(np.linspace(-0.5, 1.5, 7), np.linspace(0.25, 0.75, 7))
    want = np.vectorize(lambda x, y: ref_loss(problem, [x, y]))(xx, yy)
    np.testing.assert_allclose(surf.z, want, rtol=1e-10, atol=1e-12)


def _naive_data_grid(problem: DataProblem, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """mean over samples by plain broadcasting (small sizes only), with a stable sigmoid."""
    w = xs[None, :, None]
    b = ys[:, None, None]
    x, y = problem.x[None, None, :], problem.y[None, None, :]
    if problem.name == "sigmoid-neuron":
        z = w * x + b
        with np.errstate(over="ignore"):
            yp = np.where(z >= 0, 1 / (1 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1 + np.exp(-np.abs(z))))
        return np.mean(0.5 * (yp - y) ** 2, axis=-1)
    return np.mean((w * x + b - y) ** 2, axis=-1)


@pytest.mark.parametrize("name", ["sigmoid-neuron", "linear-regression"])
def test_optimized_data_grids_match_the_naive_mean(name):
    rng = np.random.default_rng(9)
    x = rng.normal(0, 1.5, 1000)
    y = rng.uniform(0, 1, 1000) if name == "sigmoid-neuron" else 2 * x + 3 + rng.normal(0, 1, 1000)
    for problem in (make_problem(name), make_problem(name, data_x=x, data_y=y)):
        surf = problem.grid(48)
        want = _naive_data_grid(problem, surf.xs, surf.ys)
        np.testing.assert_allclose(surf.z, want, rtol=1e-9, atol=1e-12 * max(1.0, want.max()))


def test_sigmoid_grid_stays_finite_on_extreme_views(recwarn):
    """e^(−wx)·e^(−b) would be inf·0 here; the grid must still equal the mean loss."""
    p = make_problem("sigmoid-neuron", dataset="six-point")
    surf = p.grid(33, ((-400.0, 400.0), (-900.0, 900.0)))
    assert np.all(np.isfinite(surf.z))
    np.testing.assert_allclose(surf.z, _naive_data_grid(p, surf.xs, surf.ys), rtol=1e-9, atol=1e-15)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_grid_overflow_is_silent(recwarn, capfd):
    z = make_problem("rosenbrock").grid(9, ((-1e200, 1e200), (-1e200, 1e200))).z
    assert np.isinf(z).any()
    make_problem("sigmoid-neuron").grid(9, ((-1e300, 1e300), (-1e300, 1e300)))
    assert len(recwarn) == 0
    assert capfd.readouterr() == ("", "")


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"resolution": 1}, "Invalid resolution value: 1"),
    ({"resolution": 0}, "Invalid resolution value: 0"),
    ({"resolution": 2.5}, "Invalid resolution value: 2.5"),
    ({"bounds": ((1.0, 0.0), (0.0, 1.0))}, "Invalid bounds value"),
    ({"bounds": ((0.0, 1.0),)}, "Invalid bounds value"),
    ({"bounds": ((0.0, math.inf), (0.0, 1.0))}, "Invalid bounds value"),
])
def test_grid_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_problem("booth").grid(**kwargs)


# -- registry and data validation -----------------------------------------------------------------

def test_every_named_dataset_builds():
    for name, sets in DATASETS.items():
        assert set(PROBLEMS[name].datasets) == set(sets)
        for ds, (x, y) in sets.items():
            p = make_problem(name, dataset=ds)
            assert p.dataset == ds
            np.testing.assert_array_equal(p.x, x)
            np.testing.assert_array_equal(p.y, y)


def test_user_data_is_copied_and_frozen():
    x = np.array([0.0, 1.0, 2.0])
    y = np.array([0.1, 0.5, 0.9])
    p = make_problem("sigmoid-neuron", data_x=x, data_y=y)
    before = float(p.loss(np.array([1.0, 0.0])))
    x[:] = 100.0
    assert float(p.loss(np.array([1.0, 0.0]))) == before
    with pytest.raises(ValueError):
        p.x[0] = 5.0


@pytest.mark.parametrize(("args", "kwargs", "match"), [
    (("nope",), {}, "Unknown problem: 'nope'"),
    (("rosenbrock",), {"data_x": [1.0], "data_y": [2.0]}, "analytic and takes no data"),
    (("rosenbrock",), {"dataset": "two-point"}, "analytic and takes no data"),
    (("sigmoid-neuron",), {"data_x": [1.0]}, "both x and y"),
    (("sigmoid-neuron",), {"data_x": [1.0], "data_y": [0.5], "dataset": "six-point"}, "not both"),
    (("sigmoid-neuron",), {"dataset": "nine-point"}, "Unknown dataset for sigmoid-neuron: 'nine-point'"),
    (("linear-regression",), {"data_x": [1.0, 2.0], "data_y": [1.0]}, "2 x values but 1 y values"),
    (("linear-regression",), {"data_x": [], "data_y": []}, "no data points"),
    (("line-through-origin",), {"data_x": [1.0, math.nan], "data_y": [1.0, 2.0]}, "finite"),
    (("line-through-origin",), {"data_x": ["a"], "data_y": [1.0]}, "Invalid data"),
    (("booth",), {"expr": "x**2"}, "only for the custom problem"),
])
def test_make_problem_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_problem(*args, **kwargs)


def test_linear_regression_needs_both_x_and_y():
    with pytest.raises(ValueError, match="both x and y"):
        LinearRegression(x=[1.0, 2.0])


def test_names_are_case_insensitive():
    assert make_problem(" Rosenbrock ").name == "rosenbrock"


def test_no_warnings_from_problems_at_huge_points():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for p in ALL:
            big = np.full(p.dim, 1e200)
            p.loss(big)
            p.gradient(big)
            p.grid(5, tuple((-1e250, 1e250) for _ in range(p.dim)))


# ------------------------------------------------------------------------------ predict (the fit view's model)
# Per-sample losses written on ŷ alone (the articles' forms): the loss must be their mean over the data.
_LOSS_OF_PREDICTION = {
    "sigmoid-neuron": lambda yhat, y: 0.5 * (yhat - y) ** 2,
    "linear-regression": lambda yhat, y: (yhat - y) ** 2,
    "line-through-origin": lambda yhat, y: (yhat - y) ** 2,
}


@pytest.mark.parametrize("name", sorted(_LOSS_OF_PREDICTION))
def test_loss_is_the_mean_per_sample_loss_of_predict(name: str) -> None:
    rng = np.random.default_rng(7)
    for dataset in DATASETS[name]:
        p = make_problem(name, dataset=dataset)
        thetas = rng.uniform(-3, 3, size=(25, p.dim))
        yhat = p.predict(thetas, p.x)  # (N, n_samples)
        assert yhat.shape == (25, p.n_samples)
        want = _LOSS_OF_PREDICTION[name](yhat, p.y[None, :]).mean(axis=1)
        np.testing.assert_allclose(p.loss(thetas), want, rtol=1e-13, atol=1e-15)
        # one parameter vector gives x's shape; a row of the batch is the same values
        np.testing.assert_array_equal(p.predict(thetas[3], p.x), yhat[3])


def test_predict_closed_forms() -> None:
    x = np.array([-2.0, 0.0, 0.5, 3.0])
    s = SigmoidNeuron()
    np.testing.assert_allclose(s.predict([2.0, -1.0], x), [1 / (1 + math.exp(-(2 * v - 1))) for v in x], rtol=1e-15)
    lin = LinearRegression()
    np.testing.assert_array_equal(lin.predict([2.0, 3.0], x), 2 * x + 3)
    o = LineThroughOrigin()
    np.testing.assert_array_equal(o.predict([[2.0], [-1.0]], x), np.stack([2 * x, -x]))
    # any shape of x; the least-squares line through the data predicts the data exactly
    grid = np.linspace(-1, 1, 12).reshape(3, 4)
    assert lin.predict(lin.minima[0], grid).shape == (3, 4)
    np.testing.assert_allclose(lin.predict(lin.minima[0], lin.x), lin.y, atol=1e-12)


def test_predict_extremes_and_bad_shapes() -> None:
    s = SigmoidNeuron()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = s.predict([1e308, 0.0], [-10.0, 10.0])  # overflow is a value, not a warning
    np.testing.assert_array_equal(out, [0.0, 1.0])
    assert np.isnan(LinearRegression().predict([np.nan, 0.0], [1.0])).all()
    for bad in ([1.0, 2.0, 3.0], [[[1.0, 2.0]]], 5.0):
        with pytest.raises(ValueError, match="Invalid params shape"):
            s.predict(bad, [0.0])
