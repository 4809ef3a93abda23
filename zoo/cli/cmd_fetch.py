"""zoo fetch SPEC: download what a spec needs (data sets, pretrained weights) ahead of time.

For each plugin section the spec uses whose plugin declares the ``fetch`` capability, call
``fetch(params, FetchContext)``; it returns the local paths of the files now present
(downloaded or found). Every file that cannot be had is reported, not only the first, and
the verb exits 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from zoo.cli.options import add_format_option, add_override_option
from zoo.cli.output import print_json, print_problems
from zoo.errors import Problem, UserError
from zoo.plugin.contracts import FetchContext
from zoo.spec import load_spec
from zoo.spec.loader import SectionName

SECTIONS: tuple[SectionName, ...] = ("data", "model", "scaling", "augmentation")


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:

    p = sub.add_parser(
        "fetch",
        help="download the data set and weights a spec needs",
        description="Download (or find in the cache) every file the spec's data source and "
        "architecture need, so a later run works offline. Exit 2 when a file cannot be had.",
    )
    p.add_argument("spec", metavar="SPEC", help="spec file (YAML)")
    add_override_option(p, "model.params.weights=imagenet")
    add_format_option(p)
    return p


def run(args: argparse.Namespace) -> int:

    loaded = load_spec(args.spec, args.overrides)
    ctx = FetchContext(spec_dir=loaded.spec_dir, offline=os.environ.get("ZOO_OFFLINE") == "1")
    results: list[dict[str, Any]] = []
    missing: list[Problem] = []
    for section in SECTIONS:
        if section not in loaded.entries:
            continue
        entry = loaded.entry(section)
        fetch = entry.capabilities.fetch
        files: list[str] = []
        if fetch is not None:
            try:
                files = [str(f) for f in fetch(getattr(loaded.spec, section).params, ctx)]
            except UserError as exc:  # OfflineError included: collect, report all at the end
                missing += exc.problems
        results.append(
            {"section": section, "plugin": entry.name, "fetches": fetch is not None, "files": files}
        )
    if missing:
        raise UserError(missing)
    if args.format == "json":
        print_json(
            {
                "ok": True,
                "spec": args.spec,
                "results": results,
                "warnings": [w.to_dict() for w in loaded.warnings],
            }
        )
        return 0
    print_problems(loaded.warnings)
    out = sys.stdout
    for r in results:
        label = f"{r['section']} ({r['plugin']})"
        if not r["fetches"]:
            out.write(f"{label}: nothing to fetch\n")
        elif not r["files"]:
            out.write(f"{label}: nothing to fetch with these params\n")
        for path in r["files"]:
            out.write(f"{label}: present {path}\n")
    return 0
