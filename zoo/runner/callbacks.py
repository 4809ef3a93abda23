"""Keras callbacks: the one place a spec's ``callbacks`` list becomes Keras objects
(:func:`fit_callbacks`), plus the ones every run has.

Every run stops at a NaN loss, writes ``history.csv`` after each epoch and backs up its full
training state (weights, optimizer slots, learning rate, the layers' random-seed states,
Python's/NumPy's/Keras' random states, the callbacks' own counters, the history so far)
into one file replaced atomically, so ``zoo train --resume RUN`` continues a killed run at
the epoch after the last backup and ends exactly where an uninterrupted run would. The
backup is written at most every ``training.backup.every_seconds`` (or every
``every_epochs``), always at the end of a phase and when training stops between epochs
(Ctrl-C, SIGTERM, an error); the state is copied to NumPy arrays between epochs and written
on a background thread while the next epoch trains (one write in flight at most). Keras'
``BackupAndRestore`` keeps only the model weights and writes two files non-atomically; a
``backup_and_restore`` entry in a spec sets where the zoo's backup goes.

``model_checkpoint`` follows the note's template (``weights.{epoch:03d}-{val_loss:.4f}
-{acc:.4f}.weights.h5``) and also writes atomically; the note's ``acc``/``val_acc`` are
accepted as names of ``accuracy``/``val_accuracy``.
"""

from __future__ import annotations

import errno
import importlib.util
import json
import math
import signal
import string
import sys
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import Problem, UserError
from zoo.io import atomic_path
from zoo.runner import rundir
from zoo.runner.compile import monitor_mode
from zoo.runner.rundir import RunFailed, read_history, write_history  # noqa: F401 (re-exported)
from zoo.suggest import did_you_mean

ALIASES = {"acc": "accuracy", "val_acc": "val_accuracy"}
BACKUP_FILE = "state.npz"
NAME_MAX, PATH_MAX = 255, 4096  # bytes, as on Linux and macOS
_FORMAT_ERRORS = (ValueError, KeyError, IndexError, TypeError, AttributeError)


def _keras_callback_base() -> type:
    import keras

    return keras.callbacks.Callback


def normalize_monitor(name: str) -> str:
    return ALIASES.get(name, name)


def log_names(metric_names: list[str], has_validation: bool) -> list[str]:
    """Names a monitor may watch: loss and each metric, and their ``val_`` twins."""
    base = ["loss", *metric_names]
    return base + ([f"val_{n}" for n in base] if has_validation else []) + ["learning_rate"]


def inside(run_dir: Path, relative: str, key_path: str) -> Path:
    """``run_dir / relative``, refusing paths that leave the run folder."""
    path = Path(relative)
    if path.is_absolute() or ".." in path.parts or not relative.strip():
        raise UserError(
            [Problem(f"must be a path inside the run folder, got {relative!r}", key_path=key_path)]
        )
    return run_dir / path


