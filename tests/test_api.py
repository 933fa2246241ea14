"""The Python API (gdstudio.api, re-exported from gdstudio): the same numbers and messages as the
CLI, races as model Sessions, real renders, inline reprs, and the studio window from Python."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import gdstudio as gd
from gdstudio.model.session import Session as ModelSession

ROOT = Path(__file__).resolve().parent.parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gdstudio", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)


def cli_trace(*args: str) -> dict:
    out = cli("trace", *args)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def colour_pixels(data: bytes, colour: str, tol: int = 12) -> int:
    """How many pixels of a PNG are within ``tol`` of ``colour`` (#rrggbb)."""
    import io

    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)
    want = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(rgb - want).max(axis=2) <= tol).sum())


def entry_points(session: ModelSession, i: int) -> np.ndarray:
    run = session.runs[i].run
    assert run is not None
    return run.history.points


# ------------------------------------------------------------------------------------------- import
def test_import_gdstudio_is_lazy_and_qt_free() -> None:
    code = ("import sys, gdstudio as gd; assert 'gdstudio.api' not in sys.modules; gd.trace('bowl', 'sgd', steps=3); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'OpenGL') "
            "or m.startswith('gdstudio.ui')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_names() -> None:
    assert gd.optimizers()[:3] == ["gd", "sgd", "momentum"] and "adam" in gd.optimizers()
    assert "cosine" in gd.schedules() and "rosenbrock" in gd.problems()
    assert gd.Session is not ModelSession and issubclass(gd.Session, ModelSession)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        gd.nope  # noqa: B018


# ------------------------------------------------------------------------------------------- trace
@pytest.mark.parametrize(("kwargs", "args"), [
    ({"problem": "rosenbrock", "optimizer": "adam", "start": (-1.5, 2), "steps": 100, "lr": 0.05},
     ["--problem", "rosenbrock", "--optimizer", "adam", "--start=-1.5,2", "--steps", "100", "--set", "lr=0.05"]),
    ({"problem": "linear-regression", "optimizer": "momentum", "steps": 60, "batch_size": 4, "noise": 0.1,
      "seed": 3, "schedule": "cosine", "warmup": 5, "lr": 0.05, "momentum": 0.8},
     ["--problem", "linear-regression", "--optimizer", "momentum", "--steps", "60", "--batch-size", "4",
      "--noise", "0.1", "--seed", "3", "--schedule", "cosine", "--warmup", "5", "--set", "lr=0.05",
      "--set", "momentum=0.8"]),
    ({"problem": "sin(x)*cos(y) + 0.1*(x**2 + y**2)", "optimizer": "rmsprop", "start": (1, 0.5), "steps": 40,
      "schedule": "step", "schedule_settings": {"step_size": 10, "gamma": 0.5}},
     ["--problem", "custom", "--expr", "sin(x)*cos(y) + 0.1*(x**2 + y**2)", "--optimizer", "rmsprop",
      "--start=1,0.5", "--steps", "40", "--schedule", "step", "--schedule-set", "step_size=10",
      "--schedule-set", "gamma=0.5"]),
    ({"problem": "rosenbrock", "optimizer": "sgd", "start": (-1.5, 2), "steps": 50, "lr": 0.5},
     ["--problem", "rosenbrock", "--optimizer", "sgd", "--start=-1.5,2", "--steps", "50", "--set", "lr=0.5"]),
])
def test_trace_equals_the_cli_trace(kwargs: dict, args: list[str]) -> None:
    run = gd.trace(**kwargs)
    doc = cli_trace(*args)
    assert isinstance(run, gd.Run)
    assert run.points.dtype == np.float64 and run.points.shape == (len(doc["points"]), len(doc["params"]))
    np.testing.assert_array_equal(run.points, np.array(doc["points"]))
    np.testing.assert_array_equal(run.loss, np.array(doc["loss"]))
    np.testing.assert_array_equal(run.lr, np.array(doc["lr"]))
    assert run.status == doc["status"] and run.diverged_at == doc["diverged_at"]
    assert run.optimizer == doc["optimizer"]
    assert json.loads(json.dumps(run.to_dict())) == doc
    assert {k: list(v) if isinstance(v, tuple) else v for k, v in run.hyperparameters.items()} == \
        doc["hyperparameters"]
    assert run.history.points.shape == run.points.shape


def test_trace_points_are_steps_plus_one_and_divergence_is_reported() -> None:
    run = gd.trace("bowl", "gd", steps=25, lr=0.01)
    assert run.points.shape == (26, 2) and run.status == "ok" and run.diverged_at is None
    assert run.loss[-1] < run.loss[0]
    wild = gd.trace("rosenbrock", "sgd", start=(-1.5, 2), steps=50, lr=0.5)
    assert wild.status == "diverged" and wild.diverged_at is not None
    assert len(wild.points) == wild.diverged_at and np.isfinite(wild.points).all()


def test_problem_objects() -> None:
    p = gd.problem(expr="sin(x)*cos(y)")
    assert p.name == "custom" and p.expr == "sin(x)*cos(y)" and p.dim == 2 and p.params == ("x", "y")
    a = gd.trace(p, "adam", start=(0.5, 0.5), steps=20)
    b = gd.trace("sin(x)*cos(y)", "adam", start=(0.5, 0.5), steps=20)
    np.testing.assert_array_equal(a.points, b.points)
    # f = sin x cos y: the first Adam step moves each coordinate by lr against the gradient's sign
    g = np.array([np.cos(0.5) * np.cos(0.5), -np.sin(0.5) * np.sin(0.5)])
    np.testing.assert_allclose(a.points[1], np.array([0.5, 0.5]) - 1e-3 * np.sign(g), rtol=1e-6)
    data = gd.problem("linear-regression", data_x=[0, 1, 2, 3], data_y=[1, 3, 5, 7])
    run = gd.trace(data, "gd", steps=2000, lr=0.05)
    np.testing.assert_allclose(run.points[-1], [2, 1], atol=1e-4)  # y = 2x + 1 exactly


# ------------------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(("call", "args"), [
    (lambda: gd.trace("rosenbrok", "adam"), ["--problem", "rosenbrok", "--optimizer", "adam"]),
    (lambda: gd.trace("rosenbrock", "adamm"), ["--problem", "rosenbrock", "--optimizer", "adamm"]),
    (lambda: gd.trace("rosenbrock", "adam", lr=-1), ["--problem", "rosenbrock", "--optimizer", "adam", "--set",
                                                      "lr=-1"]),
    (lambda: gd.trace("rosenbrock", "adam", foo=1), ["--problem", "rosenbrock", "--optimizer", "adam", "--set",
                                                      "foo=1"]),
    (lambda: gd.trace("rosenbrock", "sgd", nesterov=True), ["--problem", "rosenbrock", "--optimizer", "sgd",
                                                             "--set", "nesterov=true"]),
    (lambda: gd.trace("bowl", "adam", schedule="cosin"), ["--problem", "bowl", "--optimizer", "adam",
                                                          "--schedule", "cosin"]),
    (lambda: gd.trace("bowl", "adam", schedule="cosine", schedule_settings={"T_max": -1}),
     ["--problem", "bowl", "--optimizer", "adam", "--schedule", "cosine", "--schedule-set", "T_max=-1"]),
    (lambda: gd.trace("bowl", "adam", schedule="cosine", schedule_settings={"foo": 1}),
     ["--problem", "bowl", "--optimizer", "adam", "--schedule", "cosine", "--schedule-set", "foo=1"]),
    (lambda: gd.problem(expr="sin(x"), ["--problem", "custom", "--expr", "sin(x", "--optimizer", "adam"]),
])
def test_errors_are_the_cli_messages(call, args: list[str]) -> None:
    out = cli("trace", *args)
    assert out.returncode == 2
    line = out.stderr.strip().splitlines()[-1]
    message = re.sub(r"^gdstudio trace: error: ", "", line)
    with pytest.raises(ValueError) as info:
        call()
    # The CLI quotes a value it could not take as typed ('-1'); the API shows the number it was given (-1).
    assert str(info.value) == message or str(info.value) == re.sub(r"'(-?[0-9.]+)'", r"\1", message)
    assert "\n" not in str(info.value)


