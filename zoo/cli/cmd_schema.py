"""zoo schema: the JSON Schema of spec files, every plugin's parameters included."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "schema", help="print the JSON Schema of spec files (for editors)",
        description="Print the spec JSON Schema. Save it and put "
        "'# yaml-language-server: $schema=zoo.schema.json' at the top of a spec for completion.",
    )
    p.add_argument("--out", type=Path, help="write to this file instead of standard output")
    return p


def run(args: argparse.Namespace) -> int:
    import zoo
    from zoo.io import atomic_write_text

    text = json.dumps(zoo.spec_json_schema(zoo.registry()), indent=2) + "\n"
    if args.out:
        atomic_write_text(args.out, text)
    else:
        print(text, end="")
    return 0
