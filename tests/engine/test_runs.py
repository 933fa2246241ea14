"""Runs: determinism, divergence, convergence, noise, mini-batches, histories and validation.

References are independent: the articles' own loops (seeds 000, 002), hand-written gradients
and losses, and the sampler's recorded indices.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from gdstudio.engine import OPTIMIZERS, Run, RunConfig, Status, make_problem
from gdstudio.engine.runs import History


def _run(problem: str, optimizer: str, start, steps: int = 0, **kw) -> Run:
    hp = kw.pop("hp", {})
    p = kw.pop("problem_obj", None) or make_problem(problem)
    r = Run(p, RunConfig(optimizer, tuple(start), hp, **kw))
    if steps:
        r.advance(steps)
    return r


def _assert_same_history(a: History, b: History) -> None:
    assert len(a) == len(b)
    np.testing.assert_array_equal(a.points, b.points)
    np.testing.assert_array_equal(a.loss, b.loss)
    np.testing.assert_array_equal(a.grad_norm, b.grad_norm)
    for name in History.STEP_FIELDS:
        np.testing.assert_array_equal(a.step_array(name), b.step_array(name))


def _assert_consistent(r: Run) -> None:
    h = r.history
    n, d = len(h), r.problem.dim
    assert h.points.shape == (n, d)
    assert h.loss.shape == (n,)
    assert h.steps == max(0, n - 1) == r.steps
    assert h.grad_norm.shape == (h.steps,)
    for name in History.STEP_FIELDS:
        assert h.step_array(name).shape == (h.steps, d), name
    np.testing.assert_array_equal(h.update, np.diff(h.points, axis=0))
    assert np.isfinite(h.points).all() and np.isfinite(h.loss).all()
    if r.status is Status.DIVERGED:
        assert r.diverged_at == n
    else:
        assert r.diverged_at is None


# -- determinism -----------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_same_config_same_history(name):
    a = _run("himmelblau", name, (-0.5, -0.5), 120, hp={"lr": 0.01}, noise=0.3, seed=5)
    b = _run("himmelblau", name, (-0.5, -0.5), 120, hp={"lr": 0.01}, noise=0.3, seed=5)
    _assert_same_history(a.history, b.history)
    _assert_consistent(a)


def test_minibatch_runs_are_deterministic_and_seeded():
    kw = dict(hp={"lr": 0.05}, batch_size=7, seed=11)
    a = _run("linear-regression", "adam", (0, 0), 200, **kw)
    b = _run("linear-regression", "adam", (0, 0), 200, **kw)
    _assert_same_history(a.history, b.history)
    c = _run("linear-regression", "adam", (0, 0), 200, **{**kw, "seed": 12})
    assert not np.array_equal(a.history.points, c.history.points)


def test_many_small_advances_equal_one_big_one():
    """Crosses the history's initial capacity; caching of the exact gradient must not matter."""
    kw = dict(hp={"lr": 0.02, "momentum": 0.9}, batch_size=3, noise=0.1, seed=2, tol=0.0)
    a = _run("sigmoid-neuron", "sgd", (-2, -2), 0, problem_obj=make_problem("sigmoid-neuron", dataset="six-point"),
             **kw)
    for _ in range(700):
        assert a.advance(1) == 1
    b = _run("sigmoid-neuron", "sgd", (-2, -2), 0, problem_obj=make_problem("sigmoid-neuron", dataset="six-point"),
             **kw)
    assert b.advance(300) == 300
    assert b.advance(400) == 400
    _assert_same_history(a.history, b.history)
    assert b.run(750).steps == 750


# -- the articles' loops -----------------------------------------------------------------------

