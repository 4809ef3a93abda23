"""The Keras callbacks every run has, as classes (this module imports Keras).

- :class:`Checkpoint`: ``model_checkpoint`` entries and the run's own best-weights file,
  written atomically; it remembers the best epoch it kept.
- :class:`LastWeights`: writes ``checkpoints/last.weights.h5`` at the end of each phase,
  before early stopping puts its best weights back (so the file always holds the last
  trained epoch's weights).
- :class:`HistoryWriter`: a row per epoch into ``history.csv`` (and ``csv_logger`` files).
- :class:`NanGuard`: stops at an epoch whose loss is not finite, before anything records it.
- :class:`RunBackup`: the resumable backup (:mod:`zoo.runner.backup`), put last.
- :class:`FaultHook`: ``ZOO_FAULT=mid_epoch@N`` for fault-injection tests.

Which of them a phase gets, from the spec, is :func:`zoo.runner.callbacks.fit_callbacks`.
"""

from __future__ import annotations

import errno
import math
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import numpy as np

from zoo.errors import Problem, UserError
from zoo.record.history import write_history
from zoo.record.writing import DiskFull, fault, save_file, wants_fault
from zoo.run_files import LAST_WEIGHTS_FILE
from zoo.runner.aux_outputs import inference_model
from zoo.runner.backup import BackgroundWriter, Backup, backup_due
from zoo.runner.outcome import RunFailed
from zoo.runner.tracking import Trackers
from zoo.spec.callback_checks import FORMAT_ERRORS, inside, name_length_problem
from zoo.spec.metrics import ALIASES, monitor_mode, normalize_monitor
from zoo.spec.sections import BackupSpec, ModelCheckpointCallback

Logs = dict[str, Any] | None
BackupMeta = Callable[[int | None, bool], dict[str, Any]]
Restore = tuple[dict[str, Any], dict[str, np.ndarray]]


def aliased(logs: dict[str, Any]) -> dict[str, Any]:
    """Keras logs as floats, with the ``acc``/``val_acc`` aliases filled in."""
    out = {k: float(v) if np.ndim(v) == 0 else v for k, v in logs.items()}
    for alias, name in ALIASES.items():
        if name in out and alias not in out:
            out[alias] = out[name]
    return out


class Checkpoint(keras.callbacks.Callback):
    """Save the model or its weights when the monitored metric improves (or every epoch).

    ``lazy`` (the run's own best-weights file, when the spec asks for no checkpoint) keeps
    the best weights in memory and in the backup, and writes the file once, at
    :meth:`flush`: an HDF5 write each improving epoch costs a few percent of a short epoch.
    """

    def __init__(
        self,
        cb_spec: ModelCheckpointCallback,
        run_dir: Path,
        lazy: bool = False,
        key: str = "callbacks.filepath",
    ) -> None:
        super().__init__()
        self.spec = cb_spec
        self.run_dir = run_dir
        self.key = key
        self.template = str(inside(run_dir, cb_spec.filepath, key))
        self.monitor = normalize_monitor(cb_spec.monitor)
        self.mode = monitor_mode(self.monitor, cb_spec.mode)
        self.best: float | None = None
        self.best_epoch: int | None = None  # 1-based, the epoch ``best`` was logged at
        self.best_path: str | None = None
        self.last_path: str | None = None
        self.lazy = lazy and cb_spec.save_best_only and cb_spec.save_weights_only
        self.best_weights: list[np.ndarray] | None = None

    def _improved(self, value: float) -> bool:
        if self.best is None:
            return True
        return value < self.best if self.mode == "min" else value > self.best

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        values = aliased(logs or {})
        value = values.get(self.monitor)
        if self.spec.save_best_only:
            if value is None or not self._improved(value):
                return
            self.best, self.best_epoch = value, epoch + 1
        path = Path(self._file_name(epoch + 1, values))
        name = str(path.relative_to(self.run_dir))
        if self.lazy:
            self.best_weights = self.model.get_weights()
            self.best_path = self.last_path = name
            return
        if self.spec.save_weights_only:
            self._save(name, lambda tmp: self.model.save_weights(str(tmp)))
        else:
            self._save(name, lambda tmp: self.model.save(str(tmp)))
        self.last_path = name
        if self.spec.save_best_only:
            self.best_path = self.last_path

    def _file_name(self, epoch: int, logs: dict[str, Any]) -> str:
        """The template filled in; a template that cannot be is a UserError, not a crash."""
        try:
            name = self.template.format(epoch=epoch, **logs)
        except FORMAT_ERRORS as exc:
            why = f"cannot make a file name from {self.spec.filepath!r}: {exc}"
            raise UserError([Problem(why, key_path=self.key)]) from None
        too_long = name_length_problem(name)
        if too_long:
            raise UserError([Problem(too_long, key_path=self.key)])
        return name

    def _save(self, name: str, save: Callable[[Path], Any], step: str | None = None) -> None:
        try:
            save_file(self.run_dir, name, save, step)
        except OSError as exc:
            if exc.errno != errno.ENAMETOOLONG:
                raise
            raise UserError([Problem(f"file name too long: {name}", key_path=self.key)]) from None

    def flush(self) -> None:
        """Write the best weights a lazy checkpoint holds (the model keeps its own)."""
        if not self.lazy or self.best_weights is None or self.best_path is None:
            return
        current = self.model.get_weights()
        self.model.set_weights(self.best_weights)
        try:
            self._save(self.best_path, lambda tmp: self.model.save_weights(str(tmp)), "checkpoint")
        finally:
            self.model.set_weights(current)

    def load_best(self, model: Any) -> None:
        """The best weights this checkpoint kept, into ``model`` (in memory, a weights file
        or a whole saved model)."""
        if self.lazy and self.best_weights is not None:
            model.set_weights(self.best_weights)
            return
        assert self.best_path is not None
        path = self.run_dir / self.best_path
        if str(path).endswith(".weights.h5"):
            model.load_weights(str(path))
        else:
            saved = keras.saving.load_model(str(path), compile=False, safe_mode=True)
            model.set_weights(saved.get_weights())

    def get_state(self) -> dict[str, Any]:
        return {
            "best": self.best,
            "best_epoch": self.best_epoch,
            "best_path": self.best_path,
            "last_path": self.last_path,
        }

    def get_arrays(self) -> list[np.ndarray]:
        return list(self.best_weights or []) if self.lazy else []

    def set_state(self, state: dict[str, Any], arrays: list[np.ndarray]) -> None:
        self.best, self.best_path = state.get("best"), state.get("best_path")
        self.best_epoch, self.last_path = state.get("best_epoch"), state.get("last_path")
        if self.lazy and arrays:
            self.best_weights = list(arrays)