def check_callbacks(spec: Any, metric_names: list[str], has_validation: bool) -> list[Problem]:
    """Every monitor and filename placeholder the spec's callbacks name must exist."""
    known = log_names(metric_names, has_validation)
    problems = []

    def check_name(name: str, key: str) -> None:
        name = normalize_monitor(name)
        if name not in known:
            hint = did_you_mean(name, known)
            why = (
                " (there is no validation split)"
                if name.startswith("val_") and not has_validation
                else ""
            )
            problems.append(
                Problem(
                    f"unknown metric '{name}'{why}"
                    + (f"; {hint}" if hint else "")
                    + f" (known: {', '.join(known)})",
                    key_path=key,
                )
            )

    schedules = 1 if spec.training.schedule is not None else 0
    for i, cb in enumerate(spec.callbacks):
        key = f"callbacks.{i}"
        if hasattr(cb, "monitor"):
            check_name(cb.monitor, f"{key}.monitor")
        if cb.type == "model_checkpoint":
            try:
                fields = [f for _, f, _, _ in string.Formatter().parse(cb.filepath) if f]
            except ValueError as exc:
                problems.append(
                    Problem(f"bad filename template: {exc}", key_path=f"{key}.filepath")
                )
                fields = []
            for f in fields:
                if f not in ("epoch",):
                    check_name(f.split(".")[0].split("[")[0], f"{key}.filepath")
            problem = _template_problem(cb.filepath, known, _total_epochs(spec.training))
            if problem and fields:
                problems.append(Problem(problem, key_path=f"{key}.filepath"))
        for attr in ("filepath", "filename", "log_dir", "backup_dir"):
            value = getattr(cb, attr, None)
            if isinstance(value, str):
                try:
                    inside(Path("."), value, f"{key}.{attr}")
                except UserError as exc:
                    problems.extend(exc.problems)
        if cb.type == "learning_rate_scheduler":
            schedules += 1
        if cb.type == "tensorboard" and importlib.util.find_spec("tensorboard") is None:
            problems.append(
                Problem(
                    "the tensorboard callback needs the tensorboard package: "
                    "pip install tensorboard",
                    key_path=key,
                )
            )
    if schedules > 1:
        problems.append(
            Problem(
                "two learning-rate schedules (training.schedule and a "
                "learning_rate_scheduler callback): keep one",
                key_path="callbacks",
            )
        )
    if schedules and any(cb.type == "reduce_lr_on_plateau" for cb in spec.callbacks):
        problems.append(
            Problem(
                "a learning-rate schedule sets the rate every epoch, so "
                "reduce_lr_on_plateau would have no effect: keep one",
                key_path="callbacks",
            )
        )
    if sum(cb.type == "backup_and_restore" for cb in spec.callbacks) > 1:
        problems.append(
            Problem("only one backup_and_restore entry is allowed", key_path="callbacks")
        )
    return problems


def _total_epochs(training: Any) -> int:
    return int(training.epochs) + sum(int(p.epochs) for p in training.phases)


def _template_problem(template: str, names: list[str], epoch: int) -> str | None:
    """Why ``template`` cannot name a checkpoint file at run time, or None.

    Formats it with sample values, as the checkpoint will after an epoch, and checks the
    length of the name it makes.
    """
    sample = {n: 0.123456 for n in names}
    sample.update({alias: 0.123456 for alias in ALIASES})
    try:
        name = template.format(epoch=epoch, **sample)
    except _FORMAT_ERRORS as exc:
        return f"cannot make a file name from {template!r}: {exc}"
    return _name_length_problem(name)


def _name_length_problem(name: str) -> str | None:
    if len(name.encode()) > PATH_MAX or any(
        len(part.encode()) > NAME_MAX for part in Path(name).parts
    ):
        return f"makes a file name too long for the file system ({name[:40]}...)"
    return None


def _aliased(logs: dict[str, Any]) -> dict[str, Any]:
    out = {k: float(v) if np.ndim(v) == 0 else v for k, v in logs.items()}
    for alias, name in ALIASES.items():
        if name in out and alias not in out:
            out[alias] = out[name]
    return out


