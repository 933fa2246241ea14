"""Large N: blocked and multi-core row ranges give exactly the rows' own single-row steps."""

from __future__ import annotations

import numpy as np
import pytest

from gdstudio.engine.optimizers import OPTIMIZERS, base, make_optimizer
from gdstudio.engine.optimizers.objective import BatchObjective, ObjectiveRule
from gdstudio.engine.problems import make_problem


@pytest.mark.parametrize("workers", [1, 2, 3])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_blocked_parallel_update_equals_row_by_row(monkeypatch: pytest.MonkeyPatch, name: str, workers: int) -> None:
    monkeypatch.setattr(base, "BLOCK_ROWS", 7)
    monkeypatch.setattr(base, "PARALLEL_ROWS", 20)
    monkeypatch.setattr(base, "_workers", lambda: workers)
    rng = np.random.default_rng(5)
    n = 101
    p = rng.uniform(-2, 2, (n, 2))
    rows = [p[i : i + 1].copy() for i in range(n)]
    opt = make_optimizer(name, {"lr": 0.05})
    # Rules that evaluate the objective each step (Newton's Hessian) get one; the gradients stay random.
    needs = isinstance(opt, ObjectiveRule) and opt.needs_objective()
    kw = {"objective": BatchObjective(make_problem("rosenbrock"))} if needs else {}
    state = opt.init_state(p)
    row_states = [opt.init_state(r) for r in rows]
    for _ in range(4):
        g = rng.normal(size=(n, 2))
        info = opt.step(p, g, state, **kw)
        pairs = enumerate(zip(rows, row_states, strict=True))
        effs = [opt.step(r, g[i : i + 1], s, **kw).effective_lr for i, (r, s) in pairs]
        np.testing.assert_array_equal(p, np.vstack(rows))
        np.testing.assert_array_equal(info.effective_lr, np.vstack(effs))
