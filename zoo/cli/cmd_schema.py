"""zoo schema: the JSON Schema of spec files, every plugin's parameters included."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import zoo
from zoo.cli.options import add_format_option
from zoo.errors import Problem, UserError
from zoo.io import atomic_write_text


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "schema",
        help="print the JSON Schema of spec files (for editors)",
        description="Print the spec JSON Schema. Save it and put "
        "'# yaml-language-server: $schema=zoo.schema.json' at the top of a spec for completion.",
    )
    p.add_argument("--out", type=Path, help="write to this file instead of standard output")

    add_format_option(p)  # the schema is JSON either way; accepted like every verb's
    return p


def run(args: argparse.Namespace) -> int:

    text = json.dumps(zoo.spec_json_schema(zoo.registry()), indent=2) + "\n"
    if args.out:
        write_schema(args.out, text)
    else:
        print(text, end="")
    return 0


def write_schema(out: Path, text: str) -> None:
    """Write ``text`` to ``out`` atomically; a path that cannot be a file is a user mistake."""

    if out.is_dir():
        raise UserError(
            [
                Problem(
                    f"is a folder; --out takes a file name, e.g. {out / 'zoo.schema.json'}",
                    str(out),
                )
            ]
        )
    folder = next((p for p in out.absolute().parents if p.exists()), None)
    if folder is not None and not folder.is_dir():
        raise UserError(
            [Problem(f"cannot write the schema: {folder} is a file, not a folder", str(out))]
        )
    try:
        atomic_write_text(out, text)
    except OSError as exc:
        raise UserError(
            [Problem(f"cannot write the schema: {exc.strerror or exc}", str(out))]
        ) from None
