"""Frame writers: decodable output with the right frame count, and nothing left on failure."""

from __future__ import annotations

import errno
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from gdstudio.export.writers import (
    ExportError,
    GifWriter,
    Mp4Writer,
    PngFolderWriter,
    check_folder,
    output_kind,
    writer_for,
)


def frames(n: int, w: int = 161, h: int = 91, *, vary_colours: bool = True) -> list[np.ndarray]:
    """Moving gradients; with ``vary_colours`` the blue level also changes from frame to frame."""
    yy, xx = np.mgrid[0:h, 0:w]
    out = []
    for i in range(n):
        f = np.empty((h, w, 3), np.uint8)
        f[..., 0] = (xx * 2 + i * 8) % 256
        f[..., 1] = (yy * 3) % 256
        f[..., 2] = 255 - (i * 20) % 256 if vary_colours else 200
        out.append(f)
    return out


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_mp4_decodes_to_the_frame_count_size_and_codec(tmp_path: Path) -> None:
    target = tmp_path / "a.mp4"
    with Mp4Writer(target, 24) as w:
        for f in frames(17):
            w.write(f)
    with av.open(str(target)) as c:
        s = c.streams.video[0]
        decoded = [fr.to_ndarray(format="rgb24") for fr in c.decode(s)]
        assert s.codec_context.name == "h264"
        assert s.codec_context.pix_fmt == "yuv420p"
        assert float(s.average_rate) == pytest.approx(24)
    assert len(decoded) == 17
    assert decoded[0].shape == (90, 160, 3)  # odd sizes drop the last row/column for yuv420p
    # H.264 is lossy but the picture must be the one written: frames stay distinct and close
    assert np.abs(decoded[5].astype(int) - frames(17)[5][:90, :160]).mean() < 12
    assert leftovers(tmp_path) == ["a.mp4"]


def test_gif_loops_with_the_frame_count_and_duration(tmp_path: Path) -> None:
    target = tmp_path / "a.gif"
    fs = frames(9, vary_colours=False)  # like a plot: the colours stay, the content moves
    with GifWriter(target, 10) as w:
        for f in fs:
            w.write(f)
    with Image.open(target) as im:
        assert im.n_frames == 9
        assert im.info["loop"] == 0
        assert im.info["duration"] == 100
        assert im.size == (161, 91)
        im.seek(4)
        got = np.asarray(im.convert("RGB"), dtype=int)
    assert np.abs(got - fs[4]).mean() < 6  # the first frame's 256-colour palette serves them all
    assert np.abs(got - fs[0]).mean() > 10  # and frame 4 is frame 4
    assert leftovers(tmp_path) == ["a.gif"]


def test_gif_downscales_wide_frames(tmp_path: Path) -> None:
    target = tmp_path / "w.gif"
    with GifWriter(target, 10, max_width=80) as w:
        for f in frames(2):
            w.write(f)
    with Image.open(target) as im:
        assert im.size == (80, 45)


def test_png_folder_is_complete(tmp_path: Path) -> None:
    target = tmp_path / "frames"
    fs = frames(5)
    with PngFolderWriter(target) as w:
        for f in fs:
            w.write(f)
    names = leftovers(target)
    assert names == [f"frame_{i:05d}.png" for i in range(5)]
    np.testing.assert_array_equal(np.asarray(Image.open(target / names[3])), fs[3])
    assert leftovers(tmp_path) == ["frames"]


@pytest.mark.parametrize("name", ["c.mp4", "c.gif", "cfolder"])
def test_abort_and_exceptions_leave_nothing_and_keep_the_old_target(tmp_path: Path, name: str) -> None:
    target = tmp_path / name
    w = writer_for(target, 10)
    for f in frames(3):
        w.write(f)
    w.abort()
    assert leftovers(tmp_path) == []
    if target.suffix:
        target.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"), writer_for(target, 10) as w2:
        w2.write(frames(1)[0])
        raise RuntimeError("boom")
    assert leftovers(tmp_path) == ([name] if target.suffix else [])
    if target.suffix:
        assert target.read_bytes() == b"old"


def test_disk_full_is_reported_and_cleaned_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "d"
    w = PngFolderWriter(target)
    w.write(frames(1)[0])

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", full)
    with pytest.raises(ExportError, match="No space left on device"):
        w.write(frames(1)[0])
    w.abort()
    assert leftovers(tmp_path) == []


def test_bad_targets_and_frames_have_clear_messages(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match=r"folder .*nope does not exist"):
        Mp4Writer(tmp_path / "nope" / "a.mp4", 30)
    with pytest.raises(ExportError, match=r"Unsupported output 'a\.avi'"):
        output_kind(tmp_path / "a.avi")
    with pytest.raises(ExportError, match="Invalid fps value: 0"):
        GifWriter(tmp_path / "a.gif", 0)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    with pytest.raises(ExportError, match="not an empty folder"):
        PngFolderWriter(tmp_path / "full")
    w = Mp4Writer(tmp_path / "b.mp4", 30)
    with pytest.raises(ExportError, match=r"need \(H, W, 3\) uint8"):
        w.write(np.zeros((10, 10), np.uint8))
    w.write(frames(1)[0])
    with pytest.raises(ExportError, match="the first was 161×91"):
        w.write(np.zeros((10, 10, 3), np.uint8))
    w.abort()
    empty = GifWriter(tmp_path / "e.gif", 5)
    with pytest.raises(ExportError, match="No frames to write"):
        empty.finish()
    assert leftovers(tmp_path) == ["full"]


@pytest.mark.parametrize(("name", "mode"), [("m.mp4", 0o644), ("m.gif", 0o644), ("mfolder", 0o755)])
def test_outputs_get_ordinary_permissions(tmp_path: Path, name: str, mode: int) -> None:
    import os
    import stat

    umask = os.umask(0o022)
    try:
        with writer_for(tmp_path / name, 10) as w:
            w.write(frames(1)[0])
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode


def test_check_folder_refuses_a_folder_given_for_a_file(tmp_path: Path) -> None:
    (tmp_path / "movie.mp4").mkdir()
    with pytest.raises(ExportError, match=r"movie\.mp4 is a folder, give a file name"):
        check_folder(tmp_path / "movie.mp4")
    assert check_folder(tmp_path / "frames") == tmp_path  # a PNG-frames folder may be new
    assert check_folder(tmp_path / "new.gif") == tmp_path