def make_checkpoint(
    cb_spec: Any, run_dir: Path, lazy: bool = False, key: str = "callbacks.filepath"
) -> Any:
    """ModelCheckpoint from the spec, writing each file atomically.

    ``lazy`` (the run's own best-weights file, when the spec asks for no checkpoint) keeps
    the best weights in memory and in the backup, and writes the file once, at
    :meth:`flush`: an HDF5 write each improving epoch costs a few percent of a short epoch.
    """

    class Checkpoint(_keras_callback_base()):  # type: ignore[misc]
        """Save the model or its weights when the monitored metric improves (or every epoch)."""

        def __init__(self) -> None:
            super().__init__()
            self.spec = cb_spec
            self.template = str(inside(run_dir, cb_spec.filepath, key))
            self.monitor = normalize_monitor(cb_spec.monitor)
            self.mode = monitor_mode(self.monitor, cb_spec.mode)
            self.best: float | None = None
            self.best_path: str | None = None
            self.last_path: str | None = None
            self.lazy = lazy and cb_spec.save_best_only and cb_spec.save_weights_only
            self.best_weights: list[np.ndarray] | None = None

        def _improved(self, value: float) -> bool:
            if self.best is None:
                return True
            return value < self.best if self.mode == "min" else value > self.best

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = _aliased(logs or {})
            value = logs.get(self.monitor)
            if self.spec.save_best_only:
                if value is None or not self._improved(value):
                    return
                self.best = value
            path = Path(self._file_name(epoch + 1, logs))
            if self.lazy:
                self.best_weights = self.model.get_weights()
                self.best_path = self.last_path = str(path.relative_to(run_dir))
                return
            name = str(path.relative_to(run_dir))
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
            except _FORMAT_ERRORS as exc:
                why = f"cannot make a file name from {self.spec.filepath!r}: {exc}"
                raise UserError([Problem(why, key_path=key)]) from None
            too_long = _name_length_problem(name)
            if too_long:
                raise UserError([Problem(too_long, key_path=key)])
            return name

        def _save(self, name: str, save: Any, step: str | None = None) -> None:
            try:
                rundir.save_file(run_dir, name, save, step)
            except OSError as exc:
                if exc.errno != errno.ENAMETOOLONG:
                    raise
                raise UserError([Problem(f"file name too long: {name}", key_path=key)]) from None

        def flush(self) -> None:
            """Write the best weights a lazy checkpoint holds (the model keeps its own)."""
            if not self.lazy or self.best_weights is None or self.best_path is None:
                return
            current = self.model.get_weights()
            self.model.set_weights(self.best_weights)
            try:
                self._save(
                    self.best_path, lambda tmp: self.model.save_weights(str(tmp)), "checkpoint"
                )
            finally:
                self.model.set_weights(current)

        def get_state(self) -> dict[str, Any]:
            return {"best": self.best, "best_path": self.best_path, "last_path": self.last_path}

        def get_arrays(self) -> list[np.ndarray]:
            return list(self.best_weights or []) if self.lazy else []

        def set_state(self, state: dict[str, Any], arrays: list[np.ndarray]) -> None:
            self.best, self.best_path = state.get("best"), state.get("best_path")
            self.last_path = state.get("last_path")
            if self.lazy and arrays:
                self.best_weights = list(arrays)

    return Checkpoint()


def make_checkpoints(spec: Any, run_dir: Path, has_validation: bool) -> list[Any]:
    """The spec's checkpoints, and the run's own best-weights file when none keeps the best.

    Made once per run (not per phase): they keep their best value across phases.
    """
    checkpoints = [
        make_checkpoint(c, run_dir, key=f"callbacks.{i}.filepath")
        for i, c in enumerate(spec.callbacks)
        if c.type == "model_checkpoint"
    ]
    if not any(c.spec.save_best_only for c in checkpoints):
        from zoo.spec.sections import ModelCheckpointCallback

        default = ModelCheckpointCallback(
            type="model_checkpoint",
            monitor="val_loss" if has_validation else "loss",
            filepath="checkpoints/best.weights.h5",
        )
        checkpoints.append(make_checkpoint(default, run_dir, lazy=True))
    return checkpoints


