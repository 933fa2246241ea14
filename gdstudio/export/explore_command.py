"""`gdstudio sweep` and `gdstudio basins`: thousands of runs at once, written as CSV, JSON, NPZ or PNG. Qt-free.

``sweep``: the trace options plus ``--vary KEY=LO:HI:COUNT[:log]`` once or twice (values
``numpy.linspace(LO, HI, COUNT)``, or ``numpy.geomspace`` with ``:log``; KEY a hyperparameter or
a component ``name[i]``, e.g. ``betas[0]``); every cell is a run from the same start. CSV columns:
the varied keys in order, then ``final_loss,best_loss,steps,status`` (the first key varies slowest).

``basins``: the trace options without ``--start``, plus ``--grid G`` and ``--bounds=X0,X1,Y0,Y1``
(default: the problem's view bounds); starts are every (x, y) of numpy.linspace(X0, X1, G) ×
numpy.linspace(Y0, Y1, G). CSV columns ``x,y,final_x,final_y,final_loss,steps,status,minimum``, one
row per start, y varying slowest (all x of the first y, then the next y …).

``steps`` is the number of steps taken (a diverged run: its divergence step); ``status`` ok,
converged, diverged (or stopped) as in ``trace``. Every row equals ``gdstudio trace`` with the
same settings (see :mod:`gdstudio.engine.explore`).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from gdstudio.cli_common import CliError, float_option, output_target, write_result
from gdstudio.engine.explore import (
    DIVERGED,
    LOG_KEYS,
    STATUS_NAMES,
    BasinMap,
    Sweep,
    basin_map,
    check_memory,
    component_key,
    sweep,
    sweep_values,
)
from gdstudio.engine.runs import Run
from gdstudio.export.heatmap_png import (
    CATEGORY_COLOURS,
    DIVERGED_RGB,
    NONE_RGB,
    ColourBar,
    Swatches,
    curve_png,
    heatmap_png,
    viridis,
)
from gdstudio.export.trace_command import add_run_options, build_run
from gdstudio.limits import brief

__all__ = [
    "BASINS_DESCRIPTION",
    "BASINS_HELP",
    "MINIMUM_TOL",
    "SWEEP_DESCRIPTION",
    "SWEEP_HELP",
    "add_basins_arguments",
    "add_sweep_arguments",
    "basins_csv",
    "basins_npz",
    "basins_png",
    "parse_vary",
    "run_basins",
    "run_sweep",
    "sweep_csv",
    "sweep_json",
    "sweep_png",
]

SWEEP_HELP = "vary one or two hyperparameters over a grid, every cell a run (CSV, JSON or PNG)"
SWEEP_DESCRIPTION = ("Run one optimizer for every value (pair) of one or two hyperparameters from the same start, "
                     "all cells at once; each cell equals 'gdstudio trace' with that value.")
BASINS_HELP = "basin-of-attraction map: a run from every start of a grid (CSV, NPZ or PNG)"
BASINS_DESCRIPTION = ("Run one optimizer from every start of a G×G grid, all at once, and report where each run "
                      "ends, which known minimum it reached (-1: none) and its status.")

#: Bytes per cell of the output text (a CSV line of 8 full-precision numbers, ~24 characters each).
_TEXT_BYTES = 200
#: Distance to a known minimum that counts as reaching it.
MINIMUM_TOL = 1e-2


# -- arguments ----------------------------------------------------------------------------------
def add_sweep_arguments(p: argparse.ArgumentParser) -> None:
    add_run_options(p)
    p.add_argument("--vary", action="append", default=[], metavar="KEY=LO:HI:COUNT[:log]",
                   help="a hyperparameter and its values: numpy.linspace(LO, HI, COUNT), or numpy.geomspace with "
                        ":log, e.g. --vary lr=1e-4:1:50:log; a component of a pair is name[i], e.g. "
                        "--vary 'betas[0]=0.5:0.99:20' (β₁). Give it once or twice")
    p.add_argument("--format", choices=("csv", "json", "png"), default="csv", help="output format (default csv)")
    p.add_argument("--out", help="write to this file (atomically) instead of stdout ('-': stdout)")


def add_basins_arguments(p: argparse.ArgumentParser) -> None:
    add_run_options(p, start=False)
    p.add_argument("--grid", type=int, default=64, help="starts per axis, G (default 64: a 64×64 map)")
    p.add_argument("--bounds", help="X0,X1,Y0,Y1 of the grid, e.g. --bounds=-5,5,-5,5 (default: the problem's "
                                    "view bounds)")
    p.add_argument("--format", choices=("csv", "npz", "png"), default="csv", help="output format (default csv)")
    p.add_argument("--out", help="write to this file (atomically) instead of stdout ('-': stdout)")


def parse_vary(text: str) -> tuple[str, float, float, int, bool]:
    """``KEY=LO:HI:COUNT[:log]`` → (key, lo, hi, count, log), or CliError."""
    usage = "(expected KEY=LO:HI:COUNT[:log], e.g. lr=1e-4:1:50:log)"
    key, eq, rest = text.partition("=")
    parts = rest.split(":")
    if not eq or not key.strip() or len(parts) not in (3, 4):
        raise CliError(f"Invalid --vary: {brief(text)} {usage}")
    if len(parts) == 4 and parts[3].strip().lower() != "log":
        raise CliError(f"Invalid --vary: {brief(text)} (the fourth part can only be 'log') {usage}")
    try:
        lo, hi = float(parts[0]), float(parts[1])
        count = int(parts[2])
    except ValueError:
        raise CliError(f"Invalid --vary: {brief(text)} {usage}") from None
    try:
        component_key(key)
    except ValueError as exc:
        raise CliError(f"Invalid --vary: {exc}") from None
    if count < 1:
        raise CliError(f"Invalid --vary: {brief(text)} (COUNT must be ≥ 1)")
    log = len(parts) == 4
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise CliError(f"Invalid --vary: {brief(text)} (LO and HI must be finite numbers)")
    if log and (lo <= 0 or hi <= 0):
        raise CliError(f"Invalid --vary: {brief(text)} (a :log range needs LO and HI > 0)")
    return key.strip(), lo, hi, count, log


# -- the commands -------------------------------------------------------------------------------
def run_sweep(args: argparse.Namespace) -> int:
    """`gdstudio sweep`: options checked, memory estimated, then every cell computed and written."""
    target = output_target(args.out)
    if not args.vary:
        raise CliError("Missing --vary: give one or two, e.g. --vary lr=1e-4:1:50:log")
    if len(args.vary) > 2:
        raise CliError(f"Too many --vary: {len(args.vary)} given (one or two)")
    specs = [parse_vary(v) for v in args.vary]
    if len(specs) == 2 and component_key(specs[0][0]) == component_key(specs[1][0]):
        raise CliError(f"Invalid --vary: {specs[0][0]} is given twice")
    run = build_run(args)
    extra = _TEXT_BYTES if args.format != "png" else 8
    try:
        check_memory(tuple(s[3] for s in specs), run.problem.dim, run.config.optimizer, what="sweep", extra=extra)
        vary = [(key, sweep_values(lo, hi, count, log)) for key, lo, hi, count, log in specs]
        result = sweep(run.problem, run.config, vary, args.steps)
    except ValueError as exc:
        raise CliError(_sweep_message(exc)) from None
    logs = tuple(s[4] for s in specs)
    if args.format == "csv":
        return write_result(target, sweep_csv(result), args.out)
    if args.format == "json":
        return write_result(target, sweep_json(result, run, args.steps), args.out)
    return write_result(target, sweep_png(result, run, args.steps, logs), args.out)


def _sweep_message(exc: ValueError) -> str:
    text = str(exc)
    return text if text.startswith("Invalid") else f"Invalid --vary: {text}"


def run_basins(args: argparse.Namespace) -> int:
    """`gdstudio basins`: options checked, memory estimated, then the map computed and written."""
    target = output_target(args.out)
    run = build_run(args)
    problem = run.problem
    if problem.dim != 2:
        raise CliError(f"Invalid --problem: {problem.name} has {problem.dim} parameter(s); a basin map needs 2")
    if args.grid < 1:
        raise CliError(f"Invalid --grid: {args.grid} (must be ≥ 1)")
    if args.bounds is None:
        (x0, x1), (y0, y1) = problem.bounds
        bounds = [x0, x1, y0, y1]
    else:
        bounds = float_option(args.bounds, "--bounds")
        if len(bounds) != 4:
            raise CliError(f"Invalid --bounds: {brief(args.bounds)} (expected X0,X1,Y0,Y1, e.g. --bounds=-5,5,-5,5)")
        if not (bounds[0] < bounds[1] and bounds[2] < bounds[3]):
            raise CliError(f"Invalid --bounds: {brief(args.bounds)} (need X0 < X1 and Y0 < Y1)")
    extra = {"csv": _TEXT_BYTES, "npz": 64, "png": 8}[args.format]
    try:
        check_memory((args.grid, args.grid), 2, run.config.optimizer, what="grid", extra=extra)
        result = basin_map(problem, run.config, bounds, args.grid, args.steps, tol=MINIMUM_TOL,
                           detail=args.format == "npz")
    except ValueError as exc:
        text = str(exc)
        raise CliError(text if text.startswith("Invalid") else f"Invalid --grid {args.grid}: {text}") from None
    if args.format == "csv":
        return write_result(target, basins_csv(result), args.out)
    if args.format == "npz":
        return write_result(target, basins_npz(result, run, args.steps), args.out)
    return write_result(target, basins_png(result, run, args.steps), args.out)


# -- formats ------------------------------------------------------------------------------------
def _num(v: Any) -> str:
    return repr(float(v))


def _lines(rows: Iterable[Iterable[object]]) -> str:
    return "".join(",".join(str(c) for c in row) + "\n" for row in rows)


def sweep_csv(s: Sweep) -> str:
    """Header: the keys, then ``final_loss,best_loss,steps,status``; one line per cell, the first key slowest."""
    header = [*s.keys, "final_loss", "best_loss", "steps", "status"]
    rows: list[list[object]] = []
    for idx in np.ndindex(s.final_loss.shape):
        vals = [_num(float(v[i])) for v, i in zip(s.values, idx, strict=True)]
        rows.append([*vals, _num(s.final_loss[idx]), _num(s.best_loss[idx]), int(s.steps[idx]),
                     STATUS_NAMES[int(s.status[idx])]])
    return _lines([header, *rows])


def _json_float(v: Any) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def _jsonable(value: Any) -> Any:
    """Tuples as lists, ±inf as "inf"/"-inf" (strict JSON has no ∞; as `trace` writes them)."""
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def _settings(run: Run, steps: int) -> dict[str, Any]:
    cfg = run.config
    return {
        "problem": run.problem.name, "optimizer": run.spec.name,
        "hyperparameters": {k: _jsonable(v) for k, v in cfg.hyperparameters.items()},
        "start": [float(v) for v in cfg.start], "steps": int(steps), "batch_size": cfg.batch_size,
        "shuffle": cfg.shuffle, "noise": cfg.noise, "seed": cfg.seed, "tol": cfg.tol, "schedule": cfg.schedule,
    }


def sweep_json(s: Sweep, run: Run, steps: int) -> str:
    """The settings, ``keys``, ``values`` and ``cells`` (one object per cell, CSV order; a
    non-finite loss is null)."""
    cells = []
    for idx in np.ndindex(s.final_loss.shape):
        cell: dict[str, Any] = {k: float(v[i]) for k, v, i in zip(s.keys, s.values, idx, strict=True)}
        cell.update(final_loss=_json_float(s.final_loss[idx]), best_loss=_json_float(s.best_loss[idx]),
                    steps=int(s.steps[idx]), status=STATUS_NAMES[int(s.status[idx])])
        cells.append(cell)
    doc = {**_settings(run, steps), "keys": list(s.keys), "values": [v.tolist() for v in s.values], "cells": cells}
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def _loss_colours(loss: np.ndarray, diverged: np.ndarray) -> tuple[np.ndarray, ColourBar]:
    """viridis of log10 of the finite losses (a loss ≤ 0 at the bottom), diverged cells black."""
    ok = np.isfinite(loss) & ~diverged
    positive = loss[ok & (loss > 0)]
    if positive.size:
        lo, hi = float(positive.min()), float(positive.max())
    else:
        lo, hi = 1e-3, 1.0
    if hi <= lo:
        hi = lo * 10
    with np.errstate(all="ignore"):
        t = (np.log10(np.maximum(loss, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
    rgb = viridis(t)
    rgb[~ok] = DIVERGED_RGB
    return rgb, ColourBar(lo, hi, True, "final loss (black: diverged)")


def sweep_png(s: Sweep, run: Run, steps: int, logs: tuple[bool, ...]) -> bytes:
    """1 key: final loss vs the key (log y; log x with :log), diverged cells marked; 2 keys: a
    heat map of the final loss (log colour bar), diverged cells black."""
    title = f"{run.spec.name} on {run.problem.name}: final loss after {steps} steps"
    diverged = s.status == DIVERGED
    if len(s.keys) == 1:  # log x with :log, and for η and ε (the learning-rate range test)
        name = component_key(s.keys[0])[0]
        xlog = logs[0] or (name in LOG_KEYS and bool((s.values[0] > 0).all()))
        return curve_png(s.values[0], s.final_loss, (xlog, s.keys[0]), (True, "final loss"), title, marks=diverged)
    rgb, bar = _loss_colours(s.final_loss, diverged)
    v0, v1 = s.values
    # x: the second key, y: the first (cells [i0, i1] → row i0 at y = v0[i0])
    return heatmap_png(rgb, (float(v1[0]), float(v1[-1]), logs[1], s.keys[1]),
                       (float(v0[0]), float(v0[-1]), logs[0], s.keys[0]), title, bar)


def basins_csv(b: BasinMap) -> str:
    """Header ``x,y,final_x,final_y,final_loss,steps,status,minimum``; one line per start, y slowest."""
    n = b.starts.shape[0]
    fp = b.final_points.reshape(n, 2)
    loss, steps, status, minimum = (a.reshape(n) for a in (b.final_loss, b.steps, b.status, b.minimum))
    names = [STATUS_NAMES[int(c)] for c in status.tolist()]
    lines = ["x,y,final_x,final_y,final_loss,steps,status,minimum\n"]
    for (x, y), (fx, fy), lv, st, name, m in zip(b.starts.tolist(), fp.tolist(), loss.tolist(), steps.tolist(),
                                                  names, minimum.tolist(), strict=True):
        lines.append(f"{x!r},{y!r},{fx!r},{fy!r},{lv!r},{st},{name},{m}\n")
    return "".join(lines)


def basins_npz(b: BasinMap, run: Run, steps: int) -> bytes:
    """Arrays ``x`` (G,), ``y`` (G,), and (G, G) arrays indexed [j, i] (start (x[i], y[j])):
    ``final_x``, ``final_y``, ``final_loss``, ``best_loss``, ``steps``, ``status`` (codes into
    ``status_names``), ``minimum``, ``steps_to_minimum``; ``minima`` (M, 2); ``settings`` (JSON text)."""
    import io

    buf = io.BytesIO()
    assert b.xs is not None and b.ys is not None
    np.savez_compressed(
        buf, x=b.xs, y=b.ys, final_x=b.final_points[..., 0], final_y=b.final_points[..., 1],
        final_loss=b.final_loss, best_loss=b.best_loss, steps=b.steps, status=b.status,
        status_names=np.array(STATUS_NAMES), minimum=b.minimum, steps_to_minimum=b.steps_to_minimum,
        minima=b.minima, settings=np.array(json.dumps(_settings(run, steps))),
    )
    return buf.getvalue()


def basins_png(b: BasinMap, run: Run, steps: int) -> bytes:
    """Each start coloured by the known minimum it reached (a legend names them; grey: none,
    black: diverged); a problem without known minima is coloured by final loss (log colour bar)."""
    assert b.xs is not None and b.ys is not None
    title = f"{run.spec.name} on {run.problem.name}: basins after {steps} steps"
    diverged = b.status == DIVERGED
    x = (float(b.xs[0]), float(b.xs[-1]), False, "x start")
    y = (float(b.ys[0]), float(b.ys[-1]), False, "y start")
    if not len(b.minima):
        rgb, bar = _loss_colours(b.final_loss, diverged)
        return heatmap_png(rgb, x, y, title, bar)
    palette = np.array(CATEGORY_COLOURS, dtype=np.uint8)
    rgb = np.empty((*b.minimum.shape, 3), dtype=np.uint8)
    rgb[:] = NONE_RGB
    reached = b.minimum >= 0
    rgb[reached] = palette[b.minimum[reached] % len(palette)]
    rgb[diverged] = DIVERGED_RGB
    items = [(f"min {k}: ({mx:.3g}, {my:.3g})", CATEGORY_COLOURS[k % len(CATEGORY_COLOURS)])
             for k, (mx, my) in enumerate(b.minima.tolist())]
    items += [("none reached", NONE_RGB), ("diverged", DIVERGED_RGB)]
    return heatmap_png(rgb, x, y, title, Swatches(items))

