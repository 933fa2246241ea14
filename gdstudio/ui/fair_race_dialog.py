"""Runs → Race all…: a fair race. The same start, the same budget, each optimizer tuned.

The dialog picks the optimizers (a checkable list grouped as the registry groups them; the eleven
of the articles' comparison checked by default), a budget (steps, or loss/gradient evaluations so
that L-BFGS's line search and Newton are counted fairly) and what to tune: η alone, or η and one
more hyperparameter per optimizer (:func:`second_key`: the momentum γ of the momentum rules, β₁ of
the Adam family and Lion, RMSProp's α, Adadelta's ρ, Newton's damping λ; the others are tuned in
η alone). The start is the selected run's.

Race runs :func:`gdstudio.engine.explore.fair_race` on a worker with progress and Cancel (Cancel
leaves the session as it was). Its result is a table — optimizer, tuned values, final loss, steps
to tolerance, evaluations, status — exported as CSV (Save CSV…) or Markdown (Copy Markdown), and
the races start: the session's runs are replaced by the tuned runs (one undoable edit, as Race
all did) and playback starts.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gdstudio.atomic import atomic_path
from gdstudio.engine.explore import Cancelled, fair_race
from gdstudio.engine.hyperparams import format_value
from gdstudio.engine.optimizers.registry import GROUPS, get_spec, optimizers_by_group
from gdstudio.engine.runs import RunConfig
from gdstudio.model.session import RACE_OPTIMIZERS, Session, normalize_config
from gdstudio.ui.background import Background, Job

__all__ = [
    "BUDGET_KINDS",
    "CSV_COLUMNS",
    "SECOND_VALUES",
    "FairRaceDialog",
    "RaceResult",
    "open_fair_race",
    "race_csv",
    "race_markdown",
    "second_key",
]

#: Budget kinds (combo text → fair_race's ``budget_kind``).
BUDGET_KINDS = {"steps": "steps", "loss/gradient evaluations": "evaluations"}
#: What to tune (combo text → tune more than η).
TUNE_CHOICES = {"η alone": False, "η and one more (γ, β₁, α, ρ or λ)": True}
CSV_COLUMNS = ("optimizer", "lr", "second_key", "second_value", "final_loss", "best_loss", "steps_to_tol",
               "evaluations", "status")
#: The candidates of each second key (η's are the engine's 1-3-10 grid, 1e-4 … 3). γ and β₁ stay above
#: 0 (NAG needs a momentum; γ = 0 would race plain GD under Momentum's name).
SECOND_VALUES: dict[str, tuple[float, ...]] = {
    "momentum": (0.5, 0.8, 0.9, 0.95, 0.99),
    "betas[0]": (0.5, 0.8, 0.9, 0.95, 0.99),
    "alpha": (0.9, 0.95, 0.99, 0.999),
    "rho": (0.5, 0.8, 0.9, 0.95, 0.99),
    "damping": (0.0, 1e-3, 1e-2, 0.1, 1.0),
}
_GROUP_TITLES = {"classic": "Classic", "adaptive": "Adaptive", "sign-based": "Sign-based",
                 "second-order": "Second-order", "schedule-free": "Schedule-free"}


def second_key(optimizer: str) -> str | None:
    """The hyperparameter tuned with η when tuning two: a momentum γ that is on by default
    (Momentum, NAG, MADGRAD, Muon, schedule-free SGD), β₁ of a ``betas`` pair (the Adam family,
    Lion, Prodigy; β₁ of Adan's and AdEMAMix's triples), RMSProp's α, Adadelta's ρ, Newton's damping
    λ; None for the rest (GD, SGD, ASGD, AdaGrad, Adafactor, Rprop, L-BFGS: η alone)."""
    spec = get_spec(optimizer)
    hps = {h.name: h for h in spec.hyperparams}
    momentum = hps.get("momentum")
    if momentum is not None and isinstance(momentum.default, float) and momentum.default > 0:
        return "momentum"
    if "betas" in hps:
        return "betas[0]"
    for name, rule in (("alpha", "rmsprop"), ("rho", "adadelta"), ("damping", "newton")):
        if name in hps and spec.name == rule:
            return name
    return None


def _symbol(optimizer: str, key: str) -> str:
    name, _, rest = key.partition("[")
    hp = next(h for h in get_spec(optimizer).hyperparams if h.name == name)
    if rest and hp.symbols:
        return hp.symbols[int(rest.rstrip("]"))]
    return hp.symbol


@dataclass(frozen=True)
class RaceResult:
    """One optimizer's line of the table (from a ``RaceRow`` of the engine)."""

    optimizer: str
    tuned: dict[str, float]
    final_loss: float
    best_loss: float
    steps_to_tol: int  # -1: the tolerance was not reached
    evaluations: int
    status: str
    config: RunConfig

    @property
    def title(self) -> str:
        return get_spec(self.optimizer).title

    def tuned_text(self) -> str:
        return ", ".join(f"{_symbol(self.optimizer, k)} = {format_value(v)}" for k, v in self.tuned.items())


