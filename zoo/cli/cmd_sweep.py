"""zoo sweep SWEEP --out DIR: a hyperparameter search over a spec's key paths (Optuna)."""

from __future__ import annotations

import argparse
import sys

from zoo.cli.options import add_format_option
from zoo.cli.output import print_json, print_problems
from zoo.errors import Problem, UserError


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:

    p = sub.add_parser(
        "sweep",
        help="search a spec's hyperparameters; each trial is a run folder",
        description="Run the trials a sweep file describes (its spec, the search space over "
        "spec key paths, the objective, the budget, sampler and pruner) on Optuna. DIR holds "
        "the study (a journal file, unless --storage names a database), trials.csv, "
        "best_spec.yaml, plots, and one run folder per trial under DIR/trials. Run the same "
        "command with --join in more processes or on more machines to add workers to the "
        "study. Exit 0 when done, 2 on a mistake in the sweep file or an unreachable storage.",
    )
    p.add_argument("sweep", metavar="SWEEP", help="sweep file (YAML)")
    p.add_argument("--out", metavar="DIR", help="the sweep folder (required unless --check)")
    p.add_argument(
        "--check",
        action="store_true",
        help="only validate: every key path exists in the spec, and the spec is "
        "valid at both ends of each range and with each choice",
    )
    p.add_argument(
        "--join",
        action="store_true",
        help="add this worker to the study in DIR/--storage (create it if missing)",
    )
    p.add_argument(
        "--storage",
        metavar="URL",
        help="a database URL shared by workers on several machines, e.g. "
        "postgresql://user:pw@host/db or sqlite:////abs/study.db (default: the "
        "journal file DIR/study.journal, for processes on one machine)",
    )
    p.add_argument("--trials", type=int, metavar="N", help="trial budget (overrides the file)")
    p.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="this worker's time budget (overrides the file)",
    )
    add_format_option(p)
    return p


def run(args: argparse.Namespace) -> int:
    from zoo.sweep import check_sweep, load_sweep

    sweep = load_sweep(args.sweep)
    problems = check_sweep(sweep)
    if problems:
        raise UserError(problems)
    if args.check:
        if args.format == "json":
            print_json({"sweep": args.sweep, "ok": True, "problems": []})
        else:
            sys.stdout.write(f"{args.sweep}: ok ({len(sweep.space)} parameters)\n")
        return 0
    if not args.out:
        raise UserError([Problem("give the sweep folder: --out DIR", args.sweep)])
    if args.trials is not None and args.trials < 1:
        raise UserError([Problem("--trials must be at least 1", "--trials")])
    from zoo.sweep import run_sweep

    def report(line: str) -> None:
        (sys.stderr if args.format == "json" else sys.stdout).write(line + "\n")
        (sys.stderr if args.format == "json" else sys.stdout).flush()

    result = run_sweep(
        sweep,
        args.out,
        storage=args.storage,
        join=args.join,
        trials=args.trials,
        timeout=args.timeout,
        report=report,
    )
    if args.format == "json":
        print_json(result.to_dict())
        return 0
    print_problems(
        [Problem(f"warning: plot {k} skipped: {v}") for k, v in result.skipped_plots.items()]
    )
    if result.best_value is None:
        sys.stdout.write(
            f"no trial finished ({result.trials} counted); see {args.out}/trials.csv\n"
        )
        return 0
    params = ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in result.best_params.items()
    )
    sys.stdout.write(
        f"{result.trials} trials in study {result.study_name!r} ({result.ran} by this worker); "
        f"best {sweep.objective.split} {sweep.objective.metric} = {result.best_value:.4f}: "
        f"{params}\n  best run: {result.best_run}\n  best spec: {args.out}/best_spec.yaml\n"
    )
    return 0