def test_api_own_errors_are_one_line() -> None:
    for call, text in [
        (lambda: gd.trace("rosenbrock", "adam", start=(1,)), "Invalid start: (1,) needs 2 value(s) for (x, y)"),
        (lambda: gd.trace("bowl", "adam", steps=-1), "Invalid steps: -1"),
        (lambda: gd.trace("bowl", "adam", seed=-3), "Invalid seed: -3"),
        (lambda: gd.race("bowl", []), "race needs at least one optimizer"),
        (lambda: gd.race("bowl", [("adam", 0.1)]), "Invalid optimizer entry"),
        (lambda: gd.race("bowl", ["sgd", "adam"], momentum=0.9), "Unknown hyperparameter for adam: momentum"),
        (lambda: gd.problem(), "Give a problem name or expr="),
        (lambda: gd.render(gd.trace("bowl", "sgd", steps=2), "out.txt"), "Unsupported output 'out.txt'"),
        (lambda: gd.render(gd.trace("bowl", "sgd", steps=2), "x.mp4", size=(10, 10)), "Invalid width value: 10"),
        (lambda: gd.render(gd.trace("bowl", "sgd", steps=2), "x.mp4", fps=0), "Invalid fps: 0"),
    ]:
        with pytest.raises(ValueError, match=re.escape(text)) as info:
            call()
        assert "\n" not in str(info.value)


