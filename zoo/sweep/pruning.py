"""The Keras callback that reports a trial's objective to Optuna and stops a pruned trial
(this module imports Keras; ``zoo.sweep.run`` imports it once a backend is chosen)."""

from __future__ import annotations

import math
from typing import Any

import keras


class TrialPruning(keras.callbacks.Callback):
    """Reports ``monitor`` each epoch; when Optuna says prune it stops training cleanly (the
    run folder finishes, with what it trained) and remembers the epoch."""

    def __init__(self, trial: Any, monitor: str) -> None:
        super().__init__()
        self.trial, self.monitor = trial, monitor
        self.pruned_at: int | None = None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(float(value)):
            return
        self.trial.report(float(value), epoch)
        if self.trial.should_prune():
            self.pruned_at = epoch
            self.model.stop_training = True
