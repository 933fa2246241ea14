"""The optimizer panel: the selected run's algorithm, hyperparameters, schedule, batching, noise and start.

Everything is generated from the registries: the algorithm combo lists ``OPTIMIZERS`` under
their groups (classic, adaptive, sign-based, second-order, schedule-free: disabled header
items that keyboard and mouse skip), and each :class:`HyperParam` of the chosen rule gets an
editor (log slider + spin box for η and ε, linear slider + spin box for other numbers, a check
box for flags, two spin boxes for β₁, β₂)
whose tooltip is the parameter's help, range and default followed by the rule's update formula.

The panel follows the fields it shows (the selected run id, the selected entry's ``config`` and
``color``, the problem fields that decide its dimension and data). Edits go to the selected run
through ``Session.update_run`` (one undoable command each) after the optimizer's override boundary,
``OptimizerSpec.validate_overrides``; an invalid value shows its message in red under the editors
and changes nothing.

The learning-rate schedule box offers "constant η (none)" and every schedule of
``gdstudio.engine.schedules.SCHEDULES``, one editor per keyword (:class:`ScheduleParamEditor`),
a warm-up spin box and a live preview of η over the run's steps (``preview_schedule`` over the
session's max steps). Keywords that follow the run's length (cosine's T_max, one-cycle's
total_steps) are stored resolved (``validate_schedule(..., horizon=max_steps)``, so the run does
what the preview shows) and shown "auto" while they equal that rule; a new warm-up re-resolves them.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gdstudio.engine.hyperparams import Value
from gdstudio.engine.optimizers import GROUPS, OptimizerSpec, get_spec, optimizers_by_group
from gdstudio.engine.recorded import RecordedRun
from gdstudio.engine.schedules import (
    SCHEDULES,
    ScheduleSpec,
    get_schedule_spec,
    preview_schedule,
    validate_schedule,
)
from gdstudio.engine.schedules.registry import RULES as SCHEDULE_RULES
from gdstudio.mathtext import rule_text
from gdstudio.model.session import RunEntry, Session
from gdstudio.ui.bridge import Subscriptions
from gdstudio.ui.widgets.hyperparams import ParamEditor, make_param_editor
from gdstudio.ui.widgets.numbers import NumberSpinBox
from gdstudio.ui.widgets.schedule_params import ScheduleParamEditor
from gdstudio.ui.widgets.schedule_preview import SchedulePreview

__all__ = ["GROUP_TITLES", "OptimizerPanel", "carried_hyperparameters", "grouped_optimizer_model"]

#: The combo's header of each registry group.
GROUP_TITLES = {"classic": "Classic", "adaptive": "Adaptive", "sign-based": "Sign-based",
                "second-order": "Second-order", "schedule-free": "Schedule-free"}
NO_SCHEDULE = "constant η (none)"
HEADER_COLOR = "#3A7BD5"

ERROR_STYLE = "color: #E0301E;"
#: Shown above a recorded run's (read-only) settings.
RECORDED_NOTE = ("A recorded training path on a network landscape: read-only (train again in the Training lab "
                 "to change it).")


def carried_hyperparameters(old: RunEntry, new: OptimizerSpec) -> dict[str, Value]:
    """Overrides kept when a run switches to ``new``: its η, when both rules are of the same
    family (adaptive or not), so a tuned Adam η does not blow up plain GD."""
    old_spec = get_spec(old.config.optimizer)
    lr = old.config.hyperparameters.get("lr")
    if lr is not None and old_spec.adaptive == new.adaptive and any(h.name == "lr" for h in new.hyperparams):
        return {"lr": lr}
    return {}


def grouped_optimizer_model(parent: QWidget | None = None) -> QStandardItemModel:
    """Every rule of the registry under its group's header, in ``GROUPS`` order.

    Headers are bold, not enabled and not selectable (a QComboBox's arrow keys and its popup skip
    them) and carry no data; a rule's item carries its name (UserRole) and its summary and update
    rule as tooltip.
    """
    model = QStandardItemModel(parent)
    bold = QFont()
    bold.setBold(True)
    by_group = optimizers_by_group()
    for group in GROUPS:
        names = by_group.get(group, [])
        if not names:
            continue
        header = QStandardItem(GROUP_TITLES.get(group, group.capitalize()))
        header.setFlags(Qt.ItemFlag.NoItemFlags)
        header.setFont(bold)
        header.setForeground(QBrush(QColor(HEADER_COLOR)))  # readable although disabled, light or dark scheme
        header.setData(f"group:{group}", Qt.ItemDataRole.AccessibleDescriptionRole)
        model.appendRow(header)
        for name in names:
            spec = get_spec(name)
            item = QStandardItem(spec.title)
            item.setData(spec.name, Qt.ItemDataRole.UserRole)
            item.setToolTip(f"{spec.title}: {spec.summary}\n\n{rule_text(spec.docstring)}")
            model.appendRow(item)
    return model


class OptimizerPanel(QWidget):
    """Edits the selected run (or shows why it cannot)."""

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setObjectName("optimizer_panel")
        self._bound: int | None = None
        self._bound_optimizer: str | None = None
        self.editors: dict[str, ParamEditor] = {}

        self.run_label = QLabel()
        self.run_label.setObjectName("run_label")
        self.run_label.setToolTip("The run these settings apply to (select another in the runs table)")

        self.combo = QComboBox()
        self.combo.setObjectName("optimizer_combo")
        # The longest title must not set the panel's minimum width (it is elided instead).
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(12)
        self.combo.setModel(grouped_optimizer_model(self.combo))
        self.combo.activated.connect(self._on_optimizer_chosen)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setObjectName("optimizer_summary")

        self.params_box = QGroupBox("Hyperparameters")
        # A form whose rows wrap (editor under its label) when the panel is too narrow for both
        # side by side: labels are never squeezed ("ara"); the panel scrolls vertically instead.
        self.params_grid = QFormLayout(self.params_box)
        self.params_grid.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.params_grid.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.params_grid.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.params_grid.setHorizontalSpacing(8)
        self._build_schedule_box()
        self.error = QLabel()
        self.error.setObjectName("optimizer_error")
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.hide()

        # Batching and noise.
        self.data_box = QGroupBox("Gradient")
        form = QFormLayout(self.data_box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.batch = QSpinBox()
        self.batch.setObjectName("batch_size")
        self.batch.setSpecialValueText("all")
        self.batch.setKeyboardTracking(False)
        self.batch.setToolTip("Mini-batch size: the gradient of each step is the mean over this many data "
                              "points (all = full-batch GD, 1 = SGD). Only for data-driven problems.")
        self.batch.valueChanged.connect(self._on_batch)
        self.shuffle = QCheckBox("shuffle each epoch")
        self.shuffle.setObjectName("shuffle")
        self.shuffle.setToolTip("Draw the mini-batches in a new random order every epoch (off: data order)")
        self.shuffle.toggled.connect(lambda v: self._update(shuffle=bool(v)))
        self.batch_row = QWidget()
        row = QHBoxLayout(self.batch_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.batch, 1)
        row.addWidget(self.shuffle)
        self.noise = NumberSpinBox(low=0.0, high=1e6, step=0.1)
        self.noise.setObjectName("noise")
        self.noise.setToolTip("σ of Gaussian noise added to every gradient (0 = exact gradients)")
        self.noise.valueChanged.connect(lambda v: self._update(noise=float(v)))
        self.seed = QSpinBox()
        self.seed.setObjectName("seed")
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setKeyboardTracking(False)
        self.seed.setToolTip("Seed of the batch order and the noise: the same seed gives the same run")
        self.seed.valueChanged.connect(lambda v: self._update(seed=int(v)))
        self.batch_label = QLabel("batch size")
        form.addRow(self.batch_label, self.batch_row)
        form.addRow("noise σ", self.noise)
        form.addRow("seed", self.seed)

        # Start point.
        self.start_box = QGroupBox("Start")
        self.start_box.setToolTip("Where the run starts (or click on the contour; drag a start ring)")
        self.start_layout = QHBoxLayout(self.start_box)
        self.start_spins: list[NumberSpinBox] = []
        self.start_labels: list[QLabel] = []
        for _ in range(2):
            lab = QLabel()
            spin = NumberSpinBox(step=0.1)
            spin.setToolTip("Start coordinate (Enter to apply)")
            spin.valueChanged.connect(self._on_start)
            self.start_layout.addWidget(lab)
            self.start_layout.addWidget(spin, 1)
            self.start_labels.append(lab)
            self.start_spins.append(spin)
        self.start_spins[0].setObjectName("start_x")
        self.start_spins[1].setObjectName("start_y")

        self.empty = QLabel("No run selected: add one (Ctrl+R) or click on the contour.")
        self.empty.setWordWrap(True)
        # A recorded training path (a network landscape) is shown, never re-run: read-only.
        self.recorded_note = QLabel()
        self.recorded_note.setObjectName("recorded_note")
        self.recorded_note.setWordWrap(True)
        self.recorded_note.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        top = QHBoxLayout()
        top.addWidget(self.run_label)
        top.addWidget(self.combo, 1)
        layout.addLayout(top)
        layout.addWidget(self.recorded_note)
        layout.addWidget(self.summary)
        layout.addWidget(self.params_box)
        layout.addWidget(self.schedule_box)
        layout.addWidget(self.error)
        layout.addWidget(self.data_box)
        layout.addWidget(self.start_box)
        layout.addWidget(self.empty)
        layout.addStretch(1)

        # Field subscriptions: the selection, the list of runs (a load replaces the entries), the
        # bound entry's config and colour, and the problem fields that decide dimension and data.
        self._subs = Subscriptions()
        self._entry_subs = Subscriptions()
        self._entry_obj: RunEntry | None = None
        self._subs.connect(session.playback.events.selected, self._on_selection)
        self._subs.connect(session.run_list.events.batch_inserted, self._on_list)
        self._subs.connect(session.run_list.events.batch_removed, self._on_list)
        for name in ("name", "dataset", "data_x", "data_y", "expr"):
            self._subs.connect(session.problem_settings.events[name], self._on_problem)
        self._subs.connect(session.playback.events.max_steps, self._on_max_steps)
        self._subs.connect(session.runs_advanced, self._on_advanced)
        self._subs.connect(session.playback.events.position, self._on_position)
        self._rebind()

    # ---------------------------------------------------------------- binding
    @property
    def entry(self) -> RunEntry | None:
        return self.session.selected

    def _on_selection(self, _new: object, _old: object) -> None:
        self._rebind()

    def _on_list(self, _start: int, _stop: int, _entries: object) -> None:
        self._rebind()

    def _on_problem(self, _new: object, _old: object) -> None:
        self.refresh()

    def _on_config(self, _new: object, _old: object) -> None:
        self.refresh()

    def _on_color(self, _new: object, _old: object) -> None:
        self._show_run_label()

    def _rebind(self) -> None:
        """Follow the selected entry's fields (config, colour), then show it."""
        e = self.entry
        if e is not self._entry_obj:
            self._entry_subs.disconnect_all()
            self._entry_obj = e
            if e is not None:
                self._entry_subs.connect(e.events.config, self._on_config)
                self._entry_subs.connect(e.events.color, self._on_color)
        self.refresh()

    def _show_run_label(self) -> None:
        e = self.entry
        self.run_label.setText("" if e is None else
                               f"<span style='color:{e.color}; font-size:14pt'>●</span> Run {e.id}")

    def refresh(self) -> None:
        """Show the selected run's settings (editors are rebuilt only when the rule changes)."""
        e = self.entry
        has = e is not None
        recorded = e is not None and isinstance(e.run, RecordedRun)
        for w in (self.combo, self.params_box, self.schedule_box, self.data_box, self.start_box, self.summary):
            w.setEnabled(has and not recorded)
        self.recorded_note.setVisible(recorded)
        if recorded:
            self.recorded_note.setText(RECORDED_NOTE)
        self.empty.setVisible(not has)
        if e is None:
            self._bound = None
            self.run_label.setText("")
            return
        if self._bound != e.id:
            self.error.hide()
        self._bound = e.id
        spec = get_spec(e.config.optimizer)
        self._show_run_label()
        i = self.combo.findData(spec.name)
        blocked = self.combo.blockSignals(True)
        self.combo.setCurrentIndex(i)
        self.combo.blockSignals(blocked)
        self.summary.setText(spec.summary)
        if self._bound_optimizer != spec.name:
            self._build_editors(spec)
        values = spec.resolve(e.config.hyperparameters)
        for name, editor in self.editors.items():
            editor.set_value(values[name])
        self._refresh_schedule(e)

        problem = self.session.problem
        n = problem.n_samples
        self.batch_label.setVisible(n is not None)
        self.batch_row.setVisible(n is not None)
        if n is not None:
            with QSignalBlocker(self.batch), QSignalBlocker(self.shuffle):
                self.batch.setRange(0, n)
                self.batch.setValue(e.config.batch_size or 0)
                self.shuffle.setChecked(bool(e.config.shuffle))
            self.shuffle.setEnabled(e.config.batch_size is not None)
        with QSignalBlocker(self.noise), QSignalBlocker(self.seed):
            self.noise.setValue(float(e.config.noise))
            self.seed.setValue(int(e.config.seed))
        for i, (lab, spin) in enumerate(zip(self.start_labels, self.start_spins, strict=True)):
            visible = i < problem.dim
            lab.setVisible(visible)
            spin.setVisible(visible)
            if visible:
                lab.setText(problem.params[i])
                if i < len(e.config.start):  # mid-way through a change of problem the start may lag
                    with QSignalBlocker(spin):
                        spin.setValue(float(e.config.start[i]))

    def _build_editors(self, spec: OptimizerSpec) -> None:
        for editor in self.editors.values():
            for w in (editor.label, editor):
                self.params_grid.removeWidget(w)
                w.hide()  # before it loses its parent: never shown as a window of its own
                w.setParent(None)
                w.deleteLater()
        while self.params_grid.rowCount():
            self.params_grid.removeRow(0)
        self.editors.clear()
        rule = rule_text(spec.docstring)
        for hp in spec.hyperparams:
            editor = make_param_editor(hp, rule)
            editor.committed.connect(lambda value, name=hp.name: self._on_param(name, value))
            editor.label.setMinimumWidth(editor.label.sizeHint().width())  # never clipped
            self.params_grid.addRow(editor.label, editor)
            self.editors[hp.name] = editor
        self._bound_optimizer = spec.name

    # ---------------------------------------------------------------- edits
    def _update(self, **changes: Any) -> bool:
        e = self.entry
        if e is None:
            return False
        if all(getattr(e.config, k) == v for k, v in changes.items()):
            return True
        try:
            self.session.update_run(e.id, **changes)
        except ValueError as exc:
            self.show_error(str(exc))
            self.refresh()
            return False
        self.error.hide()
        return True

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()

    def _on_optimizer_chosen(self, index: int) -> None:
        e = self.entry
        if e is None:
            return
        spec = get_spec(self.combo.itemData(index))
        if spec.name == e.config.optimizer:
            return
        self._update(optimizer=spec.name, hyperparameters=carried_hyperparameters(e, spec))

    def _on_param(self, name: str, value: Value) -> None:
        e = self.entry
        if e is None:
            return
        spec = get_spec(e.config.optimizer)
        try:  # the one override boundary: this value, and the set it makes with the others
            overrides = spec.validate_overrides({**e.config.hyperparameters, name: value})
        except ValueError as exc:
            self.show_error(str(exc))
            self.editors[name].set_value(spec.resolve(e.config.hyperparameters)[name])
            return
        value = overrides[name]
        old = e.config.hyperparameters
        if old.get(name) == value or (name not in old and spec.resolve(old)[name] == value):
            self.error.hide()
            return
        self._update(hyperparameters=overrides)

    def _on_batch(self, value: int) -> None:
        self._update(batch_size=None if value == 0 else int(value))

    def _on_start(self, _value: float) -> None:
        e = self.entry
        if e is None:
            return
        dim = self.session.problem.dim
        start = tuple(float(s.value()) for s in self.start_spins[:dim])
        self._update(start=start)

    # ---------------------------------------------------------------- schedule
    def _build_schedule_box(self) -> None:
        self.schedule_box = QGroupBox("Learning-rate schedule")
        self.schedule_box.setObjectName("schedule_box")
        box = QVBoxLayout(self.schedule_box)
        box.setSpacing(4)
        self.schedule_combo = QComboBox()
        self.schedule_combo.setObjectName("schedule_combo")
        self.schedule_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.schedule_combo.setMinimumContentsLength(12)
        self.schedule_combo.addItem(NO_SCHEDULE, None)
        self.schedule_combo.setItemData(0, "η stays as set (a warm-up, if any, still ramps it up first)",
                                        Qt.ItemDataRole.ToolTipRole)
        for spec in SCHEDULES.values():
            self.schedule_combo.addItem(spec.title, spec.name)
            self.schedule_combo.setItemData(
                self.schedule_combo.count() - 1,
                f"{spec.title} (torch's {spec.torch_class}): {spec.summary}\n\n{SCHEDULE_RULES.get(spec.name, '')}",
                Qt.ItemDataRole.ToolTipRole)
        self.schedule_combo.activated.connect(self._on_schedule_chosen)
        top = QHBoxLayout()
        top.addWidget(QLabel("schedule"))
        top.addWidget(self.schedule_combo, 1)
        box.addLayout(top)
        self.schedule_form = QFormLayout()
        self.schedule_form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.schedule_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.schedule_form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.schedule_form.setHorizontalSpacing(8)
        box.addLayout(self.schedule_form)
        self.warmup = QSpinBox()
        self.warmup.setObjectName("warmup")
        self.warmup.setRange(0, 10**6)
        self.warmup.setSpecialValueText("none")
        self.warmup.setSuffix(" steps")
        self.warmup.setKeyboardTracking(False)
        self.warmup.setToolTip("Linear warm-up: η rises from η/N to η over the first N steps, then the schedule "
                               "starts (torch's SequentialLR([LinearLR(1/N, total_iters=N), schedule], [N])); "
                               "0 = none")
        self.warmup.valueChanged.connect(self._on_warmup)
        row = QHBoxLayout()
        row.addWidget(QLabel("warm-up"))
        row.addWidget(self.warmup, 1)
        box.addLayout(row)
        self.schedule_preview = SchedulePreview()
        box.addWidget(self.schedule_preview)
        # plateau's preview follows the losses computed: redrawn at most every 200 ms while playing
        self._plateau_timer = QTimer(self)
        self._plateau_timer.setSingleShot(True)
        self._plateau_timer.setInterval(200)
        self._plateau_timer.timeout.connect(self._on_plateau_timer)
        self.schedule_editors: dict[str, ScheduleParamEditor] = {}
        self._bound_schedule: str | None = None

    def _horizon(self) -> int:
        return int(self.session.playback.max_steps)

    def _auto_value(self, warmup: int) -> int:
        """What a keyword that follows the run's length resolves to (``validate_schedule``'s rule)."""
        return max(1, self._horizon() - warmup)

    def _build_schedule_editors(self, spec: ScheduleSpec | None) -> None:
        for editor in self.schedule_editors.values():
            for w in (editor.label, editor):
                self.schedule_form.removeWidget(w)
                w.hide()
                w.setParent(None)
                w.deleteLater()
        while self.schedule_form.rowCount():
            self.schedule_form.removeRow(0)
        self.schedule_editors.clear()
        if spec is not None:
            for param in spec.params:
                editor = ScheduleParamEditor(param)
                editor.committed.connect(lambda value, key=param.name: self._on_schedule_param(key, value))
                editor.label.setMinimumWidth(editor.label.sizeHint().width())
                self.schedule_form.addRow(editor.label, editor)
                self.schedule_editors[param.name] = editor
        self._bound_schedule = None if spec is None else spec.name

    def _refresh_schedule(self, e: RunEntry) -> None:
        """Show the run's schedule, its keywords, warm-up and the preview of η."""
        c = e.config
        with QSignalBlocker(self.schedule_combo):
            self.schedule_combo.setCurrentIndex(max(0, self.schedule_combo.findData(c.schedule)))
        spec = None if c.schedule is None else get_schedule_spec(c.schedule)
        if spec is None or spec.name != self._bound_schedule or len(self.schedule_editors) != len(spec.params):
            self._build_schedule_editors(spec)
        if spec is not None:
            auto = self._auto_value(c.warmup)
            for param in spec.params:
                value = c.schedule_settings.get(param.name, param.default)
                follows = param.name in spec.horizon_keys and (value is None or value == auto)
                self.schedule_editors[param.name].set_value(value, auto=follows or value is None)
        with QSignalBlocker(self.warmup):
            self.warmup.setValue(int(c.warmup))
        self._refresh_preview(e)

    def preview_data(self, e: RunEntry) -> dict[str, Any]:
        """What the preview draws for ``e``: ``preview_schedule`` of its config over the max steps
        (plateau with the losses computed so far)."""
        c = e.config
        lr = get_spec(c.optimizer).resolve(c.hyperparameters).get("lr", 1.0)
        assert isinstance(lr, int | float), lr
        losses = None
        if c.schedule is not None and get_schedule_spec(c.schedule).watches_loss and e.run is not None:
            losses = list(e.run.history.loss[1:])
        return preview_schedule(c.schedule, c.schedule_settings, float(lr), self._horizon(), warmup=c.warmup,
                                losses=losses)

    def _refresh_preview(self, e: RunEntry) -> None:
        try:
            data = self.preview_data(e)
        except ValueError as exc:  # a config the run refused too (shown as the run's status)
            self.schedule_preview.set_data([], None, 0)  # type: ignore[arg-type]
            self.schedule_preview.setToolTip(str(exc))
            return
        self.schedule_preview.set_data(data["lr"], data["momentum"], e.config.warmup)
        self.schedule_preview.set_position(int(self.session.playback.position))

    def _on_position(self, new: int, _old: int) -> None:
        self.schedule_preview.set_position(int(new))

    def _on_max_steps(self, _new: object, _old: object) -> None:
        e = self.entry
        if e is not None:
            self._refresh_schedule(e)

    def _on_advanced(self) -> None:
        e = self.entry
        if (e is not None and e.config.schedule is not None and get_schedule_spec(e.config.schedule).watches_loss
                and not self._plateau_timer.isActive()):
            self._plateau_timer.start()

    def _on_plateau_timer(self) -> None:
        e = self.entry
        if e is not None:
            self._refresh_preview(e)

    def _write_schedule(self, name: str | None, settings: dict[str, Any], warmup: int) -> bool:
        """Validate (auto keywords that follow the run's length resolved to it) and apply."""
        try:
            resolved = validate_schedule(name, settings, warmup=warmup, horizon=self._horizon())
        except ValueError as exc:
            self.show_error(str(exc))
            self.refresh()
            return False
        return self._update(schedule=name, schedule_settings=resolved, warmup=warmup)

    def _on_schedule_chosen(self, index: int) -> None:
        e = self.entry
        if e is None:
            return
        name = self.schedule_combo.itemData(index)
        if name == e.config.schedule:
            return
        self._write_schedule(name, {}, e.config.warmup)

    def _following(self, e: RunEntry) -> dict[str, Any]:
        """The run's settings with the keywords that follow its length set back to auto (None)."""
        c = e.config
        settings = dict(c.schedule_settings)
        if c.schedule is not None:
            auto = self._auto_value(c.warmup)
            for key in get_schedule_spec(c.schedule).horizon_keys:
                if settings.get(key) in (None, auto):
                    settings[key] = None
        return settings

    def _on_schedule_param(self, key: str, value: Any) -> None:
        e = self.entry
        if e is None or e.config.schedule is None:
            return
        self._write_schedule(e.config.schedule, {**self._following(e), key: value}, e.config.warmup)

    def _on_warmup(self, value: int) -> None:
        e = self.entry
        if e is None or value == e.config.warmup:
            return
        self._write_schedule(e.config.schedule, self._following(e), int(value))

    def close_session(self) -> None:
        self._subs.disconnect_all()
        self._entry_subs.disconnect_all()
