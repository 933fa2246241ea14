"""The MLP: backprop against central finite differences and against a per-sample loop,
numerically stable softmax, He initialization, and float32 training through the engine."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gdstudio.engine.optimizers.registry import OPTIMIZERS, make_optimizer
from gdstudio.train.mlp import MLP


def _problem(sizes, batch=7, seed=0):
    rng = np.random.default_rng(seed)
    net = MLP(sizes[0], sizes[1:-1], sizes[-1], dtype=np.float64)
    params = net.init_params(seed)
    for b in params[1::2]:  # non-zero biases so their gradients are exercised too
        b += 0.1 * rng.standard_normal(b.shape)
    x = rng.standard_normal((batch, sizes[0]))
    y = rng.integers(0, sizes[-1], batch)
    return net, params, x, y


def _reference_loss(params, x, y):
    """A plain per-sample loop: ReLU layers, log-softmax by math.fsum, no vectorization."""
    total = 0.0
    n_layers = len(params) // 2
    for i in range(len(x)):
        a = x[i]
        for l in range(n_layers):
            z = a @ params[2 * l] + params[2 * l + 1][0]
            a = np.maximum(z, 0.0) if l < n_layers - 1 else z
        m = max(a)
        lse = m + math.log(math.fsum(math.exp(v - m) for v in a))
        total += lse - a[y[i]]
    return total / len(x)


@pytest.mark.parametrize("sizes", [(5, 4, 3, 3), (6, 3), (4, 8, 5, 6, 4)], ids=["2-hidden", "no-hidden", "3-hidden"])
def test_backprop_matches_central_differences(sizes):
    net, params, x, y = _problem(sizes)
    loss, grads = net.loss_and_grad(params, x, y)
    assert loss == pytest.approx(_reference_loss(params, x, y), rel=1e-12)
    h = 1e-6
    for k, p in enumerate(params):
        numeric = np.empty_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + h
            up = _reference_loss(params, x, y)
            p[idx] = old - h
            down = _reference_loss(params, x, y)
            p[idx] = old
            numeric[idx] = (up - down) / (2 * h)
        np.testing.assert_allclose(grads[k], numeric, rtol=1e-6, atol=1e-8, err_msg=f"parameter {k}")


def test_gradient_written_into_given_buffers_and_reused_workspace_is_clean():
    net, params, x, y = _problem((5, 4, 3))
    _, fresh = net.loss_and_grad(params, x, y)
    out = net.zeros_like_params()
    for g in out:
        g.fill(123.0)  # stale values must be overwritten, not accumulated
    net.loss_and_grad(params, x[:3], y[:3])  # another batch size in between
    _loss, same = net.loss_and_grad(params, x, y, out)
    assert same is out
    for a, b in zip(fresh, out, strict=True):
        np.testing.assert_array_equal(a, b)


def test_softmax_cross_entropy_is_stable_for_huge_logits():
    net = MLP(2, (), 3, dtype=np.float64)
    params = [np.array([[1e4, 0.0, -1e4], [0.0, 0.0, 0.0]]), np.zeros((1, 3))]
    x = np.array([[1.0, 0.0], [1.0, 0.0]])
    loss, grads = net.loss_and_grad(params, x, np.array([0, 2]))
    # sample 0 is certain and right (loss 0); sample 1 is certain and wrong by 2e4 (loss 2e4)
    assert loss == pytest.approx(1e4, rel=1e-12)
    assert all(np.isfinite(g).all() for g in grads)


def test_he_initialization_scale_and_zero_biases():
    net = MLP(400, (300,), 200, dtype=np.float64)
    w1, b1, w2, b2 = net.init_params(3)
    assert w1.std() == pytest.approx(math.sqrt(2 / 400), rel=0.02)
    assert w2.std() == pytest.approx(math.sqrt(2 / 300), rel=0.02)
    assert abs(w1.mean()) < 3 * math.sqrt(2 / 400) / math.sqrt(w1.size)
    assert not b1.any() and not b2.any()
    assert b1.shape == (1, 300) and w1.shape == (400, 300)
    again = net.init_params(3)
    np.testing.assert_array_equal(w1, again[0])


def test_float32_network_agrees_with_float64():
    n64, params, x, y = _problem((20, 16, 16, 5), batch=32)
    n32 = MLP(20, (16, 16), 5, dtype=np.float32)
    p32 = [p.astype(np.float32) for p in params]
    l64, g64 = n64.loss_and_grad(params, x, y)
    l32, g32 = n32.loss_and_grad(p32, x.astype(np.float32), y)
    assert all(g.dtype == np.float32 for g in g32)
    assert l32 == pytest.approx(l64, rel=1e-5)
    for a, b in zip(g32, g64, strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-6)


def test_predict_and_accuracy_match_logits_argmax():
    net, params, x, y = _problem((5, 4, 3), batch=50)
    pred = net.predict(params, x, chunk=16)  # several chunks, one partial
    np.testing.assert_array_equal(pred, net.logits(params, x).argmax(axis=1))
    assert net.accuracy(params, x, y) == pytest.approx(np.mean(pred == y))


@pytest.mark.parametrize("kwargs, message", [
    ({"n_inputs": 0}, "Invalid n_inputs value: 0"),
    ({"n_inputs": 3, "hidden": (4, 0)}, "Invalid hidden value"),
    ({"n_inputs": 3, "n_classes": 1.5}, "Invalid n_classes value"),
    ({"n_inputs": 3, "dtype": "int32"}, "Invalid dtype value: int32"),
])
def test_bad_network_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MLP(**kwargs)


def test_bad_batch_shapes():
    net, params, x, y = _problem((5, 4, 3))
    with pytest.raises(ValueError, match=r"Invalid x shape: \(7, 4\)"):
        net.loss_and_grad(params, x[:, :4], y)
    with pytest.raises(ValueError, match="Invalid y shape"):
        net.loss_and_grad(params, x, y[:3])


def _parameter_sized(state):
    """The state buffers with one value per parameter (or a history of such: last axis D)."""
    return [b for b in state.buffers.values() if b.ndim >= 2 and b.shape[-1] == 4]


@pytest.mark.parametrize("name", [n for n, s in OPTIMIZERS.items() if not getattr(s.rule, "needs_hessian", False)])
def test_float32_optimizer_step_stays_float32_and_matches_float64(name):
    """The engine's rules on float32 arrays: no upcast of parameters or of the state that has the
    parameters' size (per-row scalars, (N, 1), such as ASGD's η and μ or L-BFGS's counters, may be
    float64), and the same step as in float64 to float32 rounding."""
    rng = np.random.default_rng(1)
    p64 = rng.standard_normal((6, 4))
    p32 = p64.astype(np.float32)
    opt = make_optimizer(name)
    s64, s32 = opt.init_state(p64), opt.init_state(p32)
    assert all(b.dtype == np.float32 for b in _parameter_sized(s32))
    for _ in range(3):
        g = rng.standard_normal((6, 4))
        opt.step(p64, g, s64, record=False)
        opt.step(p32, g.astype(np.float32), s32, record=False)
        assert p32.dtype == np.float32
        assert all(b.dtype == np.float32 for b in _parameter_sized(s32))
    np.testing.assert_allclose(p32, p64, rtol=1e-5, atol=1e-5)
