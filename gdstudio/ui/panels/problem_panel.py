"""The problem panel: which loss, its data or typed formula, and how it is viewed.

* a combo of every registered problem showing its formula;
* a typed function f(x, y) (applied on Enter; a parse error is shown in red under the field,
  with the position, and changes nothing). Parsing, differentiating and compiling run on a pool
  thread (bounded by the engine's budget, ≤ ~2 s), so the window never freezes: each request has
  a generation number and a result whose generation is no longer current (the text was edited,
  another problem was picked) is dropped. A successful Enter emits ``committed`` and gives the
  keyboard back to the views, so Space plays;
* picking a built-in surface clears the typed-function field;
* for data-driven problems, the data as an editable table of (x, y) rows with add / remove,
  a combo of the named datasets, and Apply (validated by the engine);
* the view: bounds (Apply / Default), grid resolution and a log / linear colour scale.

The panel follows every field of ``session.problem_settings`` and writes through
``Session.set_problem``: each change is one undoable command (choosing a problem and moving the
runs to its suggested start is one, "change problem to Rosenbrock").
"""

from __future__ import annotations

import contextlib
import math
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QSignalBlocker, Qt, QThreadPool, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gdstudio.engine.expressions import ExpressionError, prepare_expression
from gdstudio.engine.problems import PROBLEMS
from gdstudio.engine.problems.data import DATASETS
from gdstudio.model.session import Session
from gdstudio.ui.bridge import Subscriptions
from gdstudio.ui.widgets.numbers import NumberSpinBox

__all__ = ["DEFAULT_EXPRESSION", "ProblemPanel"]

DEFAULT_EXPRESSION = "sin(x)*cos(y) + 0.1*(x**2 + y**2)"
ERROR_STYLE = "color: #E0301E;"
_CUSTOM_DATA = "(edited)"


class _ParseSignals(QObject):
    done = Signal(int, object)  # generation, CompiledExpression or ExpressionError


class _ParseJob(QRunnable):
    """``prepare_expression(text)`` on a pool thread; it warms the engine's cache, so building the
    problem on the UI thread afterwards is instant."""

    def __init__(self, generation: int, text: str, signals: _ParseSignals) -> None:
        super().__init__()
        self.generation, self.text, self.signals = generation, text, signals

    def run(self) -> None:
        try:
            result: object = prepare_expression(self.text)
        except ExpressionError as exc:
            result = exc
        except Exception as exc:  # never let an exception escape a pool thread
            result = ExpressionError(f"Cannot use the expression: {exc}")
        with contextlib.suppress(RuntimeError):  # the panel is gone
            self.signals.done.emit(self.generation, result)


def _error_label(name: str) -> QLabel:
    lab = QLabel()
    lab.setObjectName(name)
    lab.setStyleSheet(ERROR_STYLE)
    lab.setWordWrap(True)
    lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    lab.hide()
    return lab


