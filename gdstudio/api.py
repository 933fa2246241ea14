"""gdstudio from Python and Jupyter: trace, race, render and show, with names mirroring the CLI.

>>> import gdstudio as gd
>>> run = gd.trace("rosenbrock", "adam", start=(-1.5, 2), steps=100, lr=0.05)
>>> run.points.shape, run.status
((101, 2), 'ok')

- :func:`trace` is ``gdstudio trace``: one optimizer on one problem; the :class:`Run` it returns
  holds NumPy arrays (``points`` (steps + 1) × D, ``loss``, ``lr``; the same numbers as the trace
  JSON), ``status`` and ``diverged_at``.
- :func:`race` builds a :class:`Session` with one run per optimizer (names or
  ``(name, {hyperparameters})`` pairs), computed up to ``steps``.
- :func:`render` is ``gdstudio render``: ``.mp4`` / ``.gif`` give a :class:`Video`, ``.png`` an
  :class:`Image` (one frame at the last step); both display inline in Jupyter.
- :func:`show` opens the studio window with the runs (blocks in a script; returns at once when a
  QApplication already runs, e.g. under IPython's ``%gui qt``).
- :func:`problem`, :func:`optimizers`, :func:`schedules`, :func:`problems`: what there is.

Bad input raises ``ValueError`` with the CLI's one-line messages: hyperparameters go through the
one override boundary (:meth:`gdstudio.engine.optimizers.OptimizerSpec.validate_overrides`),
schedules through :func:`gdstudio.engine.schedules.validate_schedule`.

Layering: this module sits in the top layer beside :mod:`gdstudio.cli`. Everything but
:func:`render`, :func:`show` and the ``_repr_png_`` methods is Qt-free: those import
:mod:`gdstudio.ui` (and so PySide6) inside the function, when first called.

Inline display of a Session: :mod:`gdstudio.model` may not import Qt, not even in a function
(the import-linter contract), so the model's Session cannot draw itself. :class:`Session` here is
a subclass of :class:`gdstudio.model.session.Session` that only adds ``_repr_png_`` (Jupyter calls
it; it renders offscreen with the ``gdstudio render`` renderer). A subclass, rather than a display
formatter registered with IPython, works in every Jupyter front end without setup and is what
:func:`race` returns; a plain model Session is accepted wherever a Session is.
"""

from __future__ import annotations

import base64
import io
import math
import os
import re
import struct
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from gdstudio.engine.optimizers import get_spec, optimizer_names
from gdstudio.engine.problems import Problem as EngineProblem
from gdstudio.engine.problems import make_problem, problem_names
from gdstudio.engine.runs import History, RunConfig, Status
from gdstudio.engine.runs import Run as EngineRun
from gdstudio.engine.schedules import check_warmup, get_schedule_spec, schedule_names, validate_schedule
from gdstudio.limits import check_count
from gdstudio.model.session import MAX_STEPS_LIMIT, ProblemSettings
from gdstudio.model.session import Session as ModelSession

if TYPE_CHECKING:
    from gdstudio.ui.main_window import MainWindow

__all__ = [
    "Image",
    "Problem",
    "Run",
    "Session",
    "Video",
    "optimizers",
    "problem",
    "problems",
    "race",
    "render",
    "schedules",
    "show",
    "trace",
]

#: The size of the static contour a Run or Session shows inline (``_repr_png_``).
REPR_SIZE = (800, 500)
#: Windows opened by :func:`show` in a running event loop, kept alive until they close.
_OPEN_WINDOWS: list[Any] = []
#: Whether this module made the QApplication (for a render): :func:`show` still runs its loop then.
_MADE_APP = False


class Session(ModelSession):
    """The model's Session (:class:`gdstudio.model.session.Session`), shown inline in Jupyter as a
    static contour with the runs' paths at the last step computed (``_repr_png_``)."""

    def _repr_png_(self) -> bytes:
        return _snapshot_png(self)


