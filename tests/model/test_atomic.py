"""gdstudio.atomic (used by session saves): the target is replaced only by a complete file, and a
failure or cancel at any point leaves the old file as it was and no temporary file behind."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from gdstudio.atomic import atomic_path, atomic_write_bytes, atomic_write_text


def test_writes_and_replaces(tmp_path):
    target = tmp_path / "a.json"
    atomic_write_text(target, "é first\n")
    assert target.read_bytes() == "é first\n".encode()
    atomic_write_bytes(str(target), b"second")
    assert target.read_bytes() == b"second"
    assert sorted(os.listdir(tmp_path)) == ["a.json"]


def test_relative_target_in_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    atomic_write_text("rel.txt", "ok")
    assert (tmp_path / "rel.txt").read_text() == "ok"
    assert sorted(os.listdir(tmp_path)) == ["rel.txt"]


def test_temp_file_is_beside_the_target_with_its_suffix(tmp_path):
    target = tmp_path / "movie.mp4"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".mp4" and tmp.name.startswith(".movie.mp4.")
        assert not target.exists()
        tmp.write_bytes(b"data")
    assert target.read_bytes() == b"data" and not tmp.exists()
    with atomic_path(target, suffix=".part") as tmp:
        assert tmp.suffix == ".part"
        tmp.write_bytes(b"more")
    assert target.read_bytes() == b"more"


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt(),
                                   RuntimeError("encoder failed")])
def test_failure_mid_write_keeps_old_file_and_removes_temp(tmp_path, error):
    target = tmp_path / "keep.bin"
    target.write_bytes(b"old content")
    with pytest.raises(type(error)), atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        raise error
    assert target.read_bytes() == b"old content"
    assert sorted(os.listdir(tmp_path)) == ["keep.bin"]


def test_failing_write_bytes_and_rename(tmp_path, monkeypatch):
    target = tmp_path / "keep.txt"
    target.write_text("old")

    def boom(*args, **kwargs):
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(Path, "write_bytes", boom)
    with pytest.raises(OSError, match="I/O error"):
        atomic_write_text(target, "new")
    monkeypatch.undo()
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="I/O error"):
        atomic_write_text(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["keep.txt"]


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(OSError, match=f"folder {tmp_path / 'no'} does not exist"):
        atomic_write_text(tmp_path / "no" / "x.txt", "x")
    assert os.listdir(tmp_path) == []


def test_new_files_get_the_umask_mode_and_replaced_files_keep_theirs(tmp_path: Path) -> None:
    import stat

    umask = os.umask(0o022)
    try:
        fresh = tmp_path / "fresh.json"
        atomic_write_text(fresh, "{}")
        assert stat.S_IMODE(fresh.stat().st_mode) == 0o644
        kept = tmp_path / "kept.json"
        kept.write_text("old")
        os.chmod(kept, 0o640)
        atomic_write_text(kept, "new")
        assert stat.S_IMODE(kept.stat().st_mode) == 0o640 and kept.read_text() == "new"
    finally:
        os.umask(umask)
