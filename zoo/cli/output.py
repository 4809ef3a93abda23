"""Printing for the CLI: aligned text tables for people, JSON for programs."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from zoo.errors import Problem
from zoo.progress import Progress  # noqa: F401  (the CLI's progress counter)

if TYPE_CHECKING:  # the record is imported by the verbs that read runs, not by zoo list
    from zoo.record.results import Summary
    from zoo.record.run import ThresholdRecord


def print_json(data: Any, stream: TextIO | None = None) -> None:
    json.dump(data, stream or sys.stdout, indent=2, default=str)
    (stream or sys.stdout).write("\n")


MIN_LAST_COLUMN = 24  # narrower than this, the last column is not wrapped but runs long


def terminal_width() -> int | None:
    """Columns of the terminal (``COLUMNS`` when set); None when stdout is not a terminal,
    so piped output keeps one line per row for grep and scripts."""
    import os
    import shutil

    if not os.environ.get("COLUMNS") and not _isatty(sys.stdout):
        return None
    return max(40, shutil.get_terminal_size((100, 24)).columns)


def print_table(
    rows: Sequence[Sequence[Any]],
    headers: Sequence[str],
    stream: TextIO | None = None,
    width: int | None = None,
    fold: Sequence[int] = (),
) -> None:
    """Left-aligned columns. The last column (a description) is wrapped to fit ``width``
    characters, its continuation lines indented under it; without ``width`` it runs long.

    ``fold``: indices of other columns (comma-separated lists such as tags) that may break
    onto more lines, at commas or spaces, when the columns before the last are wider than
    ``width``; nothing is cut off. Without ``width`` every row stays on one line.
    """
    import textwrap

    out = stream or sys.stdout
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    if width:
        _fold_widths(widths, cells, fold, width)
    indent = sum(widths[:-1]) + 2 * (len(widths) - 1)
    room = (width - indent) if width else 0
    if room >= MIN_LAST_COLUMN:
        widths[-1] = min(widths[-1], room)
    for n, row in enumerate(cells):
        parts = [
            _fold_cell(c, w) if n and i in fold and len(c) > w else [c]
            for i, (c, w) in enumerate(zip(row[:-1], widths[:-1], strict=True))
        ]
        fixed = [
            "  ".join(
                (p[k] if k < len(p) else "").ljust(w)
                for p, w in zip(parts, widths[:-1], strict=True)
            )
            for k in range(max(len(p) for p in parts))
        ]
        if width and room < MIN_LAST_COLUMN:  # too narrow: the last column goes below
            fits = len(fixed[0]) + 2 + len(row[-1]) <= width
            head = fixed[0] + "  " + row[-1] if n == 0 and fits else fixed[0]
            out.write(head.rstrip() + "\n")
            for more in fixed[1:]:
                out.write(more.rstrip() + "\n")
            if n == 0:
                out.write("-" * min(width, len(fixed[0])) + "\n")
            elif row[-1]:
                out.write(
                    textwrap.fill(row[-1], width, initial_indent="    ", subsequent_indent="    ")
                    + "\n"
                )
            continue
        last = [row[-1]]
        if room >= MIN_LAST_COLUMN and n > 0 and len(row[-1]) > room:
            last = textwrap.wrap(row[-1], room) or [""]
        for k in range(max(len(fixed), len(last))):
            left = fixed[k] if k < len(fixed) else " " * (indent - 2)
            right = last[k] if k < len(last) else ""
            out.write((left + "  " + right).rstrip() + "\n")
        if n == 0:
            out.write("  ".join("-" * w for w in widths).rstrip() + "\n")


def _fold_widths(
    widths: list[int], cells: Sequence[Sequence[str]], fold: Sequence[int], width: int
) -> None:
    """Narrow the ``fold`` columns, widest first, until the columns before the last fit in
    ``width``; none narrower than its header or its longest unbreakable piece."""
    excess = sum(widths[:-1]) + 2 * (len(widths) - 2) - width
    for i in sorted(fold, key=lambda i: -widths[i]):
        if excess <= 0:
            break
        floor = max(
            [len(cells[0][i]), *(len(t.rstrip()) for r in cells[1:] for t in _pieces(r[i]))]
        )
        cut = max(0, min(excess, widths[i] - floor))
        widths[i] -= cut
        excess -= cut


def _pieces(text: str) -> list[str]:
    """``text`` cut after each comma and each run of spaces (the pieces keep them)."""
    import re

    return re.findall(r"[^,\s]*,\s*|[^,\s]+\s*|\s+", text) or [""]


def _fold_cell(text: str, width: int) -> list[str]:
    """``text`` on lines of at most ``width`` characters, broken after commas or at spaces
    (a piece longer than ``width`` gets a line of its own)."""
    lines: list[str] = []
    line = ""
    for piece in _pieces(text):
        if line and len(line + piece.rstrip()) > width:
            lines.append(line.rstrip())
            line = piece
        else:
            line += piece
    return [*lines, line.rstrip()]


def _isatty(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def print_problems(problems: Sequence[Problem], stream: TextIO | None = None) -> None:
    out = stream or sys.stderr
    for p in problems:
        out.write(f"{p}\n")


def summary_lines(summary: Summary | None, threshold: ThresholdRecord | None = None) -> list[str]:
    """What the numbers mean, in two lines under a split's metrics: the balanced scores,
    the worst class and the majority-class baseline (``zoo train`` and ``zoo evaluate``).
    With a two-class threshold, the first line says the scores are at that threshold."""
    if summary is None:
        return []
    parts = [
        f"balanced accuracy {summary.balanced_accuracy:.4f}",
        f"macro F1 {summary.macro_f1:.4f}",
        f"worst class '{summary.worst_class}' recall {summary.worst_recall:.4f}",
    ]
    first = "  "
    if summary.threshold is not None:
        how = ""
        if threshold is not None and threshold.maximize and threshold.score is not None:
            how = f" (chosen on validation for {threshold.maximize} {threshold.score:.4f})"
        first += f"at threshold {summary.threshold:.4f}{how}: "
        parts.insert(0, f"accuracy {summary.accuracy:.4f}")
    second = f"  baseline (always '{summary.majority_class}'): accuracy {summary.baseline:.4f}"
    if summary.roc_auc is not None:
        second += f"; ROC AUC {summary.roc_auc:.4f}, PR AUC {summary.pr_auc:.4f}"
    return [first + ", ".join(parts), second]


def warn_collapse(summary: Summary | None, stream: TextIO | None = None) -> None:
    """The one-line warning of a model that learned the class shares, on stderr."""
    if summary is not None and summary.warning:
        sys.stdout.flush()
        (stream or sys.stderr).write(f"zoo: warning: {summary.warning}\n")
