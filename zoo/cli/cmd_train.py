"""zoo train SPEC: train a spec's model and write a run folder (or resume an unfinished one)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import TYPE_CHECKING, Any

import zoo
from zoo.cli.options import add_format_option, add_override_option
from zoo.cli.output import print_json, print_problems
from zoo.errors import UserError
from zoo.spec.loader import LoadedSpec

if TYPE_CHECKING:
    from zoo.runner.results import TrainResult


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
        "--resume", metavar="RUN", help="continue an unfinished run from its last backup"
    )
    p.add_argument("--quiet", action="store_true", help="no progress output")
    add_format_option(p)
    return p


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
        "weights": {"kept": results.weights.kept, "epoch": kept.epoch},
        "final_epoch": results.weights.last.metrics,
        "files": result.files,
    }


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
        weights = info["weights"]
        out.write(f"weights: {weights['kept']} (epoch {weights['epoch']})\n")
    out.write(f"{result.epochs} epochs in {result.seconds:.1f}s\n")
    return 0
