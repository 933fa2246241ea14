"""Presets: every file in gdstudio/_resources/presets is a valid session document that loads and plays;
the list is grouped for menus; the seed scenarios match their descriptions and the articles'
own loops (seed 001's optimizer classes, seed 002's GD and SGD loops)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from gdstudio.model import Session, SessionError, list_presets, load_preset, presets_by_group
from gdstudio.model.persistence import migrate, session_from_dict
from gdstudio.model.presets import ARTICLE_GROUPS, GROUP_ORDER, preset_document
from gdstudio.resources import resource_path

FILES = sorted(resource_path("presets").glob("*.json"))
IDS = [p.stem for p in FILES]


def test_there_are_presets_and_list_presets_finds_them_all():
    assert len(FILES) >= 10
    infos = list_presets()
    assert sorted(i.id for i in infos) == IDS
    groups = [i.group for i in infos]  # each group in one block, ids sorted inside it
    for g in set(groups):
        at = [k for k, name in enumerate(groups) if name == g]
        assert at == list(range(at[0], at[0] + len(at)))
    for g in set(groups):
        ids = [i.id for i in infos if i.group == g]
        assert ids == sorted(ids)
    for info in infos:
        doc = json.loads(info.path.read_text(encoding="utf-8"))
        assert info.title == doc["title"] and info.group == doc["group"] and info.description == doc["description"]
        assert info.title.strip() and info.group.strip() and len(info.description) > 20


def test_presets_by_group_puts_the_articles_first_and_names_scenarios_by_what_they_show():
    groups = presets_by_group()
    assert [i for g in groups.values() for i in g] == list_presets()
    names = list(groups)
    assert len(names) >= 3 and names[-1] == "Showcases"
    assert names[:-1] == [g for g in GROUP_ORDER if g in names[:-1]]
    assert all(groups[n] for n in names)
    for info in list_presets():
        # Named by what it shows; the article is credited in the description, not as "Seed 000".
        assert "seed" not in info.title.lower() and "seed 0" not in info.group.lower()
        assert "seed 0" not in info.description.lower()
        if info.group in ARTICLE_GROUPS:
            assert "(From " in info.description


@pytest.mark.parametrize("path", FILES, ids=IDS)
def test_preset_is_a_valid_session_that_plays_20_steps(path, h):
    doc = migrate(json.loads(path.read_text(encoding="utf-8")))  # presets are version-1 files
    parsed = session_from_dict(doc)
    assert parsed.runs and parsed.title == doc["title"] and parsed.group == doc["group"]
    s = Session()
    rec = h.Recorder(s)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # divergence is a status, never a warning
        load_preset(s, path.stem)
        assert s.title == doc["title"] and s.description == doc["description"]
        assert len(s.runs) == len(doc["runs"]) and s.selected is not None
        s.set_playing(True)
        for _ in range(20):
            s.tick()
    assert s.position == min(20 * s.steps_per_tick, s.max_steps, s.computed_steps)
    for e in s.runs:
        assert e.run.steps >= min(s.position, 1) or not e.run.running
        assert np.isfinite(e.run.history.points).all()
    # Saving it gives back the file's content (the preset is in canonical form).
    again = s.to_dict()
    for key in ("title", "description", "problem", "runs", "view"):
        assert again[key] == doc[key], key
    assert "problem_changed" in rec.names()


def test_unknown_preset_is_a_clear_error(h):
    s = Session()
    before = h.snapshot(s)
    with pytest.raises(SessionError, match=r"Unknown preset: 'no-such-preset' \(known: .*book-bowl"):
        load_preset(s, "no-such-preset")
    h.assert_same_state(before, h.snapshot(s))
    with pytest.raises(SessionError, match="Unknown preset"):
        preset_document("../presets/book-bowl")


# ---------------------------------------------------------------------------------- seed scenarios
def _session(preset: str) -> Session:
    s = Session()
    load_preset(s, preset)
    return s


class BookSGD:
    def __init__(self, lr):
        self.lr = lr

    def update(self, params, grads):
        for key in params:
            params[key] -= self.lr * grads[key]


class BookMomentum:
    def __init__(self, lr, momentum=0.9):
        self.lr, self.momentum, self.v = lr, momentum, None

    def update(self, params, grads):
        if self.v is None:
            self.v = {k: np.zeros_like(v) for k, v in params.items()}
        for key in params:
            self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
            params[key] += self.v[key]


class BookAdaGrad:
    def __init__(self, lr):
        self.lr, self.h = lr, None

    def update(self, params, grads):
        if self.h is None:
            self.h = {k: np.zeros_like(v) for k, v in params.items()}
        for key in params:
            self.h[key] += grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class BookRMSprop:
    def __init__(self, lr, decay_rate=0.99):
        self.lr, self.decay_rate, self.h = lr, decay_rate, None

    def update(self, params, grads):
        if self.h is None:
            self.h = {k: np.zeros_like(v) for k, v in params.items()}
        for key in params:
            self.h[key] *= self.decay_rate
            self.h[key] += (1 - self.decay_rate) * grads[key] * grads[key]
            params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + 1e-7)


class BookAdam:
    def __init__(self, lr, beta1=0.9, beta2=0.999):
        self.lr, self.beta1, self.beta2, self.iter, self.m, self.v = lr, beta1, beta2, 0, None, None

    def update(self, params, grads):
        if self.m is None:
            self.m = {k: np.zeros_like(v) for k, v in params.items()}
            self.v = {k: np.zeros_like(v) for k, v in params.items()}
        self.iter += 1
        lr_t = self.lr * np.sqrt(1.0 - self.beta2**self.iter) / (1.0 - self.beta1**self.iter)
        for key in params:
            self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
            self.v[key] += (1 - self.beta2) * (grads[key] ** 2 - self.v[key])
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + 1e-7)


def test_book_bowl_matches_its_description_and_the_books_loop():
    s = _session("book-bowl")
    assert s.problem.name == "bowl" and s.max_steps == 30
    runs = s.runs
    assert [e.config.optimizer for e in runs] == ["gd", "momentum", "adagrad", "rmsprop", "adam"]
    assert [e.config.hyperparameters["lr"] for e in runs] == [0.95, 0.1, 1.5, 0.1, 0.3]
    assert runs[1].config.hyperparameters["momentum"] == 0.9 and runs[3].config.hyperparameters["alpha"] == 0.99
    assert all(e.config.start == (-7.0, 2.0) for e in runs)
    assert all(e.config.hyperparameters.get("eps") == 1e-7 for e in runs[2:])
    s.set_playing(True)
    while s.playing:
        s.tick()
    assert s.position == 30
    book = [BookSGD(0.95), BookMomentum(0.1), BookAdaGrad(1.5), BookRMSprop(0.1), BookAdam(0.3)]
    # Same rule, other operation order (Momentum) or ε placement (Adam: on the uncorrected √v).
    tolerance = [1e-15, 1e-12, 1e-12, 1e-12, 1e-4]
    for e, opt, tol in zip(runs, book, tolerance, strict=True):
        params = {"x": -7.0, "y": 2.0}
        path = [(params["x"], params["y"])]
        for _ in range(30):
            grads = {"x": params["x"] / 10.0, "y": 2.0 * params["y"]}
            opt.update(params, grads)
            path.append((params["x"], params["y"]))
        np.testing.assert_allclose(e.run.history.points, np.array(path), rtol=tol, atol=tol,
                                   err_msg=e.config.optimizer)


def test_line_gd_vs_sgd_matches_seed_002_loops():
    s = _session("line-gd-vs-sgd")
    gd, sgd = s.runs
    assert s.problem.name == "line-through-origin" and s.problem.n_samples == 3
    assert gd.config.batch_size is None and sgd.config.batch_size == 1 and sgd.config.shuffle is False
    assert gd.config.start == sgd.config.start == (1.0,)
    s.forward(30)
    xs, ys = [1.0, 2.0, 3.0], [2.0, 4.0, 6.0]
    w, ref_gd = 1.0, [1.0]
    for _ in range(30):  # seed 002's GD: the mean of 2x(xw − y), then w -= 0.01 * grad
        grad = 0
        for x, y in zip(xs, ys, strict=True):
            grad += 2 * x * (x * w - y)
        w -= 0.01 * (grad / len(xs))
        ref_gd.append(w)
    w, ref_sgd = 1.0, [1.0]
    for _ in range(10):  # seed 002's SGD: one step per data point, in order
        for x, y in zip(xs, ys, strict=True):
            w -= 0.01 * (2 * x * (x * w - y))
            ref_sgd.append(w)
    np.testing.assert_allclose(gd.run.history.points[:, 0], ref_gd, rtol=1e-14)
    np.testing.assert_allclose(sgd.run.history.points[:, 0], ref_sgd, rtol=1e-14)


def test_other_seed_presets_match_their_descriptions():
    adam = _session("sigmoid-adam").runs[0].config
    assert (adam.optimizer, adam.batch_size, adam.shuffle, adam.start) == ("adam", 1, False, (-6.0, 4.0))
    assert adam.hyperparameters["lr"] == 0.5 and adam.hyperparameters["betas"] == (0.9, 0.9)
    s = _session("sigmoid-adam")
    assert s.max_steps == 1200 and s.problem.n_samples == 6

    s = _session("sigmoid-gd")
    (gd,) = s.runs
    assert s.problem.n_samples == 2 and gd.config.start == (-2.0, -2.0) and s.max_steps == 1000
    np.testing.assert_array_equal(s.problem.x, [0.5, 2.5])
    np.testing.assert_array_equal(s.problem.y, [0.2, 0.9])

    s = _session("linreg-adam")
    assert s.problem.n_samples == 100
    full_x = s.problem.x
    np.testing.assert_allclose(s.problem.y, 2 * full_x + 3, atol=1e-12)
    configs = [e.config for e in s.runs]
    assert [(c.optimizer, c.batch_size) for c in configs] == [("adam", 20), ("adam", None), ("gd", 20)]
    assert configs[0].hyperparameters == {"lr": 0.1, "eps": 1e-6} and configs[0].shuffle
    assert all(c.start == (0.0, 0.0) for c in configs)

    s = _session("saddle")
    assert s.problem.name == "saddle" and [e.config.noise for e in s.runs].count(0.1) == 1

    s = _session("ravine-momentum")
    assert [e.config.optimizer for e in s.runs] == ["gd", "momentum", "nag"]

    for preset, n in (("sigmoid-race-two-point", 2), ("sigmoid-race-six-point", 6)):
        s = _session(preset)
        configs = [e.config for e in s.runs]
        assert len(configs) == 7 and s.problem.n_samples == n
        # Seed 000 sums Momentum/NAG gradients over the n points with η = 1: averaged, lr = n.
        assert [c.hyperparameters["lr"] for c in configs if c.optimizer in ("momentum", "nag")] == [n, n]
        minibatch = [c for c in configs if c.batch_size == 1 and c.optimizer == "gd"]
        assert len(minibatch) == 1 and not minibatch[0].shuffle


# ------------------------------------------------------------- the newer rules' and schedules' presets
def _played(preset: str) -> Session:
    s = _session(preset)
    s.forward(s.max_steps)
    return s


def test_newton_vs_gd_newton_lands_on_the_minimum_in_one_step_and_gd_zig_zags():
    s = _played("newton-vs-gd")
    newton, gd = s.runs
    assert s.problem.name == "rotated-bowl" and newton.config.optimizer == "newton" and gd.config.optimizer == "gd"
    assert newton.config.start == gd.config.start
    assert newton.run.history.loss[1] < 1e-12 and newton.run.steps == 1  # one step, then converged
    np.testing.assert_allclose(newton.run.history.points[1], [0.0, 0.0], atol=1e-12)
    # GD: the steep direction (x − y) flips sign every step (factor 1 − 8η = −0.6), the shallow one
    # (x + y) only shrinks (factor 1 − 0.4η = 0.92).
    p = gd.run.history.points[:30]
    steep, shallow = p[:, 0] - p[:, 1], p[:, 0] + p[:, 1]
    assert (np.sign(steep[1:]) == -np.sign(steep[:-1])).all()
    np.testing.assert_allclose(steep[1:] / steep[:-1], -0.6, rtol=1e-9)
    np.testing.assert_allclose(shallow[1:] / shallow[:-1], 0.92, rtol=1e-9)
    assert gd.run.history.loss[-1] > 1e-12  # still not where Newton was after one step


def test_lbfgs_rosenbrock_strong_wolfe_converges_first():
    s = _played("lbfgs-rosenbrock")
    wolfe, plain, adam, gd = s.runs
    assert wolfe.config.hyperparameters == {"line_search_fn": "strong_wolfe", "max_eval": 25}
    assert s.options.show_internals
    assert wolfe.run.status == "converged" and wolfe.run.steps <= 45
    np.testing.assert_allclose(wolfe.run.history.points[-1], [1.0, 1.0], atol=1e-4)
    assert plain.run.steps > 1.5 * wolfe.run.steps  # without a line search: about twice as many steps
    for slow in (adam, gd):  # still on the way after 500 steps
        assert slow.run.steps == 500 and slow.run.history.loss[-1] > 1e3 * wolfe.run.history.loss[-1]


def test_lion_vs_adam_lion_moves_exactly_eta_per_coordinate_and_adam_settles():
    s = _played("lion-vs-adam")
    lion, adam = s.runs
    eta = lion.config.hyperparameters["lr"]
    steps = np.abs(np.diff(lion.run.history.points, axis=0))
    np.testing.assert_allclose(steps, eta, rtol=1e-9)  # every step, every coordinate: ±η
    minimum = np.array([3.0, 0.5])
    lion_last = np.linalg.norm(lion.run.history.points[-100:] - minimum, axis=1)
    assert lion_last.max() < 5 * eta and lion_last.min() > 0.5 * eta  # bounces near it, never on it
    adam_steps = np.linalg.norm(np.diff(adam.run.history.points, axis=0), axis=1)
    assert adam_steps[-1] < 1e-3 * adam_steps.max()  # Adam's steps shrink
    assert adam.run.history.loss[-1] < 1e-6 < lion.run.history.loss[-100:].min()


def test_warmup_cosine_settles_where_the_constant_eta_jitters():
    s = _played("warmup-cosine")
    const, sched = s.runs
    assert (const.config.schedule, const.config.warmup) == (None, 0)
    assert (sched.config.schedule, sched.config.warmup) == ("cosine", 20)
    assert sched.config.schedule_settings["T_max"] == s.max_steps - 20  # the cosine spans the rest of the run
    eta = 0.01
    lr = sched.run.history.lr
    np.testing.assert_allclose(lr[0], eta / 20, rtol=1e-12)  # the warm-up's first step
    assert lr[19] < eta and lr[20] == eta  # warm-up done: the cosine starts at η
    assert lr[-1] < 1e-3 * eta and (np.diff(lr[20:]) <= 0).all()
    np.testing.assert_array_equal(const.run.history.lr, eta)
    tail = slice(-30, None)
    assert sched.run.history.loss[tail].mean() < const.run.history.loss[tail].mean() / 10


def test_schedulefree_ends_as_low_as_adamw_with_cosine():
    s = _played("schedulefree-vs-cosine")
    const, cosine, free = s.runs
    assert (const.config.optimizer, cosine.config.optimizer, free.config.optimizer) == (
        "adamw", "adamw", "schedulefree-adamw")
    assert cosine.config.schedule == "cosine" and cosine.config.schedule_settings["T_max"] == s.max_steps
    assert free.config.schedule is None
    tail = slice(-30, None)
    c, k, f = (e.run.history.loss[tail].mean() for e in (const, cosine, free))
    assert f < 2 * k and k < c / 2 and f < c / 2
