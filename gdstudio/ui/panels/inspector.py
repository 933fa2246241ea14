"""The Step inspector dock: the selected run's step at the position shown, explained.

At playback position K (K ≥ 1) it explains step K, the step from point K−1 to point K
(:func:`gdstudio.engine.explain.explain_run`): the update rule in maths for the run's own
hyperparameters, then one row per quantity the rule declares (θ before, g, every state buffer
under torch's name, the rule's derived quantities, η_eff, Δθ, θ after, the losses). A diverged,
converged or stopped run shows its last step with a line saying so; position 0 shows the start.

Hovering a row draws that quantity's arrow on the contour (:class:`StepOverlay`): the gradient
as −g from where it was taken, a velocity as −v from θ, Δθ from θ. Copy as Markdown / LaTeX puts
the table on the clipboard. The slow-motion controls (:mod:`gdstudio.ui.slow_motion`) live here
too: on / off (View → Slow motion), seconds per stage, loop.

Cheap while playing: it listens to the position, the selection and the selected run's fields,
recomputes at most every 100 ms (:class:`~gdstudio.ui.status.ThrottledSignal`) and only while
the dock is visible (a hidden dock catches up when shown).
"""

from __future__ import annotations

import html
import math
import weakref
from typing import Any, cast

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QCheckBox,
    QDockWidget,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gdstudio.engine.explain import QuantityRow, StepExplanation, explain_run, to_latex, to_markdown
from gdstudio.engine.runs import Status
from gdstudio.mathtext import symbol_text
from gdstudio.model.session import Session
from gdstudio.ui.bridge import Subscriptions
from gdstudio.ui.panels._bind import EntryFields
from gdstudio.ui.slow_motion import SlowMotion, SlowMotionSource, StepPlan, axis_vector
from gdstudio.ui.status import ThrottledSignal
from gdstudio.ui.views.step_overlay import StepOverlay

__all__ = ["HOVER_KINDS", "SHOWN_DIGITS", "InspectorPanel", "format_value", "inspector_dock", "inspector_of",
           "plan_from", "symbol_text", "toggle_slow_motion"]

#: Which rows draw an arrow when hovered, by role: (kind, sign). −g and −v point downhill, as the
#: contour's own arrows do; Δθ is drawn as it is.
#: Significant digits in the table (the copies keep the engine's 6).
SHOWN_DIGITS = 5
#: The symbol column's widest (longer symbols are elided; the tooltip has the name and meaning).
SYMBOL_WIDTH = 96
#: The dock's narrowest width (the panel scrolls sideways below its own minimum).
MIN_DOCK_WIDTH = 140

HOVER_KINDS: dict[str, tuple[str, float]] = {
    "gradient": ("gradient", -1.0), "velocity_old": ("velocity", -1.0), "velocity_add": ("velocity", -1.0),
    "velocity_new": ("velocity", -1.0), "step": ("step", 1.0),
}


def _number(x: float, digits: int) -> str:
    if math.isnan(x):
        return "—"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return f"{x:.{digits}g}"


def format_value(value: Any, digits: int = 6) -> str:
    """A row's value: a number, ``(x, y)`` for a vector, a short matrix for larger arrays; NaN
    shows as ``—`` (not defined at this step), ±inf as ``±∞``."""
    if isinstance(value, (float, int, np.floating, np.integer)):
        return _number(float(value), digits)
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return _number(float(arr), digits)
    if arr.ndim == 1:
        return "(" + ", ".join(_number(float(x), digits) for x in arr) + ")"
    rows = [format_value(r, digits) for r in arr[:4]]
    more = f" … {arr.shape[0] - 4} more" if arr.shape[0] > 4 else ""
    return "[" + ", ".join(rows) + more + "]"


