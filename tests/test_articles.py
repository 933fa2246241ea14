"""`gdstudio trace` reproduces the source articles' scenarios, checked against their own loops.

The reference loops below are the articles' code (../shared/seeds), kept as close to the
original as Python allows, run here with plain floats. Only formatting was changed.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from gdstudio.cli import main


def trace(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["trace", *args]) == 0
    return json.loads(capsys.readouterr().out)


# ---------------------------------------------------------------- seed 000: the sigmoid neuron
class SN:
    """Seed 000's sigmoid neuron, GD branch of `fit` (verbatim but for layout)."""

    def __init__(self, w_init: float, b_init: float) -> None:
        self.w, self.b = w_init, b_init
        self.w_h: list[float] = []
        self.b_h: list[float] = []
        self.e_h: list[float] = []

    def sigmoid(self, x, w=None, b=None):
        w = self.w if w is None else w
        b = self.b if b is None else b
        return 1.0 / (1.0 + np.exp(-(w * x + b)))

    def error(self, X, Y):
        err = 0
        for x, y in zip(X, Y):
            err += 0.5 * (self.sigmoid(x) - y) ** 2
        return err

    def grad_w(self, x, y):
        y_pred = self.sigmoid(x)
        return (y_pred - y) * y_pred * (1 - y_pred) * x

    def grad_b(self, x, y):
        y_pred = self.sigmoid(x)
        return (y_pred - y) * y_pred * (1 - y_pred)

    def fit_gd(self, X, Y, epochs, eta):
        for _ in range(epochs):
            dw, db = 0, 0
            for x, y in zip(X, Y):
                dw += self.grad_w(x, y)
                db += self.grad_b(x, y)
            self.w -= eta * dw / X.shape[0]
            self.b -= eta * db / X.shape[0]
            self.w_h.append(self.w)
            self.b_h.append(self.b)
            self.e_h.append(self.error(X, Y))


def test_seed000_gd_on_the_sigmoid_neuron(capsys: pytest.CaptureFixture[str]) -> None:
    X, Y = np.asarray([0.5, 2.5]), np.asarray([0.2, 0.9])
    sn = SN(-2.0, -2.0)
    sn.fit_gd(X, Y, epochs=1000, eta=1)
    out = trace(capsys, "--problem", "sigmoid-neuron", "--optimizer", "gd", "--start=-2,-2", "--steps", "1000",
                "--set", "lr=1", "--tol", "0")
    pts = np.array(out["points"])
    assert out["status"] == "ok" and len(pts) == 1001
    ref = np.column_stack([sn.w_h, sn.b_h])
    np.testing.assert_allclose(pts[1:], ref, rtol=0, atol=1e-10)
    # The article's error is a sum over the two points; ours is the mean.
    np.testing.assert_allclose(np.array(out["loss"][1:]) * 2, sn.e_h, rtol=1e-9, atol=1e-15)
    # The article's figure: the error hovers near its start for a while, then drops to almost zero.
    assert out["loss"][-1] < 1e-6 < out["loss"][0]


# ---------------------------------------------------------------- seed 002: y = w·x
def seed002_gd(w: float, epochs: int, lr: float) -> list[float]:
    x_data, y_data = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0]
    ws = []
    for _ in range(epochs):
        grad = 0
        for x, y in zip(x_data, y_data):
            grad += 2 * x * (x * w - y)
        w -= lr * (grad / len(x_data))
        ws.append(w)
    return ws


def seed002_sgd(w: float, epochs: int, lr: float) -> list[float]:
    x_data, y_data = [1.0, 2.0, 3.0], [4.0, 5.0, 6.0]
    ws = []
    for _ in range(epochs):
        for x, y in zip(x_data, y_data):
            grad = 2 * x * (x * w - y)
            w -= lr * grad
            ws.append(w)
    return ws


def test_seed002_gd_on_a_line_through_the_origin(capsys: pytest.CaptureFixture[str]) -> None:
    out = trace(capsys, "--problem", "line-through-origin", "--optimizer", "gd", "--start=1", "--steps", "100",
                "--set", "lr=0.01", "--tol", "0")
    assert out["params"] == ["w"]
    got = [p[0] for p in out["points"][1:]]
    np.testing.assert_allclose(got, seed002_gd(1.0, 100, 0.01), rtol=0, atol=1e-13)
    # cost at each point: mean (w x - y)^2, computed independently
    w = np.array([p[0] for p in out["points"]])
    x, y = np.array([1.0, 2, 3]), np.array([2.0, 4, 6])
    np.testing.assert_allclose(out["loss"], ((w[:, None] * x - y) ** 2).mean(axis=1), rtol=1e-12)


