"""The Training lab's model (Qt-free): validation on assignment, one signal per field, and the
settings ``gdstudio train`` would be given."""

from __future__ import annotations

import pytest

from gdstudio.train.compare import TrainConfig, make_entry
from gdstudio.train.lab_model import (
    BOOK_OPTIMIZERS,
    MAX_ENTRIES,
    LabEntry,
    LabSettings,
    entry_labels,
    parse_hidden_sizes,
)


def test_defaults_are_the_books_comparison():
    s = LabSettings()
    assert [e.optimizer for e in s.optimizers] == list(BOOK_OPTIMIZERS)
    assert s.train_config() == TrainConfig(hidden=(100, 100, 100, 100), iterations=2000, batch_size=128, seed=0,
                                           eval_every=100)
    assert s.dataset_spec() == "digits" and s.features == 64
    assert [e.label for e in s.entries()] == list(BOOK_OPTIMIZERS)
    assert s.entries() == [make_entry(n) for n in BOOK_OPTIMIZERS]


def test_each_field_signals_only_when_it_changes():
    s = LabSettings()
    seen = []
    s.events.seed.connect(lambda new, old: seen.append(("seed", new, old)))
    s.events.hidden.connect(lambda new, old: seen.append(("hidden", new, old)))
    s.seed = 7
    s.seed = 7
    s.hidden = "16, 16"
    s.hidden = (16, 16)  # the same sizes, written another way
    assert seen == [("seed", 7, 0), ("hidden", (16, 16), (100, 100, 100, 100))]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("seed", -1, "Invalid seed value: -1"),
    ("iterations", 0, "Invalid iterations value: 0"),
    ("batch_size", 2.5, "Invalid batch_size value: 2.5"),
    ("eval_every", True, "Invalid eval_every value: True"),
    ("dataset", "cifar", "Invalid dataset value: 'cifar'"),
    ("smoothing", "gauss", "Invalid smoothing value: 'gauss'"),
    ("log_y", 1, "Invalid log_y value: 1"),
    ("hidden", "16,abc", "'abc' is not a whole number"),
    ("hidden", (16, 0), "0 units"),
    ("optimizers", (), "0 optimizers"),
    ("optimizers", ("sgd",) * (MAX_ENTRIES + 1), f"{MAX_ENTRIES + 1} optimizers"),
    ("optimizers", ("nope",), "Unknown optimizer: 'nope'"),
    ("optimizers", (LabEntry("adam", {"lr": -1}),), "Invalid lr value"),
    ("optimizers", (LabEntry("nag", {"momentum": 0.0}),), "Nesterov"),
])
def test_a_bad_value_is_one_clear_line_and_changes_nothing(field, value, message):
    s = LabSettings()
    before = s.values()
    fired = []
    getattr(s.events, field).connect(lambda *args: fired.append(args))
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        setattr(s, field, value)
    assert "\n" not in str(info.value)
    assert s.values() == before and not fired


def test_entries_are_labelled_and_validated_like_the_cli():
    s = LabSettings()
    s.optimizers = ("adam", LabEntry("adam", {"lr": 0.003}), "sgd")
    assert entry_labels(["adam", "adam", "sgd", "adam"]) == ["adam", "adam_2", "sgd", "adam_3"]
    assert s.entries() == [make_entry("adam", label="adam"), make_entry("adam", {"lr": 0.003}, label="adam_2"),
                           make_entry("sgd", label="sgd")]
    assert s.optimizers[1] == LabEntry("adam", {"lr": 0.003})


def test_mnist_folder_is_checked_when_asked(tmp_path):
    s = LabSettings(dataset="mnist_folder")
    with pytest.raises(ValueError, match="Choose the folder"):
        s.dataset_spec()
    s.mnist_folder = str(tmp_path / "nowhere")
    with pytest.raises(ValueError, match="does not exist"):
        s.dataset_spec()
    s.dataset = "mnist_download"
    assert s.dataset_spec() == "mnist" and s.features == 784


def test_parse_hidden_sizes_accepts_none_and_spaces():
    assert parse_hidden_sizes(" none ") == () and parse_hidden_sizes("8 8;4") == (8, 8, 4)

