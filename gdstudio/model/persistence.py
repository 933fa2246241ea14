"""Sessions as versioned JSON: everything needed to reproduce the runs and the view.

A file is ``{"format": "gdstudio-session", "version": 3, "problem": {...}, "runs": [...],
"playback": {...}, "view": {...}}`` plus optional ``title``, ``group`` and ``description``
(presets). ``playback.computed_steps`` (optional, default ``position``) is how far the runs had
been computed: opening the file recomputes them that far, so the histories come back identical.

The sections are the declared models' own fields (:mod:`gdstudio.model.state`, and the engine's
:class:`~gdstudio.engine.runs.RunConfig` for a run's configuration): the keys, their JSON kinds
(from the field annotations) and the defaults of absent keys are read from the dataclasses, never
listed here. A run's ``color`` defaults to the palette colour of its index; ``playback.selected``
is the index of the selected run.

Versions: :func:`migrate` upgrades an older document one version at a time through
:data:`MIGRATIONS` (``MIGRATIONS[n]`` turns a version-n document into version n + 1) before it is
read; a newer version than :data:`VERSION` is refused (so an older gdstudio says "saved by a newer
gdstudio" rather than "unknown key"). Version 2 added learning-rate schedules to runs, version 3
the view option ``show_internals``, version 4 the problem's ``landscape`` (a network's loss
landscape: grid, axes, titles, recorded paths; null for every other problem); version-1 files
(tests/data/sessions/v1) load unchanged. A new persisted field is a new version: add its step to
the table (writing the old meaning explicitly), and a fixture folder beside tests/data/sessions/v1.

Loading validates the whole document before anything is applied: a corrupt or foreign file
(bad JSON, another format, a newer version, wrong types, unknown keys, optimizers or
hyperparameters, bad values, a start of the wrong dimension, non-finite numbers) raises
:class:`SessionError` with a message saying where and what (quoting at most ~80 characters of
the offending value), and changes nothing. Hyperparameters go through the engine's one override
boundary, :meth:`OptimizerSpec.validate_overrides`. Only a regular file of at most
:data:`MAX_SESSION_BYTES` is read: a FIFO, a device (``/dev/zero``) or a huge file is refused
without blocking or reading it. Saving goes through the one output helper
(:mod:`gdstudio.atomic`): atomic for a regular file (a failed save leaves the old file as it
was), a symlink's target replaced, a device written in place.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import stat
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Protocol

from gdstudio.atomic import OutputPathError, write_output
from gdstudio.engine.hyperparams import HyperParam
from gdstudio.engine.optimizers import get_spec
from gdstudio.engine.problems import Problem
from gdstudio.engine.problems.base import check_bounds
from gdstudio.engine.problems.landscape import LandscapeData, landscape_from_json
from gdstudio.engine.runs import RunConfig
from gdstudio.engine.schedules import validate_schedule
from gdstudio.evented import persisted_fields
from gdstudio.limits import brief
from gdstudio.model.palette import PALETTE
from gdstudio.model.state import (
    MAX_STEPS_LIMIT,
    Playback,
    ProblemSettings,
    RunEntry,
    ViewOptions,
    check_color,
    normalize_config,
)
from gdstudio.parsing import FloatListError, parse_floats

__all__ = [
    "FORMAT",
    "MIGRATIONS",
    "VERSION",
    "ParsedRun",
    "ParsedSession",
    "SessionError",
    "load_session",
    "migrate",
    "read_session_file",
    "save_session",
    "session_from_dict",
    "session_to_dict",
]

FORMAT = "gdstudio-session"
#: 1: the first format (commit 848c8e8). 2: runs have ``schedule``, ``schedule_settings`` and
#: ``warmup`` (learning-rate schedules). 3: the view has ``show_internals`` (optimizers' internals).
#: 4: the problem has ``landscape`` (a network's loss landscape and its recorded paths).
VERSION = 4
#: The largest session file read (a session of 12 runs with 10⁴ data points is ~0.5 MB).
MAX_SESSION_BYTES = 8 * 1024 * 1024

def _v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 2 added run keys for learning-rate schedules; a version-1 run had none: a constant η
    (``schedule`` null, no ``schedule_settings``, ``warmup`` 0, written out as a version-2 file has them)."""
    for run in doc.get("runs", []) if isinstance(doc.get("runs"), list) else []:
        if isinstance(run, dict):
            run.setdefault("schedule", None)
            run.setdefault("schedule_settings", {})
            run.setdefault("warmup", 0)
    return doc