def test_seed002_in_order_sgd(capsys: pytest.CaptureFixture[str]) -> None:
    out = trace(capsys, "--problem", "line-through-origin", "--optimizer", "gd", "--start=1", "--steps", "300",
                "--set", "lr=0.01", "--batch-size", "1", "--no-shuffle", "--data-x", "1,2,3", "--data-y", "4,5,6",
                "--tol", "0")
    got = [p[0] for p in out["points"][1:]]
    np.testing.assert_allclose(got, seed002_sgd(1.0, 100, 0.01), rtol=0, atol=1e-13)
    assert out["batch_size"] == 1 and out["shuffle"] is False


# ---------------------------------------------------------------- seed 001: the book's comparison
class BookSGD:
    def __init__(self, lr: float) -> None:
        self.lr = lr

    def update(self, params: dict, grads: dict) -> None:
        for key in params:
            params[key] -= self.lr * grads[key]


class BookMomentum:
    def __init__(self, lr: float, momentum: float = 0.9) -> None:
        self.lr, self.momentum, self.v = lr, momentum, None

    def update(self, params: dict, grads: dict) -> None:
        if self.v is None:
            self.v = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params:
            self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
            params[key] += self.v[key]


class BookAdaGrad:
    def __init__(self, lr: float, eps: float = 1e-7) -> None:
        self.lr, self.h, self.eps = lr, None, eps

    def update(self, params: dict, grads: dict) -> None:
        if self.h is None:
            self.h = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params:
            self.h[key] += grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + self.eps)


class BookRMSprop:
    def __init__(self, lr: float, decay_rate: float = 0.99, eps: float = 1e-7) -> None:
        self.lr, self.decay_rate, self.h, self.eps = lr, decay_rate, None, eps

    def update(self, params: dict, grads: dict) -> None:
        if self.h is None:
            self.h = {key: np.zeros_like(val) for key, val in params.items()}
        for key in params:
            self.h[key] *= self.decay_rate
            self.h[key] += (1 - self.decay_rate) * grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + self.eps)


class BookAdam:
    def __init__(self, lr: float, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-7) -> None:
        self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps
        self.iter, self.m, self.v = 0, None, None

    def update(self, params: dict, grads: dict) -> None:
        if self.m is None:
            self.m = {key: np.zeros_like(val) for key, val in params.items()}
            self.v = {key: np.zeros_like(val) for key, val in params.items()}
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for key in params:
            self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
            self.v[key] += (1 - self.beta2) * (grads[key] ** 2 - self.v[key])
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + self.eps)


def book_trajectory(optimizer: object, steps: int = 30) -> np.ndarray:
    params = {"x": -7.0, "y": 2.0}
    hist = []
    for _ in range(steps):
        hist.append((params["x"], params["y"]))
        grads = {"x": params["x"] / 10.0, "y": 2.0 * params["y"]}
        optimizer.update(params, grads)  # type: ignore[attr-defined]
    hist.append((params["x"], params["y"]))
    return np.array(hist, dtype=float)


BOOK_CASES = [
    ("gd", ["--set", "lr=0.95"], BookSGD(0.95), 1e-12),
    ("momentum", ["--set", "lr=0.1"], BookMomentum(0.1), 1e-12),
    ("adagrad", ["--set", "lr=1.5", "--set", "eps=1e-7"], BookAdaGrad(1.5), 1e-12),
    ("rmsprop", ["--set", "lr=0.1", "--set", "alpha=0.99", "--set", "eps=1e-7"], BookRMSprop(0.1), 1e-12),
    # The book adds ε to the uncorrected √v, torch to the corrected one: equal at ε = 0 ...
    ("adam", ["--set", "lr=0.3", "--set", "eps=0"], BookAdam(0.3, eps=0.0), 1e-12),
    # ... and within ε-sized differences at the book's ε = 1e-7.
    ("adam", ["--set", "lr=0.3", "--set", "eps=1e-7"], BookAdam(0.3), 1e-5),
]


@pytest.mark.parametrize(("name", "sets", "book", "tol"), BOOK_CASES, ids=[f"{c[0]}-{c[3]:g}" for c in BOOK_CASES])
def test_seed001_bowl_comparison(capsys: pytest.CaptureFixture[str], name: str, sets: list[str], book: object,
                                 tol: float) -> None:
    out = trace(capsys, "--problem", "bowl", "--optimizer", name, "--start=-7,2", "--steps", "30", "--tol", "0", *sets)
    pts = np.array(out["points"])
    ref = book_trajectory(book)
    assert pts.shape == ref.shape == (31, 2)
    np.testing.assert_allclose(pts, ref, rtol=0, atol=tol * np.maximum(1, np.abs(ref)).max())