# ------------------------------------------------------------------------------------------- race
def test_race_builds_a_computed_session() -> None:
    s = gd.race("rosenbrock", ["sgd", ("adam", {"lr": 0.05}), "rmsprop"], start=(-1.5, 2), steps=80, lr=0.001)
    assert isinstance(s, gd.Session) and isinstance(s, ModelSession)
    assert s.problem.name == "rosenbrock"
    assert [e.config.optimizer for e in s.runs] == ["sgd", "adam", "rmsprop"]
    assert [e.config.hyperparameters["lr"] for e in s.runs] == [0.001, 0.05, 0.001]
    assert all(e.config.start == (-1.5, 2.0) for e in s.runs)
    assert s.computed_steps == 80 and s.position == 80
    assert not s.undo_stack.can_undo
    # each run is the trace of the same settings
    adam = gd.trace("rosenbrock", "adam", start=(-1.5, 2), steps=80, lr=0.05)
    np.testing.assert_array_equal(entry_points(s, 1), adam.points)


def test_race_common_run_options() -> None:
    s = gd.race("linear-regression", ["sgd", "adam"], steps=30, batch_size=2, noise=0.05, seed=7,
                schedule="exponential", schedule_settings={"gamma": 0.9})
    assert all(e.config.batch_size == 2 and e.config.seed == 7 and e.config.schedule == "exponential"
               for e in s.runs)
    run = gd.trace("linear-regression", "adam", steps=30, batch_size=2, noise=0.05, seed=7,
                   schedule="exponential", schedule_settings={"gamma": 0.9})
    np.testing.assert_array_equal(entry_points(s, 1), run.points)
    # a pair's dict may hold run options too (one mini-batch run beside full-batch ones)
    mixed = gd.race("linear-regression", ["gd", ("sgd", {"lr": 0.1, "batch_size": 1, "shuffle": False})], steps=10)
    assert [e.config.batch_size for e in mixed.runs] == [None, 1] and not mixed.runs[1].config.shuffle
    assert mixed.runs[1].config.hyperparameters == {"lr": 0.1}


# ------------------------------------------------------------------------------------------- render
def test_render_mp4(tmp_path: Path) -> None:
    import av

    run = gd.trace("rosenbrock", "adam", start=(-1.5, 2), steps=20, lr=0.05)
    video = gd.render(run, tmp_path / "out.mp4", size=(320, 240), fps=10)
    assert isinstance(video, gd.Video) and video.kind == "mp4" and video.size == (320, 240)
    assert video.path.read_bytes() == video.data and video.data[4:8] == b"ftyp"
    with av.open(str(video.path)) as container:
        frames = [f for f in container.decode(video=0)]
    assert len(frames) == 21 and (frames[0].width, frames[0].height) == (320, 240)
    html = video._repr_html_()
    assert html.startswith("<video controls")
    encoded = re.search(r'src="data:video/mp4;base64,([^"]+)"', html)
    assert encoded and base64.b64decode(encoded.group(1)) == video.data


def test_render_gif_and_png(tmp_path: Path) -> None:
    from PIL import Image

    s = gd.race("bowl", ["sgd", "adam"], start=(2, -1.5), steps=12, lr=0.1)
    gif = gd.render(s, tmp_path / "race.gif", size=(200, 150))
    assert isinstance(gif, gd.Video) and gif.kind == "gif" and gif.data[:6] == b"GIF89a"
    with Image.open(gif.path) as im:
        assert getattr(im, "n_frames", 1) == 13 and im.size == (200, 150)
    html = gif._repr_html_()
    encoded = re.search(r'<img src="data:image/gif;base64,([^"]+)"', html)
    assert encoded and base64.b64decode(encoded.group(1)) == gif.data
    png = gd.render(s, tmp_path / "race.png", size=(400, 300))
    assert isinstance(png, gd.Image) and png._repr_png_() == png.data == png.path.read_bytes()
    assert png_size(png.data) == (400, 300) == png.size
    # the paths are drawn: each run's colour is in the picture
    for e in s.runs:
        assert colour_pixels(png.data, e.color) > 30, e.color


