"""`gdstudio landscape`: every optimizer of a training race on one 2-D slice of the network's loss.

The options are `gdstudio train`'s (:func:`gdstudio.train.cli.add_train_arguments`, less its
CSV/plot outputs) plus ``--plane pca|random|endpoints``, ``--grid G``, ``--span S``,
``--record-every K``, ``--subset N``, ``--format json|npz|png|mp4|gif`` and ``--out FILE``
(``--center`` / ``--endpoints`` choose the optimizers of the random / endpoints planes; ``--view``,
``--fps``, ``--frames`` are for the drawn formats). Without ``--out`` the JSON goes to standard
output; progress goes to stderr. Qt-free: this module computes (:func:`prepare`, :func:`compute`)
and writes JSON / NPZ; the PNG / MP4 / GIF formats are drawn by
:func:`gdstudio.ui.landscape_command.run_landscape`, the command the main CLI runs, which calls
back here for the rest. Exit status: 0 done, 2 bad input (one line), 1 a write or load failure,
130 / 143 interrupted (nothing written).
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TextIO

from gdstudio.atomic import Output, OutputPathError, OutputTarget, resolve_output
from gdstudio.cli_common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, CliError, say, schedule_from_args
from gdstudio.interrupts import Interrupted, deferred, handle_signals, run_cancellable
from gdstudio.limits import MEMORY_MARGIN, available_memory, format_bytes
from gdstudio.train.cli import add_train_arguments, parse_entries, parse_hidden
from gdstudio.train.compare import Entry, TrainConfig, check_entries
from gdstudio.train.datasets import Dataset, load_dataset
from gdstudio.train.landscape import (
    MAX_GRID,
    PLANES,
    Landscape,
    LandscapeCancelled,
    LandscapeOptions,
    LandscapeProgress,
    compute_landscape,
    default_record_every,
)

__all__ = ["DESCRIPTION", "FORMATS", "HELP", "Prepared", "add_landscape_arguments", "compute", "main", "prepare",
           "run_landscape", "write_landscape"]

FORMATS = ("json", "npz", "png", "mp4", "gif")
DRAWN = ("png", "mp4", "gif")
VIEWS = ("contour", "surface", "both")
#: Train options that make no sense here (the landscape writes no CSV or loss plot).
_DROPPED = ("--plot", "--smooth", "--log-y", "--out")

HELP = "train several optimizers on one network and draw their paths on a 2-D slice of its loss"
DESCRIPTION = (
    "Train the same network from the same initial weights with each optimizer (the `train` options), record the "
    "weights every K iterations, slice the loss on a plane through weight space (pca: the two main directions of "
    "all recorded weights; random: two filter-normalized random directions about one optimizer's final weights, "
    "Li et al. 2018; endpoints: through the initial weights and two optimizers' final weights), evaluate it on a "
    "G x G grid, and project every optimizer's path onto it, with its true loss at each recorded iterate. JSON "
    "(default, to standard output without --out), NPZ, or a PNG / MP4 / GIF of the contour or 3-D view."
)


def _drop(parser: argparse.ArgumentParser, option: str) -> None:
    """Remove ``option`` (added by the train options) from ``parser``."""
    for action in list(parser._actions):
        if option in action.option_strings:
            parser._remove_action(action)
            for group in parser._action_groups:
                if action in group._group_actions:
                    group._group_actions.remove(action)
            for name in action.option_strings:
                parser._option_string_actions.pop(name, None)


def _suffix_format(out: str | None) -> str | None:
    suffix = Path(out).suffix.lower().lstrip(".") if out and out != "-" else ""
    return suffix if suffix in FORMATS else None


class _OutAction(argparse.Action):
    """``--out``, which also sets ``--format`` from the file's suffix when none was given (so
    ``--out x.png`` draws, whoever reads ``args.format``); an explicit ``--format`` wins."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: object,
                 option_string: str | None = None) -> None:
        setattr(namespace, self.dest, values)
        if getattr(namespace, "format", None) is None and isinstance(values, str):
            namespace.format = _suffix_format(values)


