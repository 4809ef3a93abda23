"""zoo runs [DIR]: the run folders under DIR with their status and key metrics."""

from __future__ import annotations

import argparse

from zoo.cli.output import print_json, print_table


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from zoo.cli.main import add_format_option

    p = sub.add_parser(
        "runs",
        help="list run folders with their status and test metrics",
        description="List the run folders under DIR (default: runs), newest "
        "first, with status, architecture, epochs and test accuracy/loss. STATUS is running "
        "(a live process holds the run's lock), interrupted (killed, Ctrl-C, full disk: "
        "resumable), failed (NOTE says why), finished, or unreadable (a damaged run.json; "
        "NOTE says how). EPOCHS counts the rows of the run's history.csv.",
    )
    p.add_argument("root", nargs="?", default="runs", metavar="DIR", help="folder of runs (runs)")
    add_format_option(p)
    return p


def _num(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else ("" if value is None else str(value))


def run(args: argparse.Namespace) -> int:
    from zoo.runner.rundir import list_runs  # no TensorFlow: reads JSON files only

    rows = list_runs(args.root)
    if args.format == "json":
        print_json(rows)
        return 0
    print_table(
        [
            (
                r["run"],
                r["status"],
                r["architecture"],
                _num(r["epochs"]),
                _num(r["accuracy"]),
                _num(r["loss"]),
                r["created"],
                r["reason"],
            )
            for r in rows
        ],
        ("RUN", "STATUS", "ARCHITECTURE", "EPOCHS", "ACCURACY", "LOSS", "CREATED", "NOTE"),
    )
    return 0
