"""The Training lab opens beside the studio in the studio's colours; its plots are not cut off and
its empty accuracy axis is 0–100 %.

Placement is checked twice: the pure rectangle arithmetic for several screens (1920×1080,
1280×720, 2560×1440, a studio on the right), and the real windows on the test display.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from gdstudio_window_fixtures import settle
from PySide6.QtCore import QPoint, QRect, QSize
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPalette
from PySide6.QtWidgets import QApplication

from gdstudio.ui.training import TrainingLab
from gdstudio.ui.training.curves import EDGE_MARGIN, LiveCurves, accuracy_range
from gdstudio.ui.training.placement import LAB_COMFORT_WIDTH, LAB_MIN_WIDTH, LAB_SIZE, beside
from gdstudio.ui.training.worker import Chunk

RUN_TIMEOUT = 60_000  # ms: a wait limit for slow shared machines, not a speed assertion


# ------------------------------------------------------------------------------ rectangle arithmetic
def _inside(inner: QRect, outer: QRect) -> bool:
    return outer.contains(inner)


@pytest.mark.parametrize(("screen", "studio", "studio_min", "make_room", "case"), [
    (QRect(0, 0, 2560, 1440), QRect(0, 0, 1600, 1000), 1122, False, "right"),
    (QRect(0, 0, 2560, 1440), QRect(960, 100, 1600, 1000), 1122, False, "left"),
    (QRect(0, 0, 1920, 1080), QRect(0, 0, 1600, 1000), 1122, False, "covered"),
    (QRect(0, 0, 1920, 1080), QRect(0, 0, 1600, 1000), 1122, True, "moved"),
    (QRect(0, 0, 1920, 1080), QRect(200, 30, 1300, 900), 1000, True, "moved"),
    (QRect(0, 0, 1280, 720), QRect(0, 0, 1278, 694), 1122, True, "covered"),  # no room to make
    (QRect(0, 0, 1280, 720), QRect(0, 0, 1600, 1000), 1122, False, "covered"),  # larger than the screen
    (QRect(1920, 0, 1280, 720), QRect(1920, 0, 1280, 720), 1122, False, "covered"),  # a second monitor
])
def test_the_lab_goes_beside_the_studio_and_inside_the_screen(screen, studio, studio_min, make_room, case):
    lab, moved = beside(screen, studio, studio_min, make_room)
    assert _inside(lab, screen)  # never cut off by the screen's edges
    assert lab.height() == min(LAB_SIZE.height(), screen.height())
    assert lab.width() <= LAB_SIZE.width()
    after = moved if moved is not None else studio
    if case == "covered":
        assert moved is None
        assert lab.width() == min(LAB_COMFORT_WIDTH, screen.width())
        assert lab.right() == screen.right()  # against the edge: the studio's panels stay visible
        return
    assert not lab.intersects(after)  # beside, nothing covered
    assert lab.width() >= LAB_MIN_WIDTH
    if case == "right":
        assert moved is None and lab.left() == studio.right() + 1
        assert lab.width() == min(LAB_SIZE.width(), screen.right() - studio.right())
    elif case == "left":
        assert moved is None and lab.right() == studio.left() - 1
    else:
        assert _inside(moved, screen) and moved.left() == screen.left()
        assert studio_min <= moved.width() <= studio.width()
        assert lab.left() == moved.right() + 1 and lab.right() == screen.right()


def test_a_maximized_studio_is_never_resized():
    lab, moved = beside(QRect(0, 0, 1920, 1080), QRect(0, 0, 1920, 1080), 1122, make_room=False)
    assert moved is None
    assert lab == QRect(1920 - LAB_COMFORT_WIDTH, 0, LAB_COMFORT_WIDTH, LAB_SIZE.height())


def test_accuracy_range_is_0_to_100_when_empty_then_from_the_tens_below_the_data():
    assert accuracy_range(np.array([])) == (0.0, 100.0)
    assert accuracy_range(np.array([np.nan])) == (0.0, 100.0)
    assert accuracy_range(np.array([16.0, 96.1])) == (10.0, 100.0)
    assert accuracy_range(np.array([93.0, 98.0, np.nan])) == (80.0, 100.0)
    assert accuracy_range(np.array([99.9])) == (90.0, 100.0)
    assert accuracy_range(np.array([2.0])) == (0.0, 100.0)


# ------------------------------------------------------------------------------ real widgets
@pytest.fixture
def lab(qtbot, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    w = TrainingLab()
    qtbot.addWidget(w)
    yield w
    w.close()
    w.work.wait(10_000)


def _shown(qtbot, w, size: tuple[int, int]) -> None:
    w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    qtbot.wait(20)


def _acc_range(lab: TrainingLab) -> list[float]:
    return lab.curves.acc_plot.getPlotItem().getViewBox().viewRange()[1]


def _tick_labels(axis) -> list[str]:
    """The tick labels pyqtgraph draws on ``axis`` now."""
    image = QImage(8, 8, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        specs = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [text for _rect, _flags, text in specs[2]] if specs else []


def test_the_empty_accuracy_axis_is_0_to_100_percent(qtbot, lab):
    _shown(qtbot, lab, (1280, 720))
    lo, hi = _acc_range(lab)
    assert lo <= 0.0 and hi >= 100.0 and hi - lo <= 115.0  # 0–100 % and a little padding
    labels = _tick_labels(lab.curves.acc_plot.getPlotItem().getAxis("left"))
    assert "0" in labels and "100" in labels
    # A run begins: still 0–100 until the first evaluation, then from the tens below the data.
    data = LiveCurves(["sgd"], ["SGD"], ["#1f77b4"], ["η 0.01"], total=40)
    lab.curves.begin(data)
    lo, hi = _acc_range(lab)
    assert lo <= 0.0 and hi >= 100.0
    data.add(Chunk(first=1, losses=np.full((10, 1), 2.0), evals=[(10, [0.37])]))
    lab.curves.refresh()
    lo, hi = _acc_range(lab)
    assert lo <= 30.0 < 37.0 < 100.0 <= hi and lo >= 20.0


@pytest.mark.parametrize("size", [(1920 - 1122, 1080 - 25), (1000, 720), (1280, 720)])
def test_the_loss_plot_fits_its_window_with_a_long_title(qtbot, lab, size):
    """A plot cannot be narrower than its title in pyqtgraph: a long run title used to push the
    loss plot past the window's right edge (its end and the legend cut off)."""
    _shown(qtbot, lab, size)
    lab.hidden.setText("16,16")
    lab.iterations.setValue(30)
    lab.eval_every.setValue(10)
    with qtbot.waitSignal(lab.run_finished, timeout=RUN_TIMEOUT):
        assert lab.start()
    qtbot.wait(50)
    plot_widget = lab.curves.loss_plot
    item = plot_widget.getPlotItem()
    assert len(lab.curves.title) > 40 and "digits" in lab.curves.title
    view_width = plot_widget.viewport().width()
    assert item.geometry().width() <= view_width + 0.5  # the whole plot inside its view
    vb = item.getViewBox().sceneBoundingRect()
    assert vb.right() <= view_width - EDGE_MARGIN + 1  # a margin right of the data
    # The widget itself lies inside the window, and the window inside the screen.
    top_left = plot_widget.mapTo(lab, QPoint(0, 0))
    assert top_left.x() + plot_widget.width() <= lab.width()
    assert top_left.y() + plot_widget.height() <= lab.height()
    # The last iteration is labelled on the x axis, and the title is there (elided if it must).
    assert "30" in _tick_labels(item.getAxis("bottom"))
    drawn = item.titleLabel.text
    assert drawn == lab.curves.title or (drawn.endswith("…") and lab.curves.title.startswith(drawn[:-1]))


