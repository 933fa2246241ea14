"""Frame writers: RGB frames in, an MP4, a looping GIF or a folder of PNGs out. Qt-free.

Every writer streams (a frame is encoded as it arrives, never all held in memory) through the
one output helper, :class:`gdstudio.atomic.Output`: for a regular file or a new path into a
temporary file or folder beside the target (a symlink's target), renamed into place by
:meth:`FrameWriter.finish`; :meth:`FrameWriter.abort` (or an exception inside ``with``) removes
it, so a cancelled or failed export leaves nothing behind and an existing target untouched. A
character device or FIFO is written directly (an MP4 then as a fragmented stream, which needs no
seeking), and ``-`` is standard output (a fragmented MP4). A folder is refused for a file output.

Frames are ``(H, W, 3)`` uint8 arrays (RGB), all the same size.
"""

from __future__ import annotations

import contextlib
import os
from abc import ABC, abstractmethod
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from gdstudio.atomic import STDOUT, Output, OutputPathError

if TYPE_CHECKING:  # imported when a writer opens (start-up time)
    from av.container import OutputContainer
    from av.video.stream import VideoStream
    from PIL.Image import Image

__all__ = [
    "ExportError",
    "FrameWriter",
    "GifWriter",
    "Mp4Writer",
    "PngFolderWriter",
    "check_folder",
    "output_kind",
    "writer_for",
]


class ExportError(RuntimeError):
    """An export that could not be written (the message says what happened)."""


def output_kind(target: str | os.PathLike[str]) -> str:
    """``"mp4"``, ``"gif"`` or ``"png"`` (a folder) from the target's extension (``-``, standard
    output: ``"mp4"``)."""
    if os.fspath(target) == STDOUT:
        return "mp4"
    if not os.fspath(target).strip():
        raise ExportError(f"Invalid output path: {os.fspath(target)!r} (empty; give a file name)")
    suffix = Path(target).suffix.lower()
    if suffix == ".mp4":
        return "mp4"
    if suffix == ".gif":
        return "gif"
    if suffix == "":
        return "png"
    raise ExportError(f"Unsupported output {Path(target).name!r}: use a .mp4 or .gif file, or a folder for PNG frames")


def check_folder(target: str | os.PathLike[str]) -> Path:
    """The folder ``target`` would be written in, or ExportError if it is missing or read-only, or
    if ``target`` (a file name, with an extension) is an existing folder."""
    target = Path(target)
    if target.suffix and target.is_dir():
        raise ExportError(f"{target} is a folder, give a file name")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise ExportError(f"Folder does not exist: {folder}")
    if not os.access(folder, os.W_OK):
        raise ExportError(f"Folder is not writable: {folder}")
    return folder


class FrameWriter(ABC):
    """Base class: temporary output, ``write`` per frame, ``finish`` renames, ``abort`` cleans up."""

    def __init__(self, target: str | os.PathLike[str], fps: float) -> None:
        if not (fps > 0 and np.isfinite(fps)):
            raise ExportError(f"Invalid fps value: {fps!r} (must be a positive number)")
        self.target = Path(target)
        self.fps = float(fps)
        self.frames = 0
        self.size: tuple[int, int] | None = None  # (width, height) of the frames written
        self._done = False

    def write(self, frame: np.ndarray) -> None:
        """Encode one RGB frame."""
        if self._done:
            raise ExportError("The writer is already finished")
        frame = np.ascontiguousarray(frame)
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
            raise ExportError(f"Invalid frame: shape {frame.shape} {frame.dtype} (need (H, W, 3) uint8)")
        h, w = frame.shape[:2]
        if self.size is None:
            self.size = (w, h)
            self._open(w, h)
        elif self.size != (w, h):
            raise ExportError(f"Frame {self.frames} is {w}×{h}, the first was {self.size[0]}×{self.size[1]}")
        try:
            self._write(frame)
        except OSError as exc:
            raise ExportError(f"Writing {self.target.name} failed: {exc.strerror or exc}") from exc
        self.frames += 1

    def finish(self) -> Path:
        """Complete the file and move it into place; returns the target."""
        if self._done:
            return self.target
        if self.frames == 0:
            self.abort()
            raise ExportError("No frames to write")
        try:
            self._close()
            self._commit()
        except Exception as exc:
            self.abort()
            if isinstance(exc, ExportError):
                raise
            raise ExportError(f"Writing {self.target.name} failed: {getattr(exc, 'strerror', None) or exc}") from exc
        self._done = True
        return self.target

    def abort(self) -> None:
        """Stop and remove everything written so far (the target is left as it was)."""
        if self._done:
            return
        self._done = True
        with contextlib.suppress(Exception):
            self._close()
        self._discard()

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.finish()
        else:
            self.abort()

    @abstractmethod
    def _open(self, width: int, height: int) -> None: ...

    @abstractmethod
    def _write(self, frame: np.ndarray) -> None: ...

    @abstractmethod
    def _close(self) -> None: ...

    @abstractmethod
    def _commit(self) -> None: ...

    @abstractmethod
    def _discard(self) -> None: ...


