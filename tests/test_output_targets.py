"""Outputs never destroy what they replace (issue 15, item 1): one writer helper decides by what is
at the path. A regular file or a new path is replaced atomically; a symlink's target is replaced
(the link stays); a character device, a FIFO or /dev/stdout is written directly as ``cat > path``
would; a folder is refused; ``--out -`` is standard output. Checked through every writer: trace,
train, the frame writers (render, the window's exports), session saves.

The device twins are made with ``mknod`` (we run as root; skipped where mknod is not permitted).
The unwritable folder is made with ``chattr +i`` (immutable): permission bits do not stop root, an
immutable folder does (skipped where the filesystem has no such flag).
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from gdstudio import atomic
from gdstudio.cli import main

ROOT = Path(__file__).resolve().parents[1]
TRACE = ["trace", "--problem", "bowl", "--optimizer", "adam", "--steps", "3", "--format", "csv"]
TRAIN = ["train", "--iterations", "3", "--hidden", "4", "--optimizers", "sgd", "--quiet", "--eval-every", "0"]


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _device(path: Path, minor: int) -> Path:
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    except PermissionError:
        pytest.skip("mknod is not permitted here")
    return path


@pytest.fixture
def null_twin(tmp_path: Path) -> Path:
    """A character device like /dev/null (1, 3) at d/null."""
    (tmp_path / "d").mkdir()
    return _device(tmp_path / "d" / "null", 3)


@pytest.fixture
def full_twin(tmp_path: Path) -> Path:
    """A character device like /dev/full (1, 7): every write fails with ENOSPC."""
    (tmp_path / "d").mkdir(exist_ok=True)
    return _device(tmp_path / "d" / "full", 7)


def _is_device(path: Path, minor: int) -> bool:
    st = os.lstat(path)
    return stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == minor


@pytest.fixture
def immutable_folder(tmp_path: Path):
    folder = tmp_path / "ro"
    folder.mkdir()
    (folder / "old.csv").write_text("old")
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available on this filesystem")
    try:
        yield folder
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def _no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any start of the real work fail loudly: the path must be refused before it."""
    from gdstudio.engine.runs import Run
    from gdstudio.train import cli as train_cli

    def boom(*_a, **_k):
        raise AssertionError("the work started before the output path was checked")

    monkeypatch.setattr(Run, "run", boom)
    monkeypatch.setattr(train_cli, "compare_optimizers", boom)
    monkeypatch.setattr("gdstudio.export.render_options.compute", boom)


# -- character devices ------------------------------------------------------------------------
def test_trace_to_a_device_twin_keeps_the_device(capsys, null_twin: Path) -> None:
    code, _out, err = cli(capsys, *TRACE, "--out", str(null_twin))
    assert code == 0, err
    assert _is_device(null_twin, 3)  # was: replaced by a 143-byte regular file
    assert sorted(p.name for p in null_twin.parent.iterdir()) == ["null"]


def test_every_writer_writes_a_device_in_place(capsys, null_twin: Path) -> None:
    from gdstudio.engine.runs import RunConfig
    from gdstudio.export.writers import GifWriter, Mp4Writer
    from gdstudio.model.persistence import save_session
    from gdstudio.model.session import Session

    atomic.atomic_write_text(null_twin, "text")
    with atomic.atomic_path(null_twin) as p:
        p.write_bytes(b"bytes")
    s = Session()
    s.replace_runs([RunConfig("adam", (1.0, 1.0))])
    save_session(s, null_twin)
    frame = np.zeros((64, 64, 3), np.uint8)
    for cls in (GifWriter, Mp4Writer):
        w = cls(null_twin, 10)
        w.write(frame)
        w.write(frame)
        assert w.finish() == null_twin
    assert main([*TRAIN, "--out", str(null_twin)]) == 0
    assert _is_device(null_twin, 3)
    assert sorted(p.name for p in null_twin.parent.iterdir()) == ["null"]


def test_a_full_device_is_one_line_and_stays_a_device(capsys, full_twin: Path) -> None:
    code, _out, err = cli(capsys, *TRACE, "--out", str(full_twin))
    assert code == 1
    assert err.count("\n") == 1 and "No space left on device" in err and str(full_twin) in err
    assert _is_device(full_twin, 7)
    assert sorted(p.name for p in full_twin.parent.iterdir()) == ["full"]