def test_gd_on_line_through_origin_matches_seed_002():
    x_data, y_data = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0]
    w, ws, costs = 1.0, [], []
    for _ in range(100):
        ws.append(w)
        costs.append(sum((x * w - y) ** 2 for x, y in zip(x_data, y_data, strict=True)) / 3)
        w -= 0.01 * sum(2 * x * (x * w - y) for x, y in zip(x_data, y_data, strict=True)) / 3
    ws.append(w)
    r = _run("line-through-origin", "gd", (1.0,), 100, hp={"lr": 0.01}, tol=0.0)
    assert r.status is Status.RUNNING
    np.testing.assert_allclose(r.history.points[:, 0], ws, rtol=1e-14)
    np.testing.assert_allclose(r.history.loss[:100], costs, rtol=1e-13, atol=1e-300)
    _assert_consistent(r)


def test_sgd_on_line_through_origin_matches_seed_002():
    x_data, y_data = [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]
    w, ws = 1.0, [1.0]
    for _ in range(30):
        for x, y in zip(x_data, y_data, strict=True):
            w -= 0.01 * 2 * x * (x * w - y)
            ws.append(w)
    p = make_problem("line-through-origin", dataset="y=x+3")
    r = _run("", "sgd", (1.0,), 90, problem_obj=p, hp={"lr": 0.01}, batch_size=1, shuffle=False, tol=0.0)
    np.testing.assert_allclose(r.history.points[:, 0], ws, rtol=1e-14)


def test_gd_on_sigmoid_neuron_matches_seed_000():
    X, Y = [0.5, 2.5], [0.2, 0.9]

    def sig(w, b, x):
        return 1.0 / (1.0 + math.exp(-(w * x + b)))

    w, b, eta, traj = -2.0, -2.0, 1.0, [(-2.0, -2.0)]
    for _ in range(200):
        dw = sum((sig(w, b, x) - y) * sig(w, b, x) * (1 - sig(w, b, x)) * x for x, y in zip(X, Y, strict=True))
        db = sum((sig(w, b, x) - y) * sig(w, b, x) * (1 - sig(w, b, x)) for x, y in zip(X, Y, strict=True))
        w -= eta * dw / len(X)
        b -= eta * db / len(X)
        traj.append((w, b))
    r = _run("sigmoid-neuron", "gd", (-2.0, -2.0), 200, hp={"lr": eta}, tol=0.0)
    np.testing.assert_allclose(r.history.points, traj, rtol=1e-12, atol=1e-14)


# -- divergence ----------------------------------------------------------------------------------

def _rosen(x, y):
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def _rosen_grad(x, y):
    return np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


def test_divergence_is_a_result(recwarn, capfd):
    # Reference: plain GD until the first point or loss that is not finite.
    ref = [np.array([-1.5, 2.0])]
    with np.errstate(all="ignore"):
        while True:
            nxt = ref[-1] - 1.0 * _rosen_grad(*ref[-1])
            if not (np.isfinite(nxt).all() and np.isfinite(_rosen(*nxt))):
                break
            ref.append(nxt)
    r = _run("rosenbrock", "sgd", (-1.5, 2.0), 0, hp={"lr": 1.0})
    taken = r.advance(50)
    assert r.status is Status.DIVERGED
    assert r.diverged_at == len(r.history.points) == len(ref)
    assert taken == len(ref) - 1
    np.testing.assert_allclose(r.history.points, ref, rtol=1e-13)
    _assert_consistent(r)
    assert r.advance(10) == 0 and r.status is Status.DIVERGED
    assert len(recwarn) == 0
    assert capfd.readouterr() == ("", "")


#: Rules whose step size η does not bound: Rprop's steps are clamped to step_sizes[1], Adafactor's
#: are relative to |θ| (at most max(ε₂, RMS(θ))·min(η, 1/√t)).
UNBOUNDED = {"rprop": {"step_sizes": (1e-6, 1e300)}, "adafactor": {"eps": (1e-30, 1e300)}}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_diverges_quietly(name, recwarn, capfd):
    r = _run("saddle", name, (0.5, 1.0), 0, hp={"lr": 1e300, **UNBOUNDED.get(name, {})})
    r.advance(400)
    assert r.status is Status.DIVERGED, (name, r.history.points[-3:])
    _assert_consistent(r)
    assert len(recwarn) == 0
    assert capfd.readouterr() == ("", "")