def _output(target: str | os.PathLike[str], *, folder: bool = False) -> Output:
    try:
        return Output(target, folder=folder, allow_stdout=not folder)
    except OutputPathError as exc:
        raise ExportError(str(exc)) from None


class _TempFileWriter(FrameWriter):
    """A writer whose output is one file: a hidden temporary file beside the target, or the
    device / FIFO / standard output itself (see :mod:`gdstudio.atomic`)."""

    def __init__(self, target: str | os.PathLike[str], fps: float) -> None:
        super().__init__(target, fps)
        self.output = _output(target)
        self.tmp = self.output.path

    @property
    def direct(self) -> bool:
        return self.output.direct

    def _open_file(self) -> BinaryIO:
        if self.output.target.mode == "stdout":
            return self.output.stream
        return open(self.tmp, "wb")

    def _close_file(self, fh: BinaryIO) -> None:
        if self.output.target.mode == "stdout":
            fh.flush()
        else:
            fh.close()

    def _commit(self) -> None:
        self.output.commit()

    def _discard(self) -> None:
        self.output.discard()


class Mp4Writer(_TempFileWriter):
    """H.264 in MP4 via PyAV, yuv420p (plays in browsers and presentation software).

    yuv420p needs even sizes: an odd last row/column is dropped. ``crf`` sets quality
    (lower is better, 18–23 is visually clean), ``preset`` the x264 speed/size trade-off.
    """

    def __init__(self, target: str | os.PathLike[str], fps: float, *, crf: int = 20, preset: str = "veryfast") -> None:
        super().__init__(target, fps)
        self.crf, self.preset = crf, preset
        self._container: OutputContainer | None = None
        self._stream: VideoStream | None = None
        self._fh: BinaryIO | None = None

    def _open(self, width: int, height: int) -> None:
        import av

        w, h = width - width % 2, height - height % 2
        if w < 2 or h < 2:
            raise ExportError(f"Frames of {width}×{height} are too small for H.264")
        if self.direct:  # a pipe, device or stdout cannot seek back to write the index: stream fragments
            self._fh = fh = self._open_file()
            container = av.open(fh, mode="w", format="mp4", options={"movflags": "frag_keyframe+empty_moov"})
        else:
            container = av.open(str(self.tmp), mode="w", format="mp4")
        self._container = container
        stream = container.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(1001))
        stream.width, stream.height = w, h
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(self.crf), "preset": self.preset}
        self._stream = stream
        self._even = (w, h)

    def _write(self, frame: np.ndarray) -> None:
        import av

        w, h = self._even
        video = av.VideoFrame.from_ndarray(frame[:h, :w], format="rgb24")
        assert self._stream is not None and self._container is not None  # opened by the first write
        for packet in self._stream.encode(video):
            self._container.mux(packet)

    def _close(self) -> None:
        if self._container is None:
            return
        container, self._container = self._container, None
        try:
            assert self._stream is not None  # made with the container
            for packet in self._stream.encode():
                container.mux(packet)
        finally:
            container.close()
            fh, self._fh = self._fh, None
            if fh is not None:
                self._close_file(fh)


