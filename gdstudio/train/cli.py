"""`gdstudio train`: race optimizers training the same MLP on handwritten digits.

Registered by the main CLI through :func:`add_train_parser`; :func:`run_train` returns the exit
status (0 done, 2 bad input with one line on stderr, 1 a write or download failure, 130 / 143
stopped by Ctrl+C / SIGTERM after writing what was recorded). Everything that can be checked
before training is (option values, the memory the counts need, the output paths), so a bad
``--out`` never costs a training run. ``--out -`` writes the CSV to standard output (the summary
then goes to stderr); progress that cannot be written (a full or closed stderr) is dropped.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import itertools
import math
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from gdstudio.atomic import Output, OutputPathError, OutputTarget, resolve_output, same_output
from gdstudio.cli_common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    add_schedule_options,
    say,
    schedule_from_args,
)
from gdstudio.engine.hyperparams import format_value
from gdstudio.engine.optimizers.registry import OPTIMIZERS, get_spec
from gdstudio.interrupts import Interrupted, deferred, handle_signals, run_cancellable
from gdstudio.limits import CountError, available_memory, brief, check_count, format_bytes
from gdstudio.train.compare import (
    TRAINING_DEFAULTS,
    CompareResult,
    Entry,
    TrainConfig,
    TrainProgress,
    check_entries,
    compare_optimizers,
    smooth_curve,
)
from gdstudio.train.datasets import load_dataset

__all__ = [
    "DESCRIPTION",
    "HELP",
    "add_train_arguments",
    "main",
    "parse_entries",
    "parse_hidden",
    "run_train",
    "write_csv",
]

_DEFAULT_OPTIMIZERS = "sgd,momentum,adagrad,adam,rmsprop"
_LABEL = re.compile(r"^[A-Za-z0-9_\-]+$")


def _defaults_text() -> str:
    return ", ".join(f"{name} lr={format_value(hp['lr'])}" for name, hp in TRAINING_DEFAULTS.items())


HELP = "train an MLP on handwritten digits with several optimizers and compare their loss curves"
DESCRIPTION = (
    "Train the same network (same initial weights, same mini-batches) with each optimizer and "
    "write the per-iteration training loss and the test accuracy to CSV (and a PNG plot). "
    f"Training learning rates (the book's): {_defaults_text()}; other optimizers use the registry "
    "defaults. Override any hyperparameter with --set."
)


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``gdstudio train``."""
    p.add_argument("--dataset", default="digits", metavar="NAME",
                   help="digits (bundled 8x8, 1,797 images), mnist (downloaded once into the cache folder) "
                        "or mnist:FOLDER (the four IDX files); default digits")
    p.add_argument("--optimizers", default=_DEFAULT_OPTIMIZERS, metavar="LIST",
                   help=f"comma-separated registry names, optionally LABEL=NAME to run one optimizer twice "
                        f"(default {_DEFAULT_OPTIMIZERS}; known: {', '.join(OPTIMIZERS)})")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="OPT.KEY=VALUE",
                   help="override a hyperparameter, e.g. adam.lr=0.002 or adam.betas=0.9,0.99 (repeatable)")
    p.add_argument("--iterations", type=int, default=2000, metavar="N", help="training steps (default 2000)")
    add_schedule_options(p)
    p.add_argument("--batch-size", type=int, default=128, metavar="B", help="mini-batch size (default 128)")
    p.add_argument("--hidden", default="100,100,100,100", metavar="SIZES",
                   help="hidden layer sizes, comma-separated, or 'none' (default 100,100,100,100)")
    p.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the weights, batches and split")
    p.add_argument("--eval-every", type=int, default=100, metavar="K",
                   help="measure test accuracy every K iterations and at the end (0: only at the end; default 100)")
    p.add_argument("--out", required=True, metavar="CSV", help="write the curves to this CSV file ('-': stdout)")
    p.add_argument("--plot", metavar="PNG", help="also write a PNG of the smoothed loss curves")
    p.add_argument("--smooth", choices=("kaiser", "ema", "none"), default="kaiser",
                   help="plot smoothing: the book's 11-tap Kaiser window (default), EMA, or none")
    p.add_argument("--log-y", action="store_true", help="plot the loss on a log scale")
    p.add_argument("--test-fraction", type=float, default=0.2, metavar="F",
                   help="digits only: fraction held out for testing, stratified (default 0.2)")
    p.add_argument("--standardize", action="store_true",
                   help="standardize each pixel with the training mean and std (after scaling to [0, 1])")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                   help="network precision (default float32)")
    p.add_argument("--threads", type=int, default=1, metavar="T",
                   help="BLAS threads while training (default 1: the batches are small; 0 leaves NumPy's setting)")
    p.add_argument("--no-download", action="store_true", help="never download MNIST; fail if it is not cached")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