# ---------------------------------------------------------------------------------------------- problems
@dataclass(frozen=True)
class Problem:
    """A problem by name (``"rosenbrock"``), a typed function (``expr``, name ``"custom"``) or a
    data-driven problem with a named dataset or user data. ``engine`` is the engine's problem."""

    name: str
    expr: str | None = None
    dataset: str | None = None
    data_x: tuple[float, ...] | None = None
    data_y: tuple[float, ...] | None = None
    engine: EngineProblem = field(default=None, compare=False, repr=False)  # type: ignore[assignment]

    @property
    def dim(self) -> int:
        """The number of parameters."""
        return int(self.engine.dim)

    @property
    def params(self) -> tuple[str, ...]:
        """The parameters' names, e.g. ``("x", "y")``."""
        return tuple(self.engine.params)

    @property
    def start(self) -> tuple[float, ...]:
        """The problem's suggested start."""
        return tuple(float(v) for v in self.engine.start)

    def settings(self) -> ProblemSettings:
        """The model's problem settings for this problem (what a Session stores)."""
        return ProblemSettings(name=self.name, dataset=self.dataset, data_x=self.data_x, data_y=self.data_y,
                               expr=self.expr)


def problem(name: str | None = None, *, expr: str | None = None, dataset: str | None = None,
            data_x: Sequence[float] | None = None, data_y: Sequence[float] | None = None) -> Problem:
    """A problem: ``problem("rosenbrock")``, ``problem(expr="sin(x)*cos(y)")`` (the ``custom``
    problem), ``problem("linear", dataset=...)`` or with user data ``data_x``/``data_y``.
    ValueError (the CLI's message) when the name, expression or data are bad."""
    if name is None:
        if expr is None:
            raise ValueError(f"Give a problem name or expr= (known: {', '.join(problem_names())})")
        name = "custom"
    xs = None if data_x is None else tuple(float(v) for v in data_x)
    ys = None if data_y is None else tuple(float(v) for v in data_y)
    with np.errstate(all="ignore"):  # an overflow while choosing a start is not the user's business
        engine = make_problem(str(name), data_x=xs, data_y=ys, dataset=dataset, expr=expr)
    return Problem(engine.name, expr=expr if engine.name == "custom" else None, dataset=dataset,
                   data_x=xs, data_y=ys, engine=engine)


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _as_problem(value: Problem | str) -> Problem:
    """A Problem from a Problem, a problem name, or (a string that is not a plain name) an expression."""
    if isinstance(value, Problem):
        return value
    if not isinstance(value, str):
        raise ValueError(f"Invalid problem: {value!r} (give a name such as 'rosenbrock', an expression "
                         "or gd.problem(...))")
    text = value.strip()
    if text.lower() in problem_names() or _NAME.match(text):
        return problem(text)
    return problem(expr=text)


def problems() -> list[str]:
    """The problem names (``gdstudio list``)."""
    return problem_names()


def optimizers() -> list[str]:
    """The optimizer names of the registry (``gdstudio list``)."""
    return optimizer_names()


def schedules() -> list[str]:
    """The learning-rate schedule names (``--schedule``)."""
    return schedule_names()


# ---------------------------------------------------------------------------------------------- runs
def _status(run: EngineRun) -> str:
    """As the trace JSON's ``status``: ok, converged, diverged or stopped."""
    if run.status is Status.RUNNING:
        return "ok"
    return str(run.status.value)