def add_landscape_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``gdstudio landscape``: the train options, then the landscape's."""
    add_train_arguments(p)
    for option in _DROPPED:
        _drop(p, option)
    g = p.add_argument_group("landscape")
    g.add_argument("--plane", choices=PLANES, default="pca",
                   help="pca (the two main directions of all recorded weights, default), random (two "
                        "filter-normalized random directions about --center's final weights) or endpoints (through "
                        "the initial weights and two optimizers' final weights)")
    g.add_argument("--grid", type=int, default=41, metavar="G", help="G x G grid points (default 41)")
    g.add_argument("--span", type=float, default=1.25, metavar="S",
                   help="pca / endpoints: each axis covers the box of the projected paths, its half-width times S "
                        "about its middle; random: the square ±S·max(1, largest |coordinate|) (default 1.25)")
    g.add_argument("--record-every", type=int, default=None, metavar="K",
                   help="record the weights every K iterations (default: iterations / 100, rounded up)")
    g.add_argument("--subset", type=int, default=None, metavar="N",
                   help="evaluate the loss on a seeded subset of N training images (default: all of them)")
    g.add_argument("--center", default=None, metavar="LABEL",
                   help="--plane random: the optimizer whose final weights centre the plane (default the first)")
    g.add_argument("--endpoints", default=None, metavar="A,B",
                   help="--plane endpoints: the two optimizers (default the first two)")
    g.add_argument("--format", choices=FORMATS, default=None,
                   help="json (default), npz, or png / mp4 / gif (drawn; need --out); default from --out's suffix")
    g.add_argument("--out", default=None, metavar="FILE", action=_OutAction,
                   help="write here (default: JSON to standard output)")
    d = p.add_argument_group("drawing (png / mp4 / gif)")
    d.add_argument("--view", choices=VIEWS, default="contour",
                   help="contour (default), surface (3-D, needs an X display) or both")
    d.add_argument("--fps", type=float, default=10.0, help="mp4 / gif frames per second (default 10)")
    d.add_argument("--frames", type=int, default=None, metavar="K",
                   help="mp4 / gif: K frames spread over the recorded iterates (default one per iterate)")


@dataclass
class Prepared:
    """Everything checked and loaded, ready to :func:`compute`."""

    args: argparse.Namespace
    entries: list[Entry]
    config: TrainConfig
    options: LandscapeOptions
    dataset: Dataset
    format: str
    out: OutputTarget | None  # None: standard output


def _format(args: argparse.Namespace) -> str:
    return str(args.format or _suffix_format(args.out) or "json")


def _check(args: argparse.Namespace, fmt: str) -> None:
    """The option values that need nothing loaded (ValueError naming the option)."""
    if args.seed < 0:
        raise ValueError(f"Invalid --seed value: {args.seed} (must be a whole number ≥ 0)")
    if not 0 <= args.threads <= 1024:
        raise ValueError(f"Invalid --threads value: {args.threads} (must be in [0, 1024])")
    if not 2 <= args.grid <= MAX_GRID:
        raise ValueError(f"Invalid --grid value: {args.grid} (must be a whole number in [2, {MAX_GRID}])")
    if not math.isfinite(args.span) or args.span <= 0:
        raise ValueError(f"Invalid --span value: {args.span:g} (must be a finite number > 0)")
    if args.record_every is not None and args.record_every < 1:
        raise ValueError(f"Invalid --record-every value: {args.record_every} (must be a whole number ≥ 1)")
    if args.subset is not None and args.subset < 1:
        raise ValueError(f"Invalid --subset value: {args.subset} (must be a whole number ≥ 1)")
    if args.center is not None and args.plane != "random":
        raise ValueError(f"Invalid --center: only --plane random has a centre to choose (this is --plane {args.plane})")
    if args.endpoints is not None and args.plane != "endpoints":
        raise ValueError(f"Invalid --endpoints: only for --plane endpoints (this is --plane {args.plane})")
    if fmt in DRAWN and args.out in (None, "-"):
        raise ValueError(f"Invalid --out: --format {fmt} needs --out FILE")
    if fmt == "npz" and args.out in (None, "-"):
        raise ValueError("Invalid --out: --format npz needs --out FILE (standard output takes JSON only)")
    if not math.isfinite(args.fps) or not 0 < args.fps <= 240:
        raise ValueError(f"Invalid --fps: {args.fps:g} (must be in (0, 240])")
    if args.frames is not None and args.frames < 1:
        raise ValueError(f"Invalid --frames: {args.frames} (must be a whole number ≥ 1)")


def _endpoints(text: str | None) -> tuple[str, str] | None:
    if text is None:
        return None
    parts = [s.strip() for s in text.split(",")]
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"Invalid --endpoints value: {text!r} (give two optimizer labels, e.g. sgd,adam)")
    return parts[0], parts[1]