# -- parsing ----------------------------------------------------------------------------------
def parse_hidden(text: str) -> tuple[int, ...]:
    """``"100,100"`` -> (100, 100); ``"none"`` or empty -> () (softmax regression)."""
    raw = text.strip()
    if raw.lower() in ("", "none", "0"):
        return ()
    sizes = []
    for part in raw.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise ValueError(f"Invalid --hidden value: {brief(text)} (must be whole numbers ≥ 1 separated by "
                             "commas)")
        sizes.append(int(part))
    return tuple(sizes)


def parse_entries(optimizers: str, sets: Sequence[str]) -> list[Entry]:
    """Entries from ``--optimizers`` and ``--set`` (ValueError with the offending text)."""
    items = [s.strip() for s in optimizers.split(",")]
    if not optimizers.strip() or any(not s for s in items):
        raise ValueError(f"Invalid --optimizers value: {optimizers!r} (give comma-separated names)")
    entries: dict[str, tuple[str, dict[str, str]]] = {}
    for item in items:
        label, sep, name = item.partition("=")
        if not sep:
            name = label
        label, name = label.strip(), name.strip()
        spec = get_spec(name)
        if not sep:
            label = spec.name
        if not _LABEL.match(label):
            raise ValueError(f"Invalid --optimizers label: {label!r} (letters, digits, _ and - only)")
        if label in entries:
            raise ValueError(f"Invalid --optimizers value: {label!r} is listed twice (use LABEL=NAME to run "
                             "an optimizer twice)")
        entries[label] = (spec.name, {})
    lower = {l.lower(): l for l in entries}
    for item in sets:
        target, eq, value = item.partition("=")
        opt, dot, key = target.partition(".")
        if not eq or not dot or not opt.strip() or not key.strip():
            raise ValueError(f"Invalid --set value: {item!r} (must be OPT.KEY=VALUE, e.g. adam.lr=0.002)")
        known = lower.get(opt.strip().lower())
        if known is None:
            raise ValueError(f"Invalid --set value: {item!r} ({opt.strip()} is not among --optimizers: "
                             f"{', '.join(entries)})")
        entries[known][1][key.strip()] = value
    # the one override boundary: names, values and cross-parameter checks (e.g. Nesterov needs momentum)
    return [Entry(label, name, get_spec(name).validate_overrides(texts, from_text=True))
            for label, (name, texts) in entries.items()]


