"""Learning-rate schedules on the command line: ``--schedule NAME``, ``--schedule-set KEY=VALUE``
and ``--warmup N`` for `gdstudio trace` and `gdstudio train`, and the schedules in `gdstudio list`.

The rates are checked against closed forms (torch's formulas written out here) and against
:func:`gdstudio.engine.schedules.preview_schedule` (tested against torch's own sequences in
tests/engine); bad names and values exit with status 2 and one line.
"""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from gdstudio.cli import main
from gdstudio.engine.schedules import SCHEDULES, preview_schedule, validate_schedule
from gdstudio.train.compare import TrainConfig, compare_optimizers, entry_schedules, make_entry
from gdstudio.train.datasets import load_dataset

TRAIN = ["train", "--iterations", "24", "--hidden", "8", "--batch-size", "32", "--quiet", "--eval-every", "0"]


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", seed=0)


# ---------------------------------------------------------------------------------------------
# gdstudio list
# ---------------------------------------------------------------------------------------------
def test_list_prints_every_schedule_with_its_keywords(capsys) -> None:
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    section = out.split("Learning-rate schedules")[1].splitlines()[1:]
    assert len(section) == 2 * len(SCHEDULES)
    for (head, keywords), spec in zip(zip(section[::2], section[1::2], strict=True), SCHEDULES.values(), strict=True):
        assert head.split()[0] == spec.name and f"{spec.torch_class}:" in head
        assert [k.strip().split("=")[0] for k in keywords.split("  ") if k.strip()] == [p.name for p in spec.params]
    assert "  multistep" in out and "milestones=30,80  gamma=0.1" in out


# ---------------------------------------------------------------------------------------------
# gdstudio trace
# ---------------------------------------------------------------------------------------------
TRACE = ["trace", "--problem", "bowl", "--optimizer", "sgd", "--start=-7,2", "--set", "lr=0.05"]


def trace(capsys, *args: str) -> dict:
    code, out, err = run_cli(capsys, *TRACE, *args)
    assert code == 0, err
    return json.loads(out)


