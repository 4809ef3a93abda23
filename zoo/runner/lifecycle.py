"""One run from its workbench to its end, and how each ending is recorded.

:func:`run` sets the run up (:mod:`zoo.runner.setup`), makes or re-opens its folder with
the first record, trains (:mod:`zoo.runner.fit`), writes the final files
(:mod:`zoo.runner.finish`), and records how it ended: a :class:`~zoo.errors.UserError`
before the first epoch removes the new run folder; a NaN loss or a crash marks it
``failed`` with the reason, Ctrl-C or a full disk ``interrupted``; a kill leaves it
``running`` with its lock free, which reads as interrupted. This module imports Keras.
"""

from __future__ import annotations

import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zoo.backend import input_pipeline
from zoo.data.fingerprint import combined
from zoo.data.prepared import PreparedData
from zoo.errors import UserError
from zoo.record.folder import RunLock, create_run_dir, make_run_dir, versions, write_spec
from zoo.record.history import history_epochs
from zoo.record.run import (
    FAILED,
    INTERRUPTED,
    RUNNING,
    DataRecord,
    ObjectiveRecord,
    PluginUse,
    RunRecord,
    ScalingRecord,
    StrategyRecord,
    now,
    write_run_record,
)
from zoo.record.writing import DiskFull, remove_leftovers
from zoo.run_files import DEFAULT_BACKUP_DIR
from zoo.runner.finish import finish
from zoo.runner.fit import Training, fit_all
from zoo.runner.keras_callbacks import TrackEpochs
from zoo.runner.outcome import RunFailed
from zoo.runner.results import TrainResult
from zoo.runner.setup import Workbench, set_up
from zoo.runner.tracking import Trackers, enabled
from zoo.spec.loader import LoadedSpec
from zoo.spec.sections import BackupAndRestoreCallback


@dataclass
class Where:
    """Where a run goes: a new folder under ``out``, exactly ``run_dir``, or ``resume``."""

    out: Path | None = None
    run_dir: Path | None = None
    resume: Path | None = None


def run(
    loaded: LoadedSpec,
    where: Where,
    record: RunRecord | None,
    lock: RunLock | None,
    *,
    verbose: int,
    quiet: bool,
    extra: list[Any],
    started: float,
) -> TrainResult:
    """Set up, train and finish one run; see the module docstring."""
    bench = set_up(loaded, record)
    backup_dir = _backup_dir(loaded)
    try:
        if where.resume is not None:
            assert record is not None
            run_dir = where.resume
            remove_leftovers(run_dir)  # temporary files of writes a kill cut short
            record = record.model_copy(
                update={
                    "status": RUNNING,
                    "reason": None,
                    "ended": None,
                    "resumed": [*record.resumed, now()],
                }
            )
            write_run_record(run_dir, record)
            created = False
        else:
            run_dir, lock, record = _create(loaded, new_record(bench, backup_dir), where, bench)
            created = True
        trackers = Trackers.create(enabled(), loaded.registry) if enabled() else None
        if trackers is not None:
            trackers.start(run_dir, loaded.resolved(), record)
            extra = [*extra, TrackEpochs(trackers)]
        ending = _Ending(run_dir, record, created, trackers)
        return ending.watch(
            lambda: _train(
                bench, run_dir, backup_dir, record, where, verbose, quiet, extra, started, ending
            )
        )
    finally:
        if lock is not None:
            lock.release()
        close = getattr(bench.strategy, "close", None)
        if close is not None:
            close()


def _train(
    bench: Workbench,
    run_dir: Path,
    backup_dir: str,
    record: RunRecord,
    where: Where,
    verbose: int,
    quiet: bool,
    extra: list[Any],
    started: float,
    ending: _Ending,
) -> TrainResult:
    training = fit_all(
        bench,
        run_dir,
        backup_dir,
        resuming=where.resume is not None,
        verbose=verbose,
        extra=extra,
        say_resumed=where.resume is not None and not quiet,
    )
    ending.training = training
    result, done = finish(bench, training, record, time.perf_counter() - started)
    ending.record = done
    return result


def _create(
    loaded: LoadedSpec, record: RunRecord, where: Where, bench: Workbench
) -> tuple[Path, RunLock, RunRecord]:
    """The new run folder, holding the resolved spec and the first record, locked."""
    host = int(getattr(bench.strategy, "process_id", 0))  # a multi-host run's process
    suffix = f"-host{host}" if host else ""  # each host writes a run folder of its own
    written = [record]

    def fill(folder: Path) -> None:
        sha = write_spec(folder, loaded.resolved())
        written.append(record.model_copy(update={"spec_sha256": sha}))
        write_run_record(folder, written[-1])

    if where.run_dir is not None:
        run_dir, lock = make_run_dir(str(where.run_dir) + suffix, fill)
    else:
        run_dir, lock = create_run_dir(where.out or "runs", loaded.spec.name + suffix, fill)
    return run_dir, lock, written[-1]