def test_render_to_a_device_twin_keeps_the_device(tmp_path: Path) -> None:
    pytest.importorskip("PySide6")
    (tmp_path / "d").mkdir()
    twins = [_device(tmp_path / "d" / "movie.mp4", 3), _device(tmp_path / "d" / "movie.gif", 3)]
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    for twin in twins:
        proc = subprocess.run([sys.executable, "-m", "gdstudio", "render", "--preset", "himmelblau", "--steps", "3",
                               "--size", "320x180", "--out", str(twin)], capture_output=True, text=True, cwd=ROOT,
                              env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert _is_device(twin, 3)
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["movie.gif", "movie.mp4"]


def _read_in_background(fifo: Path) -> tuple[list[bytes], threading.Thread]:
    """A reader thread that reads ``fifo`` to its end into the returned list."""
    got: list[bytes] = []

    def reader() -> None:
        with open(fifo, "rb") as fh:
            got.append(fh.read())

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    return got, t


# -- FIFOs ------------------------------------------------------------------------------------
def test_trace_into_a_fifo_is_read_by_the_reader(capsys, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got, t = _read_in_background(fifo)
    code, _out, err = cli(capsys, *TRACE, "--out", str(fifo))
    t.join(10)
    assert code == 0, err
    assert got and got[0].startswith(b"step,x,y,loss\n") and got[0].count(b"\n") == 5
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe"]


# -- symbolic links ---------------------------------------------------------------------------
def test_a_symlink_is_followed_and_its_target_replaced(capsys, tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "data.csv"
    target.write_text("old content\n")
    link = tmp_path / "link.csv"
    link.symlink_to(Path("real") / "data.csv")  # relative to the link's folder
    code, _out, err = cli(capsys, *TRACE, "--out", str(link))
    assert code == 0, err
    assert link.is_symlink() and os.readlink(link) == os.path.join("real", "data.csv")
    assert target.read_text().startswith("step,x,y,loss\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.csv", "real"]
    assert sorted(p.name for p in (tmp_path / "real").iterdir()) == ["data.csv"]


def test_a_dangling_symlink_creates_its_target(capsys, tmp_path: Path) -> None:
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "made.json")
    code, _out, err = cli(capsys, *TRACE[:-2], "--out", str(link))
    assert code == 0, err
    assert link.is_symlink() and (tmp_path / "made.json").read_text().startswith("{")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.json", "made.json"]


def test_dev_stdout_is_written_in_place(tmp_path: Path) -> None:
    """`--out /dev/stdout` with stdout redirected to a file writes that file (same inode), and
    with a pipe the output arrives in the pipe. The test uses a twin of /dev/stdout (a link to
    /proc/self/fd/1 in a scratch folder): on a broken writer the real /dev/stdout would be replaced
    by a regular file, as happened once when this test ran against the old code."""
    twin = tmp_path / "dev" / "stdout"
    twin.parent.mkdir()
    twin.symlink_to("/proc/self/fd/1")
    sink = tmp_path / "captured.csv"
    for target in (str(twin), "-"):
        sink.write_text("")
        inode = sink.stat().st_ino
        with open(sink, "w") as fh:
            proc = subprocess.run([sys.executable, "-m", "gdstudio", *TRACE, "--out", target], stdout=fh,
                                  stderr=subprocess.PIPE, text=True, cwd=ROOT, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert sink.stat().st_ino == inode and sink.read_text().startswith("step,x,y,loss\n")
        piped = subprocess.run([sys.executable, "-m", "gdstudio", *TRACE, "--out", target], capture_output=True,
                               text=True, cwd=ROOT, timeout=60)
        assert piped.returncode == 0 and piped.stdout.startswith("step,x,y,loss\n"), piped.stderr
        assert os.readlink(twin) == "/proc/self/fd/1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["captured.csv", "dev"]
    assert [p.name for p in twin.parent.iterdir()] == ["stdout"]


def test_out_dash_is_standard_output(capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, *TRACE, "--out", "-")
    assert code == 0 and out.startswith("step,x,y,loss\n"), err
    code, out, err = cli(capsys, *TRAIN, "--out", "-")
    assert code == 0, err
    assert out.startswith("iteration,loss_sgd,test_accuracy_sgd\r\n") and out.count("\n") == 4  # as in the file
    assert list(tmp_path.iterdir()) == []  # no file called "-"


# -- refused before the work ------------------------------------------------------------------
def test_a_folder_is_refused_before_the_work(capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_work(monkeypatch)
    folder = tmp_path / "out.csv"
    folder.mkdir()
    for args in (TRACE, TRAIN):
        code, _out, err = cli(capsys, *args, "--out", str(folder))
        assert code == 2 and err.count("\n") == 1, err
        assert f"{folder} (is a folder, give a file name)" in err
    movie = tmp_path / "x.mp4"
    movie.mkdir()
    code, _out, err = cli(capsys, "render", "--preset", "himmelblau", "--out", str(movie))
    assert code == 2 and f"{movie} (is a folder, give a file name)" in err
    with pytest.raises(atomic.OutputPathError, match="is a folder"):
        atomic.atomic_write_text(folder, "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "x.mp4"]


def test_an_unwritable_folder_is_refused_before_the_work(capsys, immutable_folder: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _no_work(monkeypatch)
    for args in (TRACE, TRAIN, ["render", "--preset", "himmelblau"]):
        target = immutable_folder / ("x.mp4" if args[0] == "render" else "x.csv")
        code, _out, err = cli(capsys, *args, "--out", str(target))
        assert code == 2 and err.count("\n") == 1, err
        assert f"{target} (folder {immutable_folder} is not writable)" in err  # the user's path, not a temporary
    code, _out, err = cli(capsys, *TRAIN, "--out", str(immutable_folder.parent / "ok.csv"), "--plot",
                         str(immutable_folder / "p.png"))
    assert code == 2 and "--plot" in err and "is not writable" in err
    assert sorted(p.name for p in immutable_folder.iterdir()) == ["old.csv"]


def test_a_path_under_a_regular_file_is_refused(capsys, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    code, _out, err = cli(capsys, *TRACE, "--out", str(tmp_path / "file" / "t.csv"))
    assert code == 2 and f"{tmp_path / 'file'} is not a folder" in err


def test_train_out_and_plot_must_differ(capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_work(monkeypatch)
    a = tmp_path / "a.csv"
    a.write_text("keep")
    (tmp_path / "alias.png").symlink_to(a)
    for plot in (a, tmp_path / "alias.png"):
        code, _out, err = cli(capsys, *TRAIN, "--out", str(a), "--plot", str(plot))
        assert code == 2 and "--out and --plot name the same file" in err, err
    assert a.read_text() == "keep"


def test_empty_out_is_refused(capsys) -> None:
    for args in (TRACE, TRAIN, ["render", "--preset", "himmelblau"]):
        code, _out, err = cli(capsys, *args, "--out", "")
        assert code == 2 and "--out" in err and "empty" in err, err


def test_resolve_output_kinds(tmp_path: Path, null_twin: Path) -> None:
    assert atomic.resolve_output(tmp_path / "new.csv").mode == "new"
    (tmp_path / "f.csv").write_text("x")
    assert atomic.resolve_output(tmp_path / "f.csv").mode == "replace"
    assert atomic.resolve_output(null_twin).mode == "direct"
    assert atomic.resolve_output("-", allow_stdout=True).mode == "stdout"
    assert atomic.resolve_output("/dev/stdout").mode == "direct"
    loop = tmp_path / "loop"
    with contextlib.suppress(FileExistsError):
        loop.symlink_to(loop)
    with pytest.raises(atomic.OutputPathError, match="too many levels of symbolic links"):
        atomic.resolve_output(loop)


def test_render_to_standard_output_and_into_a_fifo(tmp_path: Path) -> None:
    """`render --out -` streams a fragmented MP4 (no seeking) that decodes to every frame; a GIF
    goes into a FIFO for its reader; neither leaves a file behind."""
    pytest.importorskip("PySide6")
    av = pytest.importorskip("av")
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    args = [sys.executable, "-m", "gdstudio", "render", "--preset", "himmelblau", "--steps", "5", "--size", "320x180"]
    proc = subprocess.run([*args, "--out", "-"], capture_output=True, cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"wrote standard output (6 frames" in proc.stderr
    movie = tmp_path / "copy.mp4"
    movie.write_bytes(proc.stdout)
    with av.open(str(movie)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 6
    movie.unlink()
    fifo = tmp_path / "movie.gif"
    os.mkfifo(fifo)
    got, t = _read_in_background(fifo)
    proc = subprocess.run([*args, "--out", str(fifo)], capture_output=True, cwd=ROOT, env=env, timeout=120)
    t.join(30)
    assert proc.returncode == 0, proc.stderr.decode()
    assert got and got[0][:6] == b"GIF89a" and got[0].endswith(b";")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["movie.gif"]
