"""At 1280×720 (a projector) the history plots reflow instead of being cut off, hyperparameter
labels stay whole, and the runs table fits its dock without scrolling sideways."""

from __future__ import annotations

import pytest
from gdstudio_window_fixtures import isolated_settings, settle
from PySide6.QtCore import QRect
from PySide6.QtGui import QFont, QFontMetrics

from gdstudio.engine.runs import RunConfig
from gdstudio.ui.views.history import MIN_PLOT_SIZE, PLOTS

#: The least a history plot may get, in px (axes + a readable curve area).
MIN_W, MIN_H = 180, 140


@pytest.fixture
def small_window(qtbot, tmp_path):
    from gdstudio.ui.main_window import MainWindow

    w = MainWindow(settings=isolated_settings(tmp_path))
    qtbot.addWidget(w)
    w.resize(1280, 720)
    w.show()
    qtbot.waitExposed(w)
    w.start(preset="himmelblau")
    w.session.replace_runs([
        RunConfig("sgd", (-0.5, -0.5), {"lr": 0.01}), RunConfig("adam", (1.0, 1.0), {"lr": 0.1}),
        RunConfig("momentum", (0.5, -4.0), {"lr": 0.005}), RunConfig("sgd", (4.0, 4.0), {"lr": 0.5}),
        RunConfig("adagrad", (2.0, -2.0), {"lr": 0.5}),
    ])
    w.session.forward(60)
    settle(qtbot, w)
    qtbot.wait(50)
    yield w
    w.close()


def _plot_rects(view) -> dict[str, QRect]:
    """Each shown plot's rectangle in the history widget's pixels."""
    gv = view.layout_widget
    out = {}
    for name in view.shown_plots:
        rect = gv.mapFromScene(view.plots[name].sceneBoundingRect()).boundingRect()
        out[name] = QRect(gv.mapTo(view, rect.topLeft()), rect.size())
    return out


def test_history_plots_reflow_and_are_never_cut_off(small_window, qtbot):
    view = small_window.history_view
    assert view.isVisible() and view.height() < 2 * MIN_PLOT_SIZE[1]  # the premise: 2 × 2 would not fit
    seen = set()
    pages = max(1, view.tabs.count()) if view.tabs.isVisible() else 1
    for page in range(pages):
        if view.tabs.isVisible():
            view.tabs.setCurrentIndex(page)
            qtbot.wait(20)
        rects = _plot_rects(view)
        for name, rect in rects.items():
            assert rect.width() >= MIN_W and rect.height() >= MIN_H, (name, rect)
            assert view.rect().contains(rect.adjusted(1, 1, -1, -1)), (name, rect, view.rect())  # whole
        seen |= set(rects)
    assert seen == set(PLOTS)  # every plot can be reached
    view.show_plot("grad_norm")
    assert "grad_norm" in view.shown_plots


def test_history_uses_a_two_by_two_grid_when_there_is_room(show):
    from gdstudio.ui.views import HistoryView

    view = show(HistoryView(), (900, 600))
    assert view.arrangement == (2, 2) and not view.tabs.isVisible() and view.shown_plots == PLOTS
    view.resize(1000, 200)  # a wide, short dock: one row of four
    view.resize(1000, 200)
    assert view.arrangement == (1, 4) and set(view.shown_plots) == set(PLOTS)


@pytest.mark.parametrize("optimizer", ["adam", "adagrad", "sgd", "rmsprop"])
def test_hyperparameter_labels_fit_at_1280x720(small_window, qtbot, optimizer):
    w = small_window
    s = w.session
    s.update_run(s.selected_id, optimizer=optimizer)
    qtbot.wait(30)
    panel = w.panels["optimizer"]
    assert panel.editors
    for editor in panel.editors.values():
        label = editor.label
        assert label.isVisible()
        bold = QFont(label.font())
        bold.setBold(True)
        text = label.text().split("</b>")
        symbol = text[0].replace("<b>", "")
        rest = text[1].replace("&nbsp;", " ")
        need = QFontMetrics(bold).horizontalAdvance(symbol) + label.fontMetrics().horizontalAdvance(rest)
        assert need <= label.width(), (editor.spec.name, need, label.width())
        assert label.sizeHint().width() <= label.width()
        # The editor beside or under it is whole too (the panel scrolls vertically, never squeezes).
        assert editor.width() >= editor.minimumSizeHint().width()
    scroll = panel.parentWidget().parentWidget()
    assert panel.width() <= scroll.viewport().width()


def test_runs_table_fits_its_dock(small_window):
    panel = small_window.panels["runs"]
    table = panel.table
    shown = [c for c in range(table.model().columnCount()) if not table.isColumnHidden(c)]
    assert sum(table.columnWidth(c) for c in shown) <= table.viewport().width() + 1
    assert not table.horizontalScrollBar().isVisible()
    m = table.model()
    fm = table.fontMetrics()
    for col in shown:
        if col in (4, 5, 6):  # step, loss, status: whole
            for row in range(m.rowCount()):
                assert fm.horizontalAdvance(m.data(m.index(row, col))) <= table.columnWidth(col), (row, col)


def test_a_window_saved_on_a_large_screen_fits_a_small_one(qtbot, tmp_path):
    """A geometry saved at 1600×1000 (or the default size) never opens past a 1280×720 screen."""
    from PySide6.QtCore import QRect

    from gdstudio.ui.main_window import MainWindow

    w = MainWindow(settings=isolated_settings(tmp_path))
    qtbot.addWidget(w)
    avail = w.screen().availableGeometry()
    small = QRect(avail.x(), avail.y(), 1280, 720)
    w.resize(1600, 1000)
    w.move(avail.x() + 500, avail.y() + 400)
    w.screen().availableGeometry = lambda: small  # type: ignore[method-assign]
    try:
        w.fit_to_screen()
    finally:
        del w.screen().availableGeometry
    assert (w.width(), w.height()) == (1280, 720)
    assert (w.x(), w.y()) == (small.x(), small.y())
