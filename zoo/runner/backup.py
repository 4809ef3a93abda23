"""The resumable backup of a run's training state, one atomically replaced file.

Every run writes its full training state (weights, optimizer slots, learning rate, the
layers' random-seed states, Python's/NumPy's/Keras' random states, the callbacks' own
counters, the history so far) into ``backup/state.npz`` as ``training.backup`` says, so
``zoo train --resume RUN`` continues a killed run at the epoch after the last backup and
ends exactly where an uninterrupted run would. The state is copied to NumPy arrays between
epochs (:meth:`Backup.snapshot`) and written on a background thread while the next epoch
trains (:class:`BackgroundWriter`, one write in flight at most). Keras' ``BackupAndRestore``
keeps only the model weights and writes two files non-atomically.
"""

from __future__ import annotations

import json
import threading
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import Problem, UserError
from zoo.io import atomic_path
from zoo.record.writing import fault, writing
from zoo.runner.reproducibility import random_state, restore_random_state
from zoo.spec.sections import BackupSpec

BACKUP_FILE = "state.npz"

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
        with writing(self.directory, name):
            self.directory.mkdir(parents=True, exist_ok=True)
            with atomic_path(self.path) as tmp:
                with open(tmp, "wb") as f:
                    np.savez(f, **arrays)  # type: ignore[arg-type]  # stubs: allow_pickle
                if epoch is not None:
                    fault("during_backup", epoch)

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
        self.thread = threading.Thread(
            target=self._run, args=(write,), name="zoo-backup", daemon=True
        )
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


def backup_due(cadence: BackupSpec | None, seconds: float, epochs: int) -> bool:
    """Whether ``training.backup`` asks for a backup ``seconds``/``epochs`` after the last."""
    if cadence is None:
        return True
    if cadence.every_epochs is not None:
        return epochs >= cadence.every_epochs
    return seconds >= cadence.every_seconds