def test_start_with_infinite_loss_diverges_at_zero(recwarn, capfd):
    r = _run("rosenbrock", "adam", (1e200, 1e200), 0)
    assert r.status is Status.DIVERGED and r.diverged_at == 0
    assert len(r.history) == 0
    assert r.advance(5) == 0
    _assert_consistent(r)
    assert len(recwarn) == 0
    assert capfd.readouterr() == ("", "")


def test_finite_point_with_infinite_loss_counts_as_divergence():
    # Saddle: y² overflows (loss −inf) long before y itself does.
    r = _run("saddle", "gd", (0.0, 1.0), 0, hp={"lr": 1e3}, tol=0.0)
    r.advance(100)
    assert r.status is Status.DIVERGED
    y_next = float(r.history.points[-1, 1]) * (1 + 2e3)  # gd on −y²: y ← y + 2ηy
    assert math.isfinite(y_next)
    assert math.isinf(make_problem("saddle").loss(np.array([0.0, y_next])))
    _assert_consistent(r)


# -- convergence -----------------------------------------------------------------------------------

def test_converges_when_the_gradient_norm_drops_below_tol():
    tol = 1e-6
    p = make_problem("bowl")
    r = _run("bowl", "gd", (-7.0, 2.0), 0, hp={"lr": 0.5}, tol=tol)
    r.advance(100_000)
    assert r.status is Status.CONVERGED
    norms = np.linalg.norm(p.gradient(r.history.points), axis=1)
    assert norms[-1] < tol
    assert (norms[:-1] >= tol).all()  # it stopped at the first such point
    np.testing.assert_allclose(r.history.grad_norm, norms[:-1], rtol=1e-14)
    assert r.grad_norm == pytest.approx(norms[-1], rel=1e-14)
    assert r.advance(5) == 0 and r.status is Status.CONVERGED
    _assert_consistent(r)


def test_start_at_a_minimum_converges_at_once_unless_tol_is_zero():
    r = _run("rosenbrock", "adam", (1.0, 1.0), 0, tol=1e-8)
    assert r.status is Status.CONVERGED and len(r.history) == 1
    assert r.advance(3) == 0
    never = _run("rosenbrock", "adam", (1.0, 1.0), 0, tol=0.0)
    assert never.advance(200) == 200
    assert never.status is Status.RUNNING
    np.testing.assert_array_equal(never.history.points, np.ones((201, 2)))


def test_tol_zero_never_converges():
    r = _run("booth", "adam", (-8.0, -6.0), 3000, hp={"lr": 0.5}, tol=0.0)
    assert r.status is Status.RUNNING and r.steps == 3000
    assert r.history.grad_norm.min() < 1e-8  # it is at the minimum, yet keeps running


def test_mini_batch_convergence_uses_the_exact_gradient():
    p = make_problem("linear-regression")
    r = _run("", "sgd", (0, 0), 0, problem_obj=p, hp={"lr": 0.2}, batch_size=10, tol=1e-3)
    r.advance(50_000)
    assert r.status is Status.CONVERGED
    assert np.linalg.norm(p.gradient(r.history.points[-1])) < 1e-3


# -- noise -----------------------------------------------------------------------------------------

def test_noise_is_seeded_and_gaussian():
    p = make_problem("bowl")
    kw = dict(hp={"lr": 0.05}, noise=0.5, tol=0.0)
    a = _run("bowl", "sgd", (-7, 2), 2000, seed=1, **kw)
    b = _run("bowl", "sgd", (-7, 2), 2000, seed=1, **kw)
    c = _run("bowl", "sgd", (-7, 2), 2000, seed=2, **kw)
    _assert_same_history(a.history, b.history)
    assert not np.array_equal(a.history.points, c.history.points)
    # grad = exact gradient + σ·N(0, 1), independently per step and coordinate.
    z = (a.history.grad - p.gradient(a.history.points[:-1])) / 0.5
    assert abs(z.mean()) < 0.1
    assert 0.9 < z.std() < 1.1
    assert abs(np.corrcoef(z[:, 0], z[:, 1])[0, 1]) < 0.1
    assert abs(np.corrcoef(z[:-1, 0], z[1:, 0])[0, 1]) < 0.1


