"""The fit loop: phase after phase (fine-tuning phases recompile with their own learning
rate and unfreeze), resumed from the run's backup when there is one.

``history.csv`` gets a row after every epoch and the backup is written as
``training.backup`` says (and at the end of each phase), so a run killed anywhere resumes
at the epoch after its last backup and ends exactly where an uninterrupted run would.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zoo.record.history import history_epochs
from zoo.runner.backup import Backup
from zoo.runner.callbacks import end_phase, fit_callbacks, make_checkpoints
from zoo.runner.compile import compile_model
from zoo.runner.keras_callbacks import Checkpoint, LastWeights
from zoo.runner.phases import Phase, phases_of
from zoo.runner.setup import Workbench

Restore = tuple[dict[str, Any], dict[str, np.ndarray]]


@dataclass
class Training:
    """What the fit loop leaves for the final step: the rows of history.csv, the
    checkpoints with their best epochs, and the last epoch's weights."""

    run_dir: Path
    backup: Backup
    checkpoints: list[Checkpoint]
    last: LastWeights
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        return int(self.rows[-1]["epoch"]) if self.rows else 0


def fit_all(
    bench: Workbench,
    run_dir: Path,
    backup_dir: str,
    *,
    resuming: bool,
    verbose: int,
    extra: list[Any],
    say_resumed: bool,
) -> Training:
    """Train every phase (from the backup when resuming); returns what was trained."""
    spec = bench.loaded.spec
    training = Training(
        run_dir,
        Backup(run_dir / backup_dir),
        make_checkpoints(spec, run_dir, bench.has_validation),
        LastWeights(run_dir),
    )
    restore = training.backup.load() if resuming and training.backup.exists() else None
    phases = phases_of(spec.training)
    first, epoch = 0, 0
    if restore is not None:
        meta, arrays = restore
        training.rows[:] = list(meta.get("history", []))
        first, epoch = int(meta["phase"]), int(meta["next_epoch"])
        Backup.restore_callbacks(training.checkpoints, meta, arrays)  # they come first
        if meta.get("phase_done") and first + 1 < len(phases):
            first += 1  # that phase had ended: the next one starts
    if say_resumed:
        _say_resumed(len(training.rows), history_epochs(run_dir) or 0)
    # A backup of the last phase after its end (killed while writing the final files)
    # still enters that phase: its model is compiled and restored, and nothing trains.
    for phase in phases[first:]:
        same = restore is not None and int(restore[0]["phase"]) == phase.index
        start = int(restore[0]["phase_start"]) if same and restore is not None else epoch
        if phase.unfreeze is not None:
            set_trainable = bench.loaded.entry("model").capabilities.set_trainable
            assert set_trainable is not None  # zoo validate refuses phases without it
            set_trainable(bench.model, phase.unfreeze)
        with bench.strategy.scope():
            compile_model(
                bench.model,
                spec.training,
                bench.objective,
                phase.learning_rate,
                weighted=bench.replicas > 1,
            )
            if restore is not None:
                training.backup.restore_model(bench.model, restore[1], with_optimizer=same)
        if restore is not None:
            Backup.restore_random(restore[0])
        _fit_phase(bench, training, phase, start, epoch, restore if same else None, verbose, extra)
        restore = None
        epoch = training.epochs or epoch
    for checkpoint in training.checkpoints:
        checkpoint.set_model(bench.model)  # also when no fit ran (resumed after the last)
    training.last.set_model(bench.model)
    return training


def _say_resumed(backed_up: int, recorded: int) -> None:
    """On stderr: the epoch the backup holds, and the epochs after it trained again."""
    where = f"epoch {backed_up}" if backed_up else "the start (no backup yet)"
    lost = (
        f"; epoch {recorded} is trained again"
        if recorded == backed_up + 1
        else f"; epochs {backed_up + 1}-{recorded} are trained again"
        if recorded > backed_up
        else ""
    )
    sys.stderr.write(f"zoo: resumed from {where}{lost}\n")


def _fit_phase(
    bench: Workbench,
    training: Training,
    phase: Phase,
    start: int,
    initial: int,
    restore: Restore | None,
    verbose: int,
    extra: list[Any],
) -> None:
    end = start + phase.epochs
    meta = restore[0] if restore is not None else {}
    if meta.get("phase_done"):
        return  # backed up after the phase had ended
    callbacks, stateful = fit_callbacks(
        bench.loaded.spec,
        training.run_dir,
        phase,
        start,
        initial,
        extra=extra,
        checkpoints=training.checkpoints,
        last=training.last,
        rows=training.rows,
        backup=training.backup,
        restore=restore,
    )
    if restore is not None and (meta.get("stopped") or initial >= end):
        # killed after the phase's last (or early-stopped) epoch, before its end
        end_phase(bench.model, stateful, training.last, training.backup, *restore)
        return
    if initial >= end:
        return
    try:
        bench.model.fit(
            bench.train_from(initial),
            validation_data=bench.val_ds,
            epochs=end,
            initial_epoch=initial,
            steps_per_epoch=bench.pipelines.steps_per_epoch,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,
            class_weight=bench.class_weight if bench.replicas == 1 else None,  # else in batches
        )
    except BaseException as exc:
        for cb in callbacks:  # back up the last epoch if it ended before the error
            rescue = getattr(cb, "rescue", None)
            if rescue is not None:
                rescue(exc)
        raise
