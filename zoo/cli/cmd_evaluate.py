"""zoo evaluate RUN|EXPORT: loss, metrics and per-class precision/recall."""

from __future__ import annotations

import argparse
import sys

import zoo
from zoo.cli.options import add_format_option
from zoo.cli.output import print_json, print_table, summary_lines, warn_collapse


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:

    p = sub.add_parser(
        "evaluate",
        help="evaluate a trained run (or an export of it) on its test split or other data",
        description="Evaluate a finished run with its own scaling: on its test split (the "
        "same seeded split as in training), on another spec's data, or on a folder with one "
        "sub-folder of images per class. Given a model exported by zoo export, run it with its "
        "own runtime on the same data (its source run's test split by default) and report "
        "accuracy and cross-entropy. Exit 2 on a missing run or unreadable data.",
    )
    p.add_argument(
        "run_dir", metavar="RUN", help="run folder written by zoo train, or a zoo export"
    )
    p.add_argument(
        "--data",
        metavar="SPEC_OR_DIR",
        help="a spec whose data to use (its test split), or a folder of class folders",
    )
    p.add_argument("--batch-size", type=_positive_int, metavar="N", help="evaluation batch size")
    p.add_argument(
        "--weights",
        choices=("best", "last"),
        help="a run's best-checkpoint or last-epoch weights (default: those in model.keras, "
        "chosen by the spec's evaluation.weights; metrics.json says which)",
    )
    add_format_option(p)
    return p


def _positive_int(text: str) -> int:
    """argparse type for a count: a batch of -5 images is a usage error, not a traceback."""
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer (got {text!r})")
    return int(text)


def run(args: argparse.Namespace) -> int:

    result = zoo.evaluate_run(
        args.run_dir, data=args.data, batch_size=args.batch_size, weights=args.weights
    )
    if args.format == "json":
        print_json({"ok": True, "run_dir": args.run_dir, **result.to_dict()})
        return 0
    out = sys.stdout
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items())
    out.write(f"{result.split} ({result.count} images): {metrics}\n")
    for line in summary_lines(result.summary):
        out.write(line + "\n")
    if result.weights:
        epoch = result.weights.get("epoch")
        out.write(
            f"weights: {result.weights.get('used')}" + (f" (epoch {epoch})" if epoch else "") + "\n"
        )
    out.write("\n")
    rows = [
        (name, f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}", c["support"])
        for name, c in result.per_class.items()
    ]
    print_table(rows, ("CLASS", "PRECISION", "RECALL", "F1", "SUPPORT"))
    warn_collapse(result.summary)
    return 0
