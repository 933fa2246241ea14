"""Sessions as versioned JSON: everything needed to reproduce the runs and the view.

A file is ``{"format": "gdstudio-session", "version": 1, "problem": {...}, "runs": [...],
"playback": {...}, "view": {...}}`` plus optional ``title``, ``group`` and ``description``
(presets). ``playback.computed_steps`` (optional, default ``position``) is how far the runs had
been computed: opening the file recomputes them that far, so the histories come back identical.

Loading validates the whole document before anything is applied: a corrupt or foreign file
(bad JSON, another format, a newer version, wrong types, unknown keys, optimizers or
hyperparameters, bad values, a start of the wrong dimension, non-finite numbers) raises
:class:`SessionError` with a message saying where and what (quoting at most ~80 characters of
the offending value), and changes nothing. Only a regular file of at most
:data:`MAX_SESSION_BYTES` is read: a FIFO, a device (``/dev/zero``) or a huge file is refused
without blocking or reading it. Saving goes through the one output helper
(:mod:`gdstudio.atomic`): atomic for a regular file (a failed save leaves the old file as it
was), a symlink's target replaced, a device written in place.
"""

from __future__ import annotations

import json
import math
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gdstudio.atomic import OutputPathError, write_output
from gdstudio.engine.hyperparams import HyperParam, Value
from gdstudio.engine.optimizers import get_spec
from gdstudio.engine.problems import Problem
from gdstudio.engine.problems.base import check_bounds
from gdstudio.engine.runs import RunConfig
from gdstudio.limits import brief

if TYPE_CHECKING:
    from gdstudio.model.session import ProblemSettings, Session, ViewOptions

__all__ = [
    "FORMAT",
    "VERSION",
    "ParsedSession",
    "SessionError",
    "load_session",
    "read_session_file",
    "save_session",
    "session_from_dict",
    "session_to_dict",
]

FORMAT = "gdstudio-session"
VERSION = 1
#: The largest session file read (a session of 12 runs with 10⁴ data points is ~0.5 MB).
MAX_SESSION_BYTES = 8 * 1024 * 1024


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
    group: str = ""
    computed_steps: int = 0


def _jsonable(value: Value) -> Any:
    return list(value) if isinstance(value, tuple) else value


def session_to_dict(session: Session) -> dict[str, Any]:
    """The session as a JSON-ready document (see the module docstring)."""
    ps = session.problem_settings
    runs = session.runs
    ids = [e.id for e in runs]
    doc: dict[str, Any] = {"format": FORMAT, "version": VERSION}
    if getattr(session, "title", ""):
        doc["title"] = session.title
    if getattr(session, "description", ""):
        doc["description"] = session.description
    doc.update({
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
            "computed_steps": session.computed_steps,
            "steps_per_tick": session.steps_per_tick,
            "ticks_per_second": session.ticks_per_second,
            "max_steps": session.max_steps,
            "selected": ids.index(session.selected_id) if session.selected_id in ids else None,
        },
        "view": {f.name: getattr(session.options, f.name) for f in fields(session.options)},
    })
    return doc


# ------------------------------------------------------------------------------------------
# reading, with messages that say where the document is wrong
# ------------------------------------------------------------------------------------------
_TOP_KEYS = ("format", "version", "title", "group", "description", "problem", "runs", "playback", "view")
_PROBLEM_KEYS = ("name", "dataset", "data_x", "data_y", "expr", "bounds", "resolution", "log_scale")
_RUN_KEYS = ("optimizer", "hyperparameters", "start", "batch_size", "shuffle", "noise", "seed", "tol", "color",
             "visible")
_PLAYBACK_KEYS = ("position", "computed_steps", "steps_per_tick", "ticks_per_second", "max_steps", "selected")


