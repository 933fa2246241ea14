"""The built wheel installs anywhere: `python -m build` (sdist, then the wheel from the sdist), a clean
virtual environment in a temp dir outside the source tree, `pip install` of the wheel (dependencies
from the package index pip is configured with), then the installed `gdstudio` run with cwd = the temp
dir and no PYTHONPATH, so nothing can come from the source tree: `--version`, `list`, a short GIF
`render`, and the presets and the digits dataset read from the installed package data.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gdstudio
from gdstudio.cli import main
from gdstudio.resources import resource_path
from gdstudio.train.datasets import load_digits

ROOT = Path(__file__).resolve().parents[1]


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"gdstudio {gdstudio.__version__}\n"


def _clean_env() -> dict[str, str]:
    """The caller's environment (DISPLAY from pytest-xvfb, pip's configuration) without anything that
    could put the source tree or the test venv on the installed interpreter's path."""
    drop = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "QT_QPA_PLATFORM", "WAYLAND_DISPLAY")
    return {k: v for k, v in os.environ.items() if k not in drop}


def _run(cmd: list[str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the venv's bin folder, a work dir outside the source tree) with the freshly built wheel installed."""
    tmp = tmp_path_factory.mktemp("wheel")
    dist = tmp / "dist"
    _run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], cwd=tmp, timeout=600)
    wheels = sorted(dist.glob("gdstudio-*.whl"))
    assert len(wheels) == 1, f"expected one wheel in {dist}, found {[w.name for w in wheels]}"
    names = set(zipfile.ZipFile(wheels[0]).namelist())
    assert "gdstudio/_resources/datasets/digits.csv.gz" in names
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], cwd=tmp)
    bin_dir = venv / "bin"
    _run([str(bin_dir / "python"), "-m", "pip", "install", "--quiet", str(wheels[0])], cwd=tmp, timeout=900)
    work = tmp / "work"
    work.mkdir()
    return bin_dir, work


@pytest.mark.slow
def test_installed_package_is_not_the_source_tree(installed: tuple[Path, Path]) -> None:
    bin_dir, work = installed
    code = "import gdstudio, sys; print(gdstudio.__version__); print(gdstudio.__file__); print(sys.path)"
    version, location, path = _run([str(bin_dir / "python"), "-c", code], cwd=work).stdout.splitlines()
    assert version == gdstudio.__version__
    assert Path(location).resolve().is_relative_to(bin_dir.parent.resolve())
    assert str(ROOT) not in path
    out = _run([str(bin_dir / "gdstudio"), "--version"], cwd=work).stdout
    assert out == f"gdstudio {gdstudio.__version__}\n"


@pytest.mark.slow
def test_installed_list(installed: tuple[Path, Path]) -> None:
    bin_dir, work = installed
    out = _run([str(bin_dir / "gdstudio"), "list"], cwd=work).stdout
    assert "rosenbrock" in out and "adam" in out


@pytest.mark.slow
def test_installed_presets_and_digits(installed: tuple[Path, Path]) -> None:
    """Every preset of the source tree ships, loads from the installed package into a session, and the
    bundled digits load to the same arrays as from the source tree."""
    bin_dir, work = installed
    code = """
import hashlib, json
import numpy as np
from gdstudio.model import Session, load_preset, list_presets
from gdstudio.resources import resource_path
from gdstudio.train.datasets import load_digits
ids = sorted(p.id for p in list_presets())
s = Session()
load_preset(s, "rosenbrock")
x, y = load_digits()
print(json.dumps({"folder": str(resource_path("presets")), "ids": ids, "runs": len(s.runs),
                  "problem": s.problem.name, "x": list(x.shape), "y": list(y.shape),
                  "xsum": float(np.asarray(x, dtype=np.float64).sum()), "ysum": int(np.asarray(y).sum())}))
"""
    got = json.loads(_run([str(bin_dir / "python"), "-c", code], cwd=work).stdout)
    assert Path(got["folder"]).resolve().is_relative_to(bin_dir.parent.resolve())
    assert got["ids"] == sorted(p.stem for p in resource_path("presets").glob("*.json"))
    assert got["problem"] == "rosenbrock" and got["runs"] >= 1
    x, y = load_digits()
    assert got["x"] == list(x.shape) and got["y"] == list(y.shape)
    assert got["xsum"] == float(np.asarray(x, dtype=np.float64).sum()) and got["ysum"] == int(np.asarray(y).sum())


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("DISPLAY"), reason="needs the X display pytest-xvfb provides")
def test_installed_render_gif(installed: tuple[Path, Path]) -> None:
    bin_dir, work = installed
    _run([str(bin_dir / "gdstudio"), "render", "--problem", "rosenbrock", "--optimizer", "adam", "--steps", "10",
          "--out", "x.gif"], cwd=work)
    with Image.open(work / "x.gif") as gif:
        assert gif.format == "GIF" and gif.n_frames > 1 and min(gif.size) > 0


@pytest.mark.slow
def test_installed_python_api_trace(installed: tuple[Path, Path]) -> None:
    """`gd.trace` from the installed package gives the same points as from the source tree."""
    bin_dir, work = installed
    code = ("import json, gdstudio as gd; r = gd.trace('rosenbrock', 'adam', start=(-1.5, 2), steps=5); "
            "print(json.dumps({'shape': list(r.points.shape), 'points': r.points.tolist()}))")
    got = json.loads(_run([str(bin_dir / "python"), "-c", code], cwd=work).stdout)
    here = gdstudio.trace("rosenbrock", "adam", start=(-1.5, 2), steps=5)
    assert got["shape"] == [6, 2] == list(here.points.shape)
    np.testing.assert_array_equal(np.array(got["points"]), here.points)