def test_trace_lr_is_the_rate_each_step_used(capsys) -> None:
    """lr[k] is the rate step k+1 used: warm-up N from η/N, then StepLR counted from its end."""
    d = trace(capsys, "--steps", "12", "--schedule", "step", "--schedule-set", "step_size=3",
              "--schedule-set", "gamma=0.5", "--warmup", "4")
    expected = [0.05 * (1 / 4 + (1 - 1 / 4) * k / 4) for k in range(4)]
    expected += [0.05 * 0.5 ** ((k - 4) // 3) for k in range(4, 12)]
    np.testing.assert_allclose(d["lr"], expected, rtol=1e-15, atol=0)
    assert len(d["lr"]) == d["steps"] == 12 and len(d["points"]) == 13
    assert (d["schedule"], d["warmup"]) == ("step", 4)
    assert d["schedule_settings"] == {"step_size": 3, "gamma": 0.5}


def test_trace_cosine_spans_the_steps_after_the_warm_up(capsys) -> None:
    """T_max defaults to --steps − --warmup: the last step uses η_min + (η − η_min)(1 + cos(π·(T−1)/T))/2."""
    d = trace(capsys, "--steps", "30", "--schedule", "cosine", "--schedule-set", "eta_min=0.01", "--warmup", "5")
    assert d["schedule_settings"]["T_max"] == 25
    closed = [0.01 + (0.05 - 0.01) * (1 + math.cos(math.pi * t / 25)) / 2 for t in range(25)]
    np.testing.assert_allclose(d["lr"][5:], closed, rtol=1e-12, atol=0)


def test_trace_constant_schedule_equals_the_scaled_rate(capsys) -> None:
    """ConstantLR(factor=0.5) over every step moves exactly as η/2 without a schedule."""
    scheduled = trace(capsys, "--steps", "40", "--schedule", "constant", "--schedule-set", "factor=0.5",
                      "--schedule-set", "total_iters=40")
    plain = json.loads(run_cli(capsys, *TRACE[:-1], "lr=0.025", "--steps", "40")[1])
    assert scheduled["points"] == plain["points"] and scheduled["lr"] == plain["lr"] == [0.025] * 40
    assert trace(capsys, "--steps", "40")["points"] != plain["points"]


def test_trace_plateau_cuts_eta_when_the_loss_stalls(capsys) -> None:
    """Noisy SGD on the bowl stalls near the minimum: plateau (patience 0) cuts η there; lr[k]
    follows torch's rule applied to the full loss after each step."""
    d = trace(capsys, "--steps", "60", "--noise", "2", "--schedule", "plateau", "--schedule-set", "patience=0",
              "--schedule-set", "factor=0.5")
    best, lr, expected = math.inf, 0.05, [0.05]
    for loss in d["loss"][1:-1]:  # the loss after step k decides the rate of step k+1
        if loss < best * (1 - 1e-4):  # threshold_mode rel, threshold 1e-4
            best = loss
        elif lr - lr * 0.5 > 1e-8:  # torch skips a cut smaller than eps
            lr *= 0.5
        expected.append(lr)
    assert d["lr"] == pytest.approx(expected, rel=1e-15) and min(d["lr"]) < 0.05


def test_render_builds_its_run_with_the_schedule() -> None:
    from gdstudio.cli import build_parser
    from gdstudio.export import render_options

    args = build_parser().parse_args(["render", "--problem", "bowl", "--optimizer", "adam", "--schedule", "cosine",
                                      "--warmup", "3", "--steps", "20", "--out", "x.gif"])
    session, steps = render_options.session_from_args(args, render_options.check_sources(args))
    config = session.runs[0].config
    assert (config.schedule, dict(config.schedule_settings), config.warmup, steps) == (
        "cosine", {"T_max": 17, "eta_min": 0.0}, 3, 20)


TRACE_BAD = [
    (["--schedule", "cosinus"], "Unknown schedule: 'cosinus' (known: step, multistep,"),
    (["--schedule-set", "gamma=0.5"], "Invalid --schedule-set 'gamma=0.5' (give --schedule NAME"),
    (["--schedule", "multistep", "--schedule-set", "milestones=30,x"], "Invalid milestones value"),
    (["--schedule", "exponential", "--schedule-set", "gamma=0"], "Invalid gamma value: 0.0"),
    (["--schedule", "cosine", "--schedule-set", "T_max=0"], "Invalid T_max value"),
    (["--warmup", "-3"], "Invalid warmup value: -3 (must be a whole number ≥ 0)"),
    (["--schedule", "plateau", "--warmup", "2"], "plateau cannot follow a warm-up"),
    (["--schedule", "onecycle", "--optimizer", "adagrad"], "adagrad has no momentum or betas to cycle"),
]


@pytest.mark.parametrize(("args", "message"), TRACE_BAD, ids=[" ".join(a) for a, _ in TRACE_BAD])
def test_trace_bad_schedule_is_one_line_and_status_2(capsys, args, message) -> None:
    code, out, err = run_cli(capsys, *TRACE, *args)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gdstudio trace: error: "), err
    assert message in lines[0]


def test_render_refuses_a_schedule_for_a_preset(capsys, tmp_path) -> None:
    code, _, err = run_cli(capsys, "render", "--preset", "himmelblau", "--schedule", "cosine", "--out",
                           str(tmp_path / "a.gif"))
    assert code == 2
    assert err.strip() == ("gdstudio render: error: --schedule applies only with --problem (--preset defines its "
                           "own runs)")


# ---------------------------------------------------------------------------------------------
# gdstudio train
# ---------------------------------------------------------------------------------------------
def _train(digits, names, **schedule):
    config = TrainConfig(hidden=(8,), iterations=30, batch_size=32, eval_every=0, **schedule)
    return compare_optimizers(digits, names, config)


def test_train_multistep_with_warmup_uses_torchs_rates(digits) -> None:
    """Warm-up N then MultiStepLR: update k (1-based) uses η·k/N for k ≤ N (LinearLR from 1/N),
    then η·γ^(milestones passed), the milestones counted from the end of the warm-up."""
    r = _train(digits, ["sgd", "adam"], schedule="multistep", schedule_settings={"milestones": (5, 12), "gamma": 0.5},
               warmup=4)
    for label, eta in (("sgd", 0.01), ("adam", 0.001)):
        expected = []
        for k in range(1, 31):
            if k <= 4:
                expected.append(eta * (1 / 4 + (1 - 1 / 4) * (k - 1) / 4))
            else:
                t = k - 1 - 4  # the main schedule's own steps
                expected.append(eta * 0.5 ** sum(t >= m for m in (5, 12)))
        np.testing.assert_allclose(r.lrs[label], expected, rtol=1e-15, atol=0)
        assert r.hyperparams[label]["lr"] == eta  # the entry's own η, not the last scheduled rate


@pytest.mark.parametrize("name, settings", [("cosine", {}), ("onecycle", {}), ("exponential", {"gamma": 0.9}),
                                            ("cosine-restarts", {"T_0": 7}), ("cyclic", {"step_size_up": 4})])
def test_train_rates_are_the_schedules_preview(digits, name, settings) -> None:
    r = _train(digits, ["momentum", "adam"], schedule=name, schedule_settings=settings)
    values = validate_schedule(name, settings, horizon=30)
    for label, eta in (("momentum", 0.01), ("adam", 0.001)):
        np.testing.assert_array_equal(r.lrs[label], preview_schedule(name, values, eta, 30)["lr"])


def test_train_plateau_watches_each_entrys_recorded_loss(digits) -> None:
    settings = {"patience": 0, "factor": 0.5, "threshold": 0.0}
    r = _train(digits, ["sgd"], schedule="plateau", schedule_settings=settings)
    expected = preview_schedule("plateau", validate_schedule("plateau", settings), 0.01, 30, losses=r.losses["sgd"])
    np.testing.assert_array_equal(r.lrs["sgd"], expected["lr"])
    assert r.lrs["sgd"][-1] < 0.01  # the mini-batch loss does not improve at every step: η was cut


def test_train_constant_schedule_equals_the_scaled_rate(digits) -> None:
    """ConstantLR(factor=0.5) over the whole run trains exactly as η/2 without a schedule."""
    scheduled = _train(digits, ["sgd"], schedule="constant", schedule_settings={"factor": 0.5, "total_iters": 30})
    config = TrainConfig(hidden=(8,), iterations=30, batch_size=32, eval_every=0)
    plain = compare_optimizers(digits, [make_entry("sgd", {"lr": 0.005})], config)
    np.testing.assert_array_equal(scheduled.losses["sgd"], plain.losses["sgd"])
    assert not np.array_equal(scheduled.losses["sgd"], _train(digits, ["sgd"]).losses["sgd"])


def test_train_one_cycle_cycles_beta1_and_momentum_as_torch(digits) -> None:
    """OneCycleLR starts at max_lr/div_factor with β₁ (or the momentum) at max_momentum; β₂ stays."""
    config = TrainConfig(hidden=(8,), iterations=30, schedule="onecycle")
    entries = [make_entry("adam", label="adam"), make_entry("momentum", label="momentum")]
    opts = [e.create() for e in entries]
    entry_schedules(entries, opts, config)
    adam, momentum = (o.hp.as_dict() for o in opts)
    assert adam["betas"] == (0.95, 0.999) and adam["lr"] == pytest.approx(0.001 / 25, rel=1e-15)
    assert momentum["momentum"] == 0.95 and momentum["lr"] == pytest.approx(0.01 / 25, rel=1e-15)


def test_train_cli_with_a_schedule_writes_the_curves(tmp_path, capsys) -> None:
    out = tmp_path / "c.csv"
    code, _, err = run_cli(capsys, *TRAIN, "--optimizers", "sgd,adam", "--schedule", "multistep",
                           "--schedule-set", "milestones=5,12", "--schedule-set", "gamma=0.5", "--warmup", "3",
                           "--out", str(out))
    assert code == 0, err
    rows = list(csv.reader(out.open()))
    assert rows[0][:3] == ["iteration", "loss_sgd", "loss_adam"] and len(rows) == 25
    assert all(math.isfinite(float(v)) for v in rows[-1][1:3])


TRAIN_BAD = [
    (["--schedule", "cosinus"], "Unknown schedule: 'cosinus' (known: step, multistep,"),
    (["--schedule-set", "gamma=0.5"], "Invalid --schedule-set 'gamma=0.5' (give --schedule NAME"),
    (["--schedule", "step", "--schedule-set", "gamma"], "Invalid --schedule-set 'gamma' (expected KEY=VALUE"),
    (["--schedule", "step", "--schedule-set", "gamma=-1"], "Invalid gamma value: -1.0"),
    (["--schedule", "step", "--schedule-set", "colour=red"],
     "Unknown keyword for step: colour (known: step_size, gamma)"),
    (["--schedule", "multistep", "--schedule-set", "milestones=30,x"], "Invalid milestones value"),
    (["--warmup", "-1"], "Invalid warmup value: -1 (must be a whole number ≥ 0)"),
    (["--warmup", "many"], "invalid int value: 'many'"),
    (["--schedule", "plateau", "--warmup", "3"], "plateau cannot follow a warm-up"),
    (["--schedule", "cyclic", "--optimizers", "adagrad"], "adagrad has no momentum or betas to cycle"),
]


@pytest.mark.parametrize(("args", "message"), TRAIN_BAD, ids=[" ".join(a) for a, _ in TRAIN_BAD])
def test_train_bad_schedule_is_one_line_and_status_2(tmp_path, capsys, args, message) -> None:
    out = tmp_path / "c.csv"
    optimizers = [] if "--optimizers" in args else ["--optimizers", "sgd"]
    code, stdout, err = run_cli(capsys, *TRAIN, *optimizers, *args, "--out", str(out))
    assert code == 2 and stdout == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gdstudio train: error: "), err
    assert message in lines[0]
    assert not out.exists()
