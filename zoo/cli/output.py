"""Printing for the CLI: aligned text tables for people, JSON for programs."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from zoo.errors import Problem


def print_json(data: Any, stream: TextIO | None = None) -> None:
    json.dump(data, stream or sys.stdout, indent=2, default=str)
    (stream or sys.stdout).write("\n")


def print_table(rows: Sequence[Sequence[Any]], headers: Sequence[str], stream: TextIO | None = None) -> None:
    """Left-aligned columns; the last column may run long."""
    out = stream or sys.stdout
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        line = "  ".join(c.ljust(w) for c, w in zip(row[:-1], widths[:-1], strict=True))
        out.write((line + "  " + row[-1]).rstrip() + "\n")
        if n == 0:
            out.write("  ".join("-" * w for w in widths).rstrip() + "\n")


def print_problems(problems: Sequence[Problem], stream: TextIO | None = None) -> None:
    out = stream or sys.stderr
    for p in problems:
        out.write(f"{p}\n")