def _check_memory(entries: Sequence[Entry], config: TrainConfig, every: int, n_features: int, n_classes: int) -> None:
    """The recorded weights must fit: rows × P × itemsize per optimizer, plus a float64 block for the PCA."""
    sizes = (n_features, *config.hidden, n_classes)
    params = sum((a + 1) * b for a, b in itertools.pairwise(sizes))
    rows = 2 + config.iterations // every
    itemsize = 4 if config.dtype == "float32" else 8
    need = rows * params * itemsize * len(entries)
    budget = MEMORY_MARGIN * available_memory()
    if need > budget:
        raise ValueError(f"Invalid --record-every value: {every} records {rows:,} weight vectors of {params:,} "
                         f"parameters per optimizer, ~{format_bytes(need)}; the memory available holds "
                         f"~{format_bytes(budget)} (record less often)")


def prepare(args: argparse.Namespace) -> Prepared:
    """Check every option and load the dataset; CliError (one line: status 2 for bad input, 1 for
    a dataset that cannot be read or downloaded)."""
    try:
        fmt = _format(args)
        _check(args, fmt)
        entries = parse_entries(args.optimizers, args.sets)
        hidden = parse_hidden(args.hidden)
        schedule = schedule_from_args(args, horizon=None)
        config = TrainConfig(hidden=hidden, iterations=args.iterations, batch_size=args.batch_size, seed=args.seed,
                             eval_every=args.eval_every, dtype=args.dtype, threads=args.threads or None,
                             schedule=schedule.name, schedule_settings=schedule.settings, warmup=schedule.warmup)
        config.validate()
        check_entries(entries, config)
        every = args.record_every or default_record_every(args.iterations)
        options = LandscapeOptions(plane=args.plane, grid=args.grid, span=float(args.span), record_every=every,
                                   subset=args.subset, seed=args.seed, center=args.center,
                                   endpoints=_endpoints(args.endpoints))
        labels = [e.label for e in entries]
        try:
            options.validate(labels)
        except ValueError as exc:  # name the options as the command line spells them
            raise ValueError(str(exc).replace("Invalid center", "Invalid --center")
                             .replace("Invalid endpoints", "Invalid --endpoints")
                             .replace("Invalid plane", "Invalid --plane")) from None
        out = None if args.out in (None, "-") else resolve_output(args.out, "--out")
        dataset = load_dataset(args.dataset, seed=args.seed, test_fraction=args.test_fraction,
                               standardize=args.standardize, dtype=args.dtype, download=not args.no_download)
        config.validate(len(dataset.y_train))
        _check_memory(entries, config, every, dataset.n_features, dataset.n_classes)
    except CliError:
        raise
    except OutputPathError as exc:
        raise CliError(str(exc)) from None
    except ValueError as exc:
        raise CliError(str(exc)) from None
    except OSError as exc:
        raise CliError(str(exc), status=EXIT_FAILED) from None
    return Prepared(args, entries, config, options, dataset, fmt, out)