# -- output -----------------------------------------------------------------------------------
def write_csv(result: CompareResult, path: str | Path | OutputTarget) -> Path:
    """Write ``result.table()`` to ``path`` through the one output helper (atomically for a
    regular file; ``-`` is standard output)."""
    header, rows = result.table()
    out = Output(path, what="--out", allow_stdout=True)
    if out.target.mode == "stdout":
        stream = sys.stdout
        if stream is None:
            raise OSError("standard output is closed")
        csv.writer(stream).writerows([header, *rows])
        stream.flush()
        return Path("-")
    try:
        with open(out.path, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            w.writerows(rows)
        out.commit()
    except BaseException:
        out.discard()
        raise
    return Path(out.target.given)


class _ProgressBar:
    """A plain-text progress bar on a stream: redrawn in place on a terminal (≤ 10 times a
    second), one line per 10% otherwise."""

    def __init__(self, stream: TextIO, total: int, width: int = 28) -> None:
        self.stream, self.total, self.width = stream, total, width
        try:
            self.tty = bool(getattr(stream, "isatty", lambda: False)())
        except (OSError, ValueError):
            self.tty = False
        self._last = 0.0
        self._decile = -1
        self.broken = stream is None

    def update(self, p: TrainProgress) -> None:
        """Draw the progress; a stream that cannot be written silences the bar (it never stops
        the training)."""
        if self.broken:
            return
        try:
            self._update(p)
        except (OSError, ValueError):
            self.broken = True

    def _update(self, p: TrainProgress) -> None:
        frac = p.iteration / max(p.total, 1)
        now = time.monotonic()
        if self.tty:
            if p.iteration != p.total and now - self._last < 0.1:
                return
            self._last = now
            filled = round(frac * self.width)
            bar = "#" * filled + "." * (self.width - filled)
            rate = p.iteration / p.elapsed if p.elapsed > 0 else 0.0
            eta = (p.total - p.iteration) / rate if rate > 0 else 0.0
            self.stream.write(f"\r[{bar}] {frac:4.0%} {p.iteration}/{p.total} it  {rate:6.1f} it/s  "
                              f"ETA {_duration(eta)} ")
            if p.iteration == p.total:
                self.stream.write("\n")
            self.stream.flush()
        else:
            decile = int(frac * 10)
            if decile > self._decile:
                self._decile = decile
                losses = "  ".join(f"{k} {v:.4g}" for k, v in p.loss.items())
                self.stream.write(f"{frac:4.0%} {p.iteration}/{p.total} it  {losses}\n")
                self.stream.flush()

    def close(self) -> None:
        if self.tty and not self.broken:
            try:
                self.stream.write("\n")
                self.stream.flush()
            except (OSError, ValueError):
                self.broken = True


def _duration(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def _download_progress() -> Callable[[str, int, int | None], None]:
    """Download progress on stderr, at most five lines a second per file."""
    state: dict[str, float] = {"t": 0.0}
    names = [""]

    def report(name: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if name == names[0] and now - state["t"] < 0.2 and total != done:
            return
        names[0], state["t"] = name, now
        size = f"{done / 1e6:.1f}/{total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB"
        say(f"downloading {name}: {size}")

    return report


def _summary(result: CompareResult) -> str:
    lines = []
    width = max(len(l) for l in result.labels)
    for label in result.labels:
        loss = result.losses[label]
        final = float(smooth_curve(loss)[-1]) if len(loss) else math.nan
        acc = result.final_accuracy(label)
        hp = ", ".join(f"{k}={format_value(v)}" for k, v in result.hyperparams[label].items())
        status = f"diverged at {result.diverged[label]}" if result.diverged[label] else (
            f"loss {final:.4g}, test accuracy {acc:.2%}" if math.isfinite(acc) else f"loss {final:.4g}")
        lines.append(f"{label:<{width}}  {status}  ({hp})")
    return "\n".join(lines)


_TEXT_OPTIONS = (("dataset", "--dataset"), ("optimizers", "--optimizers"), ("hidden", "--hidden"),
                 ("out", "--out"), ("plot", "--plot"))
MAX_THREADS = 1024


def _check_options(args: argparse.Namespace) -> None:
    """Option values that can be refused before anything is loaded (ValueError naming the option)."""
    for dest, name in _TEXT_OPTIONS:
        value = getattr(args, dest, None)
        if isinstance(value, str) and not value.strip():
            raise ValueError(f"Invalid {name}: {value!r} (empty; give a value or leave the option out)")
    for item in args.sets:
        if not item.strip():
            raise ValueError(f"Invalid --set: {item!r} (empty; give OPT.KEY=VALUE)")
    if args.seed < 0:
        raise ValueError(f"Invalid --seed value: {args.seed} (must be a whole number ≥ 0)")
    if not 0 <= args.threads <= MAX_THREADS:
        raise ValueError(f"Invalid --threads value: {args.threads} (must be in [0, {MAX_THREADS}])")


def iteration_bytes(n_optimizers: int) -> int:
    """Memory one iteration's record needs: a float64 loss per optimizer, and the CSV table built
    from it at the end (a Python row of 2·n + 1 cells, ~100 bytes each)."""
    return 8 * n_optimizers + 100 * (2 * n_optimizers + 1)


def network_bytes(sizes: Sequence[int], n_optimizers: int, batch: int, n_eval: int, itemsize: int) -> int:
    """Memory the networks need: weights and biases P = Σ (a + 1)·b per optimizer, with their
    gradients and up to three state arrays each (Adam's m, v and a step buffer: 4·P per optimizer,
    plus one gradient buffer), and the activations of a batch and of the evaluation set."""
    params = sum((a + 1) * b for a, b in itertools.pairwise(sizes))
    activations = (batch + n_eval) * sum(sizes) * 3
    return itemsize * (params * (4 * n_optimizers + 2) + activations)


def _check_memory(args: argparse.Namespace, entries: Sequence[Entry], hidden: tuple[int, ...],
                  n_features: int, n_classes: int, n_eval: int) -> None:
    check_count("--iterations", args.iterations, iteration_bytes(len(entries)), "loss history")
    itemsize = 4 if args.dtype == "float32" else 8
    need = network_bytes((n_features, *hidden, n_classes), len(entries), args.batch_size, n_eval, itemsize)
    budget = 0.75 * available_memory()
    if need > budget:
        shown = args.hidden if len(args.hidden) <= 80 else brief(args.hidden)
        nets = f"{len(entries)} network{'s' if len(entries) != 1 else ''}"
        raise CountError(f"--hidden {shown} needs ~{format_bytes(need)} for {nets} and their optimizer states; "
                         f"the memory available holds ~{format_bytes(budget)}")


def _outputs(args: argparse.Namespace) -> tuple[OutputTarget, OutputTarget | None]:
    out = resolve_output(args.out, "--out", allow_stdout=True)
    if out.mode == "stdout" and sys.stdout is None:
        raise OSError("cannot write to standard output: it is closed (give --out FILE)")
    plot = resolve_output(args.plot, "--plot") if args.plot is not None else None
    if plot is not None and same_output(args.out, args.plot):
        raise ValueError(f"--out and --plot name the same file ({args.plot}): the plot would overwrite the CSV")
    return out, plot


# -- command ----------------------------------------------------------------------------------
def run_train(args: argparse.Namespace) -> int:
    """Run ``gdstudio train`` with parsed ``args``; returns the exit status."""
    with handle_signals():
        try:
            return _run_train(args)
        except Interrupted as exc:
            say(f"gdstudio train: interrupted (signal {exc.signum}) before training; nothing was written")
            return exc.status


def _run_train(args: argparse.Namespace) -> int:
    try:
        _check_options(args)
        entries = parse_entries(args.optimizers, args.sets)
        hidden = parse_hidden(args.hidden)
        schedule = schedule_from_args(args, horizon=None)  # the run-length keywords follow --iterations
        config = TrainConfig(hidden=hidden, iterations=args.iterations, batch_size=args.batch_size,
                             seed=args.seed, eval_every=args.eval_every, dtype=args.dtype,
                             threads=args.threads or None, schedule=schedule.name,
                             schedule_settings=schedule.settings, warmup=schedule.warmup)
        config.validate()
        check_entries(entries, config)
        check_count("--iterations", args.iterations, iteration_bytes(len(entries)), "loss history")
        out, plot = _outputs(args)
        dataset = load_dataset(args.dataset, seed=args.seed, test_fraction=args.test_fraction,
                               standardize=args.standardize, dtype=args.dtype, download=not args.no_download,
                               progress=None if args.quiet else _download_progress())
        config.validate(len(dataset.y_train))
        _check_memory(args, entries, hidden, dataset.n_features, dataset.n_classes, len(dataset.y_test))
    except CliError as exc:
        say(f"gdstudio train: error: {exc}")
        return exc.status
    except OutputPathError as exc:
        say(f"gdstudio train: error: {exc}")
        return EXIT_USAGE
    except ValueError as exc:
        say(f"gdstudio train: error: {exc}")
        return EXIT_USAGE
    except OSError as exc:
        say(f"gdstudio train: error: {exc}")
        return EXIT_FAILED

    if not args.quiet:
        say(f"{dataset.name}: {len(dataset.y_train)} training / {len(dataset.y_test)} test images, "
             f"network {'-'.join(map(str, (dataset.n_features, *hidden, dataset.n_classes)))}, "
             f"{len(entries)} optimizers x {config.iterations} iterations")
    bar = None if args.quiet else _ProgressBar(sys.stderr, config.iterations)
    # Train in a worker so Ctrl+C only sets the cancel flag: what was recorded is still written.
    trained, error, interrupted = run_cancellable(
        lambda cancel: compare_optimizers(dataset, entries, config, progress=bar.update if bar else None,
                                          cancel=cancel), name="gdstudio-train")
    if error is not None:
        raise error
    assert isinstance(trained, CompareResult)
    result = trained
    if interrupted and bar:
        bar.close()
    with deferred():  # a second Ctrl+C must not leave a half-written CSV or its temporary
        written = _write_outputs(result, out, plot, args)
    if written:
        return written
    summary = _summary(result)
    if out.mode == "stdout":
        say(summary)
    else:
        # the summary repeats what the CSV holds: a full or closed stdout does not undo the training
        with contextlib.suppress(OSError, ValueError, AttributeError):
            print(summary, flush=True)
    if result.cancelled:
        say(f"gdstudio train: interrupted after {result.completed} of {result.total} iterations "
             f"(written: {args.out})")
        return 128 + (interrupted or 2)
    return EXIT_OK


def _write_outputs(result: CompareResult, out: OutputTarget, plot: OutputTarget | None,
                   args: argparse.Namespace) -> int:
    """Write the CSV and the PNG; 0, or 1 after one line naming the path that failed."""
    path = args.out
    try:
        write_csv(result, out)
        if plot is not None:
            path = args.plot
            from gdstudio.train.plot import render_curves

            image = render_curves(result, smooth=args.smooth, log_y=args.log_y)
            png = Output(plot, what="--plot")
            try:
                with open(png.path, "wb") as fh:
                    image.save(fh, format="PNG")
                png.commit()
            except BaseException:
                png.discard()
                raise
    except OSError as exc:
        where = "standard output" if path == "-" else path
        say(f"gdstudio train: error: cannot write {where}: {exc.strerror or exc}")
        return EXIT_FAILED
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m gdstudio.train.cli ...``: the same command without the main CLI."""
    parser = argparse.ArgumentParser(prog="gdstudio train")
    add_train_arguments(parser)
    return run_train(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
