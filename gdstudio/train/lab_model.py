"""The Training lab's settings as a declared, evented model (Qt-free).

:class:`LabSettings` holds what the lab's setup panel and toolbar show — the data, the network,
the budget, the competitors (:class:`LabEntry`: an optimizer and its changed hyperparameters)
and how the curves are drawn — as typed fields that validate on assignment and emit one psygnal
signal each (``settings.events.<field>``, ``(new, old)``). The window writes a field when a widget
is edited (a ValueError is shown next to the widget and the model keeps its last valid value) and
redraws a widget when its field changes, so the lab's state lives here, not in its widgets;
:meth:`LabSettings.train_config`, :meth:`LabSettings.dataset_spec` and :meth:`LabSettings.entries`
are exactly what ``gdstudio train`` would be given.

It derives from the studio's one evented base, :class:`gdstudio.evented.EventedModel` (a
field's ``metadata["validate"]`` converts or raises ValueError; the field's signal is emitted only
when the value changed; construction validates and emits nothing), which sits in the utilities
layer so that ``train`` and ``model`` share it without importing each other.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gdstudio.engine.hyperparams import Value
from gdstudio.evented import EventedModel, meta
from gdstudio.train.compare import Entry, TrainConfig, make_entry
from gdstudio.train.datasets import DatasetError, find_mnist_files
from gdstudio.train.plot import PALETTE

__all__ = [
    "BOOK_OPTIMIZERS",
    "DATASETS",
    "FEATURES",
    "MAX_ENTRIES",
    "MAX_HIDDEN_LAYERS",
    "MAX_HIDDEN_UNITS",
    "SMOOTHINGS",
    "LabEntry",
    "LabSettings",
    "entry_labels",
    "network_text",
    "parse_hidden_sizes",
]

#: Dataset choices: ``digits`` (bundled), ``mnist_folder`` (IDX files in a folder), ``mnist_download``.
DATASETS = ("digits", "mnist_folder", "mnist_download")
#: Input features of each dataset (8×8 or 28×28 pixels).
FEATURES = {"digits": 64, "mnist_folder": 784, "mnist_download": 784}
#: How the loss curves are smoothed (keys of :func:`gdstudio.train.plot.smoothed`).
SMOOTHINGS = ("kaiser", "ema", "none")
MAX_HIDDEN_LAYERS = 16
MAX_HIDDEN_UNITS = 8192
#: The book's comparison (seed 001): its four, plus the RMSProp its exercise adds.
BOOK_OPTIMIZERS = ("sgd", "momentum", "adagrad", "adam", "rmsprop")
#: As many competitors as the palette has distinct colours.
MAX_ENTRIES = len(PALETTE)


def parse_hidden_sizes(text: str) -> tuple[int, ...]:
    """``"100,100"`` (commas and/or spaces) -> (100, 100); ``""`` or ``none`` -> () (softmax
    regression). ValueError names the bad part."""
    raw = text.strip()
    if raw.lower() in ("", "none"):
        return ()
    sizes = []
    for part in (p for p in re.split(r"[,\s;]+", raw) if p):
        if not part.isdigit():
            raise ValueError(f"Invalid hidden sizes: {part!r} is not a whole number (write sizes like 100,100)")
        sizes.append(int(part))
    return _check_hidden(sizes)


def _check_hidden(sizes: list[int]) -> tuple[int, ...]:
    for n in sizes:
        if n < 1 or n > MAX_HIDDEN_UNITS:
            raise ValueError(f"Invalid hidden sizes: {n} units (each layer needs 1 to {MAX_HIDDEN_UNITS:,})")
    if len(sizes) > MAX_HIDDEN_LAYERS:
        raise ValueError(f"Invalid hidden sizes: {len(sizes)} layers (at most {MAX_HIDDEN_LAYERS})")
    return tuple(sizes)


def network_text(features: int, hidden: tuple[int, ...], classes: int = 10) -> str:
    """``64 → 100 → 10  (ReLU, softmax, 7,510 weights)`` (ReLU between layers, softmax at the end)."""
    sizes = (features, *hidden, classes)
    weights = sum((a + 1) * b for a, b in itertools.pairwise(sizes))
    kind = "ReLU, softmax" if hidden else "softmax regression"
    return f"{' → '.join(map(str, sizes))}  ({kind}, {weights:,} weights)"


# ================================================================================ validators
def _whole(name: str, lo: int, hi: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            raise ValueError(f"Invalid {name} value: {value!r} (must be a whole number in [{lo:,}, {hi:,}])")
        return value

    return check


def _choice(name: str, choices: tuple[str, ...]) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"Invalid {name} value: {value!r} (known: {', '.join(choices)})")
        return str(value)

    return check


def _flag(name: str) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"Invalid {name} value: {value!r} (must be true or false)")
        return value

    return check


def _text(name: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError(f"Invalid {name} value: {value!r} (must be text)")
        return value

    return check


@dataclass(frozen=True)
class LabEntry:
    """One competitor: a registry optimizer and the hyperparameters changed from the lab's
    defaults (:func:`gdstudio.train.compare.training_defaults`: the book's learning rates)."""

    optimizer: str
    overrides: Mapping[str, Value] = dataclasses.field(default_factory=dict)


def entry_labels(names: list[str]) -> list[str]:
    """Registry names, ``<name>_2`` for a repeat (the CSV column suffixes of ``gdstudio train``)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def _entries(value: Any) -> tuple[LabEntry, ...]:
    """1 to MAX_ENTRIES competitors, each a known optimizer with valid overrides (an optimizer
    name alone means its defaults)."""
    if isinstance(value, (str, LabEntry)) or not isinstance(value, (tuple, list)):
        raise ValueError(f"Invalid optimizers value: {value!r} (must be a list of optimizers)")
    if not 1 <= len(value) <= MAX_ENTRIES:
        raise ValueError(f"Invalid optimizers value: {len(value)} optimizers (must be 1 to {MAX_ENTRIES})")
    out = []
    for item in value:
        entry = LabEntry(item) if isinstance(item, str) else item
        if not isinstance(entry, LabEntry):
            raise ValueError(f"Invalid optimizers value: {item!r} (must be an optimizer name or a LabEntry)")
        checked = make_entry(entry.optimizer, entry.overrides)  # ValueError names the optimizer or the value
        out.append(LabEntry(checked.optimizer, dict(checked.overrides)))
    return tuple(out)


def _hidden(value: Any) -> tuple[int, ...]:
    """Text as typed (``"100,100"``, ``none``) or a sequence of whole numbers."""
    if isinstance(value, str):
        return parse_hidden_sizes(value)
    if not isinstance(value, (tuple, list)) or any(isinstance(v, bool) or not isinstance(v, int) for v in value):
        raise ValueError(f"Invalid hidden sizes: {value!r} (layer sizes must be whole numbers)")
    return _check_hidden(list(value))


# ================================================================================ the model
def model_field(default: Any, *, validate: Callable[[Any], Any]) -> Any:
    """A dataclass field whose value ``validate`` converts, or rejects with ValueError."""
    return dataclasses.field(default=default, metadata=meta(validate, persist=False))


@dataclass
class LabSettings(EventedModel):
    """The lab's setup and view settings; each field validates on assignment and has a signal."""

    dataset: str = model_field("digits", validate=_choice("dataset", DATASETS))
    mnist_folder: str = model_field("", validate=_text("mnist_folder"))
    hidden: tuple[int, ...] = model_field((100, 100, 100, 100), validate=_hidden)
    iterations: int = model_field(2000, validate=_whole("iterations", 1, 1_000_000))
    batch_size: int = model_field(128, validate=_whole("batch_size", 1, 100_000))
    seed: int = model_field(0, validate=_whole("seed", 0, 2**31 - 1))
    eval_every: int = model_field(100, validate=_whole("eval_every", 0, 1_000_000))
    log_y: bool = model_field(False, validate=_flag("log_y"))
    smoothing: str = model_field("kaiser", validate=_choice("smoothing", SMOOTHINGS))
    optimizers: tuple[LabEntry, ...] = model_field(tuple(LabEntry(n) for n in BOOK_OPTIMIZERS), validate=_entries)

    @property
    def features(self) -> int:
        """Input features of the chosen dataset."""
        return FEATURES[self.dataset]

    def check_folder(self) -> Path:
        """The MNIST folder (``~`` expanded); DatasetError when it lacks the four IDX files."""
        text = self.mnist_folder.strip()
        if not text:
            raise DatasetError("Choose the folder that holds the MNIST IDX files (Browse…)")
        find_mnist_files(text)
        return Path(text).expanduser()

    def dataset_spec(self) -> str:
        """``digits``, ``mnist`` or ``mnist:FOLDER`` (as ``gdstudio train --dataset``);
        DatasetError (a ValueError) when the folder is not usable."""
        if self.dataset == "digits":
            return "digits"
        if self.dataset == "mnist_download":
            return "mnist"
        return f"mnist:{self.check_folder()}"

    def entries(self) -> list[Entry]:
        """The competitors as ``gdstudio train`` runs them: labels ``adam``, ``adam_2``, …"""
        labels = entry_labels([e.optimizer for e in self.optimizers])
        return [make_entry(e.optimizer, e.overrides, label=label) for e, label in zip(self.optimizers, labels,
                                                                                       strict=True)]

    def train_config(self) -> TrainConfig:
        """The settings every optimizer shares, validated."""
        cfg = TrainConfig(hidden=self.hidden, iterations=self.iterations, batch_size=self.batch_size, seed=self.seed,
                          eval_every=self.eval_every)
        cfg.validate()
        return cfg