class _Progress:
    """Progress on a stream: per stage, redrawn in place on a terminal, one line per 25 % otherwise."""

    NAMES: ClassVar[dict[str, str]] = {"train": "training", "plane": "plane", "surface": "surface",
                                       "paths": "path losses"}

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream
        try:
            self.tty = bool(stream is not None and stream.isatty())
        except (OSError, ValueError):
            self.tty = False
        self.stage = ""
        self.quarter = -1
        self.last = 0.0

    def __call__(self, p: LandscapeProgress) -> None:
        if self.stream is None:
            return
        try:
            self._write(p)
        except (OSError, ValueError):
            self.stream = None  # a closed or full stderr silences the progress, never stops the work

    def _write(self, p: LandscapeProgress) -> None:
        assert self.stream is not None
        if p.stage != self.stage:
            if self.tty and self.stage:
                self.stream.write("\n")
            self.stage, self.quarter, self.last = p.stage, -1, 0.0
        frac = p.done / max(p.total, 1)
        name = self.NAMES.get(p.stage, p.stage)
        unit = {"train": "it", "plane": "step"}.get(p.stage, "points")
        if self.tty:
            now = time.monotonic()
            if p.done != p.total and now - self.last < 0.1:
                return
            self.last = now
            self.stream.write(f"\r{name}: {frac:4.0%} {p.done}/{p.total} {unit}  {p.elapsed:.1f} s ")
        else:
            quarter = int(frac * 4)
            if quarter <= self.quarter:
                return
            self.quarter = quarter
            self.stream.write(f"{name}: {frac:4.0%} {p.done}/{p.total} {unit}  {p.elapsed:.1f} s\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty and self.stream is not None and self.stage:
            try:
                self.stream.write("\n")
                self.stream.flush()
            except (OSError, ValueError):
                pass


def compute(prepared: Prepared) -> Landscape:
    """Train, slice and evaluate in a worker thread (progress on stderr unless ``--quiet``); Ctrl+C
    or SIGTERM cancel it and raise :class:`~gdstudio.interrupts.Interrupted` (nothing written)."""
    args = prepared.args
    bar = None if args.quiet else _Progress(sys.stderr)
    if bar is not None:
        d = prepared.dataset
        net = "-".join(map(str, (d.n_features, *prepared.config.hidden, d.n_classes)))
        say(f"{d.name}: {len(d.y_train):,} training images, network {net}, {len(prepared.entries)} optimizers x "
            f"{prepared.config.iterations} iterations, recorded every {prepared.options.record_every}; "
            f"{prepared.options.plane} plane, {args.grid}x{args.grid} grid")
    result, error, interrupted = run_cancellable(
        lambda cancel: compute_landscape(prepared.dataset, prepared.entries, prepared.config, prepared.options,
                                         progress=bar, cancel=cancel), name="gdstudio-landscape")
    if bar is not None:
        bar.close()
    if interrupted:
        raise Interrupted(interrupted)
    if isinstance(error, LandscapeCancelled):
        raise Interrupted(2)
    if isinstance(error, ValueError):  # e.g. endpoints on one line, every path diverged
        raise CliError(str(error)) from None
    if error is not None:
        raise error
    assert isinstance(result, Landscape)
    return result


def write_landscape(landscape: Landscape, fmt: str, out: OutputTarget | None) -> None:
    """JSON (to standard output when ``out`` is None) or NPZ, atomically; OSError if it fails."""
    if fmt == "json" and out is None:
        stream = sys.stdout
        if stream is None:
            raise OSError("standard output is closed")
        stream.write(landscape.to_json() + "\n")
        stream.flush()
        return
    if out is None or fmt not in ("json", "npz"):
        raise ValueError(f"Invalid format value: {fmt!r} (json, or npz with an output file)")
    target = Output(out, what="--out")
    try:
        if fmt == "json":
            with open(target.path, "w", encoding="utf-8") as fh:
                fh.write(landscape.to_json() + "\n")
        else:
            with open(target.path, "wb") as fh:
                landscape.to_npz(fh)
        target.commit()
    except BaseException:
        target.discard()
        raise


def run_landscape(args: argparse.Namespace) -> int:
    """``gdstudio landscape`` for JSON / NPZ (the main CLI runs
    :func:`gdstudio.ui.landscape_command.run_landscape`, which draws PNG / MP4 / GIF and calls this
    for the rest); returns the exit status."""
    with handle_signals():
        try:
            prepared = prepare(args)
        except CliError as exc:
            say(f"gdstudio landscape: error: {exc}")
            return exc.status
        if prepared.format in DRAWN:
            say(f"gdstudio landscape: error: --format {prepared.format} is drawn by the `gdstudio landscape` command "
                "(this module writes json and npz)")
            return EXIT_USAGE
        try:
            landscape = compute(prepared)
        except CliError as exc:
            say(f"gdstudio landscape: error: {exc}")
            return exc.status
        except Interrupted as exc:
            say(f"gdstudio landscape: interrupted (signal {exc.signum}); nothing was written")
            return exc.status
        try:
            with deferred():
                write_landscape(landscape, prepared.format, prepared.out)
        except OSError as exc:
            where = "standard output" if prepared.out is None else args.out
            say(f"gdstudio landscape: error: cannot write {where}: {getattr(exc, 'strerror', None) or exc}")
            return EXIT_FAILED
    if not args.quiet:
        ev = landscape.explained_variance
        extra = f", explained variance {ev[0]:.1%} + {ev[1]:.1%}" if ev else ""
        say(f"gdstudio landscape: {landscape.plane} plane{extra}; {landscape.subset}"
            + ("" if prepared.out is None else f"; wrote {args.out}"))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gdstudio.train.landscape_cli ...``: the command (JSON / NPZ) without the main CLI."""
    from gdstudio.cli_common import Parser

    parser = Parser(prog="gdstudio landscape", description=DESCRIPTION)
    add_landscape_arguments(parser)
    try:
        args = parser.parse_args(argv)
    except CliError as exc:
        say(f"gdstudio landscape: error: {exc}")
        return exc.status
    return run_landscape(args)


if __name__ == "__main__":
    sys.exit(main())
