"""zoo runs [DIR]: the run folders under DIR with their status and key metrics;
zoo runs --compare RUN... [--plot PATH]: how runs (or a sweep's trials) differ."""

from __future__ import annotations

import argparse

from zoo.cli.options import add_format_option
from zoo.cli.output import print_json, print_table
from zoo.errors import Problem, UserError


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:

    p = sub.add_parser(
        "runs",
        help="list run folders with their status and test metrics",
        description="List the run folders under DIR (default: runs), newest "
        "first, with status, architecture, backend, epochs and test accuracy/loss. STATUS is "
        "running (a live process holds the run's lock), interrupted (killed, Ctrl-C, full disk: "
        "resumable), failed (NOTE says why), finished, or unreadable (a damaged run.json; "
        "NOTE says how). EPOCHS counts the rows of the run's history.csv. A seed group (zoo "
        "train --seeds) is one row: its metrics' mean +/- standard deviation over the seeds.",
    )
    p.add_argument("root", nargs="?", default="runs", metavar="DIR", help="folder of runs (runs)")
    p.add_argument(
        "--compare",
        nargs="+",
        metavar="RUN",
        help="compare these run folders (a sweep folder stands for all its trials, with the "
        "sweep's objective and its best trial marked; a seed group for its seeds): backend, "
        "the spec keys that differ and every metric of the evaluated split",
    )
    p.add_argument(
        "--plot",
        metavar="PATH",
        help="with --compare: write an overlay plot of the runs' curves (PNG)",
    )
    add_format_option(p)
    return p


def _num(value: object) -> str:
    return f"{value:.4f}" if isinstance(value, float) else ("" if value is None else str(value))


def run(args: argparse.Namespace) -> int:
    if args.compare:
        return _compare(args)
    if args.plot:
        raise UserError([Problem("--plot goes with --compare RUN...", "--plot")])
    from zoo.record.folder import list_runs  # no TensorFlow: reads the run records only

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
                r["backend"],
                _num(r["epochs"]),
                _spread(r, "accuracy"),
                _spread(r, "loss"),
                r["created"],
                r["reason"],
            )
            for r in rows
        ],
        (
            "RUN",
            "STATUS",
            "ARCHITECTURE",
            "BACKEND",
            "EPOCHS",
            "ACCURACY",
            "LOSS",
            "CREATED",
            "NOTE",
        ),
    )
    return 0


def _spread(row: dict[str, object], metric: str) -> str:
    """A run's value, or a seed group's mean +/- standard deviation."""
    std = row.get(f"{metric}_std")
    if isinstance(std, float):
        return f"{_num(row[metric])} +/- {std:.4f}"
    return _num(row[metric])


def _compare(args: argparse.Namespace) -> int:
    import sys

    from zoo.sweep.compare import compare, plot_compared

    result = compare(args.compare)
    if args.plot:
        plot_compared(result, args.plot)
    if args.format == "json":
        print_json({k: v for k, v in result.items() if k != "histories"})
        return 0
    keys = result["differing_keys"]
    rows = result["runs"]
    metrics = result["metrics"]
    objective = next((r["objective"] for r in rows if r.get("objective")), None)
    same = result["same_test_data"]
    headers = ["RUN", "STATUS", "BACKEND", "EPOCHS", *keys, *(m.upper() for m in metrics)]
    if not same:
        headers.insert(4, "TEST DATA")
    if objective:
        headers.append(f"OBJECTIVE ({objective['metric']}, {objective['direction']})")
    table = []
    for r in rows:
        cells = [r["run"], r["status"], _cell(r["backend"]), _num(r["epochs"])]
        if not same:
            cells.insert(4, (r["test_data"] or "unknown")[:12])
        cells += [_cell(r["spec"][k]) for k in keys]
        cells += [_num(r["metrics"].get(m)) for m in metrics]
        if objective:
            mine = r.get("objective") or {}
            cells.append(_num(mine.get("value")) + (" (best)" if mine.get("best") else ""))
        table.append(tuple(cells))
    print_table(table, tuple(headers))
    split = next((r["split"] for r in rows if r["split"]), None)
    if split and metrics:
        sys.stdout.write(f"(metrics on each run's {split} split, with the weights it kept)\n")
    if not same:
        sys.stdout.write(
            "(the runs were not tested on the same images: their test splits differ, "
            "see TEST DATA; their test metrics do not compare)\n"
        )
    if not keys:
        sys.stdout.write("(the runs' specs are the same)\n")
    if args.plot:
        sys.stdout.write(f"curves: {args.plot}\n")
    return 0


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)
