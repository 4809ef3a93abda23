"""zoo fetch SPEC: download what a spec needs (data sets, pretrained weights) ahead of time.

For each plugin section the spec uses (the data source, the architecture) whose registry
entry has ``extra["fetch"]``, call ``fetch(params)``; it returns the local paths of the
files that are now present (downloaded or found). Offline, a plugin raises an
:class:`~zoo.errors.OfflineError` saying which file to put where; the verb exits 2.
"""

from __future__ import annotations

import argparse
import sys

from zoo.cli.output import print_json, print_problems

SECTIONS = (("data", "source"), ("model", "architecture"))


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from zoo.cli.main import add_format_option, add_override_option

    p = sub.add_parser(
        "fetch", help="download the data set and weights a spec needs",
        description="Download (or find in the cache) every file the spec's data source and "
        "architecture need, so a later run works offline. Exit 2 when a file cannot be had.",
    )
    p.add_argument("spec", metavar="SPEC", help="spec file (YAML)")
    add_override_option(p, "model.params.weights=imagenet")
    add_format_option(p)
    return p


def run(args: argparse.Namespace) -> int:
    import zoo
    from zoo.spec import load_spec

    loaded = load_spec(args.spec, args.overrides)
    results = []
    for section, key in SECTIONS:
        part = getattr(loaded.spec, section)
        name = getattr(part, key)
        fetch = zoo.get(name).extra.get("fetch")
        files = [str(f) for f in fetch(part.params)] if callable(fetch) else []
        results.append({"section": section, "plugin": name, "fetches": callable(fetch),
                        "files": files})
    if args.format == "json":
        print_json({"ok": True, "spec": args.spec, "results": results,
                    "warnings": [w.to_dict() for w in loaded.warnings]})
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