def _check_keys(obj: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    for key in obj:
        if key not in known:
            raise SessionError(f"{where}: unknown key {key!r} (known: {', '.join(known)})")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _get(obj: Mapping[str, Any], key: str, kinds: type | tuple[type, ...], where: str, default: Any = ...) -> Any:
    """``obj[key]`` checked against ``kinds`` (bool is never a number); ``default`` when absent
    (and when null, if the default is None)."""
    if key not in obj:
        if default is ...:
            raise SessionError(f"{where}: missing {key!r}")
        return default
    value = obj[key]
    if value is None and default is None:
        return None
    kinds_t = kinds if isinstance(kinds, tuple) else (kinds,)
    if (isinstance(value, bool) and bool not in kinds_t) or not isinstance(value, kinds_t):
        raise SessionError(f"{where}.{key}: expected {_kind_name(kinds)}, got {brief(value)}")
    if isinstance(value, float) and not math.isfinite(value):
        raise SessionError(f"{where}.{key}: expected a finite number, got {value!r}")
    return value


def _kind_name(kinds: type | tuple[type, ...]) -> str:
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    names = {int: "a whole number", float: "a number", str: "text", bool: "true/false", list: "a list",
             dict: "an object"}
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds))


def _finite(value: Any) -> bool:
    try:
        return _is_number(value) and math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        return False


def _numbers(value: Any, where: str) -> tuple[float, ...]:
    if not isinstance(value, list):
        raise SessionError(f"{where}: expected a list of finite numbers, got {brief(value)}")
    bad = next((i for i, v in enumerate(value) if not _finite(v)), None)
    if bad is not None:
        raise SessionError(f"{where}: expected a list of finite numbers, got {brief(value[bad])} at index {bad} "
                           f"of {brief(value)}")
    return tuple(float(v) for v in value)


def _number(obj: Mapping[str, Any], key: str, where: str, default: float) -> float:
    value = obj.get(key, default)
    if not _finite(value):
        raise SessionError(f"{where}.{key}: expected a finite number, got {brief(value)}")
    return float(value)


def _hyperparameter(spec: HyperParam, value: Any, where: str) -> Value:
    """A hyperparameter as stored in JSON: a number, true/false, or a list of two numbers."""
    ok = {"float": _finite(value),
          "bool": isinstance(value, bool),
          "pair": isinstance(value, list) and len(value) == 2 and all(_finite(v) for v in value)}[spec.kind]
    if not ok:
        expected = {"float": "a finite number", "bool": "true/false", "pair": "a list of two numbers"}[spec.kind]
        raise SessionError(f"{where}.hyperparameters.{spec.name}: expected {expected}, got {brief(value)}")
    try:
        return spec.validate(value)
    except ValueError as exc:
        raise SessionError(f"{where}.hyperparameters.{spec.name}: {exc}") from None