class GifWriter(_TempFileWriter):
    """A looping GIF via Pillow, streamed frame by frame.

    The palette (256 colours, fast octree) comes from the first frame and is shared by all
    frames, so colours stay stable and each frame costs one palette mapping; frames wider than
    ``max_width`` are downscaled (keeping the aspect ratio) to keep the file a sane size.
    """

    def __init__(self, target: str | os.PathLike[str], fps: float, *, max_width: int = 800, loop: int = 0) -> None:
        super().__init__(target, fps)
        self.max_width, self.loop = max_width, loop
        self._fp: BinaryIO | None = None
        self._palette_image: Image | None = None
        self._scaled = (1, 1)  # the frame size after downscaling, set by the first frame

    def _open(self, width: int, height: int) -> None:
        scale = min(1.0, self.max_width / width)
        self._scaled = (max(1, round(width * scale)), max(1, round(height * scale)))
        self._fp = self._open_file()

    def _to_palette(self, frame: np.ndarray) -> Image:
        from PIL import Image as PILImage

        im = PILImage.fromarray(frame, "RGB")
        if self._scaled != im.size:
            im = im.resize(self._scaled, PILImage.Resampling.LANCZOS)
        if self._palette_image is None:
            self._palette_image = im.quantize(256, method=PILImage.Quantize.FASTOCTREE)
            return self._palette_image
        return im.quantize(palette=self._palette_image, dither=PILImage.Dither.NONE)

    def _write(self, frame: np.ndarray) -> None:
        from PIL import GifImagePlugin

        im = self._to_palette(frame)
        duration = round(1000 / self.fps)
        assert self._fp is not None  # opened by the first write
        if self.frames == 0:
            header, _ = GifImagePlugin.getheader(im, info={"loop": self.loop})
            for chunk in header:
                self._fp.write(chunk)
            # NETSCAPE2.0 application extension: loop count (0 = forever)
            self._fp.write(b"!\xff\x0bNETSCAPE2.0\x03\x01" + int(self.loop).to_bytes(2, "little") + b"\x00")
        for chunk in GifImagePlugin.getdata(im, duration=duration, disposal=1):
            self._fp.write(chunk)

    def _close(self) -> None:
        if self._fp is None:
            return
        fp, self._fp = self._fp, None
        try:
            if self.frames:
                fp.write(b";")  # GIF trailer
        finally:
            self._close_file(fp)


class PngFolderWriter(FrameWriter):
    """Numbered PNG frames (``frame_00000.png`` …) in a folder that must not exist or be empty."""

    def __init__(self, target: str | os.PathLike[str], fps: float = 30.0, *, compress_level: int = 1) -> None:
        super().__init__(target, fps)
        if self.target.exists() and (not self.target.is_dir() or any(self.target.iterdir())):
            raise ExportError(f"{self.target} already exists and is not an empty folder")
        self.compress_level = compress_level
        self.output = _output(target, folder=True)
        self.tmp = self.output.path

    def _open(self, width: int, height: int) -> None:
        pass

    def _write(self, frame: np.ndarray) -> None:
        from PIL import Image

        Image.fromarray(frame, "RGB").save(self.tmp / f"frame_{self.frames:05d}.png",
                                           compress_level=self.compress_level)

    def _close(self) -> None:
        pass

    def _commit(self) -> None:
        self.output.commit()  # an empty folder at the target (checked at the start) is replaced

    def _discard(self) -> None:
        self.output.discard()


def writer_for(target: str | os.PathLike[str], fps: float, **options: object) -> FrameWriter:
    """The writer for ``target`` by extension: .mp4, .gif, or no extension for a PNG folder."""
    kind = output_kind(target)
    if kind == "mp4":
        return Mp4Writer(target, fps, **options)  # type: ignore[arg-type]
    if kind == "gif":
        return GifWriter(target, fps, **options)  # type: ignore[arg-type]
    return PngFolderWriter(target, fps, **options)  # type: ignore[arg-type]
