"""The Qt-free frame pipeline (gdstudio.export.frames): sizes, progress, and export_frames with a
NumPy frame source into the real writers, on the encoder thread and without it."""

from __future__ import annotations

import itertools
import threading

import numpy as np
import pytest
from PIL import Image

from gdstudio.export.frames import (
    MAX_SIZE,
    MIN_SIZE,
    Progress,
    ThreadedWriter,
    check_size,
    export_frames,
    format_seconds,
    parse_size,
)
from gdstudio.export.writers import ExportError, GifWriter, PngFolderWriter


class Source:
    """Frame k is a solid grey of level 10·k; counts the frames drawn."""

    def __init__(self, size=(64, 48)) -> None:
        self.w, self.h = size
        self.drawn: list[int] = []

    def frame(self, step: int, out: np.ndarray | None = None) -> np.ndarray:
        self.drawn.append(step)
        if out is None:
            out = np.empty((self.h, self.w, 3), np.uint8)
        out[...] = 10 * step
        return out


@pytest.mark.parametrize("threaded", [True, False])
def test_frames_reach_the_writer_in_order(tmp_path, threaded) -> None:
    source = Source()
    folder = tmp_path / "frames"
    done = list(export_frames(source, [0, 1, 1, 3], PngFolderWriter(folder), threaded=threaded))
    assert done == [1, 2, 3, 4]
    assert source.drawn == [0, 1, 3]  # a repeated step reuses its frame
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == [f"frame_{i:05d}.png" for i in range(4)]
    assert [int(np.asarray(Image.open(f))[0, 0, 0]) for f in files] == [0, 10, 10, 30]


def test_closing_early_leaves_nothing(tmp_path) -> None:
    target = tmp_path / "a.gif"
    gen = export_frames(Source(), range(10), GifWriter(target, 10))
    next(gen)
    next(gen)
    gen.close()  # cancel
    assert list(tmp_path.iterdir()) == []


def test_an_encoder_error_is_one_export_error_and_leaves_nothing(tmp_path) -> None:
    class Broken(Source):
        def frame(self, step, out=None):
            return np.zeros((10, 10), np.uint8) if step == 2 else super().frame(step, out)  # not RGB

    with pytest.raises(ExportError, match=r"Invalid frame: shape \(10, 10\)"):
        list(export_frames(Broken(), range(5), GifWriter(tmp_path / "a.gif", 10)))
    assert list(tmp_path.iterdir()) == []


def test_threaded_writer_encodes_on_its_own_thread(tmp_path) -> None:
    threads = []

    class Spy(GifWriter):
        def write(self, frame):
            threads.append(threading.current_thread().name)
            super().write(frame)

    sink = ThreadedWriter(Spy(tmp_path / "a.gif", 10))
    sink.write(Source().frame(1))
    path = sink.finish()
    assert path.exists() and threads == ["gdstudio-encoder"]


def test_sizes() -> None:
    assert parse_size("1280x720") == (1280, 720) == parse_size("1280×720")
    assert check_size((MIN_SIZE, MAX_SIZE)) == (64, 7680)
    with pytest.raises(ValueError, match=r"^Invalid --size: '12x' \(expected WIDTHxHEIGHT, e.g. 1280x720\)$"):
        parse_size("12x")
    with pytest.raises(ValueError, match=r"width and height must be in \[64, 7680\]"):
        parse_size("63x100")
    with pytest.raises(ValueError, match=r"^Invalid height value: 7681 \(must be in \[64, 7680\] pixels\)$"):
        check_size((100, 7681))


def test_progress_text(monkeypatch) -> None:
    clock = itertools.chain([100.0], itertools.repeat(110.0))  # started at 100 s, read at 110 s
    monkeypatch.setattr("gdstudio.export.frames.time.perf_counter", lambda: next(clock))
    p = Progress(300)
    p.update(100)
    assert p.text() == "frame 100 / 300 (33%), 10 fps, 20 s left"
    assert format_seconds(125) == "2 min 05 s" and format_seconds(-1) == "0 s"
