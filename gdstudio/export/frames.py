"""The frame pipeline: frames from a source into a writer, on a worker thread, with progress. Qt-free.

:func:`export_frames` is shared by the window's Export dialog and ``gdstudio render``: a
generator that asks a :class:`FrameSource` (the Qt renderer, :class:`gdstudio.ui.frames.FrameRenderer`)
for one frame per ``next()`` and hands it to a writer, optionally encoded on a worker thread
through a bounded queue (:class:`ThreadedWriter`), so the GUI thread paints frame k+1 while frame
k is encoded and at most a few frames are ever held in memory (PyAV releases the GIL while it
converts and encodes; measured at 1280×720 on 2 shared cores: 1.2–1.4× the fps of encoding on
the GUI thread, see bench/export.py). Closing the generator early (cancel) or any error aborts the
writer: nothing is left behind.

Also here: the one frame-size limit (:data:`MIN_SIZE` … :data:`MAX_SIZE` pixels a side,
:func:`check_size`, :func:`parse_size` for ``--size 1280x720``) and :class:`Progress` (frames
done, rate, time left) for progress lines and dialogs.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from gdstudio.export.writers import ExportError, FrameWriter

__all__ = [
    "MAX_SIZE",
    "MIN_SIZE",
    "FrameSource",
    "Progress",
    "ThreadedWriter",
    "check_size",
    "export_frames",
    "format_seconds",
    "parse_size",
]

#: Frame width and height, in pixels: the smallest and largest accepted (8K).
MIN_SIZE, MAX_SIZE = 64, 7680


def check_size(size: Sequence[int]) -> tuple[int, int]:
    """(width, height) as ints in [MIN_SIZE, MAX_SIZE], else ValueError."""
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"Invalid size value: {size!r} (expected width and height)") from None
    for name, v in (("width", w), ("height", h)):
        if not MIN_SIZE <= v <= MAX_SIZE:
            raise ValueError(f"Invalid {name} value: {v} (must be in [{MIN_SIZE}, {MAX_SIZE}] pixels)")
    return w, h


def parse_size(text: str, option: str = "--size") -> tuple[int, int]:
    """``"1280x720"`` (or ``1280×720``) -> (1280, 720); ValueError naming ``option``."""
    parts = str(text).lower().replace("×", "x").split("x")
    try:
        w, h = (int(p) for p in parts)
    except ValueError:
        raise ValueError(f"Invalid {option}: {text!r} (expected WIDTHxHEIGHT, e.g. 1280x720)") from None
    if not (MIN_SIZE <= w <= MAX_SIZE and MIN_SIZE <= h <= MAX_SIZE):
        raise ValueError(f"Invalid {option}: {text!r} (width and height must be in [{MIN_SIZE}, {MAX_SIZE}])")
    return w, h


class FrameSource(Protocol):
    """What :func:`export_frames` draws from: the frame of a step as an (H, W, 3) uint8 RGB array,
    written into ``out`` when it is given (reused, no allocation)."""

    def frame(self, step: int, out: np.ndarray | None = None) -> np.ndarray: ...


def _as_export_error(exc: BaseException, target: Path) -> ExportError:
    if isinstance(exc, ExportError):
        return exc
    if isinstance(exc, OSError):
        return ExportError(f"Writing {target.name} failed: {exc.strerror or exc}")
    return ExportError(f"Encoding {target.name} failed: {exc}")


class ThreadedWriter:
    """A writer fed through a bounded queue and run on a worker thread.

    ``write`` blocks while ``maxsize`` frames are waiting (memory stays bounded); an encoder
    error is raised (as ExportError) by the next ``write`` or by ``finish``. ``abort`` stops the
    thread and removes the output.
    """

    def __init__(self, writer: FrameWriter, maxsize: int = 3) -> None:
        self.writer = writer
        self._queue: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=maxsize)  # None: stop
        self._error: BaseException | None = None
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._work, name="gdstudio-encoder", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is not None or self._cancel.is_set():
                continue  # drain
            try:
                self.writer.write(item)
            except BaseException as exc:  # reported to the producer
                self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            raise _as_export_error(self._error, self.writer.target)

    def write(self, frame: np.ndarray) -> None:
        self._raise()
        while True:
            try:
                self._queue.put(frame, timeout=0.1)
                return
            except queue.Full:
                self._raise()
                if not self._thread.is_alive():
                    raise ExportError("The encoder stopped") from None

    def _join(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def finish(self) -> Path:
        self._join()
        self._raise()
        return self.writer.finish()

    def abort(self) -> None:
        self._cancel.set()
        self._join()
        self.writer.abort()


def export_frames(renderer: FrameSource, steps: Sequence[int], writer: FrameWriter, *,
                  threaded: bool = True) -> Generator[int, None, None]:
    """Render ``renderer.frame(step)`` for each step into ``writer``; yields the frames done.

    After the last frame the writer is finished (the output appears atomically); closing the
    generator before that (cancel) or any error aborts the writer, so nothing is left behind.
    Errors are raised as ExportError with a one-line message. A step equal to the previous
    one reuses the previous frame.
    """
    queued = 3
    sink: ThreadedWriter | FrameWriter = ThreadedWriter(writer, maxsize=queued) if threaded else writer
    # Frame buffers reused round-robin: the queue, the one being encoded and the one being drawn
    # are never the same buffer, and no 3 MB array is allocated (and page-faulted) per frame.
    ring: list[np.ndarray | None] = [None] * (queued + 3)
    rendered = 0
    ok = False
    try:
        last_step: int | None = None
        frame: np.ndarray | None = None
        for i, step in enumerate(steps):
            if step != last_step or frame is None:
                slot = rendered % len(ring)
                frame = ring[slot] = renderer.frame(step, out=ring[slot])
                rendered += 1
                last_step = step
            try:
                sink.write(frame)
            except Exception as exc:
                raise _as_export_error(exc, writer.target) from exc
            yield i + 1
        try:
            sink.finish()
        except Exception as exc:
            raise _as_export_error(exc, writer.target) from exc
        ok = True
    finally:
        if not ok:
            sink.abort()


class Progress:
    """Frames done, rate and time left (for progress lines and dialogs)."""

    def __init__(self, total: int) -> None:
        self.total = max(1, int(total))
        self.done = 0
        self.started = time.perf_counter()

    def update(self, done: int) -> None:
        self.done = int(done)

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    @property
    def fps(self) -> float:
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left, None until a few frames are done."""
        if self.done < 2 or self.fps <= 0:
            return None
        return (self.total - self.done) / self.fps

    def text(self) -> str:
        eta = self.eta
        left = "" if eta is None else f", {format_seconds(eta)} left"
        return f"frame {self.done} / {self.total} ({100 * self.done // self.total}%), {self.fps:.0f} fps{left}"


def format_seconds(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``."""
    s = max(0, round(seconds))
    return f"{s // 60} min {s % 60:02d} s" if s >= 60 else f"{s} s"
