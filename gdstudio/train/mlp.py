r"""A NumPy multilayer perceptron: ReLU hidden layers, softmax cross-entropy, He initialization.

Layers ``l = 1..L`` with weights ``W_l`` (d_{l-1}, d_l) and biases ``b_l`` (1, d_l), each its
own 2-D array so the engine's optimizers (which update (N, D) arrays in place) step them as
they are. For a mini-batch ``X`` (B, d_0) with labels ``y``:

.. math::
    a_0 = X,\quad z_l = a_{l-1} W_l + b_l,\quad a_l = \max(z_l, 0)\ (l < L),\quad z_L = \text{logits} \\
    \mathcal{L} = \frac1B \sum_i \Big(\log\sum_k e^{z_{L,ik} - m_i} - (z_{L,iy_i} - m_i)\Big),
    \quad m_i = \max_k z_{L,ik}

Backward: ``δ_L = (softmax(z_L) − onehot(y)) / B``; ``∇W_l = a_{l-1}ᵀ δ_l``,
``∇b_l = Σ_i δ_l``, ``δ_{l-1} = (δ_l W_lᵀ) ⊙ [a_{l-1} > 0]``.
He initialization (as the book's ``weight_init_std='relu'``): ``W_l ~ N(0, 2/d_{l-1})``,
``b_l = 0``.

The network object holds only sizes, dtype and scratch buffers (reused across calls for each
batch size); parameters are plain lists ``[W_1, b_1, …, W_L, b_L]`` so several optimizers can
share one network and one set of buffers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["MLP", "Params"]

Params = list[np.ndarray]


class _Workspace:
    """Scratch buffers for one batch size: activations, deltas, ReLU masks."""

    def __init__(self, batch: int, sizes: Sequence[int], dtype: np.dtype) -> None:
        self.acts = [np.empty((batch, d), dtype) for d in sizes[1:]]   # a_1..a_{L-1}, then z_L
        self.deltas = [np.empty((batch, d), dtype) for d in sizes[1:]]  # δ_1..δ_L
        self.masks = [np.empty((batch, d), np.bool_) for d in sizes[1:-1]]
        self.rows = np.arange(batch)


class MLP:
    """A fully connected ReLU network with a softmax cross-entropy loss.

    ``n_inputs`` → ``hidden`` (default four layers of 100, as in the book) → ``n_classes``.
    ``dtype`` is the dtype of parameters, buffers and computation (float32 or float64).
    """

    def __init__(self, n_inputs: int, hidden: Sequence[int] = (100, 100, 100, 100), n_classes: int = 10,
                 *, dtype: np.dtype | type | str = np.float32) -> None:
        for what, value in (("n_inputs", n_inputs), ("n_classes", n_classes)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Invalid {what} value: {value!r} (must be a whole number ≥ 1)")
        hidden = tuple(hidden)
        for h in hidden:
            if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or h < 1:
                raise ValueError(f"Invalid hidden value: {list(hidden)!r} (layer sizes must be whole numbers ≥ 1)")
        dt = np.dtype(dtype)
        if dt not in (np.float32, np.float64):
            raise ValueError(f"Invalid dtype value: {dt} (must be float32 or float64)")
        self.sizes: tuple[int, ...] = (int(n_inputs), *(int(h) for h in hidden), int(n_classes))
        self.dtype = dt
        self._spaces: dict[int, _Workspace] = {}

    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1

    @property
    def shapes(self) -> list[tuple[int, int]]:
        """Shapes of ``[W_1, b_1, …, W_L, b_L]``."""
        out: list[tuple[int, int]] = []
        for d_in, d_out in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            out += [(d_in, d_out), (1, d_out)]
        return out

    def init_params(self, seed: int | np.random.Generator = 0) -> Params:
        """He-initialized parameters: ``W_l ~ N(0, 2/d_{l-1})`` (drawn in float64, then cast), ``b_l = 0``."""
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        params: Params = []
        for d_in, d_out in zip(self.sizes[:-1], self.sizes[1:], strict=True):
            params.append((rng.standard_normal((d_in, d_out)) * np.sqrt(2.0 / d_in)).astype(self.dtype))
            params.append(np.zeros((1, d_out), self.dtype))
        return params

    def zeros_like_params(self) -> Params:
        return [np.zeros(s, self.dtype) for s in self.shapes]

    def _space(self, batch: int) -> _Workspace:
        ws = self._spaces.get(batch)
        if ws is None:
            if len(self._spaces) >= 4:  # batch sizes seen: the training size, its tail, eval chunks
                self._spaces.pop(next(iter(self._spaces)))
            ws = self._spaces[batch] = _Workspace(batch, self.sizes, self.dtype)
        return ws

    def _check_x(self, x: np.ndarray) -> np.ndarray:
        if x.ndim != 2 or x.shape[1] != self.sizes[0]:
            raise ValueError(f"Invalid x shape: {x.shape} (expected (batch, {self.sizes[0]}))")
        return x if x.dtype == self.dtype else x.astype(self.dtype)

    # -- forward -----------------------------------------------------------------------
    def _forward(self, params: Params, x: np.ndarray, ws: _Workspace) -> np.ndarray:
        """Fill the workspace's activations; return the logits buffer z_L (valid until the next call)."""
        a = x
        last = self.n_layers - 1
        for l in range(self.n_layers):
            z = ws.acts[l]
            np.matmul(a, params[2 * l], out=z)
            z += params[2 * l + 1]
            if l < last:
                np.maximum(z, 0, out=z)
            a = z
        return a

    def logits(self, params: Params, x: np.ndarray) -> np.ndarray:
        """The output scores z_L (a fresh array)."""
        x = self._check_x(x)
        return self._forward(params, x, self._space(x.shape[0])).copy()

    def _softmax_xent(self, z: np.ndarray, y: np.ndarray, ws: _Workspace, want_grad: bool) -> float:
        """Mean cross-entropy of logits ``z`` (shifted in place); δ_L written to ``ws.deltas[-1]``."""
        rows = ws.rows[: z.shape[0]]
        z -= z.max(axis=1, keepdims=True)
        zy = z[rows, y]
        e = ws.deltas[-1]
        np.exp(z, out=e)
        s = e.sum(axis=1, keepdims=True)
        loss = float(np.mean(np.log(s[:, 0], dtype=np.float64) - zy))
        if want_grad:
            e *= 1.0 / s
            e[rows, y] -= 1.0
            e *= 1.0 / z.shape[0]
        return loss

    def loss(self, params: Params, x: np.ndarray, y: np.ndarray) -> float:
        """Mean softmax cross-entropy over the batch."""
        x = self._check_x(x)
        ws = self._space(x.shape[0])
        with np.errstate(all="ignore"):
            return self._softmax_xent(self._forward(params, x, ws), np.asarray(y), ws, want_grad=False)

    def loss_and_grad(self, params: Params, x: np.ndarray, y: np.ndarray, grads: Params | None = None
                      ) -> tuple[float, Params]:
        """The batch loss and its gradient w.r.t. every parameter (written into ``grads`` if given)."""
        x = self._check_x(x)
        y = np.asarray(y)
        if y.shape != (x.shape[0],):
            raise ValueError(f"Invalid y shape: {y.shape} (expected ({x.shape[0]},))")
        if grads is None:
            grads = self.zeros_like_params()
        ws = self._space(x.shape[0])
        with np.errstate(all="ignore"):  # a diverged network gives NaN/inf, reported, never warned
            loss = self._backprop(params, x, y, ws, grads)
        return loss, grads

    def _backprop(self, params: Params, x: np.ndarray, y: np.ndarray, ws: _Workspace, grads: Params) -> float:
        z = self._forward(params, x, ws)
        loss = self._softmax_xent(z, y, ws, want_grad=True)
        for l in range(self.n_layers - 1, -1, -1):
            delta = ws.deltas[l]
            a_prev = x if l == 0 else ws.acts[l - 1]
            np.matmul(a_prev.T, delta, out=grads[2 * l])
            np.sum(delta, axis=0, keepdims=True, out=grads[2 * l + 1])
            if l > 0:
                back = ws.deltas[l - 1]
                np.matmul(delta, params[2 * l].T, out=back)
                mask = ws.masks[l - 1]
                np.greater(a_prev, 0, out=mask)
                np.multiply(back, mask, out=back)
        return loss

    # -- evaluation --------------------------------------------------------------------
    def predict(self, params: Params, x: np.ndarray, *, chunk: int = 2048) -> np.ndarray:
        """Predicted classes (argmax of the logits), evaluated ``chunk`` rows at a time."""
        x = self._check_x(x)
        out = np.empty(x.shape[0], np.int64)
        with np.errstate(all="ignore"):
            for lo in range(0, x.shape[0], chunk):
                part = x[lo : lo + chunk]
                out[lo : lo + len(part)] = self._forward(params, part, self._space(len(part))).argmax(axis=1)
        return out

    def accuracy(self, params: Params, x: np.ndarray, y: np.ndarray, *, chunk: int = 2048) -> float:
        """Fraction of rows whose predicted class equals ``y``."""
        if len(y) == 0:
            return float("nan")
        return float(np.mean(self.predict(params, x, chunk=chunk) == np.asarray(y)))