def plan_from(expl: StepExplanation) -> StepPlan:
    """Slow motion's vectors from the roles the rule declared (generic: no rule names)."""
    vec = expl.vectors()
    theta = np.array(expl.param_before, dtype=np.float64)

    def v(role: str) -> np.ndarray | None:
        row = vec.get(role)  # type: ignore[call-overload]
        return None if row is None else axis_vector(row.value)

    def label(role: str, fallback: str) -> str:
        row = vec.get(role)  # type: ignore[call-overload]
        return symbol_text(row.symbol) if row is not None else fallback

    theta2 = axis_vector(theta)
    grad = v("gradient")
    at = v("gradient_point")
    update = v("step")
    old, add, new = v("velocity_old"), v("velocity_add"), v("velocity_new")
    velocity = old is not None and add is not None and new is not None
    return StepPlan(
        step=expl.step, theta=theta2, theta_next=axis_vector(expl.param_after),
        grad=grad if grad is not None else axis_vector(expl.grad),
        grad_at=at if at is not None else theta2,
        update=update if update is not None else axis_vector(expl.update),
        old_term=old if velocity else None, grad_term=add if velocity else None,
        velocity=new if velocity else None, scale=v("scale"),
        grad_label=f"−{label('gradient', 'g')}", grad_at_label=_point_words(vec.get("gradient_point")),
        old_label=label("velocity_old", "old velocity"),
        grad_term_label=label("velocity_add", "scaled gradient"), velocity_label=label("velocity_new", "new velocity"),
        scale_label=label("scale", "scale"),
    )


def _point_words(row: QuantityRow | None) -> str:
    """Where the gradient was taken: θ, or a rule's declared point with its name (NAG's look-ahead)."""
    if row is None or row.kind != "derived":
        return "θ"
    return f"{symbol_text(row.symbol)} (the {row.name.replace('_', ' ')} point)"


class InspectorPanel(QWidget):
    """The dock's widget: heading, rule, quantity table, copy buttons, slow-motion controls.

    ``contour`` (optional) is the window's contour view: the hover highlight and the slow
    motion draw on it. ``action`` (optional) is View → Slow motion, kept in step with the
    controls.
    """

    def __init__(self, session: Session, contour: Any = None, action: QAction | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inspector_panel")
        self.session = session
        self.explanation: StepExplanation | None = None
        self.note = ""
        self._action = action
        self._stale = True
        self._hovered: int | None = None
        self._layout: tuple[object, ...] = ()  # the rows the table's items were made for
        self._texts: tuple[str, str] = ("", "")  # heading and rule as last shown
        self.overlay = StepOverlay(contour) if contour is not None else None
        self.slow_motion = (SlowMotion(self.overlay, _weakly_returning(self.slow_motion_plan), self)
                            if self.overlay is not None else None)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        self.heading = QLabel()
        self.heading.setObjectName("inspector_heading")
        self.heading.setWordWrap(True)
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.formula = QLabel()
        self.formula.setObjectName("inspector_formula")
        self.formula.setTextFormat(Qt.TextFormat.RichText)
        self.formula.setWordWrap(True)
        self.formula.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.formula.setStyleSheet("QLabel#inspector_formula { background: #1c1f26; color: #f0f0f0; padding: 6px; }")
        math_font = QFont("DejaVu Serif")
        math_font.setPointSizeF(max(9.0, self.font().pointSizeF() * 1.1))
        self.formula.setFont(math_font)
        self.table = QTableWidget(0, 3)
        self.table.setObjectName("inspector_table")
        self.table.setHorizontalHeaderLabels(["quantity", "value", "name"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setMouseTracking(True)
        self.table.cellEntered.connect(self._on_row_entered)
        self.table.viewport().installEventFilter(self)
        header = self.table.horizontalHeader()
        # Fitted to the contents when the rows change, not on every value (ResizeToContents measures
        # every row at each setText: ~15 ms a refresh).
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.table.setWordWrap(False)  # one line per quantity (the dock scrolls sideways when narrow)
        self.table.setToolTip("Hover a row: its arrow is highlighted on the contour")

        buttons = QHBoxLayout()
        self.copy_markdown = QPushButton("Copy as Markdown")
        self.copy_markdown.setObjectName("copy_markdown")
        self.copy_markdown.setToolTip("The rule and the table as Markdown (symbols in $…$)")
        self.copy_latex = QPushButton("Copy as LaTeX")
        self.copy_latex.setObjectName("copy_latex")
        self.copy_latex.setToolTip("The rule (aligned) and the table as a LaTeX tabular")
        self.copy_markdown.clicked.connect(lambda: self.copy("markdown"))
        self.copy_latex.clicked.connect(lambda: self.copy("latex"))
        buttons.addWidget(self.copy_markdown)
        buttons.addWidget(self.copy_latex)
        buttons.addStretch(1)

        slow = QHBoxLayout()
        self.slow_box = QCheckBox("Slow motion")
        self.slow_box.setObjectName("slow_motion_box")
        self.slow_box.setToolTip("Play the step shown as its stages on the contour (View → Slow motion)")
        self.speed = QDoubleSpinBox()
        self.speed.setObjectName("slow_motion_speed")
        self.speed.setRange(0.2, 10.0)
        self.speed.setSingleStep(0.25)
        self.speed.setDecimals(2)
        self.speed.setSuffix(" s/stage")
        self.speed.setValue(1.5)
        self.speed.setToolTip("Seconds each stage takes")
        self.loop_box = QCheckBox("Loop")
        self.loop_box.setObjectName("slow_motion_loop")
        self.loop_box.setChecked(True)
        self.loop_box.setToolTip("Replay the step until slow motion is switched off (else stop at the end; → plays "
                                 "the next step)")
        self.stage_label = QLabel()
        self.stage_label.setObjectName("slow_motion_stage")
        slow.addWidget(self.slow_box)
        slow.addWidget(self.speed)
        slow.addWidget(self.loop_box)
        slow.addWidget(self.stage_label, 1)
        self.slow_box.toggled.connect(self.set_slow_motion)
        self.speed.valueChanged.connect(self._on_speed)
        self.loop_box.toggled.connect(self._on_loop)
        if self.slow_motion is None:
            for w in (self.slow_box, self.speed, self.loop_box):
                w.setEnabled(False)
        else:
            self.slow_motion.changed.connect(self._on_slow_changed)
            self.slow_motion.message.connect(self.stage_label.setText)

        layout.addWidget(self.heading)
        layout.addWidget(self.formula)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addLayout(slow)

        self.updates = ThrottledSignal(parent=self)
        self.updates.fired.connect(self.refresh)
        self._subs = Subscriptions()
        s = session
        pb = s.playback.events
        self._subs.connect(pb.position, self._on_position)
        self._subs.connect(pb.selected, self._on_forced)
        self._subs.connect(s.runs_advanced, self._on_advanced)
        self._subs.connect(s.problem_changed, self._on_problem)
        self._entries = EntryFields(s, ("config", "run"), _weakly(self._on_entry))  # (no panel ↔ slot cycle)
        self.request(force=True)

    # ------------------------------------------------------------------ model → panel
    def _on_position(self, _new: object, _old: object) -> None:
        self.request()
        self._restart_slow_motion()

    def _on_forced(self, _new: object = None, _old: object = None) -> None:
        self.request(force=True)
        self._restart_slow_motion()

    def _on_problem(self) -> None:
        self._on_forced()

    def _on_advanced(self) -> None:
        self.request()

    def _on_entry(self, entry: object) -> None:
        if entry is self.session.selected:
            self._on_forced()

    def request(self, force: bool = False) -> None:
        """Ask for a refresh: at once when paused or ``force``d, else at most every 100 ms."""
        self._stale = True
        if not self.isVisible():
            return  # a hidden dock does nothing; showEvent catches up
        self.updates.request(force=force or not self.session.playing)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._stale:
            self.refresh()

    # ------------------------------------------------------------------ contents
    def step_shown(self) -> tuple[int, str]:
        """The step to explain for the selected run and a note (diverged, converged, start …)."""
        e = self.session.selected
        if e is None or e.run is None:
            return 0, "No run selected: click a run in the Runs table."
        run = e.run
        pos = self.session.position
        last = run.history.steps
        k = min(pos, last)
        note = ""
        if run.status is Status.DIVERGED and run.diverged_at is not None and pos >= last:
            note = (f"Diverged at step {run.diverged_at}: that step's point is not finite. "
                    f"Showing step {k}, the last finite one.")
        elif run.status is Status.CONVERGED and pos > last:
            note = f"Converged at step {last}: showing its last step."
        elif run.status is Status.STOPPED and pos > last:
            note = f"Stopped at step {last} ({run.stop_reason}): showing its last step."
        return k, note

    def refresh(self) -> None:
        """Recompute the explanation and redraw the panel (now)."""
        self._stale = False
        e = self.session.selected
        k, note = self.step_shown()
        self.explanation = None
        error = ""
        if e is not None and e.run is not None and k >= 1:
            try:
                self.explanation = explain_run(e.run, k)
            except ValueError as exc:
                error = str(exc)
        self.note = note or error
        self._show(e, k)
        if self._hovered is not None:
            self._highlight_row(self._hovered)

    def _show(self, e: Any, k: int) -> None:
        expl = self.explanation
        color = html.escape(e.color) if e is not None else "#888"
        who = (f'<span style="color:{color}; font-weight:bold">●</span> <b>{html.escape(e.label)}</b>'
               if e is not None else "")
        note = f'<br><span style="color:#E0301E">{html.escape(self.note)}</span>' if self.note else ""
        if expl is None:
            start = ""
            if e is not None and e.run is not None and k == 0 and len(e.run.history):
                h = e.run.history
                start = (f" · step 0, the start: θ₀ = {format_value(h.points[0], 5)}, "
                         f"loss {format_value(float(h.loss[0]), 5)} (no step yet: → takes one)")
            self.heading.setText(f"{who}{html.escape(start)}{note}")
            self.formula.setText("")
            self.formula.setVisible(False)
            self.table.setRowCount(0)
            self._layout = ()
            self._texts = ("", "")
            self._set_buttons(False)
            return
        heading = f"{who} · step {expl.step}: θ{_sub(expl.step - 1)} → θ{_sub(expl.step)}{note}"
        if heading != self._texts[0]:
            self.heading.setText(heading)
        if expl.formula_latex != self._texts[1]:
            lines = [html.escape(line) for line in symbol_text(expl.formula_latex).splitlines()]
            self.formula.setText("<br>".join(lines))
        self._texts = (heading, expl.formula_latex)
        self.formula.setVisible(True)
        rows = expl.quantities
        layout = tuple((q.name, q.symbol, q.meaning, q.role) for q in rows)
        if layout != self._layout:  # other rows (another rule, a switch): rebuild the items once
            self._layout = layout
            self.table.setRowCount(len(rows))
            for i, q in enumerate(rows):
                items = (QTableWidgetItem(symbol_text(q.symbol)), QTableWidgetItem(), QTableWidgetItem(q.name))
                tip = f"{q.name}: {q.meaning}"
                if q.role is not None:
                    tip += f"\n(hover: highlighted on the contour as {q.role.replace('_', ' ')})"
                for col, item in enumerate(items):
                    item.setToolTip(tip)
                    self.table.setItem(i, col, item)
            self._fill_values(rows)
            self.table.resizeColumnsToContents()
            # Long derived symbols (m̂ₜ = mₜ/(1−β₁ᵗ)) are elided: the value and the torch name stay in view.
            self.table.setColumnWidth(0, min(self.table.columnWidth(0), SYMBOL_WIDTH))
        else:  # the same rows at another step: only the values change (cheap while playing)
            self._fill_values(rows)
        self._set_buttons(True)

    def _fill_values(self, rows: tuple[QuantityRow, ...]) -> None:
        for i, q in enumerate(rows):
            item = self.table.item(i, 1)
            text = format_value(q.value, SHOWN_DIGITS)
            if item is not None and item.text() != text:
                item.setText(text)

    def _set_buttons(self, on: bool) -> None:
        self.copy_markdown.setEnabled(on)
        self.copy_latex.setEnabled(on)

    def row_texts(self) -> list[tuple[str, str, str]]:
        """What the table shows: (symbol, value, name) per row."""
        out = []
        for i in range(self.table.rowCount()):
            cells = [self.table.item(i, c) for c in range(3)]
            out.append(cast(tuple[str, str, str], tuple(c.text() if c is not None else "" for c in cells)))
        return out

    # ------------------------------------------------------------------ copy
    def copy(self, fmt: str) -> str:
        """Put the table on the clipboard as ``"markdown"`` or ``"latex"``; returns the text."""
        if self.explanation is None:
            return ""
        text = to_markdown(self.explanation) if fmt == "markdown" else to_latex(self.explanation)
        clipboard = QApplication.clipboard()
        clipboard.setText(text)
        return text

    # ------------------------------------------------------------------ hover → contour
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Leave and watched is self.table.viewport():
            self.clear_highlight()
        return super().eventFilter(watched, event)

    def _on_row_entered(self, row: int, _col: int) -> None:
        self._hovered = row
        self._highlight_row(row)

    def row_index(self, name: str) -> int:
        """The table row of quantity ``name`` (KeyError if absent)."""
        if self.explanation is not None:
            for i, q in enumerate(self.explanation.quantities):
                if q.name == name:
                    return i
        raise KeyError(name)

    def hover_vector(self, q: QuantityRow) -> tuple[str, np.ndarray, np.ndarray] | None:
        """(kind, origin, vector) the row ``q`` draws when hovered, None for rows without an arrow."""
        expl = self.explanation
        if expl is None or q.role not in HOVER_KINDS:
            return None
        kind, sign = HOVER_KINDS[q.role]
        value = np.asarray(q.value, dtype=np.float64)
        if value.ndim == 0 and np.asarray(expl.param_before).size == 1:
            value = value.reshape(1)  # one parameter: a buffer row reads as a number
        if value.ndim != 1 or value.size != np.asarray(expl.param_before).size:
            return None
        origin = np.asarray(expl.param_before, dtype=np.float64)
        if q.role == "gradient":
            point = expl.vectors().get("gradient_point")
            if point is not None:
                origin = np.asarray(point.value, dtype=np.float64)
        return kind, origin, sign * value

    def _highlight_row(self, row: int) -> None:
        expl, overlay = self.explanation, self.overlay
        if overlay is None:
            return
        if expl is None or not 0 <= row < len(expl.quantities):
            overlay.clear_highlight()
            return
        q = expl.quantities[row]
        drawn = self.hover_vector(q)
        if drawn is None:
            overlay.clear_highlight()
            return
        kind, origin, vector = drawn
        sign = "−" if HOVER_KINDS[str(q.role)][1] < 0 else ""
        overlay.highlight(kind, origin, vector, f"{sign}{symbol_text(q.symbol)}")

    def clear_highlight(self) -> None:
        self._hovered = None
        if self.overlay is not None:
            self.overlay.clear_highlight()

    # ------------------------------------------------------------------ slow motion
    def slow_motion_plan(self) -> StepPlan | str:
        """The step slow motion plays: the step shown (step 1 at the start), or why there is none."""
        e = self.session.selected
        if e is None or e.run is None:
            return "Slow motion: select a run first"
        if e.run.problem.dim != 2:
            return "Slow motion needs a two-parameter problem"
        k, _note = self.step_shown()
        k = max(1, k)
        try:
            expl = explain_run(e.run, k)
        except ValueError as exc:
            return f"Slow motion: {exc} (step forward first)" if e.run.history.steps == 0 else f"Slow motion: {exc}"
        return plan_from(expl)

    def set_slow_motion(self, on: bool) -> None:
        """Switch slow motion on or off (pauses playback while on)."""
        if self.slow_motion is None:
            return
        if on:
            self.session.set_playing(False)
        self.slow_motion.seconds_per_stage = self.speed.value()
        self.slow_motion.loop = self.loop_box.isChecked()
        self.slow_motion.set_active(on)

    def _on_slow_changed(self, on: bool) -> None:
        for widget in (self.slow_box, self._action):
            if widget is not None and widget.isChecked() != on:
                blocked = widget.blockSignals(True)
                widget.setChecked(on)
                widget.blockSignals(blocked)
        if not on:
            self.stage_label.setText("")

    def _restart_slow_motion(self) -> None:
        if self.slow_motion is not None and self.slow_motion.active:
            self.slow_motion.restart()

    def _on_speed(self, value: float) -> None:
        if self.slow_motion is not None:
            self.slow_motion.seconds_per_stage = float(value)

    def _on_loop(self, on: bool) -> None:
        if self.slow_motion is not None:
            self.slow_motion.loop = bool(on)
            if on and self.slow_motion.active and not self.slow_motion.playing:
                self.slow_motion.restart()

    def export_hook(self, renderer: Any, steps: list[int], fps: float) -> tuple[Any, list[int]] | None:
        """While slow motion is on: export its step instead of ``steps`` (each stage lasts its
        seconds per stage at ``fps``), drawn on the renderer's own contour; None (a normal export)
        when it is off or the renderer has no contour (3-D view, whole window, small multiples)."""
        sm = self.slow_motion
        contour = getattr(renderer, "contour", None)
        if sm is None or not sm.active or sm.plan is None or not hasattr(contour, "plot_item"):
            return None
        per = max(2, round(sm.seconds_per_stage * max(1.0, float(fps))))
        source = SlowMotionSource(renderer, sm.plan, per)
        return source, source.steps()

    def close_session(self) -> None:
        """Disconnect from the session and remove the drawings (the window is closing)."""
        self._subs.disconnect_all()
        self._entries.close()
        self.updates.cancel()
        if self.slow_motion is not None:
            self.slow_motion.close()
        if self.overlay is not None:
            self.overlay.close()


def _weakly(method: Any) -> Any:
    """A function calling the bound ``method`` while its object lives (holds it weakly)."""
    ref = weakref.WeakMethod(method)

    def call(*args: Any) -> None:
        bound = ref()
        if bound is not None:
            bound(*args)

    return call


def _weakly_returning(method: Any) -> Any:
    """Like :func:`_weakly`, returning the method's result (a reason when its object is gone)."""
    ref = weakref.WeakMethod(method)

    def call() -> Any:
        bound = ref()
        return "the inspector is closed" if bound is None else bound()

    return call


def _sub(n: int) -> str:
    return str(n).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


# ------------------------------------------------------------------ the window's dock
def inspector_dock(window: Any) -> QWidget:
    """The dock's widget for the studio window (DOCKS row ``inspector``): the panel in a scroll
    area, so the dock may be narrower than the panel (a 1280-pixel screen)."""
    actions = getattr(window, "actions", None)
    action = actions.get("slow_motion") if isinstance(actions, dict) else None
    panel = InspectorPanel(window.session, getattr(window, "contour", None), action)
    exports = getattr(window, "exports", None)
    if exports is not None and hasattr(exports, "frame_hooks"):
        exports.frame_hooks.append(panel.export_hook)
    area = QScrollArea()
    area.setObjectName("inspector_scroll")
    area.setWidget(panel)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setMinimumWidth(MIN_DOCK_WIDTH)
    area.close_session = panel.close_session  # type: ignore[attr-defined]  # the window calls it on closing
    docks = getattr(window, "docks", None)
    fit = docks.get("fit") if isinstance(docks, dict) else None
    if fit is not None:
        fit.visibilityChanged.connect(_share_height(window, area, fit))
    return area


def _share_height(window: Any, area: QWidget, fit: Any) -> Any:
    """When the model-fit dock opens under the inspector, each takes half the height (a dock
    shown again next to another gets only its minimum). Holds the window weakly."""
    ref = weakref.ref(window)

    def on_visible(visible: bool) -> None:
        w = ref()
        dock = area.parentWidget()
        if not visible or w is None or not isinstance(dock, QDockWidget) or not dock.isVisible() or dock.isFloating() \
                or fit.isFloating():
            return
        if w.dockWidgetArea(dock) != w.dockWidgetArea(fit):
            return
        half = max(150, (dock.height() + fit.height()) // 2)
        w.resizeDocks([dock, fit], [half, half], Qt.Orientation.Vertical)

    return on_visible


def inspector_of(window: Any) -> InspectorPanel | None:
    """The window's Step inspector panel (None before its dock is made)."""
    found = window.findChild(InspectorPanel) if isinstance(window, QWidget) else None
    return found if isinstance(found, InspectorPanel) else None


def toggle_slow_motion(window: Any, checked: bool) -> None:
    """View → Slow motion: show the inspector dock (its controls) and switch slow motion."""
    panel = inspector_of(window)
    if panel is None:
        return
    dock = panel.parentWidget()
    while dock is not None and not hasattr(dock, "toggleViewAction"):
        dock = dock.parentWidget()
    if checked and dock is not None and not dock.isVisible():
        dock.show()
    panel.set_slow_motion(checked)