class Run:
    """A finished run: the engine run and its history as NumPy arrays (copies).

    ``points[k]``: the parameters after k steps ((steps + 1) × D, finite values only: a diverged
    run ends at ``diverged_at``); ``loss[k]``: the full loss there; ``lr[k]``: the learning rate
    step k + 1 used. ``status``: ``"ok"``, ``"converged"``, ``"diverged"`` or ``"stopped"``.
    """

    def __init__(self, engine: EngineRun, problem: Problem, steps: int) -> None:
        self.engine = engine
        self.problem = problem
        #: The steps asked for (a run that converged, diverged or stopped has fewer).
        self.steps = int(steps)
        history = engine.history
        self.points: np.ndarray = np.array(history.points, dtype=np.float64)
        self.loss: np.ndarray = np.array(history.loss, dtype=np.float64)
        self.lr: np.ndarray = np.array(history.lr, dtype=np.float64)
        self.status: str = _status(engine)
        self.diverged_at: int | None = engine.diverged_at

    @property
    def optimizer(self) -> str:
        """The optimizer's registry name."""
        return str(self.engine.spec.name)

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """Every hyperparameter, resolved (the defaults and the values given)."""
        return dict(self.engine.hyperparameters)

    @property
    def config(self) -> RunConfig:
        """The engine's run configuration (what a Session stores)."""
        return self.engine.config

    @property
    def history(self) -> History:
        """The engine history (gradients, moments, updates … per step)."""
        return self.engine.history

    def to_dict(self) -> dict[str, Any]:
        """The ``gdstudio trace`` JSON document of this run, as a dict."""
        from gdstudio.export.trace_format import trace_dict

        return trace_dict(self.engine, self.steps)

    def __repr__(self) -> str:
        return (f"Run({self.problem.name!r}, {self.optimizer!r}, steps={len(self.points) - 1}, "
                f"status={self.status!r}, loss={float(self.loss[-1]) if len(self.loss) else math.nan:.6g})")

    def _repr_png_(self) -> bytes:
        return _snapshot_png(_session_of(self, None)[0])


def _floats(value: object, what: str) -> tuple[float, ...]:
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return (float(value),)
    try:
        return tuple(float(v) for v in value)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise ValueError(f"Invalid {what}: {value!r} (expected numbers)") from None


def _whole(value: object, what: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"Invalid {what}: {value!r} (must be a whole number ≥ {low})")
    return int(value)


def _config(prob: Problem, optimizer: str, start: Sequence[float] | float | None, steps: int, *,
            batch_size: int | None = None, shuffle: bool = True, noise: float = 0.0, seed: int = 0,
            tol: float = 1e-8, schedule: str | None = None, schedule_settings: Mapping[str, Any] | None = None,
            warmup: int = 0, hyperparameters: Mapping[str, Any] | None = None) -> RunConfig:
    """The run configuration through the CLI's boundaries (ValueError with one line)."""
    if not isinstance(optimizer, str):
        raise ValueError(f"Invalid optimizer: {optimizer!r} (give a name; known: {', '.join(optimizer_names())})")
    spec = get_spec(optimizer)
    overrides = spec.validate_overrides(dict(hyperparameters or {}))
    point = prob.start if start is None else _floats(start, "start")
    if len(point) != prob.dim:
        example = ", ".join(["0"] * prob.dim)
        raise ValueError(f"Invalid start: {start!r} needs {prob.dim} value(s) for ({', '.join(prob.params)}), "
                         f"e.g. start=({example}{',' if prob.dim == 1 else ''})")
    steps = _whole(steps, "steps")
    seed = _whole(seed, "seed")
    warmup = check_warmup(warmup)
    settings = validate_schedule(schedule, dict(schedule_settings) if schedule_settings else None,
                                 warmup=warmup, horizon=steps)
    if schedule_settings and schedule is None:
        raise ValueError(f"Invalid schedule_settings {dict(schedule_settings)!r} (give schedule=NAME; "
                         f"known: {', '.join(schedule_names())})")
    name = None if schedule is None else get_schedule_spec(schedule).name
    from gdstudio.export.trace_command import trace_bytes_per_step

    check_count("steps", steps, trace_bytes_per_step(prob.dim), "history and output")
    return RunConfig(optimizer=spec.name, start=point, hyperparameters=overrides, batch_size=batch_size,
                     shuffle=bool(shuffle), noise=noise, seed=seed, tol=tol, schedule=name,
                     schedule_settings=settings, warmup=warmup)


