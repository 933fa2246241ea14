"""The Training lab's Muon entry: ``torch.optim.Muon`` on each weight matrix, AdamW on the biases.

torch's documentation: Muon "is an optimizer for 2D parameters of neural network hidden layers.
Other parameters, such as bias, and embedding, should be optimized by a standard method such as
AdamW." So a ``muon`` entry steps every weight matrix ``W_l`` with
:func:`~gdstudio.engine.optimizers.muon.muon_matrix_step` (the entry's hyperparameters, the
matrix's shape in torch's ``nn.Linear`` layout (out, in) for the learning-rate adjustment) and
every bias ``b_l`` with the engine's ``adamw`` at :data:`ADAMW_FOR_BIASES`.

Where the AdamW settings come from: torch's documentation names AdamW without settings, so the
biases use ``torch.optim.AdamW``'s own defaults (η 10⁻³, β (0.9, 0.999), ε 10⁻⁸, λ 10⁻²). A
learning-rate schedule scales the AdamW η by the same factor as the entry's Muon η (what torch's
multiplicative schedulers do to a second parameter group); cyclic / onecycle momentum drives
Muon's μ only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gdstudio.engine.hyperparams import Value
from gdstudio.engine.optimizers.base import Optimizer, OptState
from gdstudio.engine.optimizers.muon import MuonParams, muon_matrix_step
from gdstudio.engine.optimizers.registry import get_spec

__all__ = ["ADAMW_FOR_BIASES", "MuonWithAdamW"]

#: ``torch.optim.AdamW``'s defaults, used for the biases of a Muon entry (see the module doc).
ADAMW_LR = 1e-3
ADAMW_FOR_BIASES: dict[str, Value] = {"lr": ADAMW_LR, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 1e-2}


class MuonWithAdamW:
    """Steps the parameters ``[W_1, b_1, …, W_L, b_L]`` of an MLP in place: Muon (``muon``'s
    current hyperparameters, read at every step so schedules drive them) on the weights (even
    positions), AdamW on the biases (odd positions)."""

    def __init__(self, muon: Optimizer, params: Sequence[np.ndarray]) -> None:
        if not isinstance(muon.hp, MuonParams):
            raise ValueError(f"Invalid optimizer for MuonWithAdamW: {muon.name} (must be muon)")
        self.muon = muon
        self.base_lr = float(muon.hp.lr)
        self.adamw = get_spec("adamw").create(ADAMW_FOR_BIASES)
        self.adamw_lr = ADAMW_LR
        self.buffers: dict[int, np.ndarray] = {i: np.zeros_like(p) for i, p in enumerate(params) if i % 2 == 0}
        self.states: dict[int, OptState] = {i: self.adamw.init_state(p) for i, p in enumerate(params) if i % 2 == 1}

    def step(self, params: Sequence[np.ndarray], grads: Sequence[np.ndarray]) -> None:
        """One update of every parameter from its gradient."""
        hp = self.muon.hp
        assert isinstance(hp, MuonParams)
        lr = float(hp.lr)
        scale = lr / self.base_lr if self.base_lr else 1.0
        if float(self.adamw.hp.lr) != self.adamw_lr * scale:
            self.adamw.set_hyperparameters(lr=self.adamw_lr * scale)
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            if i % 2 == 0:
                muon_matrix_step(hp, p, g, self.buffers[i], shape=(p.shape[1], p.shape[0]))
            else:
                self.adamw.step(p, g, self.states[i], record=False)
