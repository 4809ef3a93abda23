"""zoo train SPEC: train a spec's model and write a run folder (or resume an unfinished one)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import zoo
from zoo.cli.options import add_format_option, add_override_option
from zoo.cli.output import (
    print_json,
    print_problems,
    print_table,
    summary_lines,
    warn_collapse,
)
from zoo.errors import UserError
from zoo.spec.loader import LoadedSpec

if TYPE_CHECKING:
    from zoo.runner.results import TrainResult
    from zoo.runner.seeds import GroupResult


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:

    p = sub.add_parser(
        "train",
        help="train a spec's model; write a run folder with the model and its metrics",
        description="Train the model a spec describes and write a new run folder (never reusing "
        "one): the resolved spec, model.keras, the best checkpoint, history.csv, metrics.json, "
        "curves.png and confusion_matrix.png. Progress is printed per epoch (a bar per batch on "
        "a terminal). A killed, interrupted or failed run continues with --resume RUN. Exit 0 "
        "when training finished, 1 when it failed (a NaN loss: the run is marked failed with "
        "the reason), 2 on a mistake in the spec, data or options (or a full disk, or a run "
        "another process is training), 130 on Ctrl-C.",
    )
    p.add_argument(
        "spec",
        nargs="?",
        metavar="SPEC",
        help="spec file (YAML); optional with --resume (the run's own spec is used)",
    )
    p.add_argument("--out", metavar="DIR", help="folder that holds run folders (default: runs)")
    p.add_argument(
        "--epochs",
        type=int,
        metavar="N",
        help="epochs of every phase: the first (training.epochs) and each of training.phases, "
        "so a spec with one fine-tuning phase trains 2N epochs (set one phase with --set "
        "training.phases[0].epochs=M)",
    )
    add_override_option(p, "training.optimizer.learning_rate=0.01")
    p.add_argument(
        "--resume",
        metavar="RUN",
        help="continue an unfinished run from its last backup (or a seed group: its "
        "unfinished seeds)",
    )
    p.add_argument(
        "--seeds",
        type=seed_list,
        metavar="S1,S2,...",
        help="train one run per seed on one split (data.split.seed, else the spec's seed) "
        "in a group folder with each metric's mean, standard deviation and per-seed values "
        "(seeds.csv) and the curves overlaid",
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")
    add_format_option(p)
    return p


def seed_list(text: str) -> list[int]:
    """argparse type for ``--seeds 1,2,3``: whole numbers, each once (else a usage error)."""
    from zoo.runner.seeds import check_seeds

    parts = [p.strip() for p in text.split(",")]
    if not all(p.isdigit() for p in parts):
        bad = next(p for p in parts if not p.isdigit())
        raise argparse.ArgumentTypeError(
            f"seeds are whole numbers separated by commas, like 1,2,3 (got {bad!r})"
        )
    try:
        return check_seeds([int(p) for p in parts])
    except UserError as exc:
        raise argparse.ArgumentTypeError(exc.problems[0].message) from None


def epochs_overrides(spec: str, overrides: list[str], epochs: int) -> list[str]:
    """``--epochs N``: N epochs in every phase (training.epochs and each training.phases)."""

    phases = zoo.load_spec(spec, overrides).spec.training.phases
    return [f"training.epochs={epochs}"] + [
        f"training.phases[{i}].epochs={epochs}" for i in range(len(phases))
    ]


def summary(result: TrainResult) -> dict[str, Any]:
    results = result.results
    kept = results.weights.kept_weights
    return {
        "ok": True,
        "run_dir": str(result.run_dir),
        "epochs": result.epochs,
        "seconds": round(result.seconds, 2),
        "split": results.split,
        "count": results.count,
        "metrics": results.scores,
        "summary": results.summary.model_dump(mode="json") if results.summary else None,
        "weights": {"kept": results.weights.kept, "epoch": kept.epoch},
        "final_epoch": results.weights.last.metrics,
        "files": result.files,
    }


def print_group(group: GroupResult, fmt: str) -> int:
    """A seed group's table: each metric's mean, standard deviation and per-seed values."""
    if fmt == "json":
        print_json({"ok": True, **group.to_dict()})
        return 0
    record = group.record
    out = sys.stdout
    seeds = ", ".join(map(str, record.seeds))
    out.write(f"\nseed group: {group.group_dir}\n")
    out.write(
        f"seeds {seeds} on one split (split seed {record.split_seed}); "
        f"{record.split or 'no'} split, mean and standard deviation (n - 1) over the seeds:\n"
    )
    rows = [
        (
            row.metric,
            f"{row.mean:.4f}",
            "" if row.std is None else f"{row.std:.4f}",
            *("" if v is None else f"{v:.4f}" for v in row.values),
        )
        for row in record.table
        if not row.metric.startswith("f1_class")
    ]
    print_table(rows, ("METRIC", "MEAN", "STD", *(f"SEED {s}" for s in record.seeds)))
    out.write(f"table: {group.group_dir / 'seeds.csv'}; curves: {group.group_dir / 'curves.png'}\n")
    return 0


def run(args: argparse.Namespace) -> int:

    if args.spec is None and args.resume is None:
        raise UserError("give a SPEC to train, or --resume RUN")
    if args.epochs is not None and args.epochs < 1:
        raise UserError("--epochs must be at least 1")
    overrides = list(args.overrides)
    if args.resume is not None and (overrides or args.epochs is not None) and args.spec is None:
        raise UserError("--set/--epochs cannot change a run being resumed")
    if args.epochs is not None:
        overrides += epochs_overrides(args.spec, overrides, args.epochs)

    from zoo.runner.outcome import RunFailed

    spec: LoadedSpec | None = None
    if args.spec is not None:
        spec = zoo.load_spec(args.spec, overrides)
        print_problems(spec.warnings)
    verbose = 0 if args.quiet else None
    # Keras prints progress on stdout; with --format json stdout carries only the result.
    to_stderr = (
        contextlib.redirect_stdout(sys.stderr)
        if args.format == "json"
        else contextlib.nullcontext()
    )
    if args.seeds is not None:
        if args.resume is not None:
            raise UserError("--seeds starts a new seed group; --resume GROUP finishes one")
        with to_stderr:
            group = zoo.train(spec, out=args.out, verbose=verbose, seeds=args.seeds)
        return print_group(group, args.format)
    from zoo.record.group import is_group

    if args.resume is not None and is_group(Path(args.resume)):
        with to_stderr:
            group = zoo.train(resume=args.resume, verbose=verbose, seeds=None)
        return print_group(group, args.format)
    try:
        with to_stderr:
            result = zoo.train(spec, out=args.out, resume=args.resume, verbose=verbose)
    except RunFailed as exc:
        if args.format == "json":
            print_json(
                {"ok": False, "status": "failed", "run_dir": str(exc.run_dir), "reason": exc.reason}
            )
        sys.stderr.write(f"zoo: training failed: {exc.reason}\n")
        if exc.run_dir is not None:
            sys.stderr.write(f"zoo: the run is marked failed: {exc.run_dir}\n")
        return 1
    info = summary(result)
    if args.format == "json":
        print_json(info)
        return 0
    out = sys.stdout
    out.write(f"\nrun: {result.run_dir}\n")
    metrics = info["metrics"]
    if metrics:
        parts = [f"{k} {v:.4f}" for k, v in metrics.items()]
        out.write(f"{info['split']} ({info['count']} images): " + ", ".join(parts) + "\n")
        for line in summary_lines(result.results.summary, result.record.threshold):
            out.write(line + "\n")
        weights = info["weights"]
        out.write(f"weights: {weights['kept']} (epoch {weights['epoch']})\n")
    out.write(f"{result.epochs} epochs in {result.seconds:.1f}s\n")
    warn_collapse(result.results.summary)
    return 0