def _v2_to_v3(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 3 added the view option ``show_internals``; before it, internals were never drawn."""
    view = doc.get("view")
    if isinstance(view, dict):
        view.setdefault("show_internals", False)
    return doc


def _v3_to_v4(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 4 added the problem key ``landscape``; before it, no session held a network landscape."""
    problem = doc.get("problem")
    if isinstance(problem, dict):
        problem.setdefault("landscape", None)
    return doc


#: ``MIGRATIONS[n]``: a version-n document (a fresh dict, safe to change) → version n + 1.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _v1_to_v2, 2: _v2_to_v3, 3: _v3_to_v4}


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


class SessionLike(Protocol):
    """What :func:`session_to_dict` reads (a :class:`gdstudio.model.session.Session`)."""

    title: str
    description: str

    @property
    def problem_settings(self) -> ProblemSettings: ...
    @property
    def runs(self) -> list[RunEntry]: ...
    @property
    def playback(self) -> Playback: ...
    @property
    def options(self) -> ViewOptions: ...
    @property
    def computed_steps(self) -> int: ...
    def apply_dict(self, data: Mapping[str, Any], *, label: str | None = ...) -> None: ...


# ------------------------------------------------------------------------------------------
# writing: each model's persisted fields
# ------------------------------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    if isinstance(value, LandscapeData):
        return value.to_json()
    if isinstance(value, float) and math.isinf(value):  # JSON has no ∞: Prodigy's growth_rate is "inf"
        return "inf" if value > 0 else "-inf"
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _dump(obj: Any, declared: Iterable[dataclasses.Field[Any]]) -> dict[str, Any]:
    return {f.name: _jsonable(getattr(obj, f.name)) for f in declared}


def session_to_dict(session: SessionLike) -> dict[str, Any]:
    """The session as a JSON-ready document (see the module docstring)."""
    runs = session.runs
    pb = session.playback
    ids = [e.id for e in runs]
    doc: dict[str, Any] = {"format": FORMAT, "version": VERSION}
    if session.title:
        doc["title"] = session.title
    if session.description:
        doc["description"] = session.description
    playback = _dump(pb, persisted_fields(Playback))
    playback["computed_steps"] = session.computed_steps
    playback["selected"] = ids.index(pb.selected) if pb.selected in ids else None
    doc.update({
        "problem": _dump(session.problem_settings, persisted_fields(ProblemSettings)),
        "runs": [{**_dump(e.config, fields(RunConfig)), **_dump(e, persisted_fields(RunEntry))} for e in runs],
        "playback": playback,
        "view": _dump(session.options, persisted_fields(ViewOptions)),
    })
    return doc


# ------------------------------------------------------------------------------------------
# reading, with messages that say where the document is wrong
# ------------------------------------------------------------------------------------------
def _names(declared: Iterable[dataclasses.Field[Any]]) -> tuple[str, ...]:
    return tuple(f.name for f in declared)


_TOP_KEYS = ("format", "version", "title", "group", "description", "problem", "runs", "playback", "view")
_PROBLEM_KEYS = _names(persisted_fields(ProblemSettings))
_RUN_KEYS = (*_names(fields(RunConfig)), *_names(persisted_fields(RunEntry)))
_PLAYBACK_KEYS = (*_names(persisted_fields(Playback)), "computed_steps", "selected")
_VIEW_KEYS = _names(persisted_fields(ViewOptions))

#: The JSON kind of a field, from its annotation (a field's ``metadata["json"]`` overrides it).
_KINDS = {
    "str": "text", "str | None": "text", "bool": "bool", "int": "int", "int | None": "int", "float": "number",
    "tuple[float, ...]": "numbers", "tuple[float, ...] | None": "numbers", "Bounds | None": "bounds",
    "dict[str, Any]": "object", "Mapping[str, Any]": "object",
}


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
    try:
        return parse_floats(value)
    except FloatListError as exc:
        raise SessionError(f"{where}: expected a list of finite numbers, got {brief(exc.item)} at index {exc.index} "
                           f"of {brief(value)}") from None


def _default(f: dataclasses.Field[Any]) -> Any:
    """A field's default for an absent key (``...``: the key is required)."""
    if f.metadata.get("required"):
        return ...
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return ...


def _read(obj: Mapping[str, Any], f: dataclasses.Field[Any], where: str) -> Any:
    """The JSON value of field ``f`` in ``obj``, checked against the field's kind."""
    kind = f.metadata.get("json") or _KINDS.get(str(f.type))
    if kind is None:  # a new field type: say which, rather than guess
        raise TypeError(f"no JSON kind for field {f.name!r} of type {f.type!r}: add it to persistence._KINDS")
    default = _default(f)
    key = f.name
    if kind == "number":
        value = obj.get(key, default)
        if value is ...:
            raise SessionError(f"{where}: missing {key!r}")
        if not _finite(value):
            raise SessionError(f"{where}.{key}: expected a finite number, got {brief(value)}")
        return float(value)
    if kind in ("numbers", "bounds"):
        raw = _get(obj, key, list, where, default)
        if raw is None:
            return None
        if kind == "numbers":
            return _numbers(raw, f"{where}.{key}")
        pairs = tuple(_numbers(b, f"{where}.{key}[{i}]") for i, b in enumerate(raw))
        if any(len(b) != 2 for b in pairs):
            raise SessionError(f"{where}.{key}: each axis needs [low, high], got {brief(raw)}")
        return pairs
    if kind == "landscape":
        raw = _get(obj, key, dict, where, default)
        if raw is None:
            return None
        try:
            return landscape_from_json(raw)
        except ValueError as exc:
            raise SessionError(f"{where}.{key}: {_short(exc)}") from None
    kinds: dict[str, type] = {"text": str, "bool": bool, "int": int, "object": dict}
    return _get(obj, key, kinds[kind], where, default)


def _read_model(obj: Mapping[str, Any], declared: Iterable[dataclasses.Field[Any]], where: str,
                skip: tuple[str, ...] = ()) -> dict[str, Any]:
    return {f.name: _read(obj, f, where) for f in declared if f.name not in skip}


def _hyperparameter(spec: HyperParam, value: Any, where: str) -> None:
    """A hyperparameter as stored in JSON: a number, true/false, or a list of two numbers."""
    if value is None and getattr(spec, "optional", False):  # a reference's None (Prodigy's β₃)
        return
    if value == "inf" and getattr(spec, "allow_inf", False):  # ∞ (Prodigy's growth_rate), JSON has none
        return
    if spec.kind == "triple":  # three decay rates (Adan's, AdEMAMix's betas), Muon's coefficients
        if not (isinstance(value, list) and len(value) == 3 and all(_finite(v) for v in value)):
            raise SessionError(f"{where}.hyperparameters.{spec.name}: expected a list of three numbers, "
                               f"got {brief(value)}")
        return
    ok = {"float": _finite(value),
          "bool": isinstance(value, bool),
          "int": _finite(value),  # whole numbers (L-BFGS's max_eval): the engine's boundary checks the rest
          "choice": isinstance(value, str),  # a word (L-BFGS's line_search_fn)
          "pair": isinstance(value, list) and len(value) == 2 and all(_finite(v) for v in value)}[spec.kind]
    if not ok:
        expected = {"float": "a finite number", "bool": "true/false", "int": "a whole number", "choice": "a word",
                    "pair": "a list of two numbers"}[spec.kind]
        raise SessionError(f"{where}.hyperparameters.{spec.name}: expected {expected}, got {brief(value)}")


def _hyperparameters(optimizer: str, raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The overrides through the engine's one boundary, with the path of the key at fault."""
    try:
        spec = get_spec(optimizer)
    except ValueError as exc:
        raise SessionError(f"{where}.optimizer: {_short(exc)}") from None
    specs = {h.name: h for h in spec.hyperparams}
    for key, value in raw.items():
        if key in specs:
            _hyperparameter(specs[key], value, where)
    try:
        return spec.validate_overrides(raw)
    except ValueError as exc:
        text = str(exc)
        if text.startswith("Unknown hyperparameter"):
            raise SessionError(f"{where}.hyperparameters: {text}") from None
        at = next((k for k in raw if text.startswith((f"Invalid {k} ", f"Invalid {k}["))), None)
        if at is not None:
            raise SessionError(f"{where}.hyperparameters.{at}: {text}") from None
        raise SessionError(f"{where}: {_short(exc)}") from None  # a joint check (e.g. Nesterov needs momentum)


def migrate(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` upgraded to :data:`VERSION` (one :data:`MIGRATIONS` step per version); SessionError
    for another format, a bad version or a newer one."""
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
    doc = dict(data)
    while version < VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise SessionError(f"Cannot read version {version} sessions (no upgrade to version {version + 1})")
        doc = step(copy.deepcopy(doc))  # each step gets its own copy
        version += 1
        doc["version"] = version
    return doc


def session_from_dict(data: Any) -> ParsedSession:
    """Validate a session document completely; raises SessionError saying what is wrong."""
    data = migrate(data)
    _check_keys(data, _TOP_KEYS, "session")
    title = _get(data, "title", str, "session", "")
    group = _get(data, "group", str, "session", "")
    description = _get(data, "description", str, "session", "")

    p = _get(data, "problem", dict, "session")
    _check_keys(p, _PROBLEM_KEYS, "problem")
    values = _read_model(p, persisted_fields(ProblemSettings), "problem")
    try:
        settings = ProblemSettings(**values)
        problem = settings.build()
        if settings.bounds is not None:
            check_bounds(settings.bounds, problem.dim)
    except ValueError as exc:
        raise SessionError(f"problem: {_short(exc)}") from None

    runs = []
    for i, r in enumerate(_get(data, "runs", list, "session")):
        where = f"runs[{i}]"
        if not isinstance(r, dict):
            raise SessionError(f"{where}: expected an object, got {brief(r)}")
        _check_keys(r, _RUN_KEYS, where)
        cfg_values = _read_model(r, fields(RunConfig), where, skip=("hyperparameters", "start"))
        cfg_values["hyperparameters"] = _hyperparameters(cfg_values["optimizer"],
                                                         _get(r, "hyperparameters", dict, where, {}), where)
        cfg_values["optimizer"] = get_spec(cfg_values["optimizer"]).name
        start = _get(r, "start", list, where)
        cfg_values["start"] = _numbers(start, f"{where}.start")
        try:  # every keyword of the schedule (defaults filled), checked by the engine's boundary
            cfg_values["schedule_settings"] = validate_schedule(
                cfg_values["schedule"], cfg_values["schedule_settings"], warmup=cfg_values["warmup"])
        except ValueError as exc:
            raise SessionError(f"{where}.schedule: {_short(exc)}") from None
        try:
            config, _ = normalize_config(problem, RunConfig(**cfg_values))  # start, batch, noise, tol vs the problem
        except ValueError as exc:
            raise SessionError(f"{where}: {_short(exc)}") from None
        palette = {"color": PALETTE[i % len(PALETTE)]} if r.get("color") is None else {}
        entry = _read_model({**r, **palette}, persisted_fields(RunEntry), where)
        try:
            check_color(entry["color"])
        except ValueError as exc:
            raise SessionError(f"{where}.color: {exc}") from None
        runs.append(ParsedRun(config, entry["color"], entry["visible"]))

    pb = _get(data, "playback", dict, "session", {})
    _check_keys(pb, _PLAYBACK_KEYS, "playback")
    play = _read_model(pb, persisted_fields(Playback), "playback")
    spt, tps, max_steps, position = (play[k] for k in ("steps_per_tick", "ticks_per_second", "max_steps", "position"))
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
    _check_keys(view, _VIEW_KEYS, "view")
    options = ViewOptions(**_read_model(view, persisted_fields(ViewOptions), "view"))
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
        doc: dict[str, Any] = json.loads(text)
        return doc
    except json.JSONDecodeError as exc:
        raise SessionError(f"{path.name} is not a gdstudio session: invalid JSON at line {exc.lineno}, "
                           f"column {exc.colno} ({exc.msg})") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer with too many digits, absurd nesting
        raise SessionError(f"{path.name} is not a gdstudio session: unreadable JSON ({exc})") from None


def load_session(session: SessionLike, path: str | Path) -> None:
    """Open a session file into ``session`` (SessionError changes nothing)."""
    session.apply_dict(read_session_file(path))  # validates fully before touching the session


def save_session(session: SessionLike, path: str | Path) -> None:
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
