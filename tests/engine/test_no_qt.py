"""The Qt-free core: engine, model, export and train import (with every submodule) in a fresh
interpreter without loading PySide6, pyqtgraph or OpenGL, even when those are blocked outright;
and no module of theirs (nor the shared utilities) names Qt or gdstudio.ui in any import
statement, at any depth: an import inside a function (run only when it is called) counts too.
CI checks the same with import-linter (pyproject [tool.importlinter])."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CORE = ("gdstudio.engine", "gdstudio.model", "gdstudio.export", "gdstudio.train")
#: Top-level modules below the ui layer (see the layers contract in pyproject.toml).
UTILITIES = ("cli_common", "parsing", "atomic", "limits", "interrupts", "resources", "evented")
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


# ---------------------------------------------------------------------------------------------
# every import statement, at any depth
# ---------------------------------------------------------------------------------------------
def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module an ``ImportFrom`` names (relative imports resolved against ``module``)."""
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _forbidden(name: str) -> bool:
    return name.split(".")[0] in QT or name == "gdstudio.ui" or name.startswith("gdstudio.ui.")


def qt_imports(path: Path) -> list[str]:
    """``"path:line: name"`` for every import of Qt or gdstudio.ui in the file, wherever it is
    (module level, inside a function or class, under ``if TYPE_CHECKING``), including
    ``importlib.import_module("…")`` / ``__import__("…")`` with a literal name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module = _module_name(path)
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(node, module, is_package)
            names = [target, *(f"{target}.{alias.name}" for alias in node.names)]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                names = [node.args[0].value]
        bad = sorted({n for n in names if _forbidden(n)})
        if bad:
            found.append((node.lineno, f"{path.relative_to(ROOT)}:{node.lineno}: {bad[0]}"))
    return [text for _, text in sorted(found)]


def _core_files() -> list[Path]:
    files = [f for package in CORE for f in sorted((ROOT / package.replace(".", "/")).rglob("*.py"))]
    return files + [ROOT / "gdstudio" / f"{name}.py" for name in UTILITIES]


def test_no_import_of_qt_anywhere_in_the_core_source():
    files = _core_files()
    assert len(files) > 40 and all(f.exists() for f in files)
    found = [hit for f in files for hit in qt_imports(f)]
    assert not found, "Qt or gdstudio.ui imported below the ui layer:\n" + "\n".join(found)


def test_the_source_scan_sees_lazy_and_relative_imports(tmp_path, monkeypatch):
    """The scan can fail: imports inside functions, relative imports into gdstudio.ui and
    import_module calls are all reported; Qt-free code is not."""
    package = tmp_path / "gdstudio" / "export"
    package.mkdir(parents=True)
    bad = package / "lazy.py"
    bad.write_text(
        "import numpy as np\n"
        "def draw():\n"
        "    from PySide6.QtGui import QImage\n"
        "    return QImage\n"
        "class Late:\n"
        "    def go(self):\n"
        "        from ..ui import frames\n"
        "        import importlib\n"
        "        return importlib.import_module('pyqtgraph.opengl'), frames\n"
        "from gdstudio import ui\n",
        encoding="utf-8",
    )
    good = package / "fine.py"
    good.write_text("from ..engine import runs\nfrom . import writers\nimport importlib\n"
                    "importlib.import_module('gdstudio.engine')\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert qt_imports(bad) == [
        "gdstudio/export/lazy.py:3: PySide6.QtGui",
        "gdstudio/export/lazy.py:7: gdstudio.ui",
        "gdstudio/export/lazy.py:9: pyqtgraph.opengl",
        "gdstudio/export/lazy.py:10: gdstudio.ui",
    ]
    assert qt_imports(good) == []
