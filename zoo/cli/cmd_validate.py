"""zoo validate SPEC...: check spec files without building or running anything."""

from __future__ import annotations

import argparse
import sys

from zoo.cli.options import add_format_option, add_override_option
from zoo.cli.output import print_json, print_problems
from zoo.errors import UserError
from zoo.spec import load_spec


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:

    p = sub.add_parser(
        "validate",
        help="check spec files; report every mistake with its place",
        description="Validate spec files. Exit 0 if all are valid, 2 otherwise.",
    )
    p.add_argument("specs", nargs="+", metavar="SPEC", help="spec files (YAML)")
    add_override_option(p, "training.epochs=3")
    add_format_option(p)
    return p


def run(args: argparse.Namespace) -> int:

    results = []
    failed = False
    for path in args.specs:
        try:
            loaded = load_spec(path, args.overrides)
            results.append(
                {
                    "spec": path,
                    "ok": True,
                    "problems": [],
                    "warnings": [w.to_dict() for w in loaded.warnings],
                }
            )
            if args.format == "text":
                print_problems(loaded.warnings)
                sys.stdout.write(f"{path}: ok\n")
        except UserError as exc:
            failed = True
            results.append(
                {
                    "spec": path,
                    "ok": False,
                    "problems": [p.to_dict() for p in exc.problems],
                    "warnings": [],
                }
            )
            if args.format == "text":
                print_problems(exc.problems)
    if args.format == "json":
        print_json(results)
    return 2 if failed else 0
