"""The Qt-free core: engine, model, export and train import (with every submodule) in a fresh
interpreter without loading PySide6, pyqtgraph or OpenGL, even when those are blocked outright."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CORE = ("gdstudio.engine", "gdstudio.model", "gdstudio.export", "gdstudio.train")
ROOT = Path(__file__).resolve().parents[2]
QT = ("PySide6", "pyqtgraph", "OpenGL", "shiboken6")

_SCRIPT = textwrap.dedent(
    """
    import importlib, importlib.abc, importlib.util, pkgutil, sys

    QT = {qt!r}
    CORE = {core!r}

    class BlockQt(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in QT:
                raise ImportError(f"{{name}} is blocked: the core must not import Qt")
            return None

    if {block!r}:
        sys.meta_path.insert(0, BlockQt())

    imported = []
    for package in CORE:
        if importlib.util.find_spec(package) is None:
            continue  # not written yet
        module = importlib.import_module(package)
        imported.append(package)
        for info in pkgutil.walk_packages(getattr(module, "__path__", []), package + "."):
            importlib.import_module(info.name)
            imported.append(info.name)

    loaded = sorted(m for m in sys.modules if m.split(".")[0] in QT)
    assert not loaded, f"Qt modules loaded: {{loaded}}"
    assert "gdstudio.engine" in imported
    print("\\n".join(imported))
    """
)


@pytest.mark.parametrize("block", [False, True], ids=["plain", "qt-blocked"])
def test_core_imports_without_qt(block):
    code = _SCRIPT.format(qt=QT, core=CORE, block=block)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    imported = proc.stdout.split()
    assert "gdstudio.engine.runs" in imported
    assert "gdstudio.engine.problems.data" in imported


def test_blocker_really_blocks():
    """The check can fail: with the blocker on, importing a Qt package is an ImportError."""
    code = _SCRIPT.format(qt=QT, core=("gdstudio.engine",), block=True) + "\nimport pyqtgraph\n"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode != 0
    assert "pyqtgraph is blocked" in proc.stderr
