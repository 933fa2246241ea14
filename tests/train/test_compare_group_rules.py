"""compare.py: cyclic momentum keeps β₂ and β₃; Adan's gradient clipping sees the whole network."""

from __future__ import annotations

import numpy as np
import pytest

from gdstudio.engine.optimizers.registry import get_spec
from gdstudio.engine.sampling import BatchSampler
from gdstudio.train.compare import TrainConfig, compare_optimizers, entry_schedules, make_entry
from gdstudio.train.datasets import load_dataset
from gdstudio.train.mlp import MLP


@pytest.mark.parametrize("name", ["adan", "ademamix", "adam"])
def test_cyclic_momentum_sets_beta1_and_keeps_the_other_betas(name):
    entry = make_entry(name)
    opt = entry.create()
    before = tuple(opt.hp.as_dict()["betas"])
    config = TrainConfig(iterations=100, schedule="cyclic", schedule_settings={"base_lr": 1e-4, "max_lr": 1e-3})
    (schedule,) = entry_schedules([entry], [opt], config)
    assert schedule is not None and schedule.target == "betas"
    for _ in range(5):
        schedule.step(1.0)
        betas = tuple(opt.hp.as_dict()["betas"])
        assert len(betas) == len(before)
        assert betas[0] == schedule.schedule.momentum
        assert betas[1:] == before[1:]


def test_adan_clipping_uses_the_norm_of_every_gradient():
    """pytorch_optimizer's Adan clips by the global norm of the group's gradients: the lab's
    second loss equals one engine step on the flattened network, not per-tensor steps."""
    digits = load_dataset("digits", seed=0)
    config = TrainConfig(hidden=(16,), iterations=2, batch_size=64, eval_every=0)
    result = compare_optimizers(digits, [make_entry("adan", {"max_grad_norm": 0.05, "lr": 0.05})], config)

    net = MLP(digits.n_features, config.hidden, digits.n_classes, dtype=config.dtype)
    data = digits.astype(net.dtype)
    rng = np.random.default_rng(config.seed)
    start = net.init_params(rng)
    sampler = BatchSampler(len(data.y_train), config.batch_size, shuffle=True, rng=rng)
    idx1, idx2 = sampler.next(), sampler.next()
    _, grads = net.loss_and_grad(start, data.x_train[idx1], data.y_train[idx1])

    def second_loss(whole: bool) -> float:
        opt = get_spec("adan").create({"max_grad_norm": 0.05, "lr": 0.05})
        params = [p.copy() for p in start]
        if whole:
            flat = np.concatenate([p.reshape(-1) for p in params])[None, :]
            opt.step(flat, np.concatenate([g.reshape(-1) for g in grads])[None, :], opt.init_state(flat), record=False)
            cut = np.cumsum([p.size for p in params])[:-1]
            params = [part.reshape(p.shape) for part, p in zip(np.split(flat[0], cut), params, strict=True)]
        else:
            for p, g in zip(params, grads, strict=True):
                opt.step(p, g, opt.init_state(p), record=False)
        return net.loss(params, data.x_train[idx2], data.y_train[idx2])

    # Same arithmetic in the same order: bit for bit. Per tensor, each array's own norm clips
    # (Adan's normalisation hides most of it in one step: a 2.8e-6 loss difference, measured).
    assert result.losses["adan"][1] == second_loss(True)
    assert abs(second_loss(False) - result.losses["adan"][1]) > 1e-6
