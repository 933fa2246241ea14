"""The Training lab's list of competitors: one row per optimizer, with registry-driven editors.

Each row has a colour swatch (the colour of its curve), an optimizer combo listing the registry,
a one-line summary of its hyperparameters, a button that shows the editors and one that removes
the row. The editors are the studio's :class:`~gdstudio.ui.widgets.hyperparams.ParamEditor`, with
the Training lab's defaults (:func:`~gdstudio.train.compare.training_defaults`: the book's
learning rates) as their defaults, so "↺" goes back to the book's value, not torch's.

Labels (the CSV columns ``loss_<label>``) are registry names, as ``gdstudio train`` writes them;
a second row of the same optimizer is ``<name>_2``, and so on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gdstudio.engine.hyperparams import Value, format_value
from gdstudio.engine.optimizers.registry import OPTIMIZERS, OptimizerSpec, get_spec
from gdstudio.mathtext import rule_text
from gdstudio.train.compare import Entry, make_entry, training_defaults
from gdstudio.train.lab_model import BOOK_OPTIMIZERS, MAX_ENTRIES, LabEntry, entry_labels
from gdstudio.train.plot import PALETTE
from gdstudio.ui.widgets.hyperparams import ParamEditor, make_param_editor

__all__ = ["BOOK_OPTIMIZERS", "MAX_ENTRIES", "OptimizerEntry", "OptimizerList", "entry_color", "hp_summary"]

ERROR_STYLE = "color: #E0301E;"


def entry_color(index: int) -> str:
    """The curve colour of the ``index``-th row (matplotlib's tab10, as ``gdstudio train --plot``)."""
    return PALETTE[index % len(PALETTE)]


def hp_summary(spec: OptimizerSpec, values: dict[str, Value]) -> str:
    """``η 0.01 · γ 0.9``: the learning rate and every value that differs from the registry's."""
    parts = []
    for hp in spec.hyperparams:
        v = values.get(hp.name, hp.default)
        if hp.name == "lr" or v != hp.default:
            if hp.kind == "pair":
                syms = hp.symbols or (hp.symbol + "₁", hp.symbol + "₂")
                parts += [f"{s} {format_value(x)}" for s, x in zip(syms, v, strict=False)]  # type: ignore[arg-type]
            elif hp.kind == "bool":
                parts.append(f"{hp.label or hp.name} {'on' if v else 'off'}")
            else:
                parts.append(f"{hp.symbol} {format_value(v)}")
    return " · ".join(parts)


class OptimizerEntry(QFrame):
    """One competitor row. :attr:`changed` fires on any edit; :attr:`remove_requested` on ✕."""

    changed = Signal()
    remove_requested = Signal(object)

    def __init__(self, name: str = "adam", color: str = PALETTE[0], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("optimizer_entry")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.editors: dict[str, ParamEditor] = {}
        self._spec = get_spec(name)

        self.swatch = QLabel()
        self.swatch.setObjectName("entry_swatch")
        self.swatch.setFixedWidth(18)
        self.combo = QComboBox()
        self.combo.setObjectName("entry_optimizer")
        for spec in OPTIMIZERS.values():
            self.combo.addItem(spec.title, spec.name)
            self.combo.setItemData(self.combo.count() - 1, f"{spec.title}: {spec.summary}\n\n"
                                   f"{rule_text(spec.docstring)}", Qt.ItemDataRole.ToolTipRole)
        self.combo.setMaxVisibleItems(len(OPTIMIZERS))
        self.combo.activated.connect(lambda i: self.set_optimizer(self.combo.itemData(i)))
        self.summary = QLabel()
        self.summary.setObjectName("entry_summary")
        self.summary.setToolTip("The hyperparameters this optimizer trains with (⚙ to edit)")
        self.expand = QToolButton()
        self.expand.setObjectName("entry_expand")
        self.expand.setText("⚙")
        self.expand.setCheckable(True)
        self.expand.setAutoRaise(True)
        self.expand.setToolTip("Show or hide this optimizer's hyperparameters")
        self.expand.toggled.connect(self._on_expand)
        self.remove = QToolButton()
        self.remove.setObjectName("entry_remove")
        self.remove.setText("✕")
        self.remove.setAutoRaise(True)
        self.remove.setToolTip("Remove this optimizer from the comparison")
        self.remove.clicked.connect(lambda: self.remove_requested.emit(self))

        self.params = QWidget()
        self.params.setObjectName("entry_params")
        self.grid = QGridLayout(self.params)
        self.grid.setContentsMargins(22, 2, 0, 2)
        self.grid.setHorizontalSpacing(8)
        self.grid.setVerticalSpacing(2)
        self.grid.setColumnStretch(1, 1)
        self.params.hide()
        self.error = QLabel()
        self.error.setObjectName("entry_error")
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setWordWrap(True)
        self.error.hide()

        head = QHBoxLayout()
        head.setContentsMargins(0, 0, 0, 0)
        head.setSpacing(4)
        head.addWidget(self.swatch)
        head.addWidget(self.combo)
        head.addWidget(self.summary, 1)
        head.addWidget(self.expand)
        head.addWidget(self.remove)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 2, 2)
        layout.setSpacing(1)
        layout.addLayout(head)
        layout.addWidget(self.params)
        layout.addWidget(self.error)
        self.set_color(color)
        self.set_optimizer(self._spec.name)

    # ---------------------------------------------------------------- state
    @property
    def optimizer(self) -> str:
        return self._spec.name

    @property
    def spec(self) -> OptimizerSpec:
        return self._spec

    def defaults(self) -> dict[str, Value]:
        """The values this optimizer starts from here: the registry's, then the training defaults."""
        return self._spec.resolve(training_defaults(self._spec.name))

    def values(self) -> dict[str, Value]:
        """What the editors show, one value per hyperparameter."""
        return {name: ed.value() for name, ed in self.editors.items()}

    def overrides(self) -> dict[str, Value]:
        """The values the user changed from :meth:`defaults` (what ``make_entry`` is given)."""
        base = self.defaults()
        return {k: v for k, v in self.values().items() if v != base.get(k)}

    def set_color(self, color: str) -> None:
        self.color = color
        self.swatch.setText(f"<span style='color:{color}; font-size:15pt'>■</span>")
        self.swatch.setToolTip(f"Curve colour {color}")

    def set_optimizer(self, name: str) -> None:
        """Switch the rule; its editors start from the training defaults."""
        self._spec = get_spec(name)
        blocked = self.combo.blockSignals(True)
        self.combo.setCurrentIndex(self.combo.findData(self._spec.name))
        self.combo.blockSignals(blocked)
        self.combo.setToolTip(f"{self._spec.title}: {self._spec.summary}")
        self._build_editors()
        self.refresh()
        self.changed.emit()

    def _build_editors(self) -> None:
        while self.grid.count():
            item = self.grid.takeAt(0)
            w = item.widget() if item is not None else None
            if w is not None:
                w.setParent(None)
                w.deleteLater()
        self.editors.clear()
        rule = rule_text(self._spec.docstring)
        defaults = self.defaults()
        for row, hp in enumerate(self._spec.hyperparams):
            editor = make_param_editor(replace(hp, default=defaults[hp.name]), rule)
            editor.committed.connect(lambda _v, name=hp.name: self._on_edit(name))
            self.grid.addWidget(editor.label, row, 0)
            self.grid.addWidget(editor, row, 1)
            self.editors[hp.name] = editor
        self.error.hide()

    def _on_expand(self, on: bool) -> None:
        self.params.setVisible(on)

    def _on_edit(self, name: str) -> None:
        hp = self.editors[name].spec
        try:
            hp.validate(self.editors[name].value())
            self._spec.create(self.values())  # cross-parameter checks (Nesterov needs γ > 0)
        except ValueError as exc:
            self.show_error(str(exc))
        else:
            self.error.hide()
        self.refresh()
        self.changed.emit()

    def refresh(self) -> None:
        """The summary line from the editors' values."""
        text = hp_summary(self._spec, self.values())
        self.summary.setText(text)
        self.summary.setToolTip(f"{self._spec.title}: {text}\n(⚙ to edit)")

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()
        if not self.expand.isChecked():
            self.expand.setChecked(True)

    # ---------------------------------------------------------------- run
    def make_entry(self, label: str) -> Entry:
        """The validated :class:`Entry` (ValueError shown under the row, then re-raised)."""
        try:
            entry = make_entry(self._spec.name, self.overrides(), label=label)
        except ValueError as exc:
            self.show_error(str(exc))
            raise
        self.error.hide()
        return entry

    def title(self) -> str:
        """``Adam η=0.001`` (the legend's text)."""
        lr = self.values().get("lr")
        return f"{self._spec.title} η={format_value(lr)}" if lr is not None else self._spec.title


class OptimizerList(QWidget):
    """The rows, and buttons to add one or go back to the book's five."""

    changed = Signal()

    def __init__(self, names: Sequence[str] = BOOK_OPTIMIZERS, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("optimizer_list")
        self.rows: list[OptimizerEntry] = []
        self.rows_layout = QVBoxLayout()
        self.rows_layout.setContentsMargins(0, 0, 0, 0)
        self.rows_layout.setSpacing(3)
        self.add_button = QPushButton("+ Add optimizer")
        self.add_button.setObjectName("add_optimizer")
        self.add_button.setToolTip(f"Add a competitor (up to {MAX_ENTRIES}); pick its rule in the new row")
        self.add_button.clicked.connect(lambda: self.add())
        self.book_button = QPushButton("Book's five")
        self.book_button.setObjectName("book_optimizers")
        self.book_button.setToolTip("SGD, Momentum, AdaGrad, Adam and RMSProp with the book's learning rates "
                                    "(the MNIST comparison of seed 001)")
        self.book_button.clicked.connect(lambda: self.set_names(BOOK_OPTIMIZERS))
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.book_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(self.rows_layout)
        layout.addLayout(buttons)
        self.set_names(names)

    def add(self, name: str | None = None) -> OptimizerEntry | None:
        """Append a row (default: the first book optimizer not yet listed, else Adam)."""
        if len(self.rows) >= MAX_ENTRIES:
            return None
        if name is None:
            used = {r.optimizer for r in self.rows}
            name = next((n for n in (*BOOK_OPTIMIZERS, *OPTIMIZERS) if n not in used), "adam")
        row = OptimizerEntry(name, entry_color(len(self.rows)))
        row.changed.connect(self.changed)
        row.remove_requested.connect(self.remove)
        self.rows.append(row)
        self.rows_layout.addWidget(row)
        self._sync()
        return row

    def remove(self, row: OptimizerEntry) -> None:
        if row not in self.rows:
            return
        self.rows.remove(row)
        self.rows_layout.removeWidget(row)
        row.setParent(None)
        row.deleteLater()
        self._sync()

    def set_names(self, names: Sequence[str]) -> None:
        for row in list(self.rows):
            self.remove(row)
        for name in names:
            self.add(name)
        self._sync()

    def _sync(self) -> None:
        for i, row in enumerate(self.rows):
            row.set_color(entry_color(i))
            row.remove.setEnabled(len(self.rows) > 1)
        full = len(self.rows) >= MAX_ENTRIES
        self.add_button.setEnabled(not full)
        self.add_button.setToolTip(f"At most {MAX_ENTRIES} optimizers (one per colour)" if full else
                                   f"Add a competitor (up to {MAX_ENTRIES}); pick its rule in the new row")
        self.changed.emit()

    def labels(self) -> list[str]:
        """Registry names, ``<name>_2`` for a repeat (the CSV column suffixes)."""
        return entry_labels([row.optimizer for row in self.rows])

    def lab_entries(self) -> tuple[LabEntry, ...]:
        """What the rows show, as the lab model's entries (not validated here)."""
        return tuple(LabEntry(row.optimizer, row.overrides()) for row in self.rows)

    def set_entries(self, entries: Sequence[LabEntry]) -> None:
        """Rows for ``entries`` (the lab model's), editors showing their overrides."""
        self.set_names([e.optimizer for e in entries])
        for row, entry in zip(self.rows, entries, strict=True):
            for name, value in entry.overrides.items():
                row.editors[name].set_value(value)
            row.refresh()
        self.changed.emit()

    def entries(self) -> list[Entry]:
        """Validated entries in row order; ValueError (also shown under its row) on the first bad one."""
        return [row.make_entry(label) for row, label in zip(self.rows, self.labels(), strict=True)]