def trace(problem: Problem | str, optimizer: str, start: Sequence[float] | float | None = None, steps: int = 100,
          *, batch_size: int | None = None, shuffle: bool = True, noise: float = 0.0, seed: int = 0,
          tol: float = 1e-8, schedule: str | None = None, schedule_settings: Mapping[str, Any] | None = None,
          warmup: int = 0, **hyperparameters: Any) -> Run:
    """Run ``optimizer`` on ``problem`` for ``steps`` steps (``gdstudio trace``).

    ``problem``: a name, an expression (``"sin(x)*cos(y)"``) or :func:`problem`; ``start``: the
    start point (default: the problem's suggested start); ``hyperparameters`` with torch's names
    (``lr=0.01, betas=(0.9, 0.999)``); ``batch_size`` (data-driven problems; None = all the data),
    ``shuffle``, ``noise`` (σ added to each gradient), ``seed``, ``tol`` (stop as converged below
    this gradient norm; 0 = never); a learning-rate ``schedule`` with its ``schedule_settings``
    and ``warmup`` steps. ValueError (the CLI's one line) for a bad name or value.
    """
    prob = _as_problem(problem)
    config = _config(prob, optimizer, start, steps, batch_size=batch_size, shuffle=shuffle, noise=noise, seed=seed,
                     tol=tol, schedule=schedule, schedule_settings=schedule_settings, warmup=warmup,
                     hyperparameters=hyperparameters)
    engine = EngineRun(prob.engine, config)
    engine.run(int(steps))
    return Run(engine, prob, int(steps))


# ---------------------------------------------------------------------------------------------- sessions
_RUN_OPTIONS = ("batch_size", "shuffle", "noise", "seed", "tol", "schedule", "schedule_settings", "warmup")


def _compute(session: ModelSession, steps: int) -> int:
    """Compute the session's runs up to ``steps``; the last step to show (≤ steps when every run
    stopped earlier)."""
    if not 0 <= steps <= MAX_STEPS_LIMIT:
        raise ValueError(f"Invalid steps: {steps} (must be in [0, {MAX_STEPS_LIMIT}])")
    if not session.runs:
        raise ValueError("the session has no runs")
    if steps > session.computed_steps:
        session.set_max_steps(max(session.max_steps, steps))
        session.seek(session.computed_steps)
        session.forward(steps - session.position)
    return min(steps, session.computed_steps)


def race(problem: Problem | str, optimizers: Iterable[str | tuple[str, Mapping[str, Any]]],
         start: Sequence[float] | float | None = None, steps: int = 100, **common: Any) -> Session:
    """A Session with one run per optimizer from the same start, computed up to ``steps``.

    ``optimizers``: names, or ``(name, {hyperparameters})`` pairs. ``common``: the run options of
    :func:`trace` (``batch_size``, ``noise``, ``seed``, ``tol``, ``schedule``, …) and
    hyperparameters every run takes (a pair's own values win; a pair's dict may also hold run
    options, e.g. ``("sgd", {"lr": 1.0, "batch_size": 1})``).
    """
    prob = _as_problem(problem)
    options = {k: v for k, v in common.items() if k in _RUN_OPTIONS}
    shared = {k: v for k, v in common.items() if k not in _RUN_OPTIONS}
    configs: list[RunConfig] = []
    for item in optimizers:
        if isinstance(item, str):
            name, own = item, {}
        elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Mapping):
            name, own = item[0], dict(item[1])
        else:
            raise ValueError(f"Invalid optimizer entry: {item!r} (give a name or a (name, {{hyperparameters}}) pair)")
        own_options = {k: own.pop(k) for k in list(own) if k in _RUN_OPTIONS}  # e.g. one run's batch_size=1
        configs.append(_config(prob, name, start, steps, hyperparameters={**shared, **own},
                               **{**options, **own_options}))
    if not configs:
        raise ValueError(f"race needs at least one optimizer (known: {', '.join(optimizer_names())})")
    session = Session()
    session.set_problem(prob.settings())
    session.replace_runs(configs)
    _compute(session, _whole(steps, "steps"))
    session.undo_stack.clear()  # what the API built is where a window's undo history begins
    return session