class LastWeights(keras.callbacks.Callback):
    """``checkpoints/last.weights.h5``: the weights of the last epoch a phase trained.

    Put before the spec's callbacks: Keras calls ``on_train_end`` in list order, so this
    saves the weights before ``EarlyStopping(restore_best_weights=True)`` replaces them.
    """

    def __init__(self, run_dir: Path) -> None:
        super().__init__()
        self.run_dir = run_dir
        self.weights: list[np.ndarray] | None = None  # the training model's, this process

    def on_train_end(self, logs: Logs = None) -> None:
        self.save(self.model)

    def save(self, model: Any) -> None:
        self.weights = model.get_weights()
        saved = inference_model(model)
        save_file(
            self.run_dir, LAST_WEIGHTS_FILE, lambda tmp: saved.save_weights(str(tmp)), "checkpoint"
        )

    def load_into(self, model: Any) -> None:
        """The last epoch's weights into ``model`` (from memory, else from the file)."""
        if self.weights is not None:
            model.set_weights(self.weights)
        else:
            inference_model(model).load_weights(str(self.run_dir / LAST_WEIGHTS_FILE))


class HistoryWriter(keras.callbacks.Callback):
    """Appends a row per epoch to ``rows`` and rewrites each CSV in ``paths`` atomically.

    ``rows`` outlives the callback (it is part of the backup), so a resumed run rewrites the
    files from the rows it restored: no duplicated or missing epoch, whenever it was killed.
    """

    def __init__(self, paths: list[Path], rows: list[dict[str, Any]], phase: int) -> None:
        super().__init__()
        self.paths, self.rows, self.phase = paths, rows, phase

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        row: dict[str, Any] = {"epoch": epoch + 1, "phase": self.phase}
        row.update({k: float(v) for k, v in (logs or {}).items() if np.ndim(v) == 0})
        if "learning_rate" not in row:
            row["learning_rate"] = float(np.asarray(self.model.optimizer.learning_rate))
        self.rows.append(row)
        for path in self.paths:
            write_history(path, self.rows)
        fault("history", epoch + 1)


class NanGuard(keras.callbacks.Callback):
    """Stops training at the end of an epoch whose loss is NaN or infinite (:class:`RunFailed`).

    Raised before the checkpoints, history.csv and the backup see the epoch, so the run
    keeps the last good state; Keras' TerminateOnNaN would end the fit quietly, and the run
    would be marked finished with a NaN model.
    """

    def __init__(self, phase: int) -> None:
        super().__init__()
        self.phase = phase

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            what = "NaN" if math.isnan(float(loss)) else "infinite"
            raise RunFailed(
                f"loss became {what} at epoch {epoch + 1}"
                + (f" (phase {self.phase})" if self.phase else "")
                + "; try a lower learning rate, gradient clipping (clipnorm) or checking "
                "the data"
            )


