"""examples/quickstart.ipynb runs top to bottom in a fresh python3 kernel (nbclient), so it can never rot.

The kernel is the venv's ipykernel; the working directory is a temporary folder (the notebook writes
race.mp4 there); DISPLAY from pytest-xvfb passes through the environment to the kernel.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import nbclient  # the test extra: nbclient, nbformat, ipykernel
import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "quickstart.ipynb"


def _cell(nb: Any, tag: str) -> Any:
    cells = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, f"exactly one cell tagged {tag!r}"
    return cells[0]


def _text(cell: Any) -> str:
    return "".join(o.get("text", "") for o in cell["outputs"] if o["output_type"] == "stream")


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory) -> Any:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    stored = [c for c in nb.cells if c.cell_type == "code" and c.get("outputs")]
    assert not stored, "the notebook is stored with its outputs cleared"
    workdir = tmp_path_factory.mktemp("notebook")
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                                     resources={"metadata": {"path": str(workdir)}})
    client.execute()  # raises CellExecutionError on the first cell that errors
    nb.workdir = workdir
    return nb


def test_no_cell_errors(executed: Any) -> None:
    for cell in executed.cells:
        if cell.cell_type == "code":
            assert cell.get("execution_count"), "every code cell ran"
            assert not [o for o in cell["outputs"] if o["output_type"] == "error"]


def test_trace_cell_prints_the_shapes(executed: Any) -> None:
    text = _text(_cell(executed, "trace"))
    assert "points (31, 2)" in text
    assert "loss (31,)" in text
    assert "status ok" in text
    # closed form of GD on x²/20 + y² with η 0.1: x_k = −7·0.99^k, y_k = 2·0.8^k
    assert f"last point ({-7 * 0.99**30:.3f}, {2 * 0.8**30:.4f})" in text


def test_sigmoid_race_fits_the_two_points_with_all_seven(executed: Any) -> None:
    text = _text(_cell(executed, "sigmoid"))
    finals = [float(v) for v in re.findall(r"-> (\S+)", text)]
    assert len(finals) == 7, text
    assert all(v < 1e-4 for v in finals), text  # the article: every variant ends near zero loss in 1,000 steps
    for label in ("GD", "SGD (batch 1)", "Momentum", "NAG", "AdaGrad", "RMSProp", "Adam (batch 1)"):
        assert label + " η=" in text


def test_video_cell_embeds_an_mp4(executed: Any) -> None:
    outputs = [o for o in _cell(executed, "video")["outputs"] if o["output_type"] == "execute_result"]
    assert len(outputs) == 1, "the video is the cell's result"
    html = outputs[0]["data"]["text/html"]
    assert "<video" in html
    match = re.search(r"data:video/mp4;base64,([A-Za-z0-9+/=]+)", html)
    assert match, "the video is embedded as base64 MP4"
    mp4 = base64.b64decode(match.group(1))
    assert mp4[4:8] == b"ftyp", "the embedded bytes are an MP4 file"
    assert (executed.workdir / "race.mp4").read_bytes() == mp4
