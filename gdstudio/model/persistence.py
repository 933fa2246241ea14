"""Sessions as versioned JSON: everything needed to reproduce the runs and the view.

A file is ``{"format": "gdstudio-session", "version": 1, "problem": {...}, "runs": [...],
"playback": {...}, "view": {...}}``. Loading validates the whole document before anything is
applied: a corrupt or foreign file raises :class:`SessionError` with a clear message and
changes nothing. Saving is atomic (temporary file, then rename).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gdstudio.atomic import atomic_write_text
from gdstudio.engine.hyperparams import Value
from gdstudio.engine.optimizers import get_spec
from gdstudio.engine.problems import Problem
from gdstudio.engine.runs import Run, RunConfig

if TYPE_CHECKING:
    from gdstudio.model.session import ProblemSettings, Session, ViewOptions

__all__ = ["FORMAT", "VERSION", "SessionError", "ParsedSession", "session_to_dict", "session_from_dict",
           "save_session", "load_session", "read_session_file"]

FORMAT = "gdstudio-session"
VERSION = 1


class SessionError(ValueError):
    """A session file or document that cannot be used (the message says why)."""


@dataclass(frozen=True)
class ParsedRun:
    config: RunConfig
    color: str
    visible: bool


@dataclass(frozen=True)
class ParsedSession:
    problem_settings: ProblemSettings
    problem: Problem
    runs: list[ParsedRun]
    steps_per_tick: int
    ticks_per_second: int
    max_steps: int
    position: int
    selected: int | None
    options: ViewOptions
    title: str = ""
    description: str = ""


def _jsonable(value: Value) -> Any:
    return list(value) if isinstance(value, tuple) else value


def session_to_dict(session: Session) -> dict[str, Any]:
    ps = session.problem_settings
    runs = session.runs
    ids = [e.id for e in runs]
    return {
        "format": FORMAT,
        "version": VERSION,
        "problem": {
            "name": ps.name,
            "dataset": ps.dataset,
            "data_x": list(ps.data_x) if ps.data_x is not None else None,
            "data_y": list(ps.data_y) if ps.data_y is not None else None,
            "expr": ps.expr,
            "bounds": [list(b) for b in ps.bounds] if ps.bounds is not None else None,
            "resolution": ps.resolution,
            "log_scale": ps.log_scale,
        },
        "runs": [
            {
                "optimizer": e.config.optimizer,
                "hyperparameters": {k: _jsonable(v) for k, v in e.config.hyperparameters.items()},
                "start": list(e.config.start),
                "batch_size": e.config.batch_size,
                "shuffle": e.config.shuffle,
                "noise": e.config.noise,
                "seed": e.config.seed,
                "tol": e.config.tol,
                "color": e.color,
                "visible": e.visible,
            }
            for e in runs
        ],
        "playback": {
            "position": session.position,
            "steps_per_tick": session.steps_per_tick,
            "ticks_per_second": session.ticks_per_second,
            "max_steps": session.max_steps,
            "selected": ids.index(session.selected_id) if session.selected_id in ids else None,
        },
        "view": {f.name: getattr(session.options, f.name) for f in fields(session.options)},
    }


# ------------------------------------------------------------------------------------------
# reading, with messages that say where the document is wrong
# ------------------------------------------------------------------------------------------
def _get(obj: Mapping[str, Any], key: str, kinds: type | tuple[type, ...], where: str, default: Any = ...) -> Any:
    if key not in obj:
        if default is ...:
            raise SessionError(f"{where}: missing '{key}'")
        return default
    value = obj[key]
    if value is None and default is None:
        return None
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise SessionError(f"{where}.{key}: expected {_kind_name(kinds)}, got {value!r}")
    if not isinstance(value, kinds):
        raise SessionError(f"{where}.{key}: expected {_kind_name(kinds)}, got {value!r}")
    return value


def _kind_name(kinds: type | tuple[type, ...]) -> str:
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    names = {int: "a whole number", float: "a number", str: "text", bool: "true/false", list: "a list",
             dict: "an object"}
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds))


def _numbers(value: Any, where: str) -> tuple[float, ...]:
    if not isinstance(value, list) or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value
    ):
        raise SessionError(f"{where}: expected a list of finite numbers")
    return tuple(float(v) for v in value)


def session_from_dict(data: Any) -> ParsedSession:
    """Validate a session document completely; raises SessionError saying what is wrong."""
    from gdstudio.model.session import ProblemSettings, ViewOptions

    if not isinstance(data, Mapping):
        raise SessionError("Not a gdstudio session: the document is not a JSON object")
    if data.get("format") != FORMAT:
        raise SessionError(f"Not a gdstudio session: 'format' is {data.get('format')!r}, expected {FORMAT!r}")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise SessionError("Not a gdstudio session: 'version' is missing or not a whole number")
    if version > VERSION:
        raise SessionError(f"This session was saved by a newer gdstudio (version {version}; this one reads "
                           f"up to {VERSION})")
    p = _get(data, "problem", dict, "session")
    bounds_raw = _get(p, "bounds", list, "problem", None)
    bounds = None
    if bounds_raw is not None:
        bounds = tuple(_numbers(b, f"problem.bounds[{i}]") for i, b in enumerate(bounds_raw))
        if any(len(b) != 2 for b in bounds):
            raise SessionError("problem.bounds: each axis needs [lo, hi]")
    data_x = _get(p, "data_x", list, "problem", None)
    data_y = _get(p, "data_y", list, "problem", None)
    settings = ProblemSettings(
        name=_get(p, "name", str, "problem"),
        dataset=_get(p, "dataset", str, "problem", None),
        data_x=_numbers(data_x, "problem.data_x") if data_x is not None else None,
        data_y=_numbers(data_y, "problem.data_y") if data_y is not None else None,
        expr=_get(p, "expr", str, "problem", None),
        bounds=bounds,  # type: ignore[arg-type]
        resolution=_get(p, "resolution", int, "problem", 256),
        log_scale=_get(p, "log_scale", bool, "problem", False),
    )
    try:
        from gdstudio.model.session import _check_bounds

        _check_bounds(settings.bounds)
        problem = settings.build()
    except ValueError as exc:
        raise SessionError(f"problem: {exc}") from None

    runs = []
    for i, r in enumerate(_get(data, "runs", list, "session")):
        where = f"runs[{i}]"
        if not isinstance(r, dict):
            raise SessionError(f"{where}: expected an object")
        name = _get(r, "optimizer", str, where)
        hp_raw = _get(r, "hyperparameters", dict, where, {})
        try:
            spec = get_spec(name)
            specs = {h.name: h for h in spec.hyperparams}
            hp = {}
            for key, value in hp_raw.items():
                if key not in specs:
                    raise ValueError(f"Unknown hyperparameter for {spec.name}: {key}")
                hp[key] = specs[key].validate(value)
            config = RunConfig(
                optimizer=spec.name,
                start=_numbers(_get(r, "start", list, where), f"{where}.start"),
                hyperparameters=hp,
                batch_size=_get(r, "batch_size", int, where, None),
                shuffle=_get(r, "shuffle", bool, where, True),
                noise=float(_get(r, "noise", (int, float), where, 0.0)),
                seed=_get(r, "seed", int, where, 0),
                tol=float(_get(r, "tol", (int, float), where, 1e-8)),
            )
            Run(problem, config)  # validates start, batch size, noise, tol against the problem
        except ValueError as exc:
            raise SessionError(f"{where}: {exc}") from None
        color = _get(r, "color", str, where, "")
        runs.append(ParsedRun(config, color or "#E69F00", _get(r, "visible", bool, where, True)))

    pb = _get(data, "playback", dict, "session", {})
    spt = _get(pb, "steps_per_tick", int, "playback", 1)
    tps = _get(pb, "ticks_per_second", int, "playback", 30)
    max_steps = _get(pb, "max_steps", int, "playback", 10_000)
    position = _get(pb, "position", int, "playback", 0)
    selected = _get(pb, "selected", int, "playback", None)
    if spt < 1 or not 1 <= tps <= 240 or max_steps < 1 or not 0 <= position <= max_steps:
        raise SessionError("playback: steps_per_tick ≥ 1, ticks_per_second in [1, 240], "
                           "max_steps ≥ 1 and 0 ≤ position ≤ max_steps are required")
    view = _get(data, "view", dict, "session", {})
    known = {f.name for f in fields(ViewOptions)}
    options = ViewOptions(**{k: _get(view, k, bool, "view") for k in view if k in known})
    return ParsedSession(settings, problem, runs, spt, tps, max_steps, position, selected, options,
                         title=str(data.get("title", "")), description=str(data.get("description", "")))


def read_session_file(path: str | Path) -> dict[str, Any]:
    """Read and JSON-decode a session file (SessionError for unreadable or non-JSON files)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SessionError(f"No such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SessionError(f"Cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SessionError(f"{path.name} is not a gdstudio session: invalid JSON at line {exc.lineno}, "
                           f"column {exc.colno} ({exc.msg})") from None


def load_session(session: Session, path: str | Path) -> None:
    """Open a session file into ``session`` (SessionError changes nothing)."""
    session.apply_dict(read_session_file(path))  # validates fully before touching the session


def save_session(session: Session, path: str | Path) -> None:
    """Save atomically (temporary file in the same folder, then rename)."""
    text = json.dumps(session_to_dict(session), indent=1, ensure_ascii=False) + "\n"
    try:
        atomic_write_text(path, text)
    except OSError as exc:
        raise SessionError(f"Cannot save {path}: {exc.strerror or exc}") from None
