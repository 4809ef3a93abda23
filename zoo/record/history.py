"""``history.csv``: one row per epoch (epoch, phase, loss, metrics, learning_rate).

The one writer (the runner, after every epoch) and the one reader (``zoo runs``, ``--compare``,
the run's curves) of the file, so every verb counts the same epochs from it.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from zoo.io import atomic_path
from zoo.record.files import MAX_TABLE_BYTES, RecordError, read_text
from zoo.record.writing import writing

History = dict[str, list[float]]


def write_history(path: Path, rows: list[dict[str, Any]]) -> None:
    """The rows as CSV, columns in first-seen order, replaced atomically."""
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with writing(path.parent, path.name):
        with atomic_path(path) as tmp:
            tmp.write_text(buf.getvalue(), encoding="utf-8")


def read_history(path: Path) -> History:
    """history.csv as ``{column: [values]}``: empty cells become NaN; a file that is not a
    table of numbers with an ``epoch`` column (hand-edited, damaged, a special file) is a
    :class:`~zoo.record.files.RecordError`."""
    text = read_text(path, MAX_TABLE_BYTES)
    try:
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise RecordError(f"{path}: is not a CSV table ({exc})") from None
    columns = list(rows[0]) if rows else []
    if rows and "epoch" not in columns:
        raise RecordError(f"{path}: has no epoch column (columns: {', '.join(columns[:10])})")
    out: History = {}
    for c in columns:
        values = []
        for i, row in enumerate(rows, start=2):
            cell = row.get(c)
            try:
                values.append(float(cell) if cell not in ("", None) else math.nan)
            except (TypeError, ValueError):
                raise RecordError(f"{path}:{i}: {c}: not a number ({str(cell)[:40]!r})") from None
        out[str(c)] = values
    return out


def history_epochs(run_dir: Path) -> int | None:
    """Epochs recorded in history.csv: 0 without one, None when it cannot be read."""
    path = run_dir / "history.csv"
    if not (path.exists() or path.is_symlink()):
        return 0
    try:
        history = read_history(path)
    except RecordError:
        return None
    return len(history.get("epoch", []))