def test_noise_changes_the_path_and_zero_noise_is_no_noise():
    base = _run("rosenbrock", "adam", (-1.5, 2.0), 300, hp={"lr": 0.01})
    zero = _run("rosenbrock", "adam", (-1.5, 2.0), 300, hp={"lr": 0.01}, noise=0.0, seed=99)
    noisy = _run("rosenbrock", "adam", (-1.5, 2.0), 300, hp={"lr": 0.01}, noise=1.0)
    _assert_same_history(base.history, zero.history)
    assert not np.array_equal(base.history.points, noisy.history.points)
    # Without noise the recorded gradient is the exact one.
    np.testing.assert_array_equal(base.history.grad, make_problem("rosenbrock").gradient(base.history.points[:-1]))


# -- mini-batches ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("batch_size", "shuffle"), [(32, True), (32, False), (1, True), (100, True), (None, True)])
def test_minibatch_steps_use_the_batch_mean_gradient(batch_size, shuffle):
    p = make_problem("linear-regression")
    x, y = np.linspace(-1, 1, 100), 2 * np.linspace(-1, 1, 100) + 3
    r = Run(p, RunConfig("momentum", (0.0, 0.0), {"lr": 0.05}, batch_size=batch_size, shuffle=shuffle, seed=4,
                         tol=0.0))
    seen: list[np.ndarray] = []
    sampler_next = r.sampler.next

    def spy():
        idx = sampler_next()
        seen.append(np.arange(100) if idx is None else np.array(idx))
        return idx

    r.sampler.next = spy
    r.advance(30)
    assert len(seen) == 30
    for k, idx in enumerate(seen):
        a, b = r.history.points[k]
        res = a * x[idx] + b - y[idx]
        want = np.array([np.mean(2 * res * x[idx]), np.mean(2 * res)])
        np.testing.assert_allclose(r.history.grad[k], want, rtol=1e-12, atol=1e-13)
    full = [np.mean((a * x + b - y) ** 2) for a, b in r.history.points]
    np.testing.assert_allclose(r.history.loss, full, rtol=1e-12)
    b_eff = 100 if batch_size is None else batch_size
    sizes = [len(i) for i in seen]
    per_epoch = -(-100 // b_eff)
    want_sizes = ([b_eff] * (100 // b_eff) + ([100 % b_eff] if 100 % b_eff else [])) * (30 // per_epoch + 1)
    assert sizes == want_sizes[:30]
    if batch_size not in (None, 100) and per_epoch <= len(seen):
        epoch = np.concatenate(seen[:per_epoch])
        np.testing.assert_array_equal(np.sort(epoch), np.arange(100))
        assert np.array_equal(epoch, np.arange(100)) == (not shuffle)


def test_analytic_gradient_noise_on_data_problem_too():
    p = make_problem("sigmoid-neuron")
    a = _run("", "gd", (-2, -2), 50, problem_obj=p, hp={"lr": 1.0}, noise=0.0)
    b = _run("", "gd", (-2, -2), 50, problem_obj=p, hp={"lr": 1.0}, noise=0.2)
    assert not np.array_equal(a.history.points, b.history.points)


# -- histories -------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("problem", ["six-hump-camel", "line-through-origin"])
def test_history_arrays_are_consistent(name, problem):
    start = make_problem(problem).start
    r = _run(problem, name, start, 25, hp={"lr": 0.01}, tol=0.0)
    assert r.steps == 25
    _assert_consistent(r)
    h = r.history
    spec = OPTIMIZERS[name]
    opt = spec.create({"lr": 0.01})
    has_first = opt.first_moment_buffer is not None and opt.first_moment_buffer in opt._buffers()
    has_second = opt.second_moment_buffer is not None and opt.second_moment_buffer in opt._buffers()
    assert np.isnan(h.first_moment).all() == (not has_first)
    assert np.isfinite(h.first_moment).all() == has_first
    assert np.isnan(h.second_moment).all() == (not has_second)
    assert np.isfinite(h.effective_lr).all()
    # Loss recorded is the loss at the recorded points.
    np.testing.assert_array_equal(h.loss, r.problem.loss(h.points))


def test_sgd_internals():
    r = _run("bowl", "momentum", (-7, 2), 10, hp={"lr": 0.1}, tol=0.0)
    h = r.history
    np.testing.assert_array_equal(h.effective_lr, np.full((10, 2), 0.1))
    # torch's buffer b_t = μ b_{t−1} + g_t, and θ moves by −η b_t.
    np.testing.assert_allclose(h.update, -0.1 * h.first_moment, rtol=1e-13, atol=1e-15)
    b = np.zeros(2)
    for k in range(10):
        b = 0.9 * b + h.grad[k] if k else h.grad[k]
        np.testing.assert_allclose(h.first_moment[k], b, rtol=1e-15)


# -- validation ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("problem", "config", "match"), [
    ("booth", RunConfig("nope", (0, 0)), "Unknown optimizer: 'nope'"),
    ("booth", RunConfig("sgd", (0, 0), {"lr": -1.0}), "Invalid lr value: -1.0"),
    ("booth", RunConfig("sgd", (0, 0), {"bogus": 1.0}), "Unknown hyperparameter for sgd: bogus"),
    ("booth", RunConfig("sgd", (0,)), r"Invalid start: 1 value\(s\) for 2 parameter\(s\) \(x, y\)"),
    ("booth", RunConfig("sgd", (0, math.nan)), "Invalid start"),
    ("booth", RunConfig("sgd", (0, math.inf)), "Invalid start"),
    ("booth", RunConfig("sgd", ("a", 0)), "Invalid start"),
    ("booth", RunConfig("sgd", (0, 0), noise=-0.1), "Invalid noise value: -0.1"),
    ("booth", RunConfig("sgd", (0, 0), noise=math.nan), "Invalid noise value: nan"),
    ("booth", RunConfig("sgd", (0, 0), noise="0.1"), "Invalid noise value: '0.1'"),
    ("booth", RunConfig("sgd", (0, 0), tol=-1.0), "Invalid tol value: -1.0"),
    ("booth", RunConfig("sgd", (0, 0), seed=-1), "Invalid seed value: -1"),
    ("booth", RunConfig("sgd", (0, 0), seed=1.5), "Invalid seed value: 1.5"),
    ("booth", RunConfig("sgd", (0, 0), shuffle="yes"), "Invalid shuffle value"),
    ("booth", RunConfig("sgd", (0, 0), batch_size=4), "Invalid batch_size value: 4 .*has no data"),
    ("linear-regression", RunConfig("sgd", (0, 0), batch_size=0), "Invalid batch_size value: 0"),
    ("linear-regression", RunConfig("sgd", (0, 0), batch_size=2.0), "Invalid batch_size value: 2.0"),
    ("line-through-origin", RunConfig("sgd", (0, 0)), r"Invalid start: 2 value\(s\) for 1 parameter\(s\) \(w\)"),
])
def test_invalid_configs_raise_value_error(problem, config, match):
    with pytest.raises(ValueError, match=match):
        Run(make_problem(problem), config)


def test_advance_arguments():
    r = _run("booth", "sgd", (0, 0), 0)
    assert r.advance(0) == 0 and r.advance(-3) == 0
    with pytest.raises(ValueError, match="Invalid k value"):
        r.advance(1.5)  # type: ignore[arg-type]
    assert r.advance(np.int64(2)) == 2
    assert r.run(10).steps == 10
    assert r.run(5).steps == 10  # never goes back


def test_hyperparameters_are_resolved():
    r = _run("booth", "nag", (0, 0), 0, hp={"lr": 0.02})
    assert r.hyperparameters["momentum"] == 0.9
    assert r.hyperparameters["nesterov"] is True
    assert r.hyperparameters["lr"] == 0.02