def test_opens_beside_the_studio_on_the_screen(shared_studio, qtbot):
    w = shared_studio
    avail = w.screen().availableGeometry()
    before = w.geometry()
    try:
        w.move(avail.topLeft())
        studio = w.frameGeometry()
        w.open_training_lab()
        lab = w.training_lab
        qtbot.waitExposed(lab)
        qtbot.wait(50)
        placed = lab.frameGeometry()
        assert w.frameGeometry() == studio  # the studio is left as the user arranged it
        assert avail.contains(placed)
        assert placed.width() >= LAB_MIN_WIDTH
        if avail.right() - studio.right() >= LAB_MIN_WIDTH:
            assert not placed.intersects(studio)  # beside: nothing of the studio covered
        else:  # no room beside it: against the edge, covering as little as it can
            assert placed.right() == avail.right() and placed.width() == LAB_COMFORT_WIDTH
        # Opening it again only raises it (a lab the user moved stays where it is).
        lab.move(lab.x() - 10, lab.y())
        moved_to = lab.pos()
        w.open_training_lab()
        assert w.training_lab is lab and lab.pos() == moved_to
    finally:
        if w.training_lab is not None:
            w.training_lab.close()
            w.training_lab = None
        w.setGeometry(before)
        settle(qtbot, w)