def session_from_dict(data: Any) -> ParsedSession:
    """Validate a session document completely; raises SessionError saying what is wrong."""
    from gdstudio.model.session import (
        MAX_STEPS_LIMIT,
        PALETTE,
        ProblemSettings,
        ViewOptions,
        check_color,
        normalize_config,
    )

    if not isinstance(data, Mapping):
        raise SessionError("Not a gdstudio session: the document is not a JSON object")
    if data.get("format") != FORMAT:
        raise SessionError(f"Not a gdstudio session: 'format' is {brief(data.get('format'))}, expected {FORMAT!r}")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise SessionError(f"Not a gdstudio session: 'version' is {brief(version)}, expected a whole number ≥ 1")
    if version > VERSION:
        raise SessionError(f"This session was saved by a newer gdstudio (version {version}; this one reads "
                           f"up to {VERSION})")
    _check_keys(data, _TOP_KEYS, "session")
    title = _get(data, "title", str, "session", "")
    group = _get(data, "group", str, "session", "")
    description = _get(data, "description", str, "session", "")

    p = _get(data, "problem", dict, "session")
    _check_keys(p, _PROBLEM_KEYS, "problem")
    bounds_raw = _get(p, "bounds", list, "problem", None)
    bounds = None
    if bounds_raw is not None:
        bounds = tuple(_numbers(b, f"problem.bounds[{i}]") for i, b in enumerate(bounds_raw))
        if any(len(b) != 2 for b in bounds):
            raise SessionError(f"problem.bounds: each axis needs [low, high], got {brief(bounds_raw)}")
    data_x = _get(p, "data_x", list, "problem", None)
    data_y = _get(p, "data_y", list, "problem", None)
    try:
        settings = ProblemSettings(
            name=_get(p, "name", str, "problem"),
            dataset=_get(p, "dataset", str, "problem", None),
            data_x=_numbers(data_x, "problem.data_x") if data_x is not None else None,
            data_y=_numbers(data_y, "problem.data_y") if data_y is not None else None,
            expr=_get(p, "expr", str, "problem", None),
            bounds=bounds,  # type: ignore[arg-type]
            resolution=_get(p, "resolution", int, "problem", 256),
            log_scale=_get(p, "log_scale", bool, "problem", False),
        ).normalized()
        problem = settings.build()
        if settings.bounds is not None:
            check_bounds(settings.bounds, problem.dim)
    except SessionError:
        raise
    except ValueError as exc:
        raise SessionError(f"problem: {_short(exc)}") from None

    runs = []
    for i, r in enumerate(_get(data, "runs", list, "session")):
        where = f"runs[{i}]"
        if not isinstance(r, dict):
            raise SessionError(f"{where}: expected an object, got {brief(r)}")
        _check_keys(r, _RUN_KEYS, where)
        name = _get(r, "optimizer", str, where)
        hp_raw = _get(r, "hyperparameters", dict, where, {})
        try:
            spec = get_spec(name)
        except ValueError as exc:
            raise SessionError(f"{where}.optimizer: {_short(exc)}") from None
        specs = {h.name: h for h in spec.hyperparams}
        hp = {}
        for key, value in hp_raw.items():
            if key not in specs:
                raise SessionError(f"{where}.hyperparameters: unknown hyperparameter {key!r} for {spec.name} "
                                   f"(known: {', '.join(specs)})")
            hp[key] = _hyperparameter(specs[key], value, where)
        config = RunConfig(
            optimizer=spec.name,
            start=_numbers(_get(r, "start", list, where), f"{where}.start"),
            hyperparameters=hp,
            batch_size=_get(r, "batch_size", int, where, None),
            shuffle=_get(r, "shuffle", bool, where, True),
            noise=_number(r, "noise", where, 0.0),
            seed=_get(r, "seed", int, where, 0),
            tol=_number(r, "tol", where, 1e-8),
        )
        try:
            config, _ = normalize_config(problem, config)  # start, batch size, noise, tol against the problem
        except ValueError as exc:
            raise SessionError(f"{where}: {_short(exc)}") from None
        color = _get(r, "color", str, where, None)
        if color is None:
            color = PALETTE[i % len(PALETTE)]
        try:
            check_color(color)
        except ValueError as exc:
            raise SessionError(f"{where}.color: {exc}") from None
        runs.append(ParsedRun(config, color, _get(r, "visible", bool, where, True)))

    pb = _get(data, "playback", dict, "session", {})
    _check_keys(pb, _PLAYBACK_KEYS, "playback")
    spt = _get(pb, "steps_per_tick", int, "playback", 1)
    tps = _get(pb, "ticks_per_second", int, "playback", 30)
    max_steps = _get(pb, "max_steps", int, "playback", 10_000)
    position = _get(pb, "position", int, "playback", 0)
    computed = _get(pb, "computed_steps", int, "playback", position)
    selected = _get(pb, "selected", int, "playback", None)
    checks = (
        (spt >= 1, f"steps_per_tick must be ≥ 1, got {spt}"),
        (1 <= tps <= 240, f"ticks_per_second must be in [1, 240], got {tps}"),
        (1 <= max_steps <= MAX_STEPS_LIMIT, f"max_steps must be in [1, {MAX_STEPS_LIMIT}], got {max_steps}"),
        (0 <= position <= max_steps, f"position must be in [0, max_steps = {max_steps}], got {position}"),
        (position <= computed <= MAX_STEPS_LIMIT,
         f"computed_steps must be in [position = {position}, {MAX_STEPS_LIMIT}], got {computed}"),
        (selected is None or 0 <= selected < len(runs),
         f"selected must be the index of a run (0 to {len(runs) - 1}), got {selected}"),
    )
    for ok, msg in checks:
        if not ok:
            raise SessionError(f"playback: {msg}")
    view = _get(data, "view", dict, "session", {})
    known = tuple(f.name for f in fields(ViewOptions))
    _check_keys(view, known, "view")
    options = ViewOptions(**{k: _get(view, k, bool, "view") for k in view})
    return ParsedSession(settings, problem, runs, spt, tps, max_steps, position, selected, options,
                         title=title, description=description, group=group, computed_steps=computed)


