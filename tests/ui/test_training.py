"""The Training lab window: live curves from a worker thread, Stop / close, errors, exports.

Runs under Xvfb (pytest-xvfb) with the real xcb platform. Every run is tiny (hidden 16,16 on
the bundled digits, tens of iterations). References are independent of the window: the same
settings run through ``compare_optimizers`` directly, and ``gdstudio train`` for the CSV.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import math
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gdstudio.ui.qt_setup import configure_qt

configure_qt()

from PySide6.QtWidgets import QFileDialog  # noqa: E402

from gdstudio.engine.optimizers.registry import get_spec  # noqa: E402
from gdstudio.train.cli import main as train_cli  # noqa: E402
from gdstudio.train.compare import (  # noqa: E402
    TrainConfig,
    compare_optimizers,
    ema,
    make_entry,
    smooth_curve,
    training_defaults,
)
from gdstudio.train.datasets import MNIST_FILES, load_dataset  # noqa: E402
from gdstudio.train.idx import write_idx  # noqa: E402
from gdstudio.train.lab_model import LabEntry  # noqa: E402
from gdstudio.train.mlp import MLP  # noqa: E402
from gdstudio.ui.training import TrainingLab  # noqa: E402
from gdstudio.ui.training.curves import LiveCurves, fit_range  # noqa: E402
from gdstudio.ui.training.entries import BOOK_OPTIMIZERS, MAX_ENTRIES, OptimizerEntry, entry_color  # noqa: E402
from gdstudio.ui.training.lab import LAB_ACTIONS, LabActionId, network_text, parse_hidden_sizes  # noqa: E402
from gdstudio.ui.training.worker import Chunk, Throttle  # noqa: E402

RUN_TIMEOUT = 60_000  # ms: a wait limit for slow shared machines, not a speed assertion


# ------------------------------------------------------------------------------ helpers
@pytest.fixture
def lab(qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # never the user's MNIST cache
    w = TrainingLab()
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    configure(w)
    yield w
    w.close()
    w.work.wait(10_000)  # runs given up (a stalled download) end on their own


def configure(w: TrainingLab, hidden="16,16", iterations=40, batch=32, seed=0, eval_every=10,
              optimizers=BOOK_OPTIMIZERS) -> None:
    w.hidden.setText(hidden)
    w.iterations.setValue(iterations)
    w.batch_size.setValue(batch)
    w.seed.setValue(seed)
    w.eval_every.setValue(eval_every)
    w.optimizers.set_names(optimizers)


def run(w: TrainingLab, qtbot):
    """Start and wait for the end; returns the CompareResult (None if the run failed)."""
    with qtbot.waitSignal(w.run_finished, timeout=RUN_TIMEOUT) as blocker:
        assert w.start()
    return blocker.args[0]


def direct(dataset="digits", hidden=(16, 16), iterations=40, batch=32, seed=0, eval_every=10, entries=None):
    data = load_dataset(dataset, seed=seed)
    entries = entries if entries is not None else [make_entry(n) for n in BOOK_OPTIMIZERS]
    cfg = TrainConfig(hidden=hidden, iterations=iterations, batch_size=batch, seed=seed, eval_every=eval_every)
    return compare_optimizers(data, entries, cfg)


def fake_mnist(folder: Path, n_train=48, n_test=16, seed=0) -> Path:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(folder / "train-images-idx3-ubyte", rng.integers(0, 256, (n_train, 28, 28)).astype(np.uint8))
    write_idx(folder / "train-labels-idx1-ubyte", rng.integers(0, 10, n_train).astype(np.uint8))
    write_idx(folder / "t10k-images-idx3-ubyte", rng.integers(0, 256, (n_test, 28, 28)).astype(np.uint8))
    write_idx(folder / "t10k-labels-idx1-ubyte", rng.integers(0, 10, n_test).astype(np.uint8))
    return folder


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# ------------------------------------------------------------------------------ running
def test_curves_appear_and_grow_while_training(lab, qtbot):
    lab.update_interval = 0.0  # a chunk per iteration, and a redraw per chunk: growth is observable
    lab.curves.MIN_INTERVAL = 0.0
    lab.curves.BUDGET = 0.0
    drawn: list[tuple[int, str]] = []
    lab.curves_updated.connect(lambda _n: drawn.append((len(lab.curves._series[0].curve.xData),
                                                        lab.curves.data.state)))
    assert not lab.curves._series
    result = run(lab, qtbot)
    assert result is not None and not result.cancelled
    lengths = [n for n, _ in drawn]
    assert lengths == sorted(lengths)
    during = {n for n, state in drawn if state == "training"}
    assert len(during) >= 3 and min(during) < 40  # grew step by step while the worker trained
    assert lengths[-1] == 40 and drawn[-1][1] == "done"
    assert len(lab.curves._series) == 5 and lab.curves.legend_texts()[0].startswith("SGD η=0.01")
    assert lab.start_action.isEnabled() and not lab.stop_action.isEnabled() and lab.csv_action.isEnabled()


def test_final_curves_equal_compare_optimizers(lab, qtbot):
    """Same settings and seed in the window and in a direct call: identical numbers (the window
    passes every setting through, including an edited hyperparameter), and identical rows give
    identical curves (same start, same batches)."""
    configure(lab, iterations=50, seed=3, eval_every=10, optimizers=("sgd", "adam", "momentum", "adam"))
    spin = lab.optimizers.rows[1].editors["lr"].spins[0]
    spin.setValue(0.003)  # the user's edit (emits committed, as typing + Enter does)
    result = run(lab, qtbot)
    ref = direct(iterations=50, seed=3, entries=[make_entry("sgd"), make_entry("adam", {"lr": 0.003}),
                                                 make_entry("momentum"), make_entry("adam", label="adam_2")])
    assert result.labels == ref.labels == ["sgd", "adam", "momentum", "adam_2"]
    for label in ref.labels:
        np.testing.assert_array_equal(result.losses[label], ref.losses[label])
        np.testing.assert_array_equal(result.accuracies[label], ref.accuracies[label])
        # what is drawn is the book's smoothing of exactly those numbers
        k = ref.labels.index(label)
        np.testing.assert_array_equal(lab.curves._series[k].curve.yData, smooth_curve(ref.losses[label]))
        its, acc = lab.curves._series[k].acc.getData()
        np.testing.assert_array_equal(its, ref.eval_iterations)
        np.testing.assert_allclose(acc, ref.accuracies[label] * 100)
    np.testing.assert_array_equal(result.eval_iterations, [10, 20, 30, 40, 50])
    assert not np.array_equal(result.losses["adam"], result.losses["adam_2"])  # the edit reached the run
    assert result.hyperparams["adam"]["lr"] == 0.003 and result.hyperparams["adam_2"]["lr"] == 0.001
    # the default row equals a direct default run: fairness (same start, same batches)
    np.testing.assert_array_equal(result.losses["adam_2"], direct(iterations=50, seed=3, entries=[
        make_entry("adam", label="adam_2")]).losses["adam_2"])


def test_stop_cancels_promptly_and_reenables_start(lab, qtbot):
    configure(lab, iterations=1_000_000, eval_every=0, optimizers=("sgd", "adam"))
    assert lab.start()
    worker = lab.current_run
    qtbot.waitUntil(lambda: lab.curves.data.completed >= 20, timeout=RUN_TIMEOUT)
    assert lab.running and not lab.start_action.isEnabled() and not lab.setup.isEnabled()
    with qtbot.waitSignal(lab.run_finished, timeout=RUN_TIMEOUT) as blocker:
        lab.stop_action.trigger()
    result = blocker.args[0]
    assert result.cancelled and 20 <= result.completed < 1_000_000
    assert worker.join(10)
    assert lab.start_action.isEnabled() and not lab.stop_action.isEnabled() and lab.setup.isEnabled()
    assert "Stopped after" in lab.status.text()
    assert lab.curves.data.state == "stopped" and lab.curves.status_text("sgd") == "stopped"
    # a stopped run is still a result: its final accuracy was measured, and it exports
    assert result.eval_iterations[-1] == result.completed and lab.csv_action.isEnabled()


def test_closing_during_training_stops_the_worker(lab, qtbot, qtlog):
    configure(lab, iterations=1_000_000, eval_every=0, optimizers=("sgd",))
    assert lab.start()
    worker = lab.current_run
    qtbot.waitUntil(lambda: lab.curves.data.completed >= 5, timeout=RUN_TIMEOUT)
    lab.close()
    assert not worker.is_alive()
    assert not lab.running and lab.result is not None and lab.result.cancelled  # kept for reopening
    qtbot.wait(50)  # late queued signals are ignored
    assert not [r for r in qtlog.records if "QThread" in r.message or "destroyed" in r.message.lower()]
    assert not any(t.name.startswith("gdstudio-training") and t.is_alive() for t in threading.enumerate())


def test_diverging_optimizer_is_marked_not_raised(lab, qtbot):
    configure(lab, optimizers=("sgd", "adam"))
    lab.optimizers.rows[0].editors["lr"].spins[0].setValue(1e6)
    result = run(lab, qtbot)
    div = result.diverged["sgd"]
    assert div is not None and result.diverged["adam"] is None
    assert lab.curves.status_text("sgd") == f"diverged at iteration {div}"
    assert lab.curves.table.item(0, 4).text() == f"diverged at iteration {div}"
    assert "diverged" in lab.curves.legend_texts()[0] and "diverged" not in lab.curves.legend_texts()[1]
    assert len(lab.curves._series[0].cross.getData()[0]) == 1  # the red cross where the curve ends
    assert "diverged: SGD" in lab.status.text()
    assert np.isfinite(result.losses["adam"]).all()


def test_the_setup_widgets_and_the_lab_model_follow_each_other(lab, qtbot):
    m = lab.settings
    lab.seed.setValue(5)
    assert m.seed == 5
    m.iterations = 77
    assert lab.iterations.value() == 77
    lab.hidden.setText("8, 8")
    assert m.hidden == (8, 8)
    lab.hidden.setText("8,x")  # refused: the model keeps its last valid value, the field says why
    assert m.hidden == (8, 8) and lab.hidden_error.isVisible() and not lab.start()
    m.hidden = (4,)
    assert lab.hidden.text() == "4" and not lab.hidden_error.isVisible()
    assert lab.network_info.text().startswith("64 → 4 → 10")
    m.log_y = True
    assert lab.log_y.isChecked()
    lab.smoothing.setCurrentIndex(lab.smoothing.findData("ema"))
    assert m.smoothing == "ema"
    m.dataset = "mnist_download"
    assert lab.dataset.currentData() == "mnist_download" and lab.folder_row.isHidden()
    m.dataset = "digits"
    m.optimizers = ("adam", LabEntry("sgd", {"lr": 0.5}))
    rows = lab.optimizers.rows
    assert [r.optimizer for r in rows] == ["adam", "sgd"] and rows[1].editors["lr"].value() == 0.5
    rows[0].editors["lr"].spins[0].setValue(0.003)  # as a user types it
    assert m.optimizers[0] == LabEntry("adam", {"lr": 0.003})
    m.iterations, m.eval_every, m.batch_size = 12, 6, 16
    result = run(lab, qtbot)
    assert result.hyperparams["adam"]["lr"] == 0.003 and result.hyperparams["sgd"]["lr"] == 0.5
    np.testing.assert_array_equal(result.losses["sgd"], direct(hidden=(4,), iterations=12, batch=16, seed=5,
                                                               eval_every=6, entries=[
        make_entry("adam", {"lr": 0.003}), make_entry("sgd", {"lr": 0.5})]).losses["sgd"])


def test_view_options_redraw_the_same_numbers(lab, qtbot):
    result = run(lab, qtbot)
    lab.log_y.setChecked(True)
    lab.smoothing.setCurrentIndex(lab.smoothing.findData("ema"))
    np.testing.assert_array_equal(lab.curves._series[1].curve.yData, ema(result.losses["momentum"], 0.95))
    lab.smoothing.setCurrentIndex(lab.smoothing.findData("none"))
    np.testing.assert_array_equal(lab.curves._series[1].curve.yData, result.losses["momentum"])
    lab.log_y.setChecked(False)
    lab.fit_action.trigger()
    lo, hi = lab.curves.loss_plot.getPlotItem().getViewBox().viewRange()[1]
    assert hi > 0 and lo == pytest.approx(-0.015 * hi)  # a sliver below 0: curves at 0 sit above the axis


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(("text", "message"), [("16,abc", "'abc' is not a whole number"),
                                                ("16,0", "0 units"), ("99999", "99999 units")])
def test_bad_hidden_sizes_show_a_message_and_do_not_start(lab, qtbot, text, message):
    started = []
    lab.run_started.connect(lambda: started.append(True))
    lab.hidden.setText(text)
    assert lab.hidden_error.isVisible() and message in lab.hidden_error.text()
    assert not lab.start()
    assert not lab.running and not started and lab.banner.isVisible() and message in lab.banner.text()
    lab.hidden.setText("16, 16")  # spaces are fine
    assert not lab.hidden_error.isVisible() and lab.network_info.text().startswith("64 → 16 → 16 → 10")


def test_missing_mnist_folder_shows_a_message_and_does_not_start(lab, qtbot, tmp_path, monkeypatch):
    lab.set_dataset("mnist_folder", str(tmp_path / "nowhere"))
    assert lab.dataset_error.isVisible() and "does not exist" in lab.dataset_error.text()
    assert not lab.start() and not lab.running and "does not exist" in lab.banner.text()
    folder = fake_mnist(tmp_path / "m")
    (folder / "t10k-labels-idx1-ubyte").unlink()
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(folder)))
    lab.browse.click()
    assert lab.mnist_folder.text() == str(folder)
    assert "t10k-labels-idx1-ubyte" in lab.dataset_error.text() and not lab.start()


def test_mnist_from_a_folder_trains_like_a_direct_call(lab, qtbot, tmp_path, monkeypatch):
    folder = fake_mnist(tmp_path / "mnist")
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(folder)))
    lab.set_dataset("mnist_folder")
    lab.browse.click()
    assert not lab.dataset_error.isVisible() and "Found" in lab.dataset_info.text()
    assert lab.network_info.text().startswith("784 → 16 → 16 → 10")
    configure(lab, iterations=12, batch=8, eval_every=4, optimizers=("sgd", "adam"))
    result = run(lab, qtbot)
    ref = direct(f"mnist:{folder}", iterations=12, batch=8, eval_every=4,
                 entries=[make_entry("sgd"), make_entry("adam")])
    assert result.dataset == "mnist"
    for label in ref.labels:
        np.testing.assert_array_equal(result.losses[label], ref.losses[label])
    assert "MNIST" in lab.curves.loss_plot.getPlotItem().titleLabel.text


def test_corrupt_idx_file_ends_the_run_with_a_message(lab, qtbot, tmp_path):
    folder = fake_mnist(tmp_path / "m")
    (folder / "train-images-idx3-ubyte").write_bytes(b"not an IDX file at all")
    lab.set_dataset("mnist_folder", str(folder))
    assert run(lab, qtbot) is None
    assert lab.banner.isVisible() and "Bad IDX magic number" in lab.banner.text()
    assert "train-images-idx3-ubyte" in lab.banner.text()
    assert not lab.running and lab.start_action.isEnabled()


def test_failed_download_is_a_clear_message(lab, qtbot, tmp_path):
    lab.mnist_mirrors = (f"http://127.0.0.1:{closed_port()}/",)
    lab.set_dataset("mnist_download")
    assert "Not downloaded yet" in lab.dataset_info.text()
    assert run(lab, qtbot) is None
    text = lab.banner.text()
    assert "Could not download MNIST" in text and "MNIST from a folder" in text
    cache = tmp_path / "cache" / "gdstudio" / "mnist"
    assert cache.is_dir() and not list(cache.iterdir())  # no partial file left behind
    assert lab.start_action.isEnabled() and not lab.progress.isVisible()


def test_download_shows_progress_then_trains_on_the_cached_files(lab, qtbot, tmp_path):
    """A local mirror serving small gzipped IDX files with their own checksums: the lab downloads
    them into the cache with a byte progress bar, then trains on them like a direct call."""
    served = tmp_path / "served"
    gz = fake_mnist(tmp_path / "plain")
    served.mkdir()
    files = {}
    for key, (name, _sha, _size) in MNIST_FILES.items():
        data = gzip.compress((gz / name.removesuffix(".gz")).read_bytes())
        (served / name).write_bytes(data)
        files[key] = (name, hashlib.sha256(data).hexdigest(), len(data))
    handler = functools.partial(_QuietHandler, directory=str(served))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server = threading.Thread(target=httpd.serve_forever, daemon=True)
    server.start()
    try:
        lab.mnist_mirrors = (f"http://127.0.0.1:{httpd.server_address[1]}/",)
        lab.mnist_files = files
        seen = []
        original = lab._on_download
        lab._on_download = lambda d: (original(d), seen.append((d.name, lab.progress.format())))
        lab.set_dataset("mnist_download")
        configure(lab, iterations=8, batch=8, eval_every=4, optimizers=("adam",))
        result = run(lab, qtbot)
    finally:
        httpd.shutdown()
        httpd.server_close()
    cache = tmp_path / "cache" / "gdstudio" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(v[0] for v in files.values())
    assert {name for name, _ in seen} == {v[0] for v in files.values()}
    assert all(text.endswith(" MB") and " / " in text for _, text in seen)  # bytes done / total
    assert "MNIST is in the cache" in lab.dataset_info.text()
    ref = direct(f"mnist:{cache}", iterations=8, batch=8, eval_every=4, entries=[make_entry("adam")])
    np.testing.assert_array_equal(result.losses["adam"], ref.losses["adam"])


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


def test_stop_during_a_stalled_download_returns_at_once(lab, qtbot):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)  # accepts connections, never answers: urlopen waits for the timeout
    try:
        lab.mnist_mirrors = (f"http://127.0.0.1:{server.getsockname()[1]}/",)
        lab.download_timeout = 2.0
        lab.set_dataset("mnist_download")
        assert lab.start()
        worker = lab.current_run
        qtbot.waitUntil(lambda: worker.stage == "download", timeout=RUN_TIMEOUT)
        lab.stop()  # nothing to wait for: the stalled download is left to time out on its own
        assert not lab.running and lab.start_action.isEnabled()
        assert "before training" in lab.status.text()
        assert worker.join(30)  # ends by itself (timeout) and reports nothing
        qtbot.wait(20)
        assert not lab.banner.isVisible()
    finally:
        server.close()


# ------------------------------------------------------------------------------ export
def test_csv_export_matches_the_cli(lab, qtbot, tmp_path):
    configure(lab, seed=1)
    run(lab, qtbot)
    assert lab.export_csv(tmp_path / "lab.csv")
    assert train_cli(["--dataset", "digits", "--hidden", "16,16", "--iterations", "40", "--batch-size", "32",
                      "--seed", "1", "--eval-every", "10", "--out", str(tmp_path / "cli.csv"), "--quiet"]) == 0
    lab_text = (tmp_path / "lab.csv").read_text()
    assert lab_text.splitlines()[0] == (tmp_path / "cli.csv").read_text().splitlines()[0]
    assert lab_text.splitlines()[0].startswith("iteration,loss_sgd,loss_momentum,loss_adagrad,loss_adam")
    assert lab_text == (tmp_path / "cli.csv").read_text()  # same settings, same numbers, same file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cli.csv", "lab.csv"]  # no temporary left


def test_png_export_writes_a_valid_png(lab, qtbot, tmp_path):
    assert not lab.png_action.isEnabled() and not lab.export_png(tmp_path / "early.png")
    run(lab, qtbot)
    target = tmp_path / "loss.png"
    assert lab.export_png(target)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(target) as im:
        im.verify()
    with Image.open(target) as im:
        rgb = np.asarray(im.convert("RGB"))
    ratio = lab.curves.loss_plot.devicePixelRatioF()
    assert rgb.shape[:2] == (round(lab.curves.loss_plot.height() * ratio), round(lab.curves.loss_plot.width() * ratio))
    for k in range(5):  # every curve's colour is in the picture
        c = np.array([int(entry_color(k)[i : i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(rgb.astype(int) - c).sum(axis=2) < 40).sum() > 20, entry_color(k)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["loss.png"]
    assert not lab.export_png(tmp_path / "missing" / "x.png")  # a message, not an exception
    assert "Cannot export the plot" in lab.banner.text()


def test_export_file_dialogs_add_the_suffix_and_cancel_writes_nothing(lab, qtbot, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    run(lab, qtbot)
    answers = iter([(str(tmp_path / "plot"), ""), (str(tmp_path / "curves.CSV"), ""), ("", "")])
    asked = []

    def fake(parent, title, start, file_filter):
        asked.append((title, Path(start).name, file_filter))
        return next(answers)

    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(fake))
    assert lab.export_png() and lab.export_csv()
    assert not lab.export_csv()  # cancelled
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.CSV", "plot.png"]
    assert [a[1] for a in asked] == ["training_loss.png", "training_curves.csv", "training_curves.csv"]


def _lab_effects(lab, qtbot, tmp_path, monkeypatch):
    """For every lab action: prepare the stage, return check() (true once the trigger acted)."""
    from PySide6.QtWidgets import QFileDialog

    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda _p, _t, start, _f: (str(tmp_path / Path(start).name), "")))

    def start():
        configure(lab, iterations=1_000_000, eval_every=0, optimizers=("sgd",))
        return lambda: lab.running and not lab.start_action.isEnabled() and lab.stop_action.isEnabled()

    def stop():
        configure(lab, iterations=1_000_000, eval_every=0, optimizers=("sgd",))
        assert lab.start()
        qtbot.waitUntil(lambda: lab.curves.data.completed >= 3, timeout=RUN_TIMEOUT)
        return lambda: lab.stopping and not lab.stop_action.isEnabled()

    def fit():
        run(lab, qtbot)
        box = lab.curves.loss_plot.getPlotItem().getViewBox()
        box.setXRange(10, 20, padding=0)
        return lambda: box.viewRange()[0][0] < 1 and box.viewRange()[0][1] > 40

    def export_png():
        run(lab, qtbot)
        png = tmp_path / "training_loss.png"
        return lambda: png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    def export_csv():
        result = run(lab, qtbot)
        csv = tmp_path / "training_curves.csv"
        return lambda: csv.exists() and csv.read_text().count("\n") == result.completed + 1

    def close():
        return lambda: not lab.isVisible()

    def landscape():  # Show landscape…: the dialog's defaults accepted, the worker starts (or is done)
        from gdstudio.ui.training.landscape_job import LandscapeDialog

        monkeypatch.setattr(LandscapeDialog, "exec", lambda _self: 1)
        run(lab, qtbot)
        return lambda: lab.landscape_job.busy or lab.landscape is not None

    return {"start": start, "stop": stop, "fit": fit, "export_png": export_png, "export_csv": export_csv,
            "close": close, "landscape": landscape}


@pytest.mark.parametrize("action_id", [a.id for a in LAB_ACTIONS])
def test_every_lab_action_triggers(lab, qtbot, tmp_path, monkeypatch, action_id):
    effects = _lab_effects(lab, qtbot, tmp_path, monkeypatch)
    assert set(effects) == {a.id for a in LAB_ACTIONS} == set(LabActionId)
    check = effects[action_id]()
    assert not check(), f"{action_id}: the effect is there before the trigger"
    action = lab.actions[action_id]
    assert action.isEnabled() and action.toolTip()
    action.trigger()
    assert check(), action_id
    if lab.running:
        with qtbot.waitSignal(lab.run_finished, timeout=RUN_TIMEOUT):
            lab.stop()


# ------------------------------------------------------------------------------ optimizer rows
def test_optimizer_rows_add_remove_and_label(lab):
    rows = lab.optimizers
    assert [r.optimizer for r in rows.rows] == list(BOOK_OPTIMIZERS)
    assert [r.color for r in rows.rows] == [entry_color(i) for i in range(5)]
    rows.add("adam")
    assert rows.labels()[-1] == "adam_2"
    rows.remove(rows.rows[0])
    assert rows.labels()[0] == "momentum" and rows.rows[0].color == entry_color(0)
    while rows.add() is not None:
        pass
    assert len(rows.rows) == MAX_ENTRIES and not rows.add_button.isEnabled()
    assert len(set(rows.labels())) == MAX_ENTRIES
    rows.book_button.click()
    assert [r.optimizer for r in rows.rows] == list(BOOK_OPTIMIZERS) and rows.add_button.isEnabled()


def test_editors_start_from_the_training_defaults(qtbot):
    row = OptimizerEntry("adam")
    qtbot.addWidget(row)
    row.set_optimizer("sgd")
    assert get_spec("sgd").resolve()["lr"] != training_defaults("sgd")["lr"]  # the test can tell them apart
    assert row.values()["lr"] == training_defaults("sgd")["lr"] and row.overrides() == {}
    row.editors["lr"].spins[0].setValue(0.5)
    assert row.overrides() == {"lr": 0.5} and "η 0.5" in row.summary.text()
    row.editors["lr"].reset_button.click()
    assert row.values()["lr"] == 0.01 and row.overrides() == {}
    assert row.title() == "SGD η=0.01"


def test_an_invalid_hyperparameter_blocks_start(lab, qtbot):
    lab.optimizers.set_names(("nag",))
    row = lab.optimizers.rows[0]
    row.editors["momentum"].spins[0].setValue(0.0)  # Nesterov needs a momentum
    qtbot.waitUntil(row.error.isVisible)  # a new row is shown by a queued event
    assert "Nesterov" in row.error.text()
    assert not lab.start() and "Nesterov" in lab.banner.text() and row.params.isVisible()


# ------------------------------------------------------------------------------ pieces
def test_parse_hidden_sizes_and_network_text():
    assert parse_hidden_sizes("100,100, 100 100") == (100, 100, 100, 100)
    assert parse_hidden_sizes(" none ") == () and parse_hidden_sizes("") == ()
    for bad in ("1.5", "-3", "a,b", ",".join(["4"] * 17)):
        with pytest.raises(ValueError, match="Invalid hidden sizes"):
            parse_hidden_sizes(bad)
    net = MLP(64, (100, 30), 10)
    weights = sum(p.size for p in net.init_params(np.random.default_rng(0)))
    assert network_text(64, (100, 30)) == f"64 → 100 → 30 → 10  (ReLU, softmax, {weights:,} weights)"
    assert "softmax regression" in network_text(784, ())


def test_throttle_passes_at_most_once_per_interval():
    now = [0.0]
    t = Throttle(0.05, clock=lambda: now[0])
    passed = []
    for k in range(1000):  # 1 ms apart: one pass every 50
        now[0] = k * 0.001
        passed.append(t.ready())
    assert passed[0] and sum(passed) == 20
    gaps = np.diff(np.flatnonzero(passed))
    assert (gaps >= 50).all()


def test_live_curves_detect_divergence_and_take_the_result():
    d = LiveCurves(["a", "b"], ["A", "B"], ["#000000", "#111111"], ["", ""], total=6)
    d.add(Chunk(1, np.array([[2.0, 2.0], [1.5, np.inf], [1.2, np.nan]]), [(3, [0.5, math.nan])], 6, 0.1))
    assert d.completed == 3 and d.diverged == {"a": None, "b": 2}
    d.add(Chunk(4, np.array([[1.0, np.nan]]), [], 6, 0.2))
    np.testing.assert_array_equal(d.loss("a"), [2.0, 1.5, 1.2, 1.0])
    assert d.last_accuracy("a") == 0.5 and math.isnan(d.last_accuracy("b"))
    assert fit_range([np.array([np.nan, 1.0, 3.0])], log_y=False)[0] == 0.0
    assert fit_range([np.array([np.nan, -1.0])], log_y=True) is None


# ------------------------------------------------------------------------------ the studio




def test_studio_opens_one_lab_and_closing_the_studio_stops_it(studio, qtbot):
    action = studio.actions["training_lab"]
    assert action.shortcut().toString() == "Ctrl+T"
    assert action in studio.menus["tools"].actions()
    action.trigger()
    lab = studio.training_lab
    assert isinstance(lab, TrainingLab) and lab.isVisible() and lab.parent() is None
    action.trigger()
    assert studio.training_lab is lab  # one lab per studio, raised again
    configure(lab, iterations=1_000_000, eval_every=0, optimizers=("sgd",))
    problem = studio.session.problem
    assert lab.start()
    worker = lab.current_run
    qtbot.waitUntil(lambda: lab.curves.data.completed >= 3, timeout=RUN_TIMEOUT)
    assert studio.session.problem is problem  # the studio is left alone
    studio.close()
    assert not worker.is_alive() and not lab.isVisible() and not lab.running
