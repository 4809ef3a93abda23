"""zoo plugins: which packages registered what (provenance), and which are broken."""

from __future__ import annotations

import argparse
from collections import defaultdict
from typing import Any

import zoo
from zoo.cli.options import add_format_option
from zoo.cli.output import print_json, print_table


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:

    p = sub.add_parser(
        "plugins",
        help="installed plugins, their packages and what they register",
        description="Provenance: the distribution and version behind each plugin.",
    )
    add_format_option(p)
    return p


def run(args: argparse.Namespace) -> int:

    reg = zoo.registry()
    names: dict[str, list[str]] = defaultdict(list)
    for entry in reg:
        names[entry.provenance.plugin].append(entry.name)
    for clashing in reg.conflicts.values():
        for entry in clashing:
            names[entry.provenance.plugin].append(f"{entry.name} (CONFLICT)")
    records: list[dict[str, Any]] = [
        {
            "plugin": p.plugin,
            "distribution": p.distribution,
            "version": p.version,
            "module": p.module,
            "status": "ok",
            "registers": sorted(names[p.plugin]),
        }
        for p in reg.plugins
    ] + [
        {
            "plugin": b.plugin,
            "distribution": b.distribution,
            "version": b.version,
            "module": None,
            "status": f"broken: {b.reason}",
            "registers": [],
        }
        for b in reg.broken
    ]
    if args.format == "json":
        print_json(records)
        return 0
    rows = [
        (
            r["plugin"],
            r["distribution"] or "?",
            r["version"] or "",
            r["status"] if r["status"] != "ok" else ", ".join(r["registers"]),
        )
        for r in records
    ]
    print_table(rows, ("PLUGIN", "DISTRIBUTION", "VERSION", "REGISTERS"))
    return 0