def _from_row(row: Any) -> RaceResult:
    return RaceResult(str(row.optimizer), {str(k): float(v) for k, v in row.tuned.items()}, float(row.final_loss),
                      float(row.best_loss), int(row.steps_to_tol), int(row.evaluations), str(row.status), row.config)


def _loss_text(value: float) -> str:
    return f"{value:.6g}" if math.isfinite(value) else "diverged" if math.isnan(value) else f"{value}"


def race_csv(results: Sequence[RaceResult]) -> str:
    """The table as CSV: :data:`CSV_COLUMNS` (``second_key`` empty when η alone was tuned;
    ``steps_to_tol`` −1 when the tolerance was not reached); floats in full precision (repr)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in results:
        others = [(k, v) for k, v in r.tuned.items() if k != "lr"]
        key, value = others[0] if others else ("", "")
        writer.writerow([r.optimizer, repr(r.tuned.get("lr", math.nan)), key, repr(value) if key else "",
                         repr(r.final_loss), repr(r.best_loss), r.steps_to_tol, r.evaluations, r.status])
    return out.getvalue()


def race_markdown(results: Sequence[RaceResult], caption: str = "") -> str:
    """The table as GitHub Markdown (best final loss first as shown), with an optional caption line."""
    lines = [caption, ""] if caption else []
    lines.append("| Optimizer | Tuned | Final loss | Steps to tolerance | Evaluations | Status |")
    lines.append("|---|---|---:|---:|---:|---|")
    for r in results:
        steps = str(r.steps_to_tol) if r.steps_to_tol >= 0 else "—"
        lines.append(f"| {r.title} | {r.tuned_text()} | {_loss_text(r.final_loss)} | {steps} | {r.evaluations} | "
                     f"{r.status} |")
    return "\n".join(lines) + "\n"


def _race(problem: Any, configs: list[RunConfig], budget: int, kind: str, two: bool, job: Job) -> list[RaceResult]:
    """On the worker: each optimizer tuned by the engine's fair race (its own second key)."""
    results: list[RaceResult] = []
    n = len(configs)
    for k, config in enumerate(configs):
        if job.cancelled():
            raise Cancelled
        key = second_key(config.optimizer) if two else None
        tune: tuple[str, ...] = ("lr", key) if key else ("lr",)

        def progress(fraction: float, k: int = k) -> None:
            job.report((k + float(fraction)) / n)

        rows = fair_race(problem, [config], budget, budget_kind=kind, tune=tune,
                         second=SECOND_VALUES[key] if key else None, progress=progress, cancel=job.cancel_event)
        results.extend(_from_row(r) for r in rows)
        job.report((k + 1) / n)
    return results


