"""Export from the window: offscreen frames that look like the live views, the video dialog's
choices reaching the writer, progress / cancel / errors leaving nothing behind, images and
trajectories. Runs under Xvfb (pytest-xvfb) with the real xcb platform (the 3-D view needs GL).
"""

from __future__ import annotations

import errno
import json
import threading
import time
from pathlib import Path

import av
import gdstudio_window_fixtures as wf  # registered by conftest.py, which also provides the window fixtures
import numpy as np
import pytest
from PIL import Image

settle = wf.settle

from PySide6.QtCore import Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication, QPushButton  # noqa: E402

import gdstudio.ui.export_dialog as ed  # noqa: E402
from gdstudio.export.schedule import frame_steps  # noqa: E402
from gdstudio.export.trace_format import trace_csv, trace_dict  # noqa: E402
from gdstudio.export.writers import ExportError, Mp4Writer, writer_for  # noqa: E402
from gdstudio.model.presets import load_preset  # noqa: E402
from gdstudio.model.session import Session  # noqa: E402
from gdstudio.ui.bridge import ViewBridge  # noqa: E402
from gdstudio.ui.frames import FrameRenderer, export_frames, image_to_rgb  # noqa: E402
from gdstudio.ui.views import ContourView, SurfaceView  # noqa: E402


def session(preset: str = "himmelblau", steps: int = 60) -> Session:
    s = Session()
    load_preset(s, preset)
    s.set_max_steps(max(s.max_steps, steps))
    s.forward(steps)
    return s


def decode(path: Path) -> tuple[list[np.ndarray], float, str]:
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        return [f.to_ndarray(format="rgb24") for f in c.decode(st)], float(st.average_rate), st.codec_context.name


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """An empty folder for the exports (the window's settings live elsewhere in tmp_path)."""
    folder = tmp_path / "exports"
    folder.mkdir()
    return folder


def live_pixels(qtbot, view_cls, s: Session, size: tuple[int, int], step: int) -> np.ndarray:
    """A normally shown view of ``size`` fed by the window's bridge, seeked to ``step``, grabbed."""
    view = view_cls()
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    args = (view, None, None) if view_cls is ContourView else (None, view, None)
    bridge = ViewBridge(s, *args)
    s.seek(step)
    bridge.flush()
    try:
        # Grab once the view has settled (its axes take their final width a pass or two after
        # the first paint): two grabs 20 ms apart that agree.
        shot = None
        for _ in range(50):
            qtbot.wait(20)
            again = image_to_rgb(view.grab().toImage())
            if shot is not None and np.array_equal(shot, again):
                break
            shot = again
        return again
    finally:
        bridge.close()


# ------------------------------------------------------------------------------ frames
@pytest.mark.parametrize("view_cls", [ContourView, SurfaceView], ids=["contour", "surface"])
def test_offscreen_frame_looks_like_the_live_view(qtbot, view_cls) -> None:
    s = session(steps=60)
    size = (640, 400)
    live = live_pixels(qtbot, view_cls, s, size, 45).astype(int)
    with FrameRenderer(s, "contour" if view_cls is ContourView else "surface", size) as r:
        same = r.frame(45).astype(int)
        other = r.frame(3).astype(int)
    assert same.shape == live.shape == (400, 640, 3)
    diff_same = np.abs(same - live).mean()
    diff_other = np.abs(other - live).mean()
    assert diff_same < 1.0, diff_same
    assert diff_other > 4 * max(diff_same, 0.05)  # the comparison sees the paths move


