"""``zoo train SPEC --seeds 1,2,3``: one run per seed on one fixed split, and a table of
each metric's mean and spread over the seeds (see :mod:`zoo.record.group`).

Each seed's run is an ordinary run folder inside the group folder, trained by
:func:`zoo.runner.train.train` with ``seed`` set to the seed and ``data.split.seed`` to the
base spec's split seed, so only the initialisation, the shuffling and the augmentation
vary. The group folder is locked while it trains (``zoo runs`` shows it running only while
a live process holds it); an interrupted group resumes with ``zoo train --resume GROUP``:
finished seeds are kept, an interrupted one resumes, missing ones train.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from zoo.errors import Problem, UserError
from zoo.plugin.registry import Registry
from zoo.record.folder import RunLock, create_run_dir, run_state, try_results
from zoo.record.group import (
    GROUP_FILE,
    MAX_SEEDS,
    GroupRecord,
    SeedRun,
    group_table,
    read_group,
    write_group,
    write_table,
)
from zoo.record.history import read_history
from zoo.record.run import FINISHED, now
from zoo.record.writing import save_file
from zoo.run_files import CURVES_FILE, HISTORY_FILE
from zoo.runner.spec_input import SpecLike, load
from zoo.spec.loader import load_spec_text
from zoo.spec.sections import MAX_SEED

CURVE_METRICS = ("loss", "accuracy")


@dataclass
class GroupResult:
    """A finished seed group: its folder, its record (with the table) and its run folders."""

    group_dir: Path
    record: GroupRecord
    run_dirs: list[Path]

    def to_dict(self) -> dict[str, Any]:
        return {
            "group_dir": str(self.group_dir),
            "seeds": self.record.seeds,
            "split_seed": self.record.split_seed,
            "split": self.record.split,
            "runs": [str(p) for p in self.run_dirs],
            "table": [row.model_dump(mode="json") for row in self.record.table],
        }


def check_seeds(seeds: Sequence[object]) -> list[int]:
    """Whole numbers in the seed range, each once, at most :data:`MAX_SEEDS`."""
    problems = []
    values: list[int] = []
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            problems.append(f"a seed is a whole number from 0 to {MAX_SEED} (got {seed!r})")
        elif seed in values:
            problems.append(f"seed {seed} is given twice")
        else:
            values.append(seed)
    if not seeds:
        problems.append("give at least one seed")
    if len(values) > MAX_SEEDS:
        problems.append(f"at most {MAX_SEEDS} seeds")
    if problems:
        raise UserError([Problem(p, "seeds") for p in problems])
    return values


TrainRun = Callable[..., Any]  # zoo.runner.train.train: given, so as not to import it


def train_seeds(
    train: TrainRun,
    spec: SpecLike,
    seeds: Sequence[int],
    *,
    out: str | Path | None = None,
    overrides: Sequence[str] = (),
    registry: Registry | None = None,
    verbose: int | None = None,
    callbacks: Sequence[Any] = (),
) -> GroupResult:
    """Train ``spec`` once per seed on its split; write the group folder and its table."""
    wanted = check_seeds(seeds)
    loaded = load(spec, overrides, registry)
    resolved = loaded.spec.model_dump(mode="json")
    record = GroupRecord(
        name=loaded.spec.name,
        created=now(),
        split_seed=loaded.spec.split_seed,
        runs=[SeedRun(seed=s, run=f"seed-{s}") for s in wanted],
        spec=resolved,
        spec_dir=str(Path(loaded.spec_dir).resolve()) if loaded.spec_dir else None,
    )
    group_dir, lock = create_run_dir(
        out if out is not None else "runs",
        f"{loaded.spec.name}-seeds",
        lambda staging: write_group(staging, record),
    )
    return _train_group(train, group_dir, lock, record, registry, verbose, callbacks)


def resume_seeds(
    train: TrainRun,
    group_dir: str | Path,
    registry: Registry | None = None,
    verbose: int | None = None,
    callbacks: Sequence[Any] = (),
) -> GroupResult:
    """Finish an interrupted group: keep finished seeds, resume or train the others."""
    group_dir = Path(group_dir)
    record = read_group(group_dir)
    lock = RunLock.acquire(group_dir)  # refuses a group another process trains
    return _train_group(train, group_dir, lock, record, registry, verbose, callbacks)


def _train_group(
    train: TrainRun,
    group_dir: Path,
    lock: RunLock,
    record: GroupRecord,
    registry: Registry | None,
    verbose: int | None,
    callbacks: Sequence[Any],
) -> GroupResult:
    try:
        base = yaml.safe_dump(record.spec, sort_keys=False)
        for run in record.runs:
            run_dir = group_dir / run.run
            state = run_state(run_dir) if run_dir.exists() else None
            if state is not None and state.status == FINISHED:
                continue
            if state is not None:
                train(resume=run_dir, registry=registry, verbose=verbose, callbacks=callbacks)
                continue
            seeded = [f"seed={run.seed}", f"data.split.seed={record.split_seed}"]
            spec_dir = Path(record.spec_dir) if record.spec_dir else None
            loaded = load_spec_text(base, str(group_dir / GROUP_FILE), seeded, registry, spec_dir)
            train(loaded, run_dir=run_dir, registry=registry, verbose=verbose, callbacks=callbacks)
        return _finish(group_dir, record)
    finally:
        lock.release()


def _finish(group_dir: Path, record: GroupRecord) -> GroupResult:
    """The table from the runs' own records, seeds.csv and the overlaid curves."""
    run_dirs = [group_dir / r.run for r in record.runs]
    split, table = group_table([try_results(d) for d in run_dirs])
    done = record.model_copy(update={"split": split, "table": table, "finished": now()})
    write_table(group_dir, done)
    histories = {
        f"seed {r.seed}": read_history(d / HISTORY_FILE)
        for r, d in zip(record.runs, run_dirs, strict=True)
        if (d / HISTORY_FILE).exists()
    }
    if histories:
        from zoo.runner.artifacts import plot_overlay

        title = f"{record.name}: {len(record.runs)} seeds, split seed {record.split_seed}"
        save_file(
            group_dir,
            CURVES_FILE,
            lambda tmp: plot_overlay(histories, tmp, CURVE_METRICS, title=title),
        )
    write_group(group_dir, done)  # last: a group with a table is a finished group
    return GroupResult(group_dir, done, run_dirs)