def make_history_writer(paths: list[Path], rows: list[dict[str, Any]], phase: int) -> Any:
    """Appends a row per epoch to ``rows`` and rewrites each CSV in ``paths`` atomically.

    ``rows`` outlives the callback (it is part of the backup), so a resumed run rewrites the
    files from the rows it restored: no duplicated or missing epoch, whenever it was killed.
    """

    class HistoryCSV(_keras_callback_base()):  # type: ignore[misc]
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            row: dict[str, Any] = {"epoch": epoch + 1, "phase": phase}
            row.update({k: float(v) for k, v in (logs or {}).items() if np.ndim(v) == 0})
            if "learning_rate" not in row:
                row["learning_rate"] = float(np.asarray(self.model.optimizer.learning_rate))
            rows.append(row)
            for path in paths:
                write_history(path, rows)
            rundir.fault("history", epoch + 1)

    return HistoryCSV()


def make_nan_guard(phase: int) -> Any:
    """Stops training at the end of an epoch whose loss is NaN or infinite (:class:`RunFailed`).

    Raised before the checkpoints, history.csv and the backup see the epoch, so the run
    keeps the last good state; Keras' TerminateOnNaN would end the fit quietly, and the run
    would be marked finished with a NaN model.
    """

    class NanGuard(_keras_callback_base()):  # type: ignore[misc]
        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                what = "NaN" if math.isnan(float(loss)) else "infinite"
                raise RunFailed(
                    f"loss became {what} at epoch {epoch + 1}"
                    + (f" (phase {phase})" if phase else "")
                    + "; try a lower learning rate, gradient clipping (clipnorm) or checking "
                    "the data"
                )

    return NanGuard()


def make_fault_hook() -> Any:
    """``ZOO_FAULT=mid_epoch@N``: stop in the middle of epoch N (after its first batch).

    Only added when that variable asks for it: a per-batch callback costs every run time.
    """

    class FaultHook(_keras_callback_base()):  # type: ignore[misc]
        epoch = 0

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.epoch = epoch + 1

        def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
            rundir.fault("mid_epoch", self.epoch)

    return FaultHook()


# ---- backup -----------------------------------------------------------------------------

_STATE_ATTRS = {
    "EarlyStopping": ("wait", "stopped_epoch", "best", "best_epoch"),
    "ReduceLROnPlateau": ("wait", "best", "cooldown_counter"),
}


def _seed_states(model: Any) -> list[Any]:
    """The model's variables beyond its weights: the SeedGenerator states of its random
    layers (Dropout...), which ``get_weights`` leaves out."""
    weights = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weights]


def _callback_state(cb: Any) -> tuple[dict[str, Any], list[np.ndarray]]:
    if hasattr(cb, "get_state"):
        return cb.get_state(), cb.get_arrays()
    attrs = _STATE_ATTRS.get(type(cb).__name__, ())
    state = {a: _plain(getattr(cb, a, None)) for a in attrs}
    arrays = (
        list(getattr(cb, "best_weights", None) or [])
        if type(cb).__name__ == "EarlyStopping"
        else []
    )
    return state, arrays


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, (int, str, bool)):
        return value
    return float(value)


def _restore_callback(cb: Any, state: dict[str, Any], arrays: list[np.ndarray]) -> None:
    if hasattr(cb, "set_state"):
        cb.set_state(state, arrays)
        return
    for key, value in state.items():
        setattr(cb, key, value)
    if type(cb).__name__ == "EarlyStopping" and arrays:
        cb.best_weights = arrays