def _session_of(source: Run | ModelSession, steps: int | None) -> tuple[ModelSession, int]:
    """The session to draw and its last step: a Run becomes a one-run Session."""
    if isinstance(source, Run):
        session: ModelSession = Session()
        session.set_problem(source.problem.settings())
        session.replace_runs([source.config])
        last = _compute(session, source.steps if steps is None else _whole(steps, "steps"))
        session.undo_stack.clear()
        return session, last
    if isinstance(source, ModelSession):
        if steps is None:
            steps = source.computed_steps if source.computed_steps > 0 else source.max_steps
        return source, _compute(source, _whole(steps, "steps"))
    raise ValueError(f"Invalid source: {type(source).__name__} (give a gd.Run or a gd.Session)")


# ---------------------------------------------------------------------------------------------- pictures
def _png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    w, h = struct.unpack(">II", data[16:24])
    return int(w), int(h)


@dataclass(frozen=True)
class Image:
    """A rendered PNG: ``path`` and its bytes; Jupyter shows it inline (``_repr_png_``)."""

    path: Path
    data: bytes = field(repr=False)

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return _png_size(self.data)

    def _repr_png_(self) -> bytes:
        return self.data


@dataclass(frozen=True)
class Video:
    """A rendered MP4 or GIF: ``path``, ``kind`` (``"mp4"`` or ``"gif"``), its bytes and frame
    size; Jupyter shows it inline (``_repr_html_``: the file embedded as base64)."""

    path: Path
    kind: str
    data: bytes = field(repr=False)
    size: tuple[int, int] = (0, 0)

    def _repr_html_(self) -> str:
        encoded = base64.b64encode(self.data).decode("ascii")
        width = f' width="{self.size[0]}"' if self.size[0] else ""
        if self.kind == "gif":
            return f'<img src="data:image/gif;base64,{encoded}"{width} alt="{self.path.name}">'
        return (f'<video controls loop{width}><source src="data:video/mp4;base64,{encoded}" type="video/mp4">'
                f"{self.path.name}</video>")


def _application(view: str) -> Any:
    """The QApplication for drawing ``view`` (offscreen for the contour without a display), with
    ``gdstudio render``'s checks and messages (ValueError)."""
    from gdstudio.cli_common import CliError
    from gdstudio.ui.render_command import _application as render_application
    from gdstudio.ui.render_command import platform_for

    global _MADE_APP
    try:
        from PySide6.QtWidgets import QApplication

        made = QApplication.instance() is None
        app = render_application(platform_for(view))
    except ImportError as exc:
        raise ValueError(f"rendering needs the window's libraries: {exc}") from None
    except CliError as exc:
        raise ValueError(str(exc)) from None
    _MADE_APP = _MADE_APP or made
    return app


def _png_bytes(rgb: np.ndarray) -> bytes:
    from PIL import Image as PILImage

    buf = io.BytesIO()
    PILImage.fromarray(np.ascontiguousarray(rgb), "RGB").save(buf, "PNG")
    return buf.getvalue()


def _frame_png(session: ModelSession, last: int, view: str, size: tuple[int, int], caption: bool) -> bytes:
    """One frame (step ``last``) as PNG bytes, drawn by ``gdstudio render``'s renderer."""
    _application(view)
    from gdstudio.ui.frames import FrameRenderer

    renderer = FrameRenderer(session, view, size, caption=caption, last_step=last)
    try:
        return _png_bytes(renderer.frame(last))
    finally:
        renderer.close()


def _snapshot_png(session: ModelSession) -> bytes:
    """The static contour of ``session`` with its paths at the last step computed (REPR_SIZE)."""
    last = session.computed_steps if session.computed_steps > 0 else session.position
    return _frame_png(session, last, "contour", REPR_SIZE, True)