def test_make_room_puts_both_windows_side_by_side(shared_studio, qtbot, lab):
    from gdstudio.ui.actions import DOCKS

    w = shared_studio
    # the first-launch layout (shared_studio shows every dock; the explaining ones start closed)
    shown = {spec.id: w.docks[spec.id].isVisible() for spec in DOCKS}
    for spec in DOCKS:
        w.docks[spec.id].setVisible(spec.visible and spec.id != "fit")
    settle(qtbot, w)
    avail = w.screen().availableGeometry()
    before = w.geometry()
    try:
        w.move(avail.topLeft())
        lab.place_beside(w, make_room=True)
        lab.show()
        qtbot.waitExposed(lab)
        qtbot.wait(50)
        studio, placed = w.frameGeometry(), lab.frameGeometry()
        assert avail.contains(placed) and avail.contains(studio)
        assert not placed.intersects(studio)
        assert placed.width() >= LAB_MIN_WIDTH and studio.width() >= w.minimumSizeHint().width()
    finally:
        w.setGeometry(before)
        for dock_id, visible in shown.items():
            w.docks[dock_id].setVisible(visible)
        settle(qtbot, w)


def test_the_lab_takes_the_studio_palette_and_plot_colours(shared_studio, qtbot, lab):
    w = shared_studio
    studio_plot = w.findChildren(pg.PlotWidget)[0]
    studio_bg = studio_plot.backgroundBrush().color()
    studio_fg = studio_plot.getPlotItem().getAxis("bottom").textPen().color()
    palette = QPalette(w.palette())
    old = pg.getConfigOption("background"), pg.getConfigOption("foreground")
    try:
        palette.setColor(QPalette.ColorRole.Window, QColor("#30343a"))  # a studio in its own palette
        w.setPalette(palette)
        # pyqtgraph's configuration changed since the studio drew its plots (e.g. the system
        # switched theme): a lab built now would take it unless it follows the studio.
        pg.setConfigOptions(background="#ff00ff", foreground="#00ff00")
        other = TrainingLab()
        qtbot.addWidget(other)
        assert other.curves.background == QColor("#ff00ff")
        other.place_beside(w)
        assert other.palette().color(QPalette.ColorRole.Window) == QColor("#30343a")
        for plot in (other.curves.loss_plot, other.curves.acc_plot):
            assert plot.backgroundBrush().color() == studio_bg
            for name in ("left", "bottom"):
                assert plot.getPlotItem().getAxis(name).textPen().color() == studio_fg
        assert QColor(other.curves.legend.opts["labelTextColor"]) == studio_fg
        other.close()
    finally:
        pg.setConfigOptions(background=old[0], foreground=old[1])
        w.setPalette(QApplication.palette())


def test_the_lab_is_never_larger_than_its_screen(qtbot, lab):
    avail = (lab.screen() or QGuiApplication.primaryScreen()).availableGeometry()
    assert lab.width() <= avail.width() and lab.height() <= avail.height()
    assert QSize(lab.width(), lab.height()) == QSize(min(LAB_SIZE.width(), avail.width()),
                                                     min(LAB_SIZE.height(), avail.height()))