class FairRaceDialog(QDialog):
    """Choose optimizers, budget and tuning; race; the table; export; the races start."""

    #: The result table was filled (and the runs replaced).
    finished = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.setObjectName("fair_race_dialog")
        self.setWindowTitle("Fair race")
        self.results: list[RaceResult] = []
        self.caption = ""
        self.work = Background(self, name="gdstudio-fair-race")
        self.work.progress.connect(self._on_progress)
        self.work.done.connect(self._on_done)
        self.work.failed.connect(self._on_failed)

        self.tree = QTreeWidget()
        self.tree.setHeaderHidden(True)
        self.tree.setMinimumWidth(210)
        self.items: dict[str, QTreeWidgetItem] = {}
        by_group = optimizers_by_group()
        for group in GROUPS:
            names = by_group.get(group, [])
            if not names:
                continue
            top = QTreeWidgetItem(self.tree, [_GROUP_TITLES.get(group, group)])
            top.setFlags(top.flags() | Qt.ItemFlag.ItemIsAutoTristate | Qt.ItemFlag.ItemIsUserCheckable)
            for name in names:
                item = QTreeWidgetItem(top, [get_spec(name).title])
                item.setData(0, Qt.ItemDataRole.UserRole, name)
                item.setToolTip(0, get_spec(name).summary)
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(0, Qt.CheckState.Checked if name in RACE_OPTIMIZERS else Qt.CheckState.Unchecked)
                self.items[name] = item
            top.setExpanded(True)

        self.budget_box = QSpinBox()
        self.budget_box.setRange(1, 100_000)
        self.budget_box.setValue(150)
        self.budget_kind = QComboBox()
        self.budget_kind.addItems(list(BUDGET_KINDS))
        self.budget_kind.setToolTip("Evaluations count every loss/gradient evaluation: L-BFGS's line search "
                                    "spends several per step, so it gets fewer steps")
        self.tune_box = QComboBox()
        self.tune_box.addItems(list(TUNE_CHOICES))
        self.tune_box.setToolTip("η and one more: γ (momentum rules), β₁ (Adam family, Lion), α (RMSProp), "
                                 "ρ (Adadelta), λ (Newton); the others are tuned in η alone")
        self.start_label = QLabel()
        budget_row = QHBoxLayout()
        budget_row.addWidget(self.budget_box)
        budget_row.addWidget(self.budget_kind, 1)
        form = QFormLayout()
        form.addRow("Budget", budget_row)
        form.addRow("Tune", self.tune_box)
        form.addRow("Start", self.start_label)

        self.race_button = QPushButton("Race")
        self.race_button.setDefault(True)
        self.race_button.clicked.connect(self.race)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(10)
        self.progress.hide()
        self.message = QLabel()
        self.message.setWordWrap(True)

        self.table = QTableWidget(0, 6)
        self.table.setHorizontalHeaderLabels(["Optimizer", "Tuned", "Final loss", "Steps to tol.", "Evaluations",
                                              "Status"])
        self.table.verticalHeader().hide()
        for column, tip in ((1, "The tuned values: the lowest mean loss over the second half of the budget"),
                            (3, "The first step whose loss is within 1e-6 of the least loss at the problem's known "
                                "minima (or, without known minima, the step the run converged); — never"),
                            (4, "Loss/gradient evaluations used: one per step, L-BFGS's line search counted")):
            header_item = self.table.horizontalHeaderItem(column)
            if header_item is not None:
                header_item.setToolTip(tip)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.csv_button = QPushButton("Save CSV…")
        self.csv_button.clicked.connect(self.save_csv)
        self.md_button = QPushButton("Copy Markdown")
        self.md_button.clicked.connect(self.copy_markdown)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        for b in (self.csv_button, self.md_button):
            b.setEnabled(False)

        right = QVBoxLayout()
        right.addLayout(form)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.race_button)
        buttons.addWidget(self.cancel_button)
        right.addLayout(buttons)
        right.addWidget(self.progress)
        right.addWidget(self.message)
        right.addWidget(self.table, 1)
        exports = QHBoxLayout()
        exports.addWidget(self.csv_button)
        exports.addWidget(self.md_button)
        exports.addStretch(1)
        exports.addWidget(close)
        right.addLayout(exports)
        layout = QHBoxLayout(self)
        layout.addWidget(self.tree)
        layout.addLayout(right, 1)
        self.resize(900, 560)
        self.refresh()

    # ---------------------------------------------------------------- choices
    def refresh(self) -> None:
        self.start_label.setText("(" + ", ".join(f"{v:g}" for v in self.start()) + ")  — the selected run's")

    def start(self) -> tuple[float, ...]:
        sel = self.session.selected
        return tuple(sel.config.start) if sel is not None else tuple(self.session.problem.start)

    def chosen(self) -> list[str]:
        """The checked optimizers, in registry-group order."""
        return [name for name, item in self.items.items() if item.checkState(0) == Qt.CheckState.Checked]

    def set_chosen(self, names: Iterable[str]) -> None:
        wanted = set(names)
        unknown = wanted - set(self.items)
        if unknown:
            raise ValueError(f"Unknown optimizer: {sorted(unknown)[0]!r}")
        for name, item in self.items.items():
            item.setCheckState(0, Qt.CheckState.Checked if name in wanted else Qt.CheckState.Unchecked)

    def configs(self) -> list[RunConfig]:
        """One config per chosen optimizer from the selected run's start; batch size, shuffle,
        noise, seed and tol from the selected run (as Race all did). ValueError if bad."""
        names = self.chosen()
        if not names:
            raise ValueError("Choose at least one optimizer to race")
        problem, sel = self.session.problem, self.session.selected
        template = sel.config if sel is not None else RunConfig("gd", self.start())
        start = self.start()
        return [normalize_config(problem, RunConfig(name, start, {}, template.batch_size if problem.n_samples else None,
                                                    template.shuffle, template.noise, template.seed, template.tol))[0]
                for name in names]

    @property
    def busy(self) -> bool:
        return self.work.busy

    # ---------------------------------------------------------------- racing
    def race(self) -> None:
        try:
            configs = self.configs()
        except ValueError as exc:
            self._say(str(exc), error=True)
            return
        budget, kind = self.budget_box.value(), BUDGET_KINDS[self.budget_kind.currentText()]
        two = TUNE_CHOICES[self.tune_box.currentText()]
        problem = self.session.problem
        self.session.set_playing(False)
        self.work.start(lambda job: _race(problem, configs, budget, kind, two, job),
                        context=(problem, self.start(), budget, kind, two))
        self.progress.setValue(0)
        self.progress.show()
        self.race_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._say(f"Tuning {len(configs)} optimizers over {budget} {kind}…")
        self._changed()

    def cancel(self) -> None:
        """Stop tuning: the session and the table stay as they were."""
        if self.work.cancel() is not None:
            self._say("Race cancelled: nothing changed.")
        self._idle()

    def _idle(self) -> None:
        self.progress.hide()
        self.race_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self._changed()

    def _changed(self) -> None:
        window = self.parent()
        refresh = getattr(getattr(window, "action_set", None), "refresh", None)
        if callable(refresh):
            refresh()  # Race all is disabled while tuning

    def _say(self, text: str, *, error: bool = False) -> None:
        self.message.setStyleSheet("color: #E0301E;" if error else "")
        self.message.setText(text)

    def _on_progress(self, _job: Job, value: object) -> None:
        self.progress.setValue(int(1000 * float(value)))  # type: ignore[arg-type]

    def _on_failed(self, _job: Job, exc: object) -> None:
        self._idle()
        if not isinstance(exc, Cancelled):
            self._say(f"The race failed: {exc}", error=True)

    def _on_done(self, job: Job, result: object) -> None:
        self._idle()
        problem, start, budget, kind, two = job.context
        if problem is not self.session.problem:
            self._say("The problem changed while tuning: race cancelled.", error=True)
            return
        results: list[RaceResult] = list(result)  # type: ignore[call-overload]
        self.caption = (f"Fair race on {self.session.problem_settings.name} from "
                        f"({', '.join(f'{v:g}' for v in start)}): budget {budget} {kind}, tuned "
                        f"{'η and one more' if two else 'η'}")
        self.show_results(results)
        try:
            self.session.replace_runs([r.config for r in results], label=f"fair race ({len(results)} runs)")
        except ValueError as exc:
            self._say(str(exc), error=True)
            return
        self.session.set_playing(True)
        self._say(f"Racing {len(results)} optimizers, each tuned ({budget} {kind}); Ctrl+Z brings the previous "
                  "runs back.")
        self.finished.emit()

    def show_results(self, results: Sequence[RaceResult]) -> None:
        self.results = list(results)
        self.table.setRowCount(len(results))
        for i, r in enumerate(results):
            steps = str(r.steps_to_tol) if r.steps_to_tol >= 0 else "—"
            cells = (r.title, r.tuned_text(), _loss_text(r.final_loss), steps, str(r.evaluations), r.status)
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j >= 2 and j <= 4:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(i, j, item)
        for b in (self.csv_button, self.md_button):
            b.setEnabled(bool(results))

    # ---------------------------------------------------------------- export
    def save_csv(self, path: str | Path | None = None) -> Path | None:
        """Write the table as CSV (asks for the file when ``path`` is None); the path written."""
        if path is None or path is False:
            chosen, _ = QFileDialog.getSaveFileName(self, "Save the race as CSV", "fair-race.csv", "CSV (*.csv)")
            if not chosen:
                return None
            path = chosen
        target = Path(path)
        try:
            with atomic_path(target) as tmp:
                Path(tmp).write_text(race_csv(self.results), encoding="utf-8")
        except OSError as exc:
            self._say(f"Could not save {target}: {exc.strerror or exc}", error=True)
            return None
        self._say(f"Saved {target}")
        return target

    def copy_markdown(self) -> str:
        text = race_markdown(self.results, self.caption)
        QApplication.clipboard().setText(text)
        self._say("The table is on the clipboard as Markdown.")
        return text

    def closeEvent(self, event: Any) -> None:
        self.cancel()
        super().closeEvent(event)


def open_fair_race(window: Any) -> FairRaceDialog:
    """Show the window's fair-race dialog (made on first use; a child window, not modal)."""
    dialog = window.findChild(FairRaceDialog, "fair_race_dialog")
    if dialog is None:
        dialog = FairRaceDialog(window.session, window)
        dialog.setWindowFlag(Qt.WindowType.Window, True)
    dialog.refresh()
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog
