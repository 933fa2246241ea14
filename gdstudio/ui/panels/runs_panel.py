"""The runs table: colour and visibility, optimizer, key hyperparameters, start, step, loss, status.

A :class:`RunsModel` (QAbstractTableModel) caches each row's texts and, on refresh, emits
``dataChanged`` only for the cells whose text changed; while playing it refreshes at most every
100 ms. Selecting a row selects the run in the session (and the optimizer panel follows it);
the check box in the first column shows or hides a run. Diverged runs are red.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QItemSelectionModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QAction, QBrush, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QStyle,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gdstudio.engine.hyperparams import format_value
from gdstudio.engine.quadratic import explain_divergence
from gdstudio.engine.recorded import RecordedRun
from gdstudio.engine.runs import Status
from gdstudio.export.schedule import format_loss
from gdstudio.model.session import RunEntry, Session
from gdstudio.ui.bridge import Subscriptions
from gdstudio.ui.panels._bind import EntryFields

__all__ = ["COLUMNS", "STATE_TEXT", "RunsModel", "RunsPanel", "key_hyperparameters", "run_state"]

COLUMNS = ("Run", "Optimizer", "Hyperparameters", "Start", "Step", "Loss", "Status")
_STATUS_COL = COLUMNS.index("Status")
_STRETCH_COL = COLUMNS.index("Hyperparameters")
_STRETCH_MIN = 80  # px the Hyperparameters column needs to say anything
_THROTTLE_S = 0.1
_DIVERGED = QColor("#E0301E")
#: What the Status column says for each state (converged / diverged add "@ step").
STATE_TEXT = {"playing": "playing", "paused": "paused", "limit": "at step limit",
              Status.CONVERGED: "converged", Status.DIVERGED: "diverged", Status.STOPPED: "stopped"}
_STATE_ICONS = {"playing": "SP_MediaPlay", "paused": "SP_MediaPause", "limit": "SP_MediaStop",
                Status.CONVERGED: "SP_DialogApplyButton", Status.DIVERGED: "SP_MessageBoxCritical",
                Status.STOPPED: "SP_MessageBoxWarning"}
_CONVERGED = QColor("#2E9E44")


def key_hyperparameters(entry: RunEntry) -> str:
    """The hyperparameters worth a column: pairs, momentum/α/ρ, and anything not at its default
    (η is in the optimizer label; switched-off flags and zero decays are left out)."""
    from gdstudio.engine.optimizers import get_spec

    spec = get_spec(entry.config.optimizer)
    values = entry.run.hyperparameters if entry.run is not None else spec.resolve(entry.config.hyperparameters)
    parts = []
    for hp in spec.hyperparams:
        if hp.name == "lr":
            continue
        v = values.get(hp.name, hp.default)
        if hp.kind == "bool":
            if v:
                parts.append(hp.label or hp.name)
            continue
        if hp.kind == "pair":
            syms = hp.symbols or (hp.symbol, hp.symbol)
            parts.append(f"{syms[0]}={v[0]:g} {syms[1]}={v[1]:g}")  # type: ignore[index]
            continue
        main = hp.name in ("momentum", "alpha", "rho") and v != 0
        if main or v != hp.default:
            parts.append(f"{hp.symbol}={format_value(v)}")
    if entry.config.batch_size is not None and not entry.config.shuffle:
        parts.append("in order")
    schedule, warmup = entry.config.schedule, entry.config.warmup
    if schedule is not None or warmup:  # the learning-rate schedule: "warm-up 20 + cosine"
        parts.append(" + ".join(([f"warm-up {warmup}"] if warmup else []) + ([schedule] if schedule else [])))
    return "  ".join(parts)


def run_state(session: Session, entry: RunEntry) -> str:
    """A run's state at the step shown: ``converged`` / ``diverged`` once the position reaches
    the run's last recorded point, else ``limit`` at the session's max steps, else ``playing``
    or ``paused`` (the session's clock)."""
    run = entry.run
    if run is not None and run.status is not Status.RUNNING and session.position >= len(run.history) - 1:
        return str(run.status)
    if session.position >= session.max_steps:
        return "limit"
    return "playing" if session.playing else "paused"


def _swatch(color: str, size: int = 14) -> QIcon:
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setBrush(QColor(color))
    p.setPen(QColor("#202020"))
    p.drawRoundedRect(1, 1, size - 2, size - 2, 3, 3)
    p.end()
    return QIcon(pm)


class RunsModel(QAbstractTableModel):
    """The session's runs as table rows (ids in :attr:`ids`)."""

    def __init__(self, session: Session, parent: Any = None) -> None:
        super().__init__(parent)
        self.session = session
        self.ids: list[int] = []
        self._rows: list[tuple[str, ...]] = []
        self._meta: list[tuple[str, bool, str]] = []  # colour, visible, status
        self._icons: dict[str, QIcon] = {}
        self.cell_updates = 0  # dataChanged cells emitted (for tests)
        #: What the last refresh changed: None after a reset (new rows), else the changed columns.
        self.changed_columns: set[int] | None = None
        self.refresh()

    # ---------------------------------------------------------------- Qt model API
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.ids)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return {
                "Run": "Colour and visibility (uncheck to hide the run in the views)",
                "Step": "The step shown for this run (its last step if it stopped earlier)",
                "Loss": "Full-data loss at the step shown",
                "Status": "At the step shown: playing, paused, at step limit (the session's max steps), "
                          "converged (gradient norm below tol) or diverged (a point or loss not finite)",
            }.get(COLUMNS[section])
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        f = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == 0:
            f |= Qt.ItemFlag.ItemIsUserCheckable
        return f

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        r, c = index.row(), index.column()
        color, visible, status = self._meta[r]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._rows[r][c]
        if role == Qt.ItemDataRole.CheckStateRole and c == 0:
            return Qt.CheckState.Checked if visible else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.DecorationRole:
            if c == 0:
                return self._icon(f"swatch{color}", lambda: _swatch(color))
            if c == _STATUS_COL:
                return self._status_icon(status)
        if role == Qt.ItemDataRole.ForegroundRole and status == Status.DIVERGED and c in (_STATUS_COL, 5):
            return QBrush(_DIVERGED)
        if role == Qt.ItemDataRole.ForegroundRole and status == Status.CONVERGED and c == _STATUS_COL:
            return QBrush(_CONVERGED)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(r)
        if role == Qt.ItemDataRole.TextAlignmentRole and c in (4, 5):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def setData(self, index: QModelIndex | QPersistentModelIndex, value: Any,
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role == Qt.ItemDataRole.CheckStateRole and index.column() == 0 and index.row() < len(self.ids):
            checked = value in (Qt.CheckState.Checked, Qt.CheckState.Checked.value, 2, True)
            self.session.set_visible(self.ids[index.row()], bool(checked))
            return True
        return False

    # ---------------------------------------------------------------- content
    def _icon(self, key: str, make: Any) -> QIcon:
        icon = self._icons.get(key)
        if icon is None:
            icon = self._icons[key] = make()
        return icon

    def _status_icon(self, state: str) -> QIcon:
        from PySide6.QtWidgets import QApplication

        style = QApplication.style()
        pixmap = getattr(QStyle.StandardPixmap, _STATE_ICONS[state])
        return self._icon(f"status{state}", lambda: style.standardIcon(pixmap))

    def _tooltip(self, row: int) -> str:
        e = self.session.entry(self.ids[row]) if self.ids[row] in {x.id for x in self.session.runs} else None
        if e is None:
            return ""
        cfg = e.config
        lines = [f"Run {e.id}: {e.label}", f"start {cfg.start}", f"hyperparameters: {key_hyperparameters(e) or '—'}"]
        if cfg.batch_size is not None:
            lines.append(f"batch {cfg.batch_size}, {'shuffled' if cfg.shuffle else 'in data order'}, seed {cfg.seed}")
        if cfg.noise:
            lines.append(f"gradient noise σ = {cfg.noise:g}")
        if e.run is not None and e.run.status is Status.DIVERGED:
            lines.append(f"diverged at step {e.run.diverged_at}: its point or loss was not finite")
            why = explain_divergence(e.run)  # the quadratic theory's one line (GD / momentum on a quadratic)
            if why:
                lines.append(why)
        if e.run is not None and e.run.status is Status.STOPPED:
            lines.append(f"stopped: {e.run.stop_reason}")
        if e.run is not None and e.run.status is Status.CONVERGED and e.run.stop_reason is not None:
            lines.append(f"converged: {e.run.stop_reason}")
        return "\n".join(lines)

    def _row(self, e: RunEntry, position: int) -> tuple[tuple[str, ...], tuple[str, bool, str]]:
        run = e.run
        start = ", ".join(f"{v:.4g}" for v in e.config.start)
        if run is None or len(run.history) == 0:
            state = run_state(self.session, e)
            return ((f"{e.id}", e.label, key_hyperparameters(e), start, "0", "", STATE_TEXT[state]),
                    (e.color, e.visible, state))
        k = min(position, len(run.history) - 1)
        state = run_state(self.session, e)
        text = STATE_TEXT[state]
        if state == Status.CONVERGED:
            text = f"converged @ {run.steps}"
        elif state == Status.DIVERGED:
            text = f"diverged @ {run.diverged_at}"
        elif state == Status.STOPPED and isinstance(run, RecordedRun):  # a landscape's path: its recording ended
            text, state = f"recording ends @ {run.steps}", "limit"
        elif state == Status.STOPPED:
            text = f"stopped @ {run.steps}"
        loss = format_loss(float(run.history.loss[k]))
        return ((f"{e.id}", e.label, key_hyperparameters(e), start, str(k), loss, text), (e.color, e.visible, state))

    def refresh(self) -> None:
        """Re-read the session; emit dataChanged only for cells that changed."""
        s = self.session
        entries = s.runs
        ids = [e.id for e in entries]
        rows, meta = [], []
        for e in entries:
            r, m = self._row(e, s.position)
            rows.append(r)
            meta.append(m)
        if ids != self.ids:
            self.beginResetModel()
            self.ids, self._rows, self._meta = ids, rows, meta
            self.endResetModel()
            self.changed_columns = None
            return
        self.changed_columns = set()
        for i, (new, old, nm, om) in enumerate(zip(rows, self._rows, meta, self._meta, strict=True)):
            changed = [c for c in range(len(COLUMNS)) if new[c] != old[c]]
            if nm != om:
                changed = sorted(set(changed) | {0, _STATUS_COL, 5})
            self._rows[i], self._meta[i] = new, nm
            if changed:
                self.changed_columns.update(changed)
                self.cell_updates += len(changed)
                self.dataChanged.emit(self.index(i, min(changed)), self.index(i, max(changed)))


class RunsPanel(QWidget):
    """The runs table with Add / Duplicate / Remove / Race-all buttons (the window's actions)."""

    def __init__(self, session: Session, actions: Mapping[str, QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setObjectName("runs_panel")
        self.model = RunsModel(session, self)
        self.table = QTableView()
        self.table.setObjectName("runs_table")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setToolTip("Runs: click a row to edit it in the optimizer panel; uncheck to hide")
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        # Interactive, not ResizeToContents: that mode re-measures every cell of a column on each
        # dataChanged (thousands of data() calls a tick). Columns are fitted by _fit_columns.
        for col in range(len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(_STRETCH_COL, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)

        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        self.buttons: dict[str, QToolButton] = {}
        for aid in ("add_run", "duplicate_run", "remove_run", "race_all"):
            b = QToolButton()
            b.setDefaultAction(actions[aid])
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            self.buttons[aid] = b
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)

        self._natural: dict[int, int] = {}
        self._fit_columns(None)
        self._last = 0.0
        # Field subscriptions: rows come and go with the run list; a row changes with its entry's
        # config, colour, visibility or restart; the step / loss / status columns follow the
        # position, playing and max steps (and runs_advanced: new steps have no field).
        self._subs = Subscriptions()
        s = session
        pb = s.playback.events
        self._subs.connect(s.run_list.events.batch_inserted, self._on_list)
        self._subs.connect(s.run_list.events.batch_removed, self._on_list)
        self._entries = EntryFields(s, ("config", "color", "visible", "run"), self._on_entry)
        self._subs.connect(s.runs_advanced, self._throttled)
        self._subs.connect(pb.position, self._on_position)
        self._subs.connect(pb.playing, self._on_field)
        self._subs.connect(pb.max_steps, self._on_field)  # "at step limit"
        self._subs.connect(pb.selected, self._on_selected)
        self._select_row(s.selected_id)

    def refresh(self) -> None:
        self._last = time.monotonic()
        self.model.refresh()
        self._fit_columns(self.model.changed_columns)

    def _fit_columns(self, changed: set[int] | None) -> None:
        """Widen columns to their contents: all after new rows, else only a changed column whose
        new text no longer fits (columns never shrink while runs only advance)."""
        if changed is None:
            for col in range(len(COLUMNS)):
                if col != _STRETCH_COL:
                    self._natural[col] = self.table.sizeHintForColumn(col) + 2
                    self.table.horizontalHeader().resizeSection(col, self._natural[col])
            self._fit_width()
            return
        fm = self.table.fontMetrics()
        grew = False
        for col in changed - {_STRETCH_COL}:
            extra = 34 if col in (0, _STATUS_COL) else 14  # icon / check box + cell margins
            need = max((fm.horizontalAdvance(self.model.data(self.model.index(r, col)) or "") + extra
                        for r in range(self.model.rowCount())), default=0)
            if need > self._natural.get(col, 0):
                self._natural[col] = max(need, self.table.sizeHintForColumn(col) + 2)
                grew = True
        if grew:
            self._fit_width()

    def _fit_width(self) -> None:
        """Fit the columns to the table's width: all at their natural width when there is room,
        else without the Hyperparameters then the Start column (both are in the row's tooltip),
        then with the Optimizer column elided (at least 90 px). No horizontal scrolling."""
        header = self.table.horizontalHeader()
        avail = self.table.viewport().width()
        natural = {c: self._natural.get(c, header.sectionSize(c)) for c in range(len(COLUMNS)) if c != _STRETCH_COL}
        hidden: set[int] = set()
        need = sum(natural.values()) + _STRETCH_MIN
        for col in (_STRETCH_COL, COLUMNS.index("Start")):
            if need <= avail:
                break
            hidden.add(col)
            need -= _STRETCH_MIN if col == _STRETCH_COL else natural[col]
        for col in range(len(COLUMNS)):
            self.table.setColumnHidden(col, col in hidden)
        opt = COLUMNS.index("Optimizer")
        width = natural[opt]
        if need > avail:
            width = max(90, natural[opt] - (need - avail))
        if header.sectionSize(opt) != width:
            header.resizeSection(opt, width)
        for col, w in natural.items():
            if col != opt and header.sectionSize(col) != w:
                header.resizeSection(col, w)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_width()

    def _throttled(self) -> None:
        if self.session.playing and time.monotonic() - self._last < _THROTTLE_S:
            return  # the next tick (or the stop) refreshes
        self.refresh()

    def _on_list(self, _start: int, _stop: int, _entries: object) -> None:
        self.refresh()
        self._select_row(self.session.selected_id)

    def _on_entry(self, _entry: RunEntry) -> None:
        self.refresh()

    def _on_position(self, _new: int, _old: int) -> None:
        self._throttled()

    def _on_field(self, _new: object, _old: object) -> None:
        self.refresh()

    def _on_selected(self, new: int | None, _old: int | None) -> None:
        self._select_row(new)

    def _on_current_row(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid() and current.row() < len(self.model.ids):
            rid = self.model.ids[current.row()]
            if rid != self.session.selected_id:
                self.session.select(rid)

    def _select_row(self, run_id: object) -> None:
        if run_id not in self.model.ids:
            return
        row = self.model.ids.index(run_id)  # type: ignore[arg-type]
        sm = self.table.selectionModel()
        if sm.currentIndex().row() == row and sm.isRowSelected(row):
            return
        blocked = sm.blockSignals(True)
        sm.setCurrentIndex(self.model.index(row, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
                           | QItemSelectionModel.SelectionFlag.Rows)
        sm.blockSignals(blocked)
        self.table.viewport().update()

    def close_session(self) -> None:
        self._subs.disconnect_all()
        self._entries.close()