class FaultHook(keras.callbacks.Callback):
    """``ZOO_FAULT=mid_epoch@N``: stop in the middle of epoch N (after its first batch).

    Only added when that variable asks for it: a per-batch callback costs every run time.
    """

    epoch = 0

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        fault("mid_epoch", self.epoch)


class RunBackup(keras.callbacks.Callback):
    """Backs the state up as ``cadence`` (``training.backup``) says and at the end of a
    phase; put it last in the list. ``None`` backs up after every epoch.

    ``restore`` (meta, arrays) puts the watched callbacks' counters back after their own
    ``on_train_begin`` has reset them. During ``fit`` the first Ctrl-C or SIGTERM stops
    training at the end of the epoch, after a backup (a second one stops at once); call
    :meth:`rescue` when ``fit`` raises, to back up the last epoch if it ended cleanly.
    """

    def __init__(
        self,
        backup: Backup,
        meta_fn: BackupMeta,
        watched: list[Any],
        restore: Restore | None,
        cadence: BackupSpec | None = None,
    ) -> None:
        super().__init__()
        self.backup, self.meta_fn, self.watched = backup, meta_fn, watched
        self.restore, self.cadence = restore, cadence
        # ZOO_FAULT inside the write: every epoch's backup is written, so STEP@N finds it
        self.every_epoch = wants_fault("during_backup")
        self.writer = BackgroundWriter()
        self.last_time = time.monotonic()
        self.since = 0  # epochs since the last backup
        self.pending: tuple[int, dict[str, Any]] | None = None  # last epoch, its meta
        self.saved_epoch = -1
        self.between_epochs = False  # an epoch ended and the next has not begun
        self.stop_signal: int | None = None
        self.handlers: dict[int, Any] = {}

    def on_train_begin(self, logs: Logs = None) -> None:
        if self.restore is not None:
            Backup.restore_callbacks(self.watched, *self.restore)
        self.last_time = time.monotonic()
        self._catch_signals()

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        self.between_epochs = False
        self.writer.check()

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        # "stopped": EarlyStopping ended the phase; a resume must not train on
        meta = {**self.meta_fn(epoch + 1, False), "stopped": bool(self.model.stop_training)}
        self.pending = (epoch + 1, meta)
        self.since += 1
        seconds = time.monotonic() - self.last_time
        if self.stop_signal is not None:
            self._save(background=False)
        elif self.every_epoch or backup_due(self.cadence, seconds, self.since):
            self._save(background=True)
        if wants_fault("backup"):
            self.writer.join()  # "after the backup": the write is complete
        fault("backup", epoch + 1)
        self.between_epochs = True
        if self.stop_signal is not None:
            self._release_signals()
            raise KeyboardInterrupt(f"signal {self.stop_signal}")

    def on_train_end(self, logs: Logs = None) -> None:
        # After EarlyStopping has put the best weights back: the phase is over.
        self._release_signals()
        self.writer.join()
        meta = self.meta_fn(None, True)
        self.backup.save(self.model, meta, self.watched)
        fault("phase_end", int(meta["phase"]))

    def _save(self, background: bool) -> None:
        assert self.pending is not None
        epoch, meta = self.pending
        self.writer.join()  # the previous write is done (or its error raised) first
        arrays = self.backup.snapshot(self.model, meta, self.watched)
        self.saved_epoch, self.since, self.last_time = epoch, 0, time.monotonic()
        if background:
            self.writer.submit(lambda: self.backup.write(arrays, epoch))
        else:
            self.backup.write(arrays, epoch)

    def rescue(self, error: BaseException) -> None:
        """``fit`` raised ``error``: finish the write in flight and, if the error came
        between epochs (not from inside one), back up the last epoch."""
        self._release_signals()
        try:
            self.writer.join()
        except BaseException:  # noqa: BLE001 (the error in hand is the one to report)
            return
        if (
            self.between_epochs
            and self.pending is not None
            and self.pending[0] != self.saved_epoch
            and not isinstance(error, DiskFull)
        ):
            try:
                self._save(background=False)
            except Exception:  # noqa: BLE001 (best effort; the run keeps its last backup)
                pass

    def _catch_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                self.handlers[signum] = signal.signal(signum, self._on_signal)
            except (ValueError, OSError):
                pass

    def _release_signals(self) -> None:
        for signum, handler in self.handlers.items():
            signal.signal(signum, handler)
        self.handlers = {}

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.stop_signal is not None:  # the second one: stop now
            self._release_signals()
            raise KeyboardInterrupt
        self.stop_signal = signum
        sys.stderr.write(
            "\nzoo: stopping at the end of this epoch, after a backup (Ctrl-C again to stop now)\n"
        )


class TrackEpochs(keras.callbacks.Callback):
    """Hands each epoch's logs to the run's trackers (``ZOO_TRACKING``)."""

    def __init__(self, trackers: Trackers) -> None:
        super().__init__()
        self.trackers = trackers

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self.trackers.log_epoch(epoch + 1, logs or {})