def _short(exc: BaseException, limit: int = 300) -> str:
    """An engine message, cut if a value in it was echoed at length."""
    text = str(exc)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} characters)"


def _read_limited(path: Path, limit: int = MAX_SESSION_BYTES) -> bytes:
    """The bytes of the regular file ``path`` (at most ``limit``), never blocking: opened
    non-blocking and checked with fstat, so a FIFO, a device or a folder is refused unread."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise SessionError(f"No such file: {path}") from None
    except IsADirectoryError:
        raise SessionError(f"{path} is a folder, not a session file") from None
    except OSError as exc:
        raise SessionError(f"Cannot read {path}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise SessionError(f"{path} is a folder, not a session file")
        if not stat.S_ISREG(st.st_mode):
            raise SessionError(f"{path} is not a regular file (a pipe or a device): not a session file")
        if st.st_size > limit:
            raise SessionError(f"{path.name} is too large for a session file: {st.st_size:,} bytes (at most "
                               f"{limit:,})")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=True) as fh:
            fd = -1
            raw = fh.read(limit + 1)
    except OSError as exc:
        raise SessionError(f"Cannot read {path}: {exc.strerror or exc}") from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(raw) > limit:  # the file grew while being read
        raise SessionError(f"{path.name} is too large for a session file (more than {limit:,} bytes)")
    return raw


def read_session_file(path: str | Path) -> dict[str, Any]:
    """Read and JSON-decode a session file (SessionError for unreadable, oversized, non-regular
    or non-JSON files)."""
    path = Path(path)
    raw = _read_limited(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SessionError(f"{path.name} is not a gdstudio session: not UTF-8 text") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SessionError(f"{path.name} is not a gdstudio session: invalid JSON at line {exc.lineno}, "
                           f"column {exc.colno} ({exc.msg})") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer with too many digits, absurd nesting
        raise SessionError(f"{path.name} is not a gdstudio session: unreadable JSON ({exc})") from None


def load_session(session: Session, path: str | Path) -> None:
    """Open a session file into ``session`` (SessionError changes nothing)."""
    session.apply_dict(read_session_file(path))  # validates fully before touching the session


def save_session(session: Session, path: str | Path) -> None:
    """Save atomically (temporary file in the same folder, then rename); SessionError on failure,
    leaving any existing file untouched."""
    try:
        text = json.dumps(session_to_dict(session), indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    except ValueError as exc:
        raise SessionError(f"Cannot save {path}: the session holds a value JSON cannot store ({exc})") from None
    try:
        write_output(path, text, what="session")
    except OutputPathError as exc:
        raise SessionError(f"Cannot save: {exc}") from None
    except OSError as exc:
        raise SessionError(f"Cannot save {path}: {exc.strerror or exc}") from None