def _backup_dir(loaded: LoadedSpec) -> str:
    return next(
        (c.backup_dir for c in loaded.spec.callbacks if isinstance(c, BackupAndRestoreCallback)),
        DEFAULT_BACKUP_DIR,
    )


def data_record(prepared: PreparedData) -> DataRecord:
    return DataRecord(
        fingerprint=combined(prepared.fingerprints),
        splits=dict(prepared.fingerprints),
        cache=prepared.cache,
        cache_entry=str(prepared.cache_entry) if prepared.cache_entry else None,
    )


def new_record(bench: Workbench, backup_dir: str) -> RunRecord:
    """The first record of a new run: what it is, before anything trains."""
    import keras

    loaded, prepared = bench.loaded, bench.prepared
    spec = loaded.spec
    scaling = bench.pipelines.scaling
    backend = str(keras.backend.backend())
    weights = bench.class_weight
    return RunRecord(
        name=spec.name,
        status=RUNNING,
        created=now(),
        spec_version=spec.spec_version,
        seed=spec.seed,
        deterministic=bench.deterministic,
        spec_dir=str(loaded.spec_dir),
        versions=versions(),
        plugins={
            section: PluginUse(
                name=entry.name,
                plugin=entry.provenance.plugin,
                distribution=entry.provenance.distribution,
                version=entry.provenance.version,
                module=entry.provenance.module,
            )
            for section, entry in loaded.entries.items()
        },
        class_names=list(prepared.class_names),
        image_shape=prepared.image_shape,
        resize=spec.data.resize,
        sizes={k: len(v) for k, v in prepared.splits().items()},
        skipped_files=list(prepared.skipped),
        data=data_record(prepared),
        scaling=ScalingRecord(recipe=spec.scaling.recipe, state=scaling.state()),
        objective=ObjectiveRecord(**bench.objective.describe()),
        backend=backend,
        input=input_pipeline(spec.runtime.input),
        strategy=StrategyRecord(
            name=(
                spec.training.distribute.strategy
                if backend == "tensorflow"
                else spec.runtime.distribution
            ),
            replicas=int(bench.strategy.num_replicas_in_sync),
            hosts=int(getattr(bench.strategy, "processes", 1)),
            mixed_precision=spec.training.distribute.mixed_precision,
        ),
        class_weight=(
            {prepared.class_names[i]: w for i, w in weights.items()} if weights else None
        ),
        backup_dir=backup_dir,
    )


class _Ending:
    """Records how a run ended, whatever stops it (see the module docstring)."""

    def __init__(
        self, run_dir: Path, record: RunRecord, created: bool, trackers: Trackers | None
    ) -> None:
        self.run_dir, self.record, self.created = run_dir, record, created
        self.trackers = trackers
        self.training: Training | None = None

    def watch(self, work: Any) -> TrainResult:
        try:
            result: TrainResult = work()
        except DiskFull as exc:
            self._ended(INTERRUPTED, exc.problems[0].message)
            raise
        except UserError as exc:
            if self.created and not history_epochs(self.run_dir):
                self._discard()  # nothing trained yet: leave nothing half-made behind
            else:
                self._ended(FAILED, "; ".join(str(p) for p in exc.problems))
            raise
        except RunFailed as exc:
            exc.run_dir = self.run_dir
            self._ended(FAILED, exc.reason)
            raise
        except KeyboardInterrupt:
            self._ended(INTERRUPTED, "interrupted (Ctrl-C)")
            sys.stderr.write(
                "\nzoo: training interrupted; continue it with: "
                f"zoo train --resume {self.run_dir}\n"
            )
            raise
        except BaseException as exc:
            self._ended(FAILED, f"{type(exc).__name__}: {exc}"[:500])
            raise
        if self.trackers is not None:
            self.trackers.finish("finished", result.results, self.run_dir)
        return result

    def _ended(self, status: str, reason: str) -> None:
        """The record with the new status, written if the disk lets us: when it cannot be
        (a full disk), the lock still tells the truth (a run nobody holds never shows as
        running)."""
        self.record = self.record.ended_as(status, reason)  # type: ignore[arg-type]
        try:
            write_run_record(self.run_dir, self.record)
        except (OSError, UserError):
            pass
        if self.trackers is not None:
            self.trackers.finish(status, None, self.run_dir)

    def _discard(self) -> None:
        """A user error after the folder was made: leave nothing half-written behind."""
        shutil.rmtree(self.run_dir, ignore_errors=True)
        if self.trackers is not None:
            self.trackers.finish(FAILED, None, self.run_dir)
