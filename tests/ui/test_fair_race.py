"""The fair-race dialog on real widgets: its table is the engine's fair_race, the CSV and Markdown
exports parse back to the same numbers, the races start with the tuned values (one undoable
edit), an evaluation budget holds for L-BFGS, and Cancel changes nothing."""

from __future__ import annotations

import csv
import io

import pytest
from PySide6.QtWidgets import QApplication

from gdstudio.engine.explore import fair_race
from gdstudio.engine.runs import Run, RunConfig
from gdstudio.model.session import RACE_OPTIMIZERS, Session
from gdstudio.ui.fair_race_dialog import CSV_COLUMNS, SECOND_VALUES, FairRaceDialog, second_key

START = (-1.5, 2.0)
CHOSEN = ["gd", "momentum", "adam", "lbfgs"]


@pytest.fixture
def session():
    s = Session()
    s.set_problem(name="rosenbrock")
    s.replace_runs([RunConfig("adam", START, {"lr": 0.01}), RunConfig("gd", (0.5, 0.5))])
    s.select(s.runs[0].id)
    return s


@pytest.fixture
def dialog(session, qtbot):
    d = FairRaceDialog(session)
    qtbot.addWidget(d)
    d.show()
    qtbot.waitExposed(d)
    return d


def race(dialog, qtbot, names=CHOSEN, budget=60, kind="steps", two=True):
    dialog.set_chosen(names)
    dialog.budget_box.setValue(budget)
    dialog.budget_kind.setCurrentText("steps" if kind == "steps" else "loss/gradient evaluations")
    dialog.tune_box.setCurrentIndex(1 if two else 0)
    with qtbot.waitSignal(dialog.finished, timeout=120_000):
        dialog.race_button.click()
    dialog.session.set_playing(False)


def reference(session, names, budget, kind, two):
    rows = []
    for name in names:
        key = second_key(name) if two else None
        rows += fair_race(session.problem, [RunConfig(name, START)], budget, kind,
                          ("lr", key) if key else ("lr",), second=SECOND_VALUES[key] if key else None)
    return rows


def test_default_selection_and_second_keys(dialog):
    assert dialog.chosen() == list(RACE_OPTIMIZERS)  # the articles' eleven, not all 29
    assert len(dialog.items) > len(RACE_OPTIMIZERS)
    assert dialog.start_label.text().startswith("(-1.5, 2)")
    assert [second_key(n) for n in ("gd", "momentum", "nag", "adam", "lion", "rmsprop", "adadelta", "lbfgs",
                                     "newton", "adagrad")] == [
        None, "momentum", "momentum", "betas[0]", "betas[0]", "alpha", "rho", None, "damping", None]


def test_table_equals_fair_race_and_the_races_start_tuned(session, dialog, qtbot):
    before = session.to_dict()
    race(dialog, qtbot)
    ref = reference(session, CHOSEN, 60, "steps", True)
    t = dialog.table
    assert t.rowCount() == len(ref)
    for i, row in enumerate(ref):
        r = dialog.results[i]
        assert (r.optimizer, r.tuned, r.final_loss, r.steps_to_tol, r.evaluations, r.status) == (
            row.optimizer, row.tuned, row.final_loss, row.steps_to_tol, row.evaluations, row.status)
        assert t.item(i, 2).text() == f"{row.final_loss:.6g}"
        assert t.item(i, 3).text() == (str(row.steps_to_tol) if row.steps_to_tol >= 0 else "—")
        assert t.item(i, 4).text() == str(row.evaluations)
        assert t.item(i, 5).text() == row.status
    assert "η = " in t.item(1, 1).text() and "γ = " in t.item(1, 1).text()
    assert "β₁ = " in t.item(2, 1).text()
    # the races: the runs replaced by the tuned configs, from the selected run's start
    runs = session.runs
    assert [e.config.optimizer for e in runs] == CHOSEN
    for e, row in zip(runs, ref, strict=True):
        assert e.config.start == START
        hp = e.config.hyperparameters
        assert hp["lr"] == row.tuned["lr"]
        if "momentum" in row.tuned:
            assert hp["momentum"] == row.tuned["momentum"]
        if "betas[0]" in row.tuned:
            assert hp["betas"][0] == row.tuned["betas[0]"]
    # a race run replays its row: the same loss after the budget
    adam = runs[2]
    single = Run(session.problem, adam.config).run(60)
    assert single.history.loss[-1] == pytest.approx(ref[2].final_loss, rel=1e-12)
    assert session.undo_stack.undo_text == "fair race (4 runs)"
    session.undo_stack.undo()
    assert session.to_dict() == before


def test_csv_and_markdown_parse_back(dialog, qtbot, tmp_path):
    race(dialog, qtbot, names=["gd", "adam"], budget=40, two=False)
    path = dialog.save_csv(tmp_path / "race.csv")
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    for row, r in zip(rows, dialog.results, strict=True):
        assert row["optimizer"] == r.optimizer
        assert float(row["lr"]) == r.tuned["lr"]
        assert row["second_key"] == "" and row["second_value"] == ""
        assert float(row["final_loss"]) == r.final_loss and float(row["best_loss"]) == r.best_loss
        assert int(row["steps_to_tol"]) == r.steps_to_tol and int(row["evaluations"]) == r.evaluations
        assert row["status"] == r.status
    text = dialog.copy_markdown()
    assert QApplication.clipboard().text() == text
    lines = [ln for ln in text.splitlines() if ln.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == ["Optimizer", "Tuned", "Final loss", "Steps to tolerance", "Evaluations", "Status"]
    assert set(lines[1].replace("|", "").replace("-", "").replace(":", "")) == set()
    for line, r in zip(lines[2:], dialog.results, strict=True):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[0] == r.title
        assert float(cells[1].removeprefix("η = ")) == pytest.approx(r.tuned["lr"])
        assert float(cells[2]) == pytest.approx(r.final_loss, rel=1e-5)
        assert int(cells[4]) == r.evaluations and cells[5] == r.status


def test_an_evaluation_budget_counts_lbfgs_line_search(session, dialog, qtbot):
    race(dialog, qtbot, names=["gd", "lbfgs"], budget=50, kind="evaluations", two=False)
    gd, lbfgs = dialog.results
    assert gd.evaluations == 50
    assert lbfgs.evaluations <= 50
    ref = reference(session, ["lbfgs"], 50, "evaluations", False)[0]
    assert (lbfgs.tuned, lbfgs.evaluations, lbfgs.final_loss) == (ref.tuned, ref.evaluations, ref.final_loss)


def test_cancel_changes_nothing(session, dialog, qtbot):
    before, undo = session.to_dict(), session.undo_stack.undo_text
    dialog.set_chosen(RACE_OPTIMIZERS)
    dialog.budget_box.setValue(5000)
    dialog.tune_box.setCurrentIndex(1)
    dialog.race_button.click()
    assert dialog.busy
    dialog.cancel_button.click()
    assert not dialog.busy and dialog.race_button.isEnabled()
    dialog.work.wait(120_000)
    qtbot.wait(50)
    assert session.to_dict() == before and session.undo_stack.undo_text == undo
    assert dialog.table.rowCount() == 0 and "cancelled" in dialog.message.text()


def test_no_optimizer_chosen_says_so(dialog):
    dialog.set_chosen([])
    dialog.race_button.click()
    assert not dialog.busy and "at least one optimizer" in dialog.message.text()