def test_both_is_contour_and_surface_side_by_side_under_a_caption(qtbot) -> None:
    s = session(steps=30)
    with FrameRenderer(s, "contour", (400, 300)) as rc, FrameRenderer(s, "surface", (400, 300)) as rs:
        left, right = rc.frame(20), rs.frame(20)
    with FrameRenderer(s, "both", (800, 300)) as rb:
        both = rb.frame(20)
    assert np.abs(both[:, :400].astype(int) - left).mean() < 1.0
    assert np.abs(both[:, 400:].astype(int) - right).mean() < 1.0
    with FrameRenderer(s, "both", (800, 360), caption=True, last_step=30) as rb:
        top = rb.area.top()
        assert 0 < top < 120
        framed = rb.frame(20)
        assert "step 20 / 30" in rb.caption_at(20).title
    strip = framed[:top]
    assert strip.std() > 5  # text was drawn
    # each run's colour appears in the caption (its swatch)
    for e in s.runs:
        rgb = np.array([int(e.color[i:i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(strip.astype(int) - rgb).sum(axis=2) < 30).any(), e.color


def test_frames_keep_the_size_whatever_the_window(qtbot, studio) -> None:
    w = studio
    w.resize(900, 700)
    settle(qtbot, w)
    s = w.session
    s.forward(20)
    with FrameRenderer(s, "window", (640, 360), window=w) as r:
        a = r.frame(10)
        w.resize(1300, 800)
        qtbot.wait(50)
        b = r.frame(10)
    assert a.shape == b.shape == (360, 640, 3)
    assert s.position == 20  # the window source seeks back


# ------------------------------------------------------------------------------ dialog -> writer
def _fill_video_dialog(dlg, path: Path, *, view="contour", size=(320, 180), fps=12, frames=None, first=0, last=None,
                       caption=False) -> None:
    dlg.view.setCurrentIndex(dlg.view.findData(view))
    dlg.size_field.combo.setCurrentIndex(dlg.size_field.combo.count() - 1)  # custom
    dlg.size_field.width_box.setValue(size[0])
    dlg.size_field.height_box.setValue(size[1])
    dlg.fps.setValue(fps)
    if frames is None:
        dlg.every.setChecked(True)
    else:
        dlg.spread.setChecked(True)
        dlg.count.setValue(frames)
    dlg.first.setValue(first)
    if last is not None:
        dlg.last.setValue(last)
    dlg.caption.setChecked(caption)
    dlg.path_field.edit.setText(str(path))


@pytest.fixture
def spy(monkeypatch):
    """Records what the dialog's export hands to the renderer and the writer."""
    seen: dict = {"steps": []}
    real_renderer, real_writer_for = ed.FrameRenderer, ed.writer_for

    class Spy(real_renderer):
        def __init__(self, session, view, size, **kw):
            seen.update(view=view, size=tuple(size), caption=kw.get("caption"))
            super().__init__(session, view, size, **kw)

        def frame(self, step, out=None):
            seen["steps"].append(step)
            return super().frame(step, out)

    def spy_writer_for(target, fps, **kw):
        seen.update(target=Path(target), fps=fps)
        return real_writer_for(target, fps, **kw)

    monkeypatch.setattr(ed, "FrameRenderer", Spy)
    monkeypatch.setattr(ed, "writer_for", spy_writer_for)
    return seen


def test_dialog_choices_reach_the_writer(qtbot, studio, out_dir, spy) -> None:
    w = studio
    w.session.forward(40)
    w.actions["export_video"].trigger()
    dlg = w.exports.dialog
    assert isinstance(dlg, ed.VideoExportDialog) and dlg.isVisible()
    assert dlg.last.value() == w.session.computed_steps == 40
    out = out_dir / "choice.mp4"
    _fill_video_dialog(dlg, out, view="both", size=(480, 270), fps=12, frames=9, first=5, last=29, caption=True)
    assert "9 frames of 480×270" in dlg.summary.text()
    dlg.accept()
    job = w.exports.job
    assert job.wait(120) and job.state == "finished", job.message
    chosen = (spy["view"], spy["size"], spy["caption"], spy["fps"], spy["target"])
    assert chosen == ("both", (480, 270), True, 12.0, out)
    assert spy["steps"] == frame_steps(29, 9, first=5)  # repeated steps reuse the previous frame
    frames, fps, codec = decode(out)
    assert (len(frames), frames[0].shape, fps, codec) == (9, (270, 480, 3), 12.0, "h264")
    assert files(out_dir) == ["choice.mp4"]
    assert "Exported" in w.status_message.text()


def test_gif_and_png_from_the_dialog(qtbot, studio, out_dir) -> None:
    w = studio
    w.session.forward(12)
    for target in (out_dir / "a.gif", out_dir / "frames"):
        w.actions["export_video"].trigger()
        _fill_video_dialog(w.exports.dialog, target, fps=10)
        w.exports.dialog.accept()
        assert w.exports.job.wait(120) and w.exports.job.state == "finished", w.exports.job.message
    with Image.open(out_dir / "a.gif") as im:
        assert (im.n_frames, im.size, im.info["loop"], im.info["duration"]) == (13, (320, 180), 0, 100)
    assert files(out_dir / "frames") == [f"frame_{i:05d}.png" for i in range(13)]
    assert files(out_dir) == ["a.gif", "frames"]


def test_dialog_refuses_bad_output_and_stays_open(qtbot, studio, out_dir) -> None:
    w = studio
    w.actions["export_video"].trigger()
    dlg = w.exports.dialog
    for path, message in ((out_dir / "missing" / "v.mp4", "Folder does not exist"),
                          (out_dir / "v.avi", "Unsupported output")):
        _fill_video_dialog(dlg, path)
        dlg.accept()
        assert dlg.isVisible() and message in dlg.error.text()
    dlg.reject()
    assert files(out_dir) == []


# ------------------------------------------------------------------------------ progress, cancel, errors
def test_cancel_midway_leaves_nothing(qtbot, studio, out_dir) -> None:
    w = studio
    w.session.forward(300)
    w.actions["export_video"].trigger()
    out = out_dir / "long.mp4"
    _fill_video_dialog(w.exports.dialog, out, size=(640, 360))
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(w.exports.running))
    timer.start(5)
    w.exports.dialog.accept()
    job = w.exports.job
    progress = w.exports.progress
    assert progress.isVisible() and progress.maximum() == 301
    # The event loop keeps running during the export (it renders ~40 ms slices): other timers fire.
    qtbot.waitUntil(lambda: job.progress.done >= 40 and sum(ticks) >= 3, timeout=60_000)
    assert "left" in progress.labelText()  # the time left once a few frames are done
    qtbot.mouseClick(progress.findChild(QPushButton), Qt.MouseButton.LeftButton)  # Cancel
    timer.stop()
    assert job.state == "cancelled" and job.progress.done < 301
    assert files(out_dir) == []
    assert "cancelled" in w.status_message.text()
    assert not progress.isVisible()


def test_writer_failure_midway_is_reported_and_cleaned(qtbot, studio, out_dir, monkeypatch) -> None:
    real = Mp4Writer._write
    calls = []

    def failing(self, frame):
        calls.append(1)
        if len(calls) > 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(self, frame)

    monkeypatch.setattr(Mp4Writer, "_write", failing)
    w = studio
    w.session.forward(30)
    w.actions["export_video"].trigger()
    _fill_video_dialog(w.exports.dialog, out_dir / "full.mp4")
    w.exports.dialog.accept()
    job = w.exports.job
    assert job.wait(60) and job.state == "failed"
    assert "No space left on device" in job.message and "full.mp4" in job.message
    assert files(out_dir) == []
    assert w.message_box is not None and w.message_box.isVisible()
    assert "No space left on device" in w.message_box.text() and "Traceback" not in w.message_box.text()
    assert "No space left on device" in w.status_message.text()
    w.message_box.close()


def test_encoder_failure_other_than_os_error(qtbot, tmp_path, monkeypatch) -> None:
    def broken(self, frame):
        raise RuntimeError("x264 refused the frame")

    monkeypatch.setattr(Mp4Writer, "_write", broken)
    s = session(steps=10)
    with FrameRenderer(s, "contour", (160, 96)) as r:
        gen = export_frames(r, range(11), writer_for(tmp_path / "e.mp4", 10))
        with pytest.raises(ExportError, match=r"Encoding e\.mp4 failed: x264 refused the frame"):
            list(gen)
    assert files(tmp_path) == []


@pytest.mark.parametrize("threaded", [True, False])
def test_pipeline_writes_each_scheduled_step_with_bounded_memory(tmp_path, threaded) -> None:
    """Every frame written shows its scheduled step (reused buffers never overwrite a queued
    frame, also when steps repeat), and the renderer never runs more than the queue ahead."""
    written = []
    buffers = set()

    class SlowWriter:
        target = tmp_path / "slow.mp4"

        def write(self, frame):
            time.sleep(0.003)
            written.append(int(frame[0, 0, 0]))

        def finish(self):
            return self.target

        def abort(self):
            pass

    class Counter:
        rendered = 0

        def frame(self, step, out=None):
            self.rendered += 1
            assert self.rendered - len(written) <= 3 + 2, "frames pile up in memory"
            out = np.empty((4, 4, 3), np.uint8) if out is None else out
            out[:] = step % 256
            buffers.add(id(out))
            return out

    steps = frame_steps(30, 80)  # more frames than steps: repeats
    r = Counter()
    assert list(export_frames(r, steps, SlowWriter(), threaded=threaded)) == list(range(1, 81))
    assert written == steps
    assert r.rendered == 31 and len(buffers) <= 6


def test_closing_the_window_cancels_a_running_export(qtbot, studio_settings, out_dir) -> None:
    w = wf.make_window(qtbot, studio_settings)
    w.session.forward(300)
    w.actions["export_video"].trigger()
    _fill_video_dialog(w.exports.dialog, out_dir / "c.mp4")
    w.exports.dialog.accept()
    qtbot.waitUntil(lambda: w.exports.job.progress.done >= 2, timeout=60_000)
    w.close()
    assert w.exports.job.state == "cancelled"
    assert files(out_dir) == []


# ------------------------------------------------------------------------------ image, trajectories
def test_export_image_at_the_chosen_size(qtbot, studio, out_dir) -> None:
    w = studio
    w.session.forward(25)
    w.actions["export_image"].trigger()
    dlg = w.exports.dialog
    assert isinstance(dlg, ed.ImageDialog)
    dlg.view.setCurrentIndex(dlg.view.findData("surface"))
    dlg.size_field.set_size((1920, 1080))
    dlg.path_field.edit.setText(str(out_dir / "shot"))  # .png is added
    dlg.accept()
    out = out_dir / "shot.png"
    with Image.open(out) as im:
        assert im.size == (1920, 1080)
        pixels = np.asarray(im.convert("RGB")).astype(int)
    with FrameRenderer(w.session, "surface", (1920, 1080), like_surface=w.surface_view) as r:
        expected = r.frame(w.session.position)
    assert np.abs(pixels - expected).mean() < 1.0
    assert files(out_dir) == ["shot.png"]
    assert "shot.png" in w.status_message.text()


def test_export_trajectories_combined_and_per_run(qtbot, studio, out_dir) -> None:
    w = studio
    w.session.forward(15)
    runs = w.session.runs
    w.actions["export_trajectories"].trigger()
    dlg = w.exports.dialog
    dlg.path_field.edit.setText(str(out_dir / "all.csv"))
    dlg.accept()
    rows = (out_dir / "all.csv").read_text().splitlines()
    assert rows[0] == "run,step,x,y,loss"
    assert len(rows) == 1 + sum(len(e.run.history) for e in runs)
    first_run = [r.split(",", 1)[1] for r in rows[1:] if r.startswith(f"{runs[0].id}:")]
    assert first_run == trace_csv(runs[0].run).splitlines()[1:]

    w.actions["export_trajectories"].trigger()
    dlg = w.exports.dialog
    dlg.format.setCurrentIndex(dlg.format.findData("json"))
    dlg.per_run.setChecked(True)
    dlg.path_field.edit.setText(str(out_dir / "each.json"))
    dlg.accept()
    names = [f"each_run{e.id}_{e.config.optimizer}.json" for e in runs]
    assert files(out_dir) == sorted(["all.csv", *names])
    for e, name in zip(runs, names, strict=True):
        doc = json.loads((out_dir / name).read_text())
        assert doc == json.loads(json.dumps(trace_dict(e.run)))
        np.testing.assert_array_equal(np.array(doc["points"]), e.run.history.points)


def test_trajectory_files_are_all_or_nothing(tmp_path, monkeypatch) -> None:
    s = session(steps=5)
    out = ed.trajectory_files(s, tmp_path / "t.csv", "csv", combined=False)
    assert len(out) == len(s.runs) >= 2
    real = Path.write_text
    count = []

    def flaky(self, text, **kw):
        count.append(1)
        if len(count) == 2:
            raise OSError(errno.EIO, "Input/output error")
        return real(self, text, **kw)

    monkeypatch.setattr(Path, "write_text", flaky)
    with pytest.raises(OSError):
        ed.write_files(out)
    assert files(tmp_path) == []
    with pytest.raises(ValueError, match="format"):
        ed.trajectory_files(s, tmp_path / "t.txt", "xml")


def test_no_thread_is_left_running(qtbot, tmp_path) -> None:
    s = session(steps=5)
    before = threading.active_count()
    with FrameRenderer(s, "contour", (160, 96)) as r:
        gen = export_frames(r, range(6), writer_for(tmp_path / "t.mp4", 10))
        next(gen)
        gen.close()
    QApplication.processEvents()
    assert threading.active_count() == before
    assert files(tmp_path) == []


def test_a_new_problem_closes_the_open_dialog(qtbot, studio) -> None:
    w = studio
    w.actions["export_video"].trigger()
    dlg = w.exports.dialog
    assert dlg.isVisible()
    w.session.set_problem(name="rosenbrock")
    assert not dlg.isVisible()


def test_big_surfaces_computed_off_thread_are_waited_for(qtbot, monkeypatch) -> None:
    import gdstudio.ui.bridge as bridge

    s = session(steps=10)
    with FrameRenderer(s, "contour", (320, 200)) as r:
        sync = r.frame(10)
    monkeypatch.setattr(bridge, "SYNC_SURFACE_COST", 0)  # every surface goes to the worker thread
    with FrameRenderer(s, "contour", (320, 200)) as r:
        assert np.array_equal(r.frame(10), sync)

    def broken(*_a, **_k):
        raise ValueError("grid too large")

    monkeypatch.setattr(s.problem, "grid", broken)
    with pytest.raises(ExportError, match="Cannot draw the surface: grid too large"):
        FrameRenderer(s, "contour", (320, 200))


def test_frames_follow_the_live_zoom_and_camera(qtbot, studio) -> None:
    w = studio
    w.contour.view_box.setRange(xRange=(-1.0, 2.0), yRange=(0.5, 3.5), padding=0.0)
    w.surface_view.gl_view.setCameraPosition(distance=30.0, elevation=50.0, azimuth=10.0)
    with FrameRenderer(w.session, "both", (640, 300), like_contour=w.contour, like_surface=w.surface_view) as r:
        (x0, x1), (y0, y1) = r.contour.view_box.viewRange()
        assert (x0, x1, y0, y1) == pytest.approx((-1.0, 2.0, 0.5, 3.5))
        opts = r.surface.gl_view.opts
        assert (opts["distance"], opts["elevation"], opts["azimuth"]) == (30.0, 50.0, 10.0)
    with FrameRenderer(w.session, "contour", (640, 300)) as r:  # without: the whole problem
        assert r.contour.view_box.viewRange()[0] == pytest.approx(list(w.session.bounds[0]))


def test_resizing_the_window_during_an_export_changes_nothing(qtbot, studio, out_dir) -> None:
    w = studio
    w.session.forward(60)

    def export(name: str, resize_midway: bool) -> list[np.ndarray]:
        settings = ed.VideoSettings(out_dir / name, view="both", size=(480, 240), fps=10, frames=None, first=0,
                                    last=60, caption=True)
        job = w.exports.start_video(settings)
        if resize_midway:
            qtbot.waitUntil(lambda: job.progress.done >= 10, timeout=60_000)
            w.resize(700, 500)
            qtbot.wait(30)
            w.splitter.setSizes([1, 3])
        assert job.wait(120) and job.state == "finished", job.message
        return decode(out_dir / name)[0]

    calm = export("calm.mp4", False)
    shaken = export("shaken.mp4", True)
    assert len(calm) == len(shaken) == 61 and shaken[0].shape == (240, 480, 3)
    assert max(np.abs(a.astype(int) - b).mean() for a, b in zip(calm, shaken, strict=True)) < 0.5
