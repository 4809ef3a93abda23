"""A spec's ``callbacks`` list as Keras objects, plus the ones every run has.

:func:`zoo.spec.callback_checks.check_callbacks` judges the list before anything runs;
:func:`fit_callbacks` makes one phase's callbacks in the order that matters. The classes
themselves live in :mod:`zoo.runner.keras_callbacks` (Keras is imported when this module's
functions are called, never when it is imported).

``model_checkpoint`` fills Keras-style templates
(``weights.{epoch:03d}-{val_loss:.4f}-{acc:.4f}.weights.h5``) and writes atomically;
``acc``/``val_acc`` are accepted as names of ``accuracy``/``val_accuracy``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from zoo.record.writing import fault, wants_fault
from zoo.run_files import BEST_WEIGHTS_FILE, HISTORY_FILE
from zoo.runner.backup import Backup
from zoo.runner.compile import schedule_fn
from zoo.runner.phases import Phase
from zoo.spec.callback_checks import inside
from zoo.spec.metrics import monitor_mode, normalize_monitor
from zoo.spec.sections import ModelCheckpointCallback, SpecBase

if TYPE_CHECKING:  # the classes import Keras; this module must not
    from zoo.runner.keras_callbacks import Checkpoint, LastWeights

Restore = tuple[dict[str, Any], dict[str, np.ndarray]]


def make_checkpoints(spec: SpecBase, run_dir: Path, has_validation: bool) -> list[Checkpoint]:
    """The spec's checkpoints, and the run's own best-weights file when none keeps the best.

    Made once per run (not per phase): they keep their best value across phases.
    """
    from zoo.runner.keras_callbacks import Checkpoint

    checkpoints = [
        Checkpoint(c, run_dir, key=f"callbacks.{i}.filepath")
        for i, c in enumerate(spec.callbacks)
        if isinstance(c, ModelCheckpointCallback)
    ]
    if not any(c.spec.save_best_only for c in checkpoints):
        default = ModelCheckpointCallback.model_construct(  # a name specs may not take
            type="model_checkpoint",
            monitor="val_loss" if has_validation else "loss",
            filepath=BEST_WEIGHTS_FILE,
        )
        checkpoints.append(Checkpoint(default, run_dir, lazy=True))
    return checkpoints


def fit_callbacks(
    spec: SpecBase,
    run_dir: Path,
    phase: Phase,
    start: int,
    initial: int,
    *,
    extra: list[Any],
    checkpoints: list[Checkpoint],
    last: LastWeights,
    rows: list[dict[str, Any]],
    backup: Backup,
    restore: Restore | None,
) -> tuple[list[Any], list[Any]]:
    """Every Keras callback of one phase's ``fit``, and those whose state the backup keeps.

    ``start`` is the phase's first epoch (0-based) and ``initial`` the epoch this fit starts
    at (later when resuming). The order matters: the NaN guard first (a NaN epoch reaches
    nothing else), the last-weights keeper (its ``on_train_end`` runs before early stopping
    restores the best weights), the caller's ``extra`` callbacks, the spec's, the
    checkpoints, history.csv, and the backup last, so that it saves what every other
    callback did with the epoch.
    """
    import keras

    from zoo.runner.keras_callbacks import FaultHook, HistoryWriter, NanGuard, RunBackup

    callbacks: list[Any] = [NanGuard(phase.index), last, *extra]
    stateful: list[Any] = list(checkpoints)
    csv_paths = [run_dir / HISTORY_FILE]
    schedule = spec.training.schedule
    for i, c in enumerate(spec.callbacks):
        key = f"callbacks.{i}"
        if c.type == "reduce_lr_on_plateau":
            m = normalize_monitor(c.monitor)
            cb: Any = keras.callbacks.ReduceLROnPlateau(
                monitor=m,
                factor=c.factor,
                patience=c.patience,
                mode=monitor_mode(m, c.mode),
                min_lr=c.min_lr,
            )
            stateful.append(cb)
            callbacks.append(cb)
        elif c.type == "early_stopping":
            m = normalize_monitor(c.monitor)
            cb = keras.callbacks.EarlyStopping(
                monitor=m,
                patience=c.patience,
                min_delta=c.min_delta,
                mode=monitor_mode(m, c.mode),
                restore_best_weights=c.restore_best_weights,
            )
            stateful.append(cb)
            callbacks.append(cb)
        elif c.type == "learning_rate_scheduler":
            schedule = c.schedule
        elif c.type == "tensorboard":
            callbacks.append(
                keras.callbacks.TensorBoard(
                    log_dir=str(inside(run_dir, c.log_dir, f"{key}.log_dir")),
                    histogram_freq=c.histogram_freq,
                )
            )
        elif c.type == "csv_logger":
            csv_paths.append(inside(run_dir, c.filename, f"{key}.filename"))
    if schedule is not None:
        fn = schedule_fn(schedule, phase.learning_rate, phase.epochs)
        callbacks.insert(
            2 + len(extra),
            keras.callbacks.LearningRateScheduler(lambda epoch, lr: fn(epoch - start)),
        )

    def meta(next_epoch: int | None, done: bool) -> dict[str, Any]:
        return {
            "phase": phase.index,
            "phase_start": start,
            "phase_done": done,
            "next_epoch": next_epoch
            if next_epoch is not None
            else (int(rows[-1]["epoch"]) if rows else initial),
            "history": rows,
        }

    callbacks += checkpoints
    callbacks.append(HistoryWriter(csv_paths, rows, phase.index))
    callbacks.append(RunBackup(backup, meta, stateful, restore, spec.training.backup))
    if wants_fault("mid_epoch"):
        callbacks.append(FaultHook())
    return callbacks, stateful


def end_phase(
    model: Any,
    stateful: list[Any],
    last: LastWeights,
    backup: Backup,
    meta: dict[str, Any],
    arrays: dict[str, np.ndarray],
) -> None:
    """Finish a phase whose last epoch (or early stop) was backed up but whose end was not:
    what ``fit`` does after its last epoch (the last weights saved, then EarlyStopping puts
    its best weights back), then the end-of-phase backup."""
    Backup.restore_callbacks(stateful, meta, arrays)
    last.save(model)
    for cb in stateful:
        cb.set_model(model)
        if type(cb).__name__ == "EarlyStopping":
            cb.on_train_end()
    done = {k: v for k, v in meta.items() if k not in ("callbacks", "random", "stopped")}
    done.update(phase_done=True, next_epoch=int(meta["next_epoch"]))
    backup.save(model, done, stateful)
    fault("phase_end", int(meta["phase"]))