class ProblemPanel(QWidget):
    """Chooses and configures the session's problem."""

    #: A typed function was committed with Enter and is now the session's problem.
    committed = Signal()
    #: A typed-function request ended (True: applied; False: refused, with the message shown).
    parse_finished = Signal(bool)

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setObjectName("problem_panel")
        self._data_key: tuple | None = None
        self._last_expr = ""
        # Typed functions are parsed off the UI thread; only the newest request counts.
        self._parse_generation = 0
        self._pending: tuple[int, str, bool, tuple] | None = None  # generation, text, from Enter, problem key
        # Both are Qt children, destroyed with the panel by Qt (not by Python's garbage collector,
        # which must not run a C++ destructor that waits for threads): the pool first (children go
        # in creation order), so no job is left to emit on the deleted signals object.
        self.parse_pool = QThreadPool(self)
        self.parse_pool.setMaxThreadCount(2)  # a new request need not queue behind a slow one
        self._parse_signals = _ParseSignals(self)
        self._parse_signals.done.connect(self._on_parsed)

        # --- problem choice
        self.combo = QComboBox()
        self.combo.setObjectName("problem_combo")
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(18)
        for info in PROBLEMS.values():
            self.combo.addItem(f"{info.title}:  {info.formula}", info.name)
            self.combo.setItemData(self.combo.count() - 1, f"{info.title}\n{info.formula}\nparameters: "
                                   f"{', '.join(info.params)}", Qt.ItemDataRole.ToolTipRole)
        self.combo.setToolTip("The loss surface to minimize (its formula is shown in the list)")
        self.combo.activated.connect(self._on_problem_chosen)
        self.formula = QLabel()
        self.formula.setObjectName("formula")
        self.formula.setWordWrap(True)
        self.formula.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.problem_error = _error_label("problem_error")

        # --- typed function
        self.expr_box = QGroupBox("Typed function f(x, y)")
        self.expr = QLineEdit()
        self.expr.setObjectName("expression")
        self.expr.setPlaceholderText(f"e.g. {DEFAULT_EXPRESSION}")
        self.expr.setClearButtonEnabled(True)
        self.expr.setToolTip("Type f(x, y) and press Enter: + − * / ** (or ^), sin cos tan exp log sqrt abs "
                             "tanh atan2 min max, pi, e. The gradient is exact (symbolic).")
        self.expr.returnPressed.connect(lambda: self.apply_expression(commit=True))
        self.expr.textEdited.connect(self._drop_pending_parse)
        self.expr_error = _error_label("expression_error")
        self.expr_status = QLabel("Checking the expression…")
        self.expr_status.setObjectName("expression_status")
        self.expr_status.setEnabled(False)  # drawn in the palette's disabled (grey) text colour
        self.expr_status.hide()
        ev = QVBoxLayout(self.expr_box)
        ev.addWidget(self.expr)
        ev.addWidget(self.expr_status)
        ev.addWidget(self.expr_error)

        # --- data
        self.data_box = QGroupBox("Data")
        self.dataset = QComboBox()
        self.dataset.setObjectName("dataset_combo")
        self.dataset.setToolTip("A named dataset of this problem, or your edited data")
        self.dataset.activated.connect(self._on_dataset_chosen)
        self.table = QTableWidget(0, 2)
        self.table.setObjectName("data_table")
        self.table.setHorizontalHeaderLabels(["x", "y"])
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setToolTip("The (x, y) data points: edit a cell, add or remove rows, then Apply")
        self.table.setMinimumHeight(120)
        self.add_row = QPushButton("Add row")
        self.add_row.setToolTip("Add a data point")
        self.add_row.clicked.connect(self._add_row)
        self.remove_row = QPushButton("Remove row")
        self.remove_row.setToolTip("Remove the selected data points")
        self.remove_row.clicked.connect(self._remove_rows)
        self.apply_data_button = QPushButton("Apply")
        self.apply_data_button.setObjectName("apply_data")
        self.apply_data_button.setToolTip("Use this data (checked first: every cell must be a number)")
        self.apply_data_button.clicked.connect(self.apply_data)
        self.data_error = _error_label("data_error")
        dl = QVBoxLayout(self.data_box)
        dl.addWidget(self.dataset)
        dl.addWidget(self.table, 1)
        row = QHBoxLayout()
        for b in (self.add_row, self.remove_row):
            row.addWidget(b)
        row.addStretch(1)
        row.addWidget(self.apply_data_button)
        dl.addLayout(row)
        dl.addWidget(self.data_error)

        # --- view
        self.view_box = QGroupBox("View")
        grid = QGridLayout()
        self.bound_spins: list[NumberSpinBox] = []
        self.bound_labels: list[QLabel] = []
        for axis in range(2):
            lab = QLabel()
            grid.addWidget(lab, axis, 0)
            self.bound_labels.append(lab)
            for j in range(2):
                spin = NumberSpinBox(step=0.5)
                spin.setObjectName(f"bound_{axis}_{j}")
                spin.setToolTip(f"{'lower' if j == 0 else 'upper'} bound of the view (Apply to use)")
                grid.addWidget(spin, axis, 1 + j)
                self.bound_spins.append(spin)
        self.apply_bounds_button = QPushButton("Apply")
        self.apply_bounds_button.setToolTip("Show this range (the surface is recomputed over it)")
        self.apply_bounds_button.clicked.connect(self.apply_bounds)
        self.default_bounds_button = QPushButton("Default")
        self.default_bounds_button.setToolTip("Back to the problem's own view range")
        self.default_bounds_button.clicked.connect(lambda: self._set_problem(bounds=None))
        grid.addWidget(self.apply_bounds_button, 0, 3)
        grid.addWidget(self.default_bounds_button, 1, 3)
        self.bounds_error = _error_label("bounds_error")
        self.resolution = QSpinBox()
        self.resolution.setObjectName("resolution")
        self.resolution.setRange(16, 1024)
        self.resolution.setSingleStep(32)
        self.resolution.setKeyboardTracking(False)
        self.resolution.setSuffix(" × grid")
        self.resolution.setToolTip("Grid points per axis of the surface (16–1024)")
        self.resolution.valueChanged.connect(lambda v: self._set_problem(resolution=int(v)))
        self.log_scale = QCheckBox("log colour scale")
        self.log_scale.setObjectName("log_scale")
        self.log_scale.setToolTip("Colour and height by log₁₀(loss − min): shows the valleys of steep surfaces")
        self.log_scale.toggled.connect(lambda v: self._set_problem(log_scale=bool(v)))
        vl = QVBoxLayout(self.view_box)
        vl.addLayout(grid)
        vl.addWidget(self.bounds_error)
        form = QFormLayout()
        form.addRow("resolution", self.resolution)
        form.addRow("", self.log_scale)
        vl.addLayout(form)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.combo)
        layout.addWidget(self.formula)
        layout.addWidget(self.problem_error)
        layout.addWidget(self.expr_box)
        layout.addWidget(self.data_box, 1)
        layout.addWidget(self.view_box)
        layout.addStretch(0)

        self._subs = Subscriptions()
        self._subs.connect(session.problem_settings.events.all, self._on_field)  # every field it shows
        self.refresh()

    def _on_field(self, _info: object) -> None:
        self.refresh()

    # ---------------------------------------------------------------- model -> widgets
    def refresh(self) -> None:
        s = self.session
        ps, problem = s.problem_settings, s.problem
        info = PROBLEMS.get(ps.name)  # None for a network landscape (made by the Training lab, not listed)
        with QSignalBlocker(self.combo):
            self.combo.setCurrentIndex(self.combo.findData(ps.name))
        # A network landscape is not in the list: the combo says what it is, and a typed function
        # (which would replace the landscape) stays out of the way until another surface is picked.
        self.combo.setPlaceholderText("Network landscape (from the Training lab)" if info is None else "")
        self.expr_box.setVisible(info is not None)
        formula = problem.formula if ps.name != "custom" else f"f(x, y) = {ps.expr}"
        extra = f"   ·   {problem.n_samples} data points" if problem.n_samples else ""
        self.formula.setText(f"<i>{_html(formula)}</i>{extra}")
        if ps.name == "custom" and ps.expr:
            self._last_expr = ps.expr
            if self.expr.text().strip() != ps.expr:
                self.expr.setText(ps.expr)
        elif ps.name != "custom" and self.expr.text() and not self.expr.hasFocus():
            self.expr.clear()  # another problem is shown: the field is for typing a new one
        is_data = info is not None and info.kind == "data"
        self.data_box.setVisible(is_data)
        if is_data:
            self._refresh_data(ps.name, ps.dataset, problem)
        bounds = s.bounds
        for axis in range(2):
            visible = axis < problem.dim
            self.bound_labels[axis].setVisible(visible)
            for j in range(2):
                spin = self.bound_spins[2 * axis + j]
                spin.setVisible(visible)
                if visible:
                    with QSignalBlocker(spin):
                        spin.setValue(bounds[axis][j])
            if visible:
                self.bound_labels[axis].setText(problem.params[axis])
        with QSignalBlocker(self.resolution), QSignalBlocker(self.log_scale):
            self.resolution.setValue(ps.resolution)
            self.log_scale.setChecked(ps.log_scale)

    def _refresh_data(self, name: str, dataset: str | None, problem: Any) -> None:
        key = (name, dataset, self.session.problem_settings.data_x, self.session.problem_settings.data_y)
        if key == self._data_key:
            return
        self._data_key = key
        self.dataset.clear()
        for ds in DATASETS.get(name, {}):
            self.dataset.addItem(ds, ds)
        self.dataset.addItem(_CUSTOM_DATA, None)
        current = getattr(problem, "dataset", None)
        i = self.dataset.findData(current) if current in DATASETS.get(name, {}) else self.dataset.count() - 1
        self.dataset.setCurrentIndex(i)
        xs, ys = getattr(problem, "x", ()), getattr(problem, "y", ())
        self.table.setRowCount(0)
        self.table.setRowCount(len(xs))
        for r, (x, y) in enumerate(zip(xs, ys, strict=True)):
            self.table.setItem(r, 0, QTableWidgetItem(f"{x:.6g}"))
            self.table.setItem(r, 1, QTableWidgetItem(f"{y:.6g}"))
        self.data_error.hide()

    # ---------------------------------------------------------------- widgets -> model
    def _set_problem(self, error: QLabel | None = None, **changes: Any) -> bool:
        label = error or self.problem_error
        try:
            self.session.set_problem(**changes)
        except ValueError as exc:
            label.setText(str(exc))
            label.show()
            self.refresh()
            return False
        label.hide()
        return True

    def _on_problem_chosen(self, index: int) -> None:
        name = self.combo.itemData(index)
        ps = self.session.problem_settings
        if name == "custom":
            if name != ps.name:
                self.expr.setText(self.expr.text().strip() or self._last_expr or DEFAULT_EXPRESSION)
                self.apply_expression()
            return
        # A built-in surface: the typed-function field is for typing a new one.
        self._drop_pending_parse()
        self.expr.clear()
        self.expr_error.hide()
        if name == ps.name:
            return
        title = PROBLEMS[name].title
        with self.session.edit(f"change problem to {title}"):  # one undo step, starts included
            if self._set_problem(name=name, dataset=None, data_x=None, data_y=None, expr=None, bounds=None):
                self._move_starts_to_default()

    def _move_starts_to_default(self) -> None:
        """A new problem: every run moves to its suggested start (old starts mean nothing here)."""
        s = self.session
        start = s.problem.start
        for e in s.runs:
            if e.config.start != start:
                with contextlib.suppress(ValueError):  # e.g. a batch size the new data cannot have
                    s.update_run(e.id, start=start)

    @property
    def parse_pending(self) -> bool:
        """A typed function is being parsed (its result will be applied when it arrives)."""
        return self._pending is not None

    def apply_expression(self, commit: bool = False) -> None:
        """Use the typed function: parsed on a pool thread, applied when the result arrives.

        Errors are shown under the field and change nothing. ``parse_finished(ok)`` is emitted
        when the request ends (not for a request superseded by an edit or another problem);
        with ``commit`` (Enter), a success also emits ``committed`` and focuses the views.
        """
        text = self.expr.text().strip()
        self._drop_pending_parse()
        if not text:
            self._show_expression_error("Type a function of x and y, e.g. " + DEFAULT_EXPRESSION, None)
            self.parse_finished.emit(False)
            return
        generation = self._parse_generation
        self._pending = (generation, text, commit, self._problem_key())
        self.expr_status.show()
        self.parse_pool.start(_ParseJob(generation, text, self._parse_signals))

    def _drop_pending_parse(self, *_: object) -> None:
        """Forget the request in flight (its result will be dropped) and any queued ones."""
        self._parse_generation += 1
        self._pending = None
        self.parse_pool.clear()
        self.expr_status.hide()

    def _problem_key(self) -> tuple:
        ps = self.session.problem_settings
        return (ps.name, ps.expr, ps.dataset, ps.data_x, ps.data_y)

    def _on_parsed(self, generation: int, result: object) -> None:
        if self._pending is None or generation != self._pending[0]:
            return  # stale: the text was edited or another problem was picked meanwhile
        _, text, commit, key = self._pending
        self._pending = None
        self.expr_status.hide()
        if key != self._problem_key():
            return  # the problem changed meanwhile (a preset, a session): that choice stands
        if isinstance(result, ExpressionError):
            self._show_expression_error(str(result), result.position)
            self.parse_finished.emit(False)
            return
        was_custom = self.session.problem_settings.name == "custom"
        with self.session.edit(f"change problem to f(x, y) = {text}"):  # one undo step, starts included
            try:  # the expression is compiled and cached: building the problem here is instant
                self.session.set_problem(name="custom", expr=text, dataset=None, data_x=None, data_y=None,
                                         bounds=None)
            except ValueError as exc:
                self._show_expression_error(str(exc), getattr(exc, "position", None))
                self.parse_finished.emit(False)
                return
            self.expr_error.hide()
            if not was_custom:
                self._move_starts_to_default()
        self.parse_finished.emit(True)
        if commit:
            self.committed.emit()
            views = getattr(self.window(), "contour", None)
            if isinstance(views, QWidget):
                views.setFocus()  # Space plays again

    def _show_expression_error(self, message: str, position: int | None) -> None:
        self.expr_error.setText(message)
        self.expr_error.show()
        if isinstance(position, int):  # put the cursor where the parser stopped
            self.expr.setFocus()
            raw = self.expr.text()
            lead = len(raw) - len(raw.lstrip())
            self.expr.setCursorPosition(min(position + lead, len(raw)))

    def _on_dataset_chosen(self, index: int) -> None:
        ds = self.dataset.itemData(index)
        if ds is None:
            return
        self._set_problem(self.data_error, dataset=ds, data_x=None, data_y=None)

    def _add_row(self) -> None:
        r = self.table.rowCount()
        self.table.insertRow(r)
        self.table.setItem(r, 0, QTableWidgetItem("0"))
        self.table.setItem(r, 1, QTableWidgetItem("0"))
        self.table.setCurrentCell(r, 0)

    def _remove_rows(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True)
        if not rows and self.table.rowCount():
            rows = [self.table.rowCount() - 1]
        for r in rows:
            self.table.removeRow(r)

    def table_data(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """The table's (x, y) columns, or ValueError naming the first bad cell."""
        xs, ys = [], []
        for r in range(self.table.rowCount()):
            pair = []
            for c, name in enumerate(("x", "y")):
                item = self.table.item(r, c)
                text = item.text().strip() if item is not None else ""
                try:
                    v = float(text)
                except ValueError:
                    raise ValueError(f"Invalid {name} in row {r + 1}: {text!r} (must be a number)") from None
                if not math.isfinite(v):
                    raise ValueError(f"Invalid {name} in row {r + 1}: {text!r} (must be finite)")
                pair.append(v)
            xs.append(pair[0])
            ys.append(pair[1])
        if not xs:
            raise ValueError("Invalid data: no data points (add a row)")
        return tuple(xs), tuple(ys)

    def apply_data(self) -> bool:
        try:
            xs, ys = self.table_data()
        except ValueError as exc:
            self.data_error.setText(str(exc))
            self.data_error.show()
            return False
        self._data_key = None
        return self._set_problem(self.data_error, dataset=None, data_x=xs, data_y=ys)

    def apply_bounds(self) -> bool:
        dim = self.session.problem.dim
        v = [s.value() for s in self.bound_spins]
        bounds = tuple((v[2 * a], v[2 * a + 1]) for a in range(dim))
        return self._set_problem(self.bounds_error, bounds=bounds)

    def close_session(self) -> None:
        self._drop_pending_parse()
        self.parse_pool.waitForDone(5000)  # a parse ends within the engine's time limit
        self._subs.disconnect_all()


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
