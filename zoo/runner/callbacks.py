"""Keras callbacks from a spec's ``callbacks`` list, plus the two every run has.

Every run writes ``history.csv`` and backs up its full training state after each epoch
(weights, optimizer slots, learning rate, the callbacks' own counters, the history so far)
into one file replaced atomically, so ``zoo train --resume RUN`` continues a killed run at
the epoch after the last backup. Keras' ``BackupAndRestore`` keeps only the model weights
and writes two files non-atomically; a ``backup_and_restore`` entry in a spec sets where
the zoo's backup goes.

``model_checkpoint`` follows the note's template (``weights.{epoch:03d}-{val_loss:.4f}
-{acc:.4f}.weights.h5``) and also writes atomically; the note's ``acc``/``val_acc`` are
accepted as names of ``accuracy``/``val_accuracy``.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import string
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import Problem, UserError
from zoo.io import atomic_path, atomic_save, atomic_write_text
from zoo.runner.compile import monitor_mode
from zoo.suggest import did_you_mean

ALIASES = {"acc": "accuracy", "val_acc": "val_accuracy"}
BACKUP_FILE = "state.npz"


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


def _aliased(logs: dict[str, Any]) -> dict[str, Any]:
    out = {k: float(v) if np.ndim(v) == 0 else v for k, v in logs.items()}
    for alias, name in ALIASES.items():
        if name in out and alias not in out:
            out[alias] = out[name]
    return out


def make_checkpoint(cb_spec: Any, run_dir: Path, lazy: bool = False) -> Any:
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
            self.template = str(inside(run_dir, cb_spec.filepath, "callbacks.filepath"))
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
            path = Path(self.template.format(epoch=epoch + 1, **logs))
            if self.lazy:
                self.best_weights = self.model.get_weights()
                self.best_path = self.last_path = str(path.relative_to(run_dir))
                return
            path.parent.mkdir(parents=True, exist_ok=True)
            if self.spec.save_weights_only:
                atomic_save(path, lambda tmp: self.model.save_weights(str(tmp)))
            else:
                atomic_save(path, lambda tmp: self.model.save(str(tmp)))
            self.last_path = str(path.relative_to(run_dir))
            if self.spec.save_best_only:
                self.best_path = self.last_path

        def flush(self) -> None:
            """Write the best weights a lazy checkpoint holds (the model keeps its own)."""
            if not self.lazy or self.best_weights is None or self.best_path is None:
                return
            current = self.model.get_weights()
            self.model.set_weights(self.best_weights)
            try:
                path = run_dir / self.best_path
                path.parent.mkdir(parents=True, exist_ok=True)
                atomic_save(path, lambda tmp: self.model.save_weights(str(tmp)))
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

    return HistoryCSV()


def write_history(path: Path, rows: list[dict[str, Any]]) -> None:
    """The rows as CSV, columns in first-seen order, replaced atomically."""
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def read_history(path: Path) -> dict[str, list[float]]:
    """history.csv as ``{column: [values]}`` (empty cells become NaN)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    columns = list(rows[0]) if rows else []
    return {
        c: [float(r[c]) if r[c] not in ("", None) else float("nan") for r in rows] for c in columns
    }


# ---- backup -----------------------------------------------------------------------------

_STATE_ATTRS = {
    "EarlyStopping": ("wait", "stopped_epoch", "best", "best_epoch"),
    "ReduceLROnPlateau": ("wait", "best", "cooldown_counter"),
}


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
    """The training state of a run, saved after every epoch as one atomically replaced file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / BACKUP_FILE

    def exists(self) -> bool:
        return self.path.exists()

    def save(self, model: Any, meta: dict[str, Any], callbacks: list[Any]) -> None:
        arrays: dict[str, np.ndarray] = {}
        for i, w in enumerate(model.get_weights()):
            arrays[f"w{i}"] = np.asarray(w)
        if model.optimizer is not None and model.optimizer.built:
            for i, v in enumerate(model.optimizer.variables):
                arrays[f"o{i}"] = np.asarray(v)
        states = []
        for j, cb in enumerate(callbacks):
            state, extra = _callback_state(cb)
            states.append(state)
            for i, a in enumerate(extra):
                arrays[f"c{j}_{i}"] = np.asarray(a)
        meta = {**meta, "callbacks": states}
        arrays["meta"] = np.array(json.dumps(meta, default=float))
        self.directory.mkdir(parents=True, exist_ok=True)
        with atomic_path(self.path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)

    def load(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        with np.load(self.path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        meta = json.loads(str(arrays.pop("meta")))
        return meta, arrays

    @staticmethod
    def restore_model(model: Any, arrays: dict[str, np.ndarray], with_optimizer: bool) -> None:
        weights = [arrays[f"w{i}"] for i in range(sum(k.startswith("w") for k in arrays))]
        model.set_weights(weights)
        if with_optimizer and any(k.startswith("o") for k in arrays):
            opt = model.optimizer
            if not opt.built:
                opt.build(model.trainable_variables)
            variables = opt.variables
            saved = [arrays[f"o{i}"] for i in range(sum(k.startswith("o") for k in arrays))]
            if len(saved) != len(variables):
                raise RuntimeError(
                    f"backup has {len(saved)} optimizer variables, the model {len(variables)}"
                )
            for var, value in zip(variables, saved, strict=True):
                var.assign(value)

    @staticmethod
    def restore_callbacks(
        callbacks: list[Any], meta: dict[str, Any], arrays: dict[str, np.ndarray]
    ) -> None:
        for j, (cb, state) in enumerate(zip(callbacks, meta.get("callbacks", []), strict=False)):
            extra = [
                arrays[f"c{j}_{i}"] for i in range(sum(k.startswith(f"c{j}_") for k in arrays))
            ]
            _restore_callback(cb, state, extra)


def make_backup_callback(
    backup: Backup,
    meta_fn: Any,
    watched: list[Any],
    restore: tuple[dict[str, Any], dict[str, np.ndarray]] | None,
) -> Any:
    """Saves the state after each epoch and at the end of a phase; put it last in the list.

    ``restore`` (meta, arrays) puts the watched callbacks' counters back after their own
    ``on_train_begin`` has reset them.
    """

    class RunBackup(_keras_callback_base()):  # type: ignore[misc]
        def on_train_begin(self, logs: dict | None = None) -> None:
            if restore is not None:
                Backup.restore_callbacks(watched, *restore)

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            backup.save(self.model, meta_fn(epoch + 1, False), watched)

        def on_train_end(self, logs: dict | None = None) -> None:
            # After EarlyStopping has put the best weights back: the phase is over.
            backup.save(self.model, meta_fn(None, True), watched)

    return RunBackup()