def render(source: Run | ModelSession, path: str | os.PathLike[str], view: str = "contour",
           size: tuple[int, int] = (1280, 720), fps: float = 30, steps: int | None = None, *,
           frames: int | None = None, caption: bool = True) -> Video | Image:
    """Render ``source`` (a Run or a Session) to ``path`` (``gdstudio render``).

    ``.mp4`` / ``.gif``: an animation, one frame per step up to ``steps`` (default: the run's
    steps, a session's computed steps), or ``frames`` spread evenly; returns a :class:`Video`.
    ``.png``: one frame at the last step; returns an :class:`Image`. ``view``: ``contour``
    (works without a display), ``multiples``, or the 3-D views (an X display, e.g. Xvfb).
    ValueError for bad input (the CLI's messages); ExportError when writing fails.
    """
    from gdstudio.export.frames import check_size
    from gdstudio.export.render_options import check_frame_memory
    from gdstudio.export.schedule import frame_steps
    from gdstudio.export.writers import writer_for

    target = Path(os.fspath(path))
    size = check_size(size)
    if not 0 < fps <= 240:
        raise ValueError(f"Invalid fps: {fps:g} (must be in (0, 240])")
    check_frame_memory(size)
    suffix = target.suffix.lower()
    if suffix not in (".mp4", ".gif", ".png"):
        raise ValueError(f"Unsupported output {target.name!r}: use a .mp4, .gif or .png file")
    if not target.parent.is_dir():
        raise ValueError(f"Invalid output path: {target} (the folder {target.parent} does not exist)")
    _application(view)  # the display check before any work
    session, last = _session_of(source, steps)
    if suffix == ".png":
        data = _frame_png(session, last, view, size, caption)
        target.write_bytes(data)
        return Image(target, data)
    from gdstudio.ui.render_command import render as render_frames

    schedule = frame_steps(last, frames)
    writer = writer_for(target, fps, **({"max_width": size[0]} if suffix == ".gif" else {}))
    try:
        render_frames(session, writer, view=view, size=size, steps=schedule, caption=caption, last_step=last)
    finally:
        writer.abort()  # no-op once finished; removes the temporary output otherwise
    return Video(target, suffix[1:], target.read_bytes(), size)


# ---------------------------------------------------------------------------------------------- the window
def _ipython_qt_loop() -> bool:
    """Whether IPython runs a Qt input hook (``%gui qt``)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    shell = ipython.get_ipython()
    loop = getattr(shell, "active_eventloop", None) if shell is not None else None
    return isinstance(loop, str) and loop.startswith("qt")


def show(source: Run | ModelSession, *, settings: Any = None) -> MainWindow:
    """Open the studio window with the runs of ``source`` (a Run or a Session; a Session is
    shared: edits in the window change it).

    In a script this runs the Qt event loop until the window closes (also after :func:`render` or
    a ``_repr_png_`` made the QApplication). When someone else runs the event loop (IPython after
    ``%gui qt``, a Qt program or pytest-qt: a QApplication this module did not make) it returns the
    window at once. ``settings``: a
    :class:`gdstudio.ui.settings.StudioSettings` (default: the user's). ValueError (one line)
    without a display.
    """
    from gdstudio.ui.app import _display_problem, apply_color_scheme

    reason = _display_problem()
    if reason:
        raise ValueError(f"gdstudio.show: {reason}")
    if isinstance(source, Run):
        session, _ = _session_of(source, None)
    elif isinstance(source, ModelSession):
        session = source
    else:
        raise ValueError(f"Invalid source: {type(source).__name__} (give a gd.Run or a gd.Session)")
    from gdstudio.ui.qt_setup import configure_qt

    configure_qt()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    # Block unless someone else runs (or will run) the event loop: IPython's %gui qt, pytest-qt, a Qt program.
    blocking = (app is None or _MADE_APP) and not _ipython_qt_loop()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv and sys.argv[0] else "gdstudio"])
        app.setApplicationName("gdstudio")
        app.setOrganizationName("gdstudio")
        apply_color_scheme(app)
    from gdstudio.ui.main_window import MainWindow

    window = MainWindow(session, settings=settings)
    session.undo_stack.clear()
    session.undo_stack.mark_clean()
    window.show()
    if blocking:
        app.exec()
        return window
    _OPEN_WINDOWS[:] = [w for w in _OPEN_WINDOWS if w.isVisible()]  # closed ones may go
    _OPEN_WINDOWS.append(window)
    return window
