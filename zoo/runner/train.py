"""``zoo.train(spec)``: from a validated spec to a trained model and a complete run folder.

Order of work, so that a mistake never leaves a half-made run behind:

1. load and check the spec (or, resuming, the run's record, lock and own spec);
2. choose the Keras backend (before Keras is imported; a resumed run keeps its own);
3. seed, load and split the data, build the pipelines, the model, the loss
   (:mod:`zoo.runner.setup`);
4. only then make the run folder, with the resolved spec and its record
   (:mod:`zoo.runner.lifecycle`);
5. train phase by phase (:mod:`zoo.runner.fit`) and write the final files
   (:mod:`zoo.runner.finish`).

The process holds the run's lock from step 4 (from the start when resuming) to the end.
Whatever stopped a run, ``resume=RUN`` / ``zoo train --resume RUN`` finishes it, ending
exactly where an uninterrupted run would. This module does not import Keras: the backend
is chosen first.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from zoo import backend
from zoo.errors import Problem, UserError
from zoo.plugin.registry import Registry
from zoo.record.folder import RunLock, check_out_dir, check_spec_unchanged
from zoo.record.group import is_group
from zoo.record.run import FINISHED, RunRecord, read_run_record
from zoo.record.writing import remove_backup
from zoo.run_files import SPEC_FILE
from zoo.runner.backup import Backup
from zoo.runner.distribute import initialize_hosts
from zoo.runner.results import TrainResult
from zoo.runner.spec_input import SpecLike, load
from zoo.spec.loader import LoadedSpec, load_spec

if TYPE_CHECKING:
    from zoo.runner.seeds import GroupResult

_ONE_RUN = threading.Lock()  # seeds, Keras' session and op determinism are process-wide


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b), key=str):
            out += _differences(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))
        return out
    return [] if a == b else [path or "(root)"]


def _verbose(setting: str | int) -> int:
    if setting == "auto":
        return 1 if sys.stdout.isatty() else 2
    return int(setting)


@overload
def train(
    spec: SpecLike | None = None,
    *,
    out: str | Path | None = None,
    run_dir: str | Path | None = None,
    overrides: Sequence[str] = (),
    resume: str | Path | None = None,
    registry: Registry | None = None,
    verbose: int | None = None,
    callbacks: Sequence[Any] = (),
    seeds: None = None,
) -> TrainResult: ...


@overload
def train(
    spec: SpecLike | None = None,
    *,
    out: str | Path | None = None,
    run_dir: str | Path | None = None,
    overrides: Sequence[str] = (),
    resume: str | Path | None = None,
    registry: Registry | None = None,
    verbose: int | None = None,
    callbacks: Sequence[Any] = (),
    seeds: Sequence[int],
) -> GroupResult: ...


def train(
    spec: SpecLike | None = None,
    *,
    out: str | Path | None = None,
    run_dir: str | Path | None = None,
    overrides: Sequence[str] = (),
    resume: str | Path | None = None,
    registry: Registry | None = None,
    verbose: int | None = None,
    callbacks: Sequence[Any] = (),
    seeds: Sequence[int] | None = None,
) -> TrainResult | GroupResult:
    """Train what ``spec`` describes and write a run folder; returns a :class:`TrainResult`.

    :param spec: a spec file path, a ``LoadedSpec``, a Spec model or a mapping. With
        ``resume`` it may be left out (the run's own spec is used); if given, it must
        resolve to the same spec as the run's.
    :param out: the folder that holds run folders (default ``runs``); a new
        ``<name>-<timestamp>`` folder is made inside, never reusing an existing one.
    :param run_dir: the exact folder for the run instead (must not exist yet).
    :param overrides: ``key.path=value`` strings, validated like the file.
    :param resume: an unfinished run folder to continue from its last backup.
    :param verbose: Keras progress (0 silent, 1 bar, 2 a line per epoch); default from the
        spec (``auto``: a bar on a terminal, a line per epoch otherwise).
    :param callbacks: extra ``keras.callbacks.Callback`` objects, called before the spec's.
    :param seeds: train one run per seed on the spec's split (``data.split.seed``, else its
        ``seed``) in a seed-group folder; returns a :class:`~zoo.runner.seeds.GroupResult`
        with each metric's mean and spread. ``resume=GROUP`` finishes an interrupted group.

    One process trains one run at a time: seeds, Keras' session and op determinism are
    process-wide, so a second ``train`` from another thread is refused, never run with a
    guarantee that does not hold.
    """
    if seeds is not None or (resume is not None and is_group(Path(resume))):
        return _seed_group(
            spec, out, run_dir, overrides, resume, registry, verbose, callbacks, seeds
        )
    started = time.perf_counter()
    if not _ONE_RUN.acquire(blocking=False):
        raise UserError(
            "another zoo.train is running in this process; seeds and Keras' state "
            "are process-wide, so runs in threads of one process would not be "
            "repeatable: train them one after another, or in separate processes"
        )
    try:
        return _train(
            spec,
            out=out,
            run_dir=run_dir,
            overrides=overrides,
            resume=resume,
            registry=registry,
            verbose=verbose,
            callbacks=callbacks,
            started=started,
        )
    finally:
        _ONE_RUN.release()


def _seed_group(
    spec: SpecLike | None,
    out: str | Path | None,
    run_dir: str | Path | None,
    overrides: Sequence[str],
    resume: str | Path | None,
    registry: Registry | None,
    verbose: int | None,
    callbacks: Sequence[Any],
    seeds: Sequence[int] | None,
) -> GroupResult:
    """``train(seeds=...)`` and ``train(resume=GROUP)``: see :mod:`zoo.runner.seeds`."""
    from zoo.runner.seeds import resume_seeds, train_seeds

    if run_dir is not None:
        raise UserError("seeds train into a group folder under out=; run_dir= names one run")
    if resume is not None:
        if seeds is not None or spec is not None or overrides:
            raise UserError("a seed group resumes with its own spec and seeds")
        return resume_seeds(train, resume, registry, verbose, callbacks)
    if spec is None:
        raise UserError("train() needs a spec to train with seeds")
    assert seeds is not None
    return train_seeds(
        train,
        spec,
        seeds,
        out=out,
        overrides=overrides,
        registry=registry,
        verbose=verbose,
        callbacks=callbacks,
    )


def _train(
    spec: SpecLike | None,
    *,
    out: str | Path | None,
    run_dir: str | Path | None,
    overrides: Sequence[str],
    resume: str | Path | None,
    registry: Registry | None,
    verbose: int | None,
    callbacks: Sequence[Any],
    started: float,
) -> TrainResult:
    record: RunRecord | None = None
    lock: RunLock | None = None
    if resume is not None:
        resume = Path(resume)
        if not resume.is_dir():
            raise UserError([Problem("no such run folder", str(resume))])
        read_run_record(resume)  # a missing or damaged run is a clear error before the lock
        lock = RunLock.acquire(resume)  # refuses a run another process trains
    try:
        if resume is not None:
            record, loaded = _resumable(resume, spec, overrides, registry)
        else:
            if spec is None:
                raise UserError("train() needs a spec (or resume=RUN)")
            if out is not None and run_dir is None:
                check_out_dir(out)
            loaded = load(spec, overrides, registry)
        _use_backend(loaded, record, resume)
        from zoo.runner.lifecycle import Where, run  # imports Keras: after the backend

        where = Where(
            Path(out) if out is not None else None,
            Path(run_dir) if run_dir is not None else None,
            resume,
        )
        held, lock = lock, None  # run() releases it
        return run(
            loaded,
            where,
            record,
            held,
            verbose=_verbose(loaded.spec.training.verbose) if verbose is None else verbose,
            quiet=verbose == 0,
            extra=list(callbacks),
            started=started,
        )
    finally:
        if lock is not None:
            lock.release()


def _use_backend(loaded: LoadedSpec, record: RunRecord | None, run: Path | None) -> None:
    """Switch Keras to the spec's backend before anything imports it; a resumed run keeps
    the backend it started on (its optimizer state and random streams belong to it)."""
    key = "runtime.backend"
    if record is not None:
        wanted = record.backend or backend.DEFAULT_BACKEND
        problems = backend.problems_for(wanted, key)
        if problems:
            raise UserError(
                [Problem(f"the run trained on '{wanted}': {p.message}", str(run)) for p in problems]
            )
        backend.activate(wanted, key)
    else:
        try:
            backend.activate(backend.requested(loaded.spec.runtime.backend), key)
        except UserError as exc:
            raise loaded.located(exc.problems) from None
    try:  # a multi-host JAX run joins its peers before JAX computes anything
        initialize_hosts(loaded.spec.runtime)
    except UserError as exc:
        raise loaded.located(exc.problems) from None


def _resumable(
    run: Path, spec: SpecLike | None, overrides: Sequence[str], registry: Registry | None
) -> tuple[RunRecord, LoadedSpec]:
    """The record and the spec of a run to resume (read under its lock), or a UserError."""
    record = read_run_record(run)
    if record.status == FINISHED:
        if (run / record.backup_dir).exists():
            remove_backup(run, record.backup_dir)  # killed just after it finished
        raise UserError([Problem("this run already finished; start a new one", str(run))])
    check_spec_unchanged(run, record)
    backup = Backup(run / record.backup_dir)
    if backup.exists():
        backup.load()  # a damaged backup: a clear error now, before data and model
    base = Path(record.spec_dir) if record.spec_dir else run
    loaded = load_spec(run / SPEC_FILE, registry=registry, base_dir=base)
    if spec is not None:
        given = load(spec, overrides, registry)
        diff = _differences(given.resolved(), loaded.resolved())
        if diff:
            raise UserError(
                [
                    Problem(
                        "the spec differs from the run's spec at: "
                        + ", ".join(diff[:10])
                        + "; resume with the run's own spec (leave SPEC out)",
                        str(run),
                    )
                ]
            )
    return record, loaded
