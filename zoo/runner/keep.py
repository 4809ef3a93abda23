"""Which weights a finished run keeps: the one place the weights contract is decided.

``evaluation.weights`` chooses: ``best`` (the best checkpoint's epoch), ``last`` (the last
trained epoch) or ``auto`` (best when a save-best checkpoint monitors a validation metric,
else last). Both files exist whatever is chosen (``checkpoints/last.weights.h5`` and the
best checkpoint), so ``zoo evaluate --weights`` can load the other; the
:class:`~zoo.record.results.WeightsRecord` names both, with their epochs and every metric
logged at each, and says which ``model.keras`` holds.
"""

from __future__ import annotations

from typing import Any, Literal

from zoo.record.results import EpochWeights, WeightsRecord
from zoo.run_files import LAST_WEIGHTS_FILE
from zoo.runner.fit import Training
from zoo.runner.keras_callbacks import Checkpoint


def epoch_logs(rows: list[dict[str, Any]], epoch: int | None) -> dict[str, float]:
    """Everything history.csv logged at ``epoch`` (1-based), but the epoch and phase."""
    for row in rows:
        if int(row["epoch"]) == epoch:
            return {k: float(v) for k, v in row.items() if k not in ("epoch", "phase")}
    return {}


def best_checkpoint(checkpoints: list[Checkpoint], validation_only: bool) -> Checkpoint | None:
    """The first save-best checkpoint that kept something (on a validation metric, when
    ``validation_only``)."""
    for checkpoint in checkpoints:
        if not (checkpoint.spec.save_best_only and checkpoint.best_path):
            continue
        if validation_only and not checkpoint.monitor.startswith("val_"):
            continue
        return checkpoint
    return None


def keep_weights(
    model: Any, training: Training, setting: Literal["auto", "best", "last"]
) -> WeightsRecord:
    """Put the weights ``setting`` (``evaluation.weights``) asks for into ``model`` and
    record the contract (see the module docstring)."""
    rows = training.rows
    last = EpochWeights(
        epoch=training.epochs, file=LAST_WEIGHTS_FILE, metrics=epoch_logs(rows, training.epochs)
    )
    recorded = best_checkpoint(training.checkpoints, validation_only=False)
    best = None
    if recorded is not None:
        best = EpochWeights(
            epoch=recorded.best_epoch or 0,
            file=recorded.best_path,
            metrics=epoch_logs(rows, recorded.best_epoch),
        )
    chosen = (
        None
        if setting == "last"
        else best_checkpoint(training.checkpoints, validation_only=setting == "auto")
    )
    note = None
    if setting == "best" and chosen is None:
        note = "no checkpoint kept a best epoch; the last epoch's weights are used"
    if chosen is not None and chosen is not recorded:  # auto passed over a training-loss one
        best = EpochWeights(
            epoch=chosen.best_epoch or 0,
            file=chosen.best_path,
            metrics=epoch_logs(rows, chosen.best_epoch),
        )
    if chosen is not None:
        chosen.load_best(model)
    else:
        training.last.load_into(model)
    return WeightsRecord(
        setting=setting,
        kept="best" if chosen is not None else "last",
        monitor=watcher.monitor if (watcher := chosen or recorded) is not None else None,
        best=best,
        last=last,
        note=note,
    )
