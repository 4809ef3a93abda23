"""A seed group: one spec trained once per seed on one fixed split (``zoo train --seeds``).

The group folder holds ``group.json`` (:class:`GroupRecord`: the seeds, the split seed, the
base spec, where each seed's run is and, once every run finished, the table), ``seeds.csv``
(each metric's mean, standard deviation and per-seed values) and ``curves.png`` (every
seed's validation curves on one set of axes), beside one ordinary run folder per seed
(``seed-<n>/``). The table is computed from the runs' own ``metrics.json``: the group never
holds a number its runs do not.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from zoo.record.files import load_record
from zoo.record.results import Results
from zoo.record.run import Record, _inside_run
from zoo.record.writing import write_json, write_text
from zoo.spec.sections import MAX_SEED

GROUP_FILE = "group.json"
TABLE_FILE = "seeds.csv"
GROUP_FORMAT = 1
MAX_SEEDS = 100
# Besides each run's test scores: the summary's balanced view, when not among the scores.
SUMMARY_ROWS = ("balanced_accuracy", "macro_f1", "worst_recall", "baseline")


class SeedRun(Record):
    seed: int = Field(ge=0, le=MAX_SEED)
    run: str  # the run folder, relative to the group folder

    @field_validator("run")
    @classmethod
    def _inside(cls, value: str) -> str:
        return _inside_run(value)


class MetricRow(Record):
    """One metric over the seeds: mean, sample standard deviation (n - 1; None for one
    seed) and the value of each seed, in the group's seed order (None: the run has none)."""

    metric: str
    mean: float
    std: float | None
    values: list[float | None]


class GroupRecord(Record):
    """Everything ``group.json`` says; see the module docstring."""

    kind: Literal["zoo-seed-group"] = "zoo-seed-group"
    format: int = GROUP_FORMAT
    name: str = Field(min_length=1, max_length=500)
    created: str
    finished: str | None = None
    split_seed: int = Field(ge=0, le=MAX_SEED)
    runs: list[SeedRun] = Field(min_length=1, max_length=MAX_SEEDS)
    spec: dict[str, Any] = Field(default_factory=dict)  # resolved; each run sets its seed
    spec_dir: str | None = None  # where the spec's relative paths start
    split: str | None = None  # the split the table's scores come from
    table: list[MetricRow] = Field(default_factory=list)

    @property
    def seeds(self) -> list[int]:
        return [r.seed for r in self.runs]

    def row(self, metric: str) -> MetricRow | None:
        return next((r for r in self.table if r.metric == metric), None)


def is_group(path: Path) -> bool:
    return (path / GROUP_FILE).exists() or (path / GROUP_FILE).is_symlink()


def read_group(group_dir: Path) -> GroupRecord:
    """``group.json``; damaged: a located RecordError."""
    return load_record(GroupRecord, Path(group_dir) / GROUP_FILE, "seed group")


def write_group(group_dir: Path, record: GroupRecord) -> None:
    write_json(group_dir, GROUP_FILE, record.model_dump(mode="json"), None)


def group_table(results: list[Results | None]) -> tuple[str | None, list[MetricRow]]:
    """The evaluated split and a row per metric over the runs' results (seed order)."""
    split = next((r.split for r in results if r is not None and r.split), None)
    columns: list[dict[str, float]] = []
    for r in results:
        values: dict[str, float] = dict(r.scores) if r is not None else {}
        summary = r.summary if r is not None else None
        if summary is not None:
            for name in SUMMARY_ROWS:
                values.setdefault(name, float(getattr(summary, name)))
        columns.append(values)
    names: list[str] = []
    for values in columns:
        names += [n for n in values if n not in names]
    rows = []
    for name in names:
        per_seed = [c.get(name) for c in columns]
        present = [v for v in per_seed if v is not None and math.isfinite(v)]
        if not present:
            continue
        std = statistics.stdev(present) if len(present) > 1 else None
        rows.append(
            MetricRow(metric=name, mean=statistics.fmean(present), std=std, values=per_seed)
        )
    return split, rows


def table_csv(record: GroupRecord) -> str:
    """``seeds.csv``: metric, mean, std, then one column per seed."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["metric", "mean", "std", *(f"seed {s}" for s in record.seeds)])
    for row in record.table:
        writer.writerow(
            [
                row.metric,
                repr(row.mean),
                "" if row.std is None else repr(row.std),
                *("" if v is None else repr(v) for v in row.values),
            ]
        )
    return out.getvalue()


def write_table(group_dir: Path, record: GroupRecord) -> None:
    write_text(group_dir, TABLE_FILE, table_csv(record), None)