def test_render_a_plain_model_session(tmp_path: Path) -> None:
    s = ModelSession()
    s.set_problem(name="booth")
    s.replace_runs([gd.trace("booth", "sgd", steps=5).config])
    image = gd.render(s, tmp_path / "plain.png", size=(160, 120), steps=5)
    assert png_size(image.data) == (160, 120) and s.computed_steps == 5


def test_render_3d_without_a_display_says_so(tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import gdstudio as gd
        run = gd.trace("bowl", "sgd", steps=3)
        try:
            gd.render(run, {str(tmp_path / "x.mp4")!r}, view="surface")
        except ValueError as exc:
            print(exc)
    """)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    cli_out = subprocess.run([sys.executable, "-m", "gdstudio", "render", "--problem", "bowl", "--optimizer", "sgd",
                              "--view", "surface", "--out", str(tmp_path / "y.mp4")], capture_output=True,
                             text=True, cwd=ROOT, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert cli_out.returncode == 2
    assert out.stdout.strip() and out.stdout.strip() in cli_out.stderr
    assert not (tmp_path / "x.mp4").exists()


# ------------------------------------------------------------------------------------------- reprs
def test_run_and_session_repr_png() -> None:
    run = gd.trace("himmelblau", "adam", start=(-4, 4), steps=60, lr=0.1)
    data = run._repr_png_()
    assert png_size(data) == gd.api.REPR_SIZE == (800, 500)
    s = gd.race("himmelblau", ["sgd", "adam"], start=(-4, 4), steps=60, lr=0.01)
    picture = s._repr_png_()
    assert png_size(picture) == (800, 500)
    for e in s.runs:
        assert colour_pixels(picture, e.color) > 30, e.color
    assert picture != data


# ------------------------------------------------------------------------------------------- show
def test_show_returns_at_once_in_a_running_event_loop(qtbot, tmp_path: Path, monkeypatch) -> None:
    from PySide6.QtCore import QSettings

    # pytest-qt runs the loop; the render tests above may have made its QApplication: say it is not ours.
    monkeypatch.setattr(gd.api, "_MADE_APP", False)

    from gdstudio.ui.settings import StudioSettings

    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.IniFormat, scope, str(tmp_path / "qsettings"))
        QSettings.setPath(QSettings.Format.NativeFormat, scope, str(tmp_path / "qsettings"))
    s = gd.race("rosenbrock", ["sgd", "adam", "rmsprop"], start=(-1.5, 2), steps=40, lr=0.01)
    window = gd.show(s, settings=StudioSettings.in_folder(tmp_path))
    qtbot.addWidget(window)
    try:
        assert window.isVisible() and window.session is s
        qtbot.waitExposed(window)
        qtbot.waitUntil(lambda: len(window.contour._geoms) == 3)
        assert [e.config.optimizer for e in window.session.runs] == ["sgd", "adam", "rmsprop"]
        assert window.session.computed_steps == 40
    finally:
        window.close()


def test_show_blocks_in_a_script_until_the_window_closes(tmp_path: Path) -> None:
    script = textwrap.dedent(f"""
        import gdstudio as gd
        from PySide6.QtCore import QTimer
        from gdstudio.ui import main_window

        shown = main_window.MainWindow.show

        def show_then_close(self):
            shown(self)
            def close():
                print("runs", len(self.session.runs), "steps", self.session.computed_steps, flush=True)
                print("closing", flush=True)
                self.close()
            QTimer.singleShot(500, close)

        main_window.MainWindow.show = show_then_close
        from gdstudio.ui.settings import StudioSettings
        run = gd.trace("bowl", "adam", steps=30, lr=0.1)
        run._repr_png_()  # the QApplication made for a picture does not stop show from running the loop
        window = gd.show(run, settings=StudioSettings.in_folder({str(tmp_path)!r}))
        print("returned", window.isVisible(), flush=True)
    """)
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_DATA_HOME=str(tmp_path / "data"))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:3] == ["runs 1 steps 30", "closing", "returned False"]


def test_show_returns_at_once_under_ipython_gui_qt(tmp_path: Path) -> None:
    """``%gui qt`` before any QApplication exists (IPython's input hook makes one later): no exec."""
    script = textwrap.dedent(f"""
        from IPython.core.interactiveshell import InteractiveShell
        import gdstudio as gd
        from gdstudio.ui.settings import StudioSettings

        InteractiveShell.instance().active_eventloop = "qt"  # what %gui qt sets
        window = gd.show(gd.trace("bowl", "adam", steps=10), settings=StudioSettings.in_folder({str(tmp_path)!r}))
        print("returned", window.isVisible(), len(window.session.runs), flush=True)
        window.close()
    """)
    env = dict(os.environ, HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_DATA_HOME=str(tmp_path / "data"))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[0] == "returned True 1"
