"""Sessions keep the community optimizers' values JSON cannot hold directly: a reference's None
(Prodigy's β₃, AdEMAMix's T), Prodigy's ∞ growth rate, three betas (Adan)."""

from __future__ import annotations

import json
import math

import numpy as np

from gdstudio.engine.runs import RunConfig
from gdstudio.model import Session, load_session, save_session


def test_none_inf_and_three_betas_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = Session()
    s.add_run(RunConfig("prodigy", (-1.5, 2.0), {"beta3": None, "eps": None, "growth_rate": math.inf, "lr": 0.5}))
    s.add_run(RunConfig("adan", (-1.5, 2.0), {"betas": (0.9, 0.9, 0.999), "lr": 0.01}))
    s.add_run(RunConfig("ademamix", (-1.5, 2.0), {"t_alpha_beta3": None, "lr": 0.01}))
    s.forward(20)
    path = tmp_path / "community.gdsession"
    save_session(s, path)
    doc = json.loads(path.read_text(encoding="utf-8"))  # strict JSON: no Infinity
    assert doc["runs"][0]["hyperparameters"]["growth_rate"] == "inf"
    assert doc["runs"][0]["hyperparameters"]["beta3"] is None
    t = Session()
    load_session(t, path)
    configs = [e.config for e in t.runs]
    assert configs[0].hyperparameters == {"beta3": None, "eps": None, "growth_rate": math.inf, "lr": 0.5}
    assert configs[1].hyperparameters["betas"] == (0.9, 0.9, 0.999)
    assert configs[2].hyperparameters["t_alpha_beta3"] is None
    for a, b in zip(s.runs, t.runs, strict=True):  # recomputed from the restored values: the same points
        np.testing.assert_array_equal(a.run.history.points, b.run.history.points)
