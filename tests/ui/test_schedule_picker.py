"""The optimizer panel's grouped rule combo and its learning-rate schedule picker, on the real panel.

The combo must list every registry rule under its group's header (headers skipped by the keys);
the schedule picker must write through the session (one undo command each), show exactly what
``preview_schedule`` computes for the run's config (and what the engine run then uses), and
refuse bad values with the panel's one error line, changing nothing.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from gdstudio.engine.optimizers import GROUPS, OPTIMIZERS, optimizers_by_group
from gdstudio.engine.runs import RunConfig
from gdstudio.engine.schedules import SCHEDULES, preview_schedule
from gdstudio.model.session import Session
from gdstudio.ui.panels import OptimizerPanel
from gdstudio.ui.panels.optimizer_panel import GROUP_TITLES, NO_SCHEDULE

MAX_STEPS = 200


def make(qtbot, optimizer: str = "momentum", **hp) -> tuple[Session, OptimizerPanel, int]:
    s = Session()
    s.set_max_steps(MAX_STEPS)
    rid = s.add_run(RunConfig(optimizer, s.problem.start, hp or {"lr": 0.01}))
    s.undo_stack.clear()
    panel = OptimizerPanel(s)
    qtbot.addWidget(panel)
    panel.show()
    return s, panel, rid


def choose(combo, data) -> None:
    i = combo.findData(data)
    assert i >= 0, data
    combo.setCurrentIndex(i)
    combo.activated.emit(i)


def preview_of(s: Session, rid: int) -> dict:
    c = s.entry(rid).config
    return preview_schedule(c.schedule, c.schedule_settings, c.hyperparameters["lr"], s.max_steps, warmup=c.warmup)


def assert_preview_is(panel: OptimizerPanel, s: Session, rid: int) -> None:
    want = preview_of(s, rid)
    np.testing.assert_array_equal(panel.schedule_preview.lr, want["lr"])
    if want["momentum"] is None:
        assert panel.schedule_preview.momentum is None
    else:
        np.testing.assert_array_equal(panel.schedule_preview.momentum, want["momentum"])


# ---------------------------------------------------------------------------- the grouped rule combo
def test_the_combo_lists_every_rule_under_its_group_in_groups_order(qtbot):
    _s, panel, _rid = make(qtbot)
    model = panel.combo.model()
    expected: list[tuple[str, str | None]] = []
    for group in GROUPS:
        names = optimizers_by_group()[group]
        if names:
            expected.append((GROUP_TITLES[group], None))
            expected += [(OPTIMIZERS[n].title, n) for n in names]
    rows = [(panel.combo.itemText(i), panel.combo.itemData(i)) for i in range(panel.combo.count())]
    assert rows == expected
    assert sorted(n for _, n in rows if n is not None) == sorted(OPTIMIZERS)  # every rule, once
    group = None
    for i, (text, name) in enumerate(rows):
        flags = model.flags(model.index(i, 0))
        if name is None:  # a header: neither selectable nor enabled
            assert not flags & Qt.ItemFlag.ItemIsEnabled and not flags & Qt.ItemFlag.ItemIsSelectable
            group = next(g for g, t in GROUP_TITLES.items() if t == text)
        else:
            assert flags & Qt.ItemFlag.ItemIsEnabled and flags & Qt.ItemFlag.ItemIsSelectable
            assert OPTIMIZERS[name].group == group
            assert OPTIMIZERS[name].summary in panel.combo.itemData(i, Qt.ItemDataRole.ToolTipRole)


def test_arrow_keys_skip_the_group_headers_and_change_the_rule(qtbot):
    s, panel, rid = make(qtbot)
    classic, adaptive = optimizers_by_group()["classic"], optimizers_by_group()["adaptive"]
    s.update_run(rid, optimizer=classic[-1])
    assert panel.combo.currentData() == classic[-1]
    panel.combo.setFocus()
    qtbot.keyClick(panel.combo, Qt.Key.Key_Down)
    assert panel.combo.currentData() == adaptive[0]  # over the "Adaptive" header
    assert s.entry(rid).config.optimizer == adaptive[0]
    qtbot.keyClick(panel.combo, Qt.Key.Key_Up)
    assert panel.combo.currentData() == classic[-1] and s.entry(rid).config.optimizer == classic[-1]
    assert panel.combo.itemData(panel.combo.currentIndex()) is not None


# ---------------------------------------------------------------------------- the schedule picker
def test_the_schedule_combo_offers_none_and_every_schedule(qtbot):
    _s, panel, _rid = make(qtbot)
    items = [(panel.schedule_combo.itemText(i), panel.schedule_combo.itemData(i))
             for i in range(panel.schedule_combo.count())]
    assert items == [(NO_SCHEDULE, None), *((spec.title, name) for name, spec in SCHEDULES.items())]
    assert panel.schedule_combo.currentData() is None and not panel.schedule_editors
    np.testing.assert_array_equal(panel.schedule_preview.lr, np.full(MAX_STEPS, 0.01))


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_each_schedule_gets_its_keyword_editors_and_a_matching_preview(qtbot, name):
    s, panel, rid = make(qtbot, "adam", lr=0.01)
    choose(panel.schedule_combo, name)
    c = s.entry(rid).config
    assert c.schedule == name and panel.error.isHidden()
    assert s.undo_stack.undo_text == f"set schedule of Run {rid} to {name}"
    spec = SCHEDULES[name]
    assert list(panel.schedule_editors) == [p.name for p in spec.params]
    for p in spec.params:
        ed = panel.schedule_editors[p.name]
        assert p.name in ed.label.text() and p.help in ed.toolTip()
        assert (ed.auto is not None) == p.optional
        if p.name in spec.horizon_keys:  # follows the run's length: stored resolved, shown auto
            assert c.schedule_settings[p.name] == MAX_STEPS and ed.auto.isChecked()
    assert_preview_is(panel, s, rid)
    assert (panel.schedule_preview.momentum is not None) == spec.cycles_momentum


def test_cosine_keyword_and_warmup_edits_update_the_run_the_preview_and_undo(qtbot):
    s, panel, rid = make(qtbot)
    choose(panel.schedule_combo, "cosine")
    assert dict(s.entry(rid).config.schedule_settings) == {"T_max": MAX_STEPS, "eta_min": 0.0}
    panel.schedule_editors["eta_min"].spin.setValue(0.001)
    c = s.entry(rid).config
    assert c.schedule_settings["eta_min"] == 0.001
    assert s.undo_stack.undo_text == f"set eta_min of Run {rid} to 0.001"
    assert_preview_is(panel, s, rid)
    k = np.arange(MAX_STEPS)  # the closed form of the cosine: step k+1 uses η_k
    cosine = 0.001 + (0.01 - 0.001) * (1 + np.cos(np.pi * k / MAX_STEPS)) / 2
    np.testing.assert_allclose(panel.schedule_preview.lr, cosine, rtol=1e-12)

    panel.warmup.setValue(20)  # the cosine's T_max follows: the rest of the run
    c = s.entry(rid).config
    assert c.warmup == 20 and c.schedule_settings["T_max"] == MAX_STEPS - 20
    assert s.undo_stack.undo_text == f"set warm-up of Run {rid} to 20"
    assert panel.schedule_editors["T_max"].auto.isChecked()
    assert_preview_is(panel, s, rid)
    lr = panel.schedule_preview.lr
    assert lr[0] == pytest.approx(0.01 / 20) and lr[20] == pytest.approx(0.01) and lr.argmax() == 20

    # What the preview shows is what the engine run uses, step by step.
    s.forward(MAX_STEPS)
    np.testing.assert_allclose(s.entry(rid).run.history.lr, lr, rtol=1e-15)

    # A T_max set by hand is no longer automatic, and stays when the warm-up changes.
    t_max = panel.schedule_editors["T_max"]
    t_max.auto.setChecked(False)  # the number shown (the resolved 180) becomes editable; nothing changes yet
    assert t_max.spin.isEnabled() and t_max.spin.value() == MAX_STEPS - 20
    assert s.undo_stack.undo_text == f"set warm-up of Run {rid} to 20"
    t_max.spin.setValue(50)
    assert s.entry(rid).config.schedule_settings["T_max"] == 50
    assert not panel.schedule_editors["T_max"].auto.isChecked()
    panel.warmup.setValue(30)
    assert s.entry(rid).config.schedule_settings["T_max"] == 50 and s.entry(rid).config.warmup == 30

    # Undo walks back one command at a time, and the panel shows each state.
    s.undo_stack.undo()
    assert s.entry(rid).config.warmup == 20 and panel.warmup.value() == 20
    s.undo_stack.undo()
    assert s.entry(rid).config.schedule_settings["T_max"] == MAX_STEPS - 20
    s.undo_stack.undo()
    c = s.entry(rid).config
    assert c.warmup == 0 and c.schedule_settings == {"T_max": MAX_STEPS, "eta_min": 0.001}
    assert panel.warmup.value() == 0 and panel.schedule_editors["eta_min"].spin.value() == 0.001
    assert_preview_is(panel, s, rid)
    s.undo_stack.undo()
    s.undo_stack.undo()
    c = s.entry(rid).config
    assert (c.schedule, dict(c.schedule_settings), c.warmup) == (None, {}, 0)
    assert panel.schedule_combo.currentText() == NO_SCHEDULE and not panel.schedule_editors
    np.testing.assert_array_equal(panel.schedule_preview.lr, np.full(MAX_STEPS, 0.01))


def test_a_list_keyword_is_typed_as_text(qtbot):
    s, panel, rid = make(qtbot)
    choose(panel.schedule_combo, "multistep")
    line = panel.schedule_editors["milestones"].line
    assert line.text() == "30,80"
    line.setText("50, 120")
    line.editingFinished.emit()
    assert s.entry(rid).config.schedule_settings["milestones"] == (50, 120)
    assert s.undo_stack.undo_text == f"set milestones of Run {rid} to 50,120"
    lr = panel.schedule_preview.lr
    assert lr[49] == 0.01 and lr[50] == pytest.approx(0.001) and lr[120] == pytest.approx(0.0001)
    assert_preview_is(panel, s, rid)


@pytest.mark.parametrize(("schedule", "key", "bad", "message"), [
    ("multistep", "milestones", "30,x", "Invalid milestones value: '30,x' (must be whole numbers in [0, inf)"),
    ("exponential", "gamma", 0.0, "Invalid gamma value: 0.0 (must be in (0.0, inf))"),
])
def test_a_bad_value_shows_the_error_line_and_changes_nothing(qtbot, schedule, key, bad, message):
    s, panel, rid = make(qtbot)
    choose(panel.schedule_combo, schedule)
    before, commands = s.entry(rid).config, s.undo_stack.undo_text
    run = s.entry(rid).run
    ed = panel.schedule_editors[key]
    if ed.line is not None:
        ed.line.setText(bad)
        ed.line.editingFinished.emit()
    else:
        ed.spin.setValue(bad)
    assert not panel.error.isHidden() and message in panel.error.text()
    assert "\n" not in panel.error.text()
    assert s.entry(rid).config == before and s.entry(rid).run is run and s.undo_stack.undo_text == commands
    # the editor shows the run's value again
    assert ed.value() == before.schedule_settings[key]


def test_cyclic_on_a_rule_without_momentum_shows_the_validation_message(qtbot):
    s, panel, rid = make(qtbot, "adagrad", lr=0.1)
    choose(panel.schedule_combo, "cyclic")
    assert "adagrad has no momentum or betas to cycle; set cycle_momentum=false" in panel.error.text()
    assert s.entry(rid).config.schedule is None and panel.schedule_combo.currentData() is None
    assert not s.undo_stack.can_undo


def test_plateau_after_a_warmup_is_refused(qtbot):
    s, panel, rid = make(qtbot)
    panel.warmup.setValue(10)
    assert s.entry(rid).config.warmup == 10
    choose(panel.schedule_combo, "plateau")
    assert "plateau cannot follow a warm-up" in panel.error.text()
    assert s.entry(rid).config.schedule is None


def test_onecycle_cycles_beta1_and_max_lr_auto_is_the_rules_lr(qtbot):
    s, panel, rid = make(qtbot, "adam", lr=0.02)
    choose(panel.schedule_combo, "onecycle")
    ed = panel.schedule_editors["max_lr"]
    assert ed.auto.isChecked() and s.entry(rid).config.schedule_settings["max_lr"] is None
    assert panel.schedule_preview.lr.max() == pytest.approx(0.02)
    mom = panel.schedule_preview.momentum
    assert mom is not None and mom.min() == pytest.approx(0.85) and mom.max() == pytest.approx(0.95)
    ed.auto.setChecked(False)  # the number shown becomes the value
    value = s.entry(rid).config.schedule_settings["max_lr"]
    assert isinstance(value, float) and panel.schedule_preview.lr.max() == pytest.approx(value)
    assert_preview_is(panel, s, rid)
    s.forward(MAX_STEPS)
    np.testing.assert_allclose(s.entry(rid).run.history.lr, panel.schedule_preview.lr, rtol=1e-15)


def test_the_schedule_is_saved_and_opened_with_the_session(qtbot):
    s, panel, _rid = make(qtbot)
    choose(panel.schedule_combo, "cyclic")
    panel.schedule_editors["step_size_up"].spin.setValue(25)
    doc = s.to_dict()
    other = Session()
    other.apply_dict(doc)
    c = other.runs[0].config
    assert c.schedule == "cyclic" and c.schedule_settings["step_size_up"] == 25
    assert c.schedule_settings["max_lr"] is None


def test_switching_a_cyclic_run_to_a_rule_without_momentum_is_refused(qtbot):
    s, panel, rid = make(qtbot, "adam", lr=0.01)
    choose(panel.schedule_combo, "cyclic")
    before = s.entry(rid).config
    choose(panel.combo, "adagrad")
    assert "adagrad has no momentum or betas to cycle" in panel.error.text() and not panel.error.isHidden()
    assert s.entry(rid).config == before and panel.combo.currentData() == "adam"


def test_the_preview_follows_max_steps_and_plateau_uses_the_losses_computed(qtbot):
    s, panel, rid = make(qtbot)
    choose(panel.schedule_combo, "exponential")
    s.set_max_steps(50)
    assert len(panel.schedule_preview.lr) == 50
    assert_preview_is(panel, s, rid)
    s.update_run(rid, noise=2.0)
    choose(panel.schedule_combo, "plateau")
    panel.schedule_editors["patience"].spin.setValue(2)
    assert s.entry(rid).config.schedule_settings["patience"] == 2
    s.forward(50)  # the preview now knows the losses: η drops where the run's did (redrawn within 200 ms)
    run_lr = s.entry(rid).run.history.lr
    assert run_lr.min() < 0.01  # the noisy run did hit plateaus
    qtbot.waitUntil(lambda: panel.schedule_preview.lr.min() < 0.01)
    np.testing.assert_array_equal(panel.schedule_preview.lr, run_lr)
    assert panel.schedule_preview.position == s.position == 50


def test_the_runs_table_names_the_schedule(qtbot):
    from gdstudio.ui.panels.runs_panel import key_hyperparameters

    s, panel, rid = make(qtbot)
    assert "cosine" not in key_hyperparameters(s.entry(rid))
    choose(panel.schedule_combo, "cosine")
    panel.warmup.setValue(20)
    assert key_hyperparameters(s.entry(rid)).endswith("warm-up 20 + cosine")


def test_arrow_keys_in_the_open_list_skip_the_headers(qtbot):
    s, panel, rid = make(qtbot)
    classic, adaptive = optimizers_by_group()["classic"], optimizers_by_group()["adaptive"]
    s.update_run(rid, optimizer=classic[-1])
    panel.combo.showPopup()
    view = panel.combo.view()
    qtbot.waitUntil(view.isVisible)
    assert view.currentIndex().data(Qt.ItemDataRole.UserRole) == classic[-1]
    qtbot.keyClick(view, Qt.Key.Key_Down)
    assert view.currentIndex().data(Qt.ItemDataRole.UserRole) == adaptive[0]
    qtbot.keyClick(view, Qt.Key.Key_Return)
    assert s.entry(rid).config.optimizer == adaptive[0]