class Backup:
    """The training state of a run as one atomically replaced file.

    :meth:`snapshot` copies the state into NumPy arrays (between epochs, on the training
    thread); :meth:`write` puts them on disk and may run on another thread.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / BACKUP_FILE

    def exists(self) -> bool:
        return self.path.exists()

    def save(
        self, model: Any, meta: dict[str, Any], callbacks: list[Any], epoch: int | None = None
    ) -> None:
        """Replace the backup with the state now; ``epoch`` (1-based) names the fault steps."""
        self.write(self.snapshot(model, meta, callbacks), epoch)

    def snapshot(
        self, model: Any, meta: dict[str, Any], callbacks: list[Any]
    ) -> dict[str, np.ndarray]:
        """The state now, as arrays nothing else changes (TF copies a variable on write
        while a NumPy view of it is alive)."""
        from zoo.runner.reproducibility import random_state

        arrays: dict[str, np.ndarray] = {}
        for i, w in enumerate(model.get_weights()):
            arrays[f"w{i}"] = np.asarray(w)
        for i, v in enumerate(_seed_states(model)):
            arrays[f"s{i}"] = np.asarray(v)
        if model.optimizer is not None and model.optimizer.built:
            for i, v in enumerate(model.optimizer.variables):
                arrays[f"o{i}"] = np.asarray(v)
        states = []
        for j, cb in enumerate(callbacks):
            state, extra = _callback_state(cb)
            states.append(state)
            for i, a in enumerate(extra):
                arrays[f"c{j}_{i}"] = np.asarray(a)
        meta = {**meta, "callbacks": states, "random": random_state()}
        arrays["meta"] = np.array(json.dumps(meta, default=float))
        return arrays

    def write(self, arrays: dict[str, np.ndarray], epoch: int | None = None) -> None:
        """Put a :meth:`snapshot` on disk, replacing the previous backup atomically."""
        name = f"{self.directory.name}/{BACKUP_FILE}"
        with rundir.writing(self.directory, name):
            self.directory.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.path) as tmp:
                with open(tmp, "wb") as f:
                    np.savez(f, **arrays)
                if epoch is not None:
                    rundir.fault("during_backup", epoch)

    def load(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """The saved (meta, arrays); a damaged file is a UserError, never a traceback."""
        try:
            with np.load(self.path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            meta = json.loads(str(arrays.pop("meta")))
            for key in ("phase", "phase_start", "next_epoch", "history"):
                meta[key]  # noqa: B018 (a KeyError here means a damaged file)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            raise UserError(
                [
                    Problem(
                        f"the run's backup is damaged ({type(exc).__name__}: {exc}); it cannot "
                        "be resumed from it: delete the run's backup folder to train it again "
                        "from the first epoch, or start a new run",
                        str(self.path),
                    )
                ]
            ) from None
        return meta, arrays

    def restore_model(
        self, model: Any, arrays: dict[str, np.ndarray], with_optimizer: bool
    ) -> None:
        """Weights, seed states and (``with_optimizer``) optimizer slots from the backup."""
        try:
            _restore_model(model, arrays, with_optimizer)
        except (ValueError, RuntimeError, KeyError) as exc:
            raise UserError(
                [
                    Problem(
                        f"the backup does not fit the run's model ({exc}); was spec.yaml or "
                        "a plugin changed since the run started?",
                        str(self.path),
                    )
                ]
            ) from None

    @staticmethod
    def restore_random(meta: dict[str, Any]) -> None:
        from zoo.runner.reproducibility import restore_random_state

        if isinstance(meta.get("random"), dict):
            restore_random_state(meta["random"])

    @staticmethod
    def restore_callbacks(
        callbacks: list[Any], meta: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> None:
        for j, (cb, state) in enumerate(zip(callbacks, meta.get("callbacks", []), strict=False)):
            extra = [
                arrays[f"c{j}_{i}"] for i in range(sum(k.startswith(f"c{j}_") for k in arrays))
            ]
            _restore_callback(cb, state, extra)


def _saved(arrays: dict[str, np.ndarray], prefix: str) -> list[np.ndarray]:
    count = sum(k.startswith(prefix) and k[len(prefix) :].isdigit() for k in arrays)
    return [arrays[f"{prefix}{i}"] for i in range(count)]


def _restore_model(model: Any, arrays: dict[str, np.ndarray], with_optimizer: bool) -> None:
    model.set_weights(_saved(arrays, "w"))
    seeds, states = _seed_states(model), _saved(arrays, "s")
    if states and len(states) == len(seeds):
        for var, value in zip(seeds, states, strict=True):
            var.assign(value)
    saved = _saved(arrays, "o")
    if with_optimizer and saved:
        opt = model.optimizer
        if not opt.built:
            opt.build(model.trainable_variables)
        variables = opt.variables
        if len(saved) != len(variables):
            raise RuntimeError(
                f"backup has {len(saved)} optimizer variables, the model {len(variables)}"
            )
        for var, value in zip(variables, saved, strict=True):
            if tuple(var.shape) != tuple(value.shape):
                raise ValueError(f"optimizer variable {var.path}: {value.shape} != {var.shape}")
            var.assign(value)


class BackgroundWriter:
    """Runs one write at a time on a background thread; its error is raised on :meth:`join`."""

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def submit(self, write: Any) -> None:
        self.join()  # at most one write in flight
        self.thread = threading.Thread(target=self._run, args=(write,), name="zoo-backup",
                                       daemon=True)
        self.thread.start()

    def _run(self, write: Any) -> None:
        try:
            write()
        except BaseException as exc:  # noqa: BLE001 (handed to the training thread)
            self.error = exc

    def join(self) -> None:
        if self.thread is not None:
            self.thread.join()
            self.thread = None
        self.check()

    def check(self) -> None:
        """Raise the error of a finished write, without waiting for one in flight."""
        if self.error is not None and (self.thread is None or not self.thread.is_alive()):
            error, self.error = self.error, None
            raise error


def backup_due(cadence: Any, seconds: float, epochs: int) -> bool:
    """Whether ``training.backup`` asks for a backup ``seconds``/``epochs`` after the last."""
    if cadence is None:
        return True
    if cadence.every_epochs is not None:
        return epochs >= cadence.every_epochs
    return seconds >= cadence.every_seconds


def make_backup_callback(
    backup: Backup,
    meta_fn: Any,
    watched: list[Any],
    restore: tuple[dict[str, Any], dict[str, np.ndarray]] | None,
    cadence: Any = None,
) -> Any:
    """Backs the state up as ``cadence`` (``training.backup``) says and at the end of a
    phase; put it last in the list. ``None`` backs up after every epoch.

    ``restore`` (meta, arrays) puts the watched callbacks' counters back after their own
    ``on_train_begin`` has reset them. During ``fit`` the first Ctrl-C or SIGTERM stops
    training at the end of the epoch, after a backup (a second one stops at once); call
    :meth:`rescue` when ``fit`` raises, to back up the last epoch if it ended cleanly.
    """
    # ZOO_FAULT inside the write: every epoch's backup is written, so STEP@N finds its write
    every_epoch = rundir.wants_fault("during_backup")

    class RunBackup(_keras_callback_base()):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.writer = BackgroundWriter()
            self.last_time = time.monotonic()
            self.since = 0  # epochs since the last backup
            self.pending: tuple[int, dict[str, Any]] | None = None  # last epoch, its meta
            self.saved_epoch = -1
            self.between_epochs = False  # an epoch ended and the next has not begun
            self.stop_signal: int | None = None
            self.handlers: dict[int, Any] = {}

        def on_train_begin(self, logs: dict | None = None) -> None:
            if restore is not None:
                Backup.restore_callbacks(watched, *restore)
            self.last_time = time.monotonic()
            self._catch_signals()

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self.between_epochs = False
            self.writer.check()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            # "stopped": EarlyStopping ended the phase; a resume must not train on
            meta = {**meta_fn(epoch + 1, False), "stopped": bool(self.model.stop_training)}
            self.pending = (epoch + 1, meta)
            self.since += 1
            seconds = time.monotonic() - self.last_time
            if self.stop_signal is not None:
                self._save_now()
            elif every_epoch or backup_due(cadence, seconds, self.since):
                self._save(background=True)
            if rundir.wants_fault("backup"):
                self.writer.join()  # "after the backup": the write is complete
            rundir.fault("backup", epoch + 1)
            self.between_epochs = True
            if self.stop_signal is not None:
                self._release_signals()
                raise KeyboardInterrupt(f"signal {self.stop_signal}")

        def on_train_end(self, logs: dict | None = None) -> None:
            # After EarlyStopping has put the best weights back: the phase is over.
            self._release_signals()
            self.writer.join()
            meta = meta_fn(None, True)
            backup.save(self.model, meta, watched)
            rundir.fault("phase_end", int(meta["phase"]))

        def _save(self, background: bool) -> None:
            assert self.pending is not None
            epoch, meta = self.pending
            self.writer.join()  # the previous write is done (or its error raised) first
            arrays = backup.snapshot(self.model, meta, watched)
            self.saved_epoch, self.since, self.last_time = epoch, 0, time.monotonic()
            if background:
                self.writer.submit(lambda: backup.write(arrays, epoch))
            else:
                backup.write(arrays, epoch)

        def _save_now(self) -> None:
            self._save(background=False)

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
                and not isinstance(error, rundir.DiskFull)
            ):
                try:
                    self._save_now()
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
                "\nzoo: stopping at the end of this epoch, after a backup "
                "(Ctrl-C again to stop now)\n"
            )

    return RunBackup()


# ---- one phase's callbacks ------------------------------------------------------------------


def fit_callbacks(
    spec: Any,
    run_dir: Path,
    phase: Any,
    start: int,
    initial: int,
    *,
    extra: list[Any],
    checkpoints: list[Any],
    rows: list[dict[str, Any]],
    backup: Backup,
    restore: tuple[dict[str, Any], dict[str, np.ndarray]] | None,
) -> tuple[list[Any], list[Any]]:
    """Every Keras callback of one phase's ``fit``, and those whose state the backup keeps.

    ``phase`` has ``index``, ``epochs`` and ``learning_rate``; ``start`` is the phase's first
    epoch (0-based) and ``initial`` the epoch this fit starts at (later when resuming). The
    order matters: the NaN guard first (a NaN epoch reaches nothing else), the caller's
    ``extra`` callbacks, the spec's, the checkpoints, history.csv, and the backup last, so
    that it saves what every other callback did with the epoch.
    """
    import keras

    from zoo.runner.compile import schedule_fn

    callbacks: list[Any] = [make_nan_guard(phase.index), *extra]
    stateful: list[Any] = list(checkpoints)
    csv_paths = [run_dir / rundir.HISTORY_FILE]
    schedule = spec.training.schedule
    for i, c in enumerate(spec.callbacks):
        key = f"callbacks.{i}"
        if c.type == "reduce_lr_on_plateau":
            m = normalize_monitor(c.monitor)
            cb = keras.callbacks.ReduceLROnPlateau(
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
            1 + len(extra),
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
    callbacks.append(make_history_writer(csv_paths, rows, phase.index))
    cadence = getattr(spec.training, "backup", None)
    callbacks.append(make_backup_callback(backup, meta, stateful, restore, cadence))
    if rundir.wants_fault("mid_epoch"):
        callbacks.append(make_fault_hook())
    return callbacks, stateful


def end_phase(
    model: Any,
    stateful: list[Any],
    backup: Backup,
    meta: dict[str, Any],
    arrays: dict[str, np.ndarray],
) -> None:
    """Finish a phase whose last epoch (or early stop) was backed up but whose end was not:
    what ``fit`` does after its last epoch (EarlyStopping puts its best weights back), then
    the end-of-phase backup."""
    Backup.restore_callbacks(stateful, meta, arrays)
    for cb in stateful:
        cb.set_model(model)
        if type(cb).__name__ == "EarlyStopping":
            cb.on_train_end()
    done = {k: v for k, v in meta.items() if k not in ("callbacks", "random", "stopped")}
    done.update(phase_done=True, next_epoch=int(meta["next_epoch"]))
    backup.save(model, done, stateful)
    rundir.fault("phase_end", int(meta["phase"]))
