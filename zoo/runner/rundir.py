"""Run folders: the one module that reads and writes them (status, lock, record, artifacts).

A run folder holds::

    spec.yaml             the spec with every default filled in (loadable with zoo.load_spec)
    run.json              status, seed, versions of zoo/TF/Keras/NumPy/albumentations and
                          of every plugin used, class names, image shape, scaling state
    history.csv           one row per epoch (epoch, phase, loss, metrics, learning_rate)
    checkpoints/          ModelCheckpoint files; run.json names the best one
    backup/state.npz      the training state while a run is unfinished (for --resume)
    model.keras           the final model
    metrics.json          test loss and metrics, per-class precision/recall, confusion matrix
    curves.png            train vs validation accuracy and loss
    confusion_matrix.png
    .lock                 flock-ed by the process training the run, for as long as it lives

Every file is replaced atomically (:mod:`zoo.io`). A run's status is what ``run.json`` says,
checked against the lock: ``running`` only while a live process holds the lock (the kernel
drops a flock when its process dies, however it dies), so a run whose ``run.json`` still
says running but whose lock is free was killed and shows as ``interrupted``. Statuses:

- ``running``: a live process trains it (or writes its final files);
- ``interrupted``: stopped before the end (kill, Ctrl-C, full disk); ``--resume`` continues it;
- ``failed``: training raised (a NaN loss, a crash); ``run.json`` says why; resumable;
- ``finished``: every artifact written; the backup is gone;
- ``unreadable`` (``zoo runs`` only): ``run.json`` is missing or damaged; the reason says how.

``ZOO_FAULT=STEP[@N][:kill|stop|enospc]`` stops the process at a named write (see
:data:`FAULT_STEPS`) for fault-injection tests; unset, it costs one dict lookup per write.
"""

from __future__ import annotations

import csv
import datetime as _dt
import errno
import fcntl
import hashlib
import io
import json
import os
import platform
import shutil
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from zoo.errors import Problem, UserError, ZooError
from zoo.io import atomic_path, remove_temp_files
from zoo.run_files import (  # noqa: F401  (re-exported: the runner's names for them)
    CONFUSION_FILE,
    CURVES_FILE,
    DEFAULT_BACKUP_DIR,
    HISTORY_FILE,
    INFO_FILE,
    LOCK_FILE,
    METRICS_FILE,
    MODEL_FILE,
    SPEC_FILE,
)

DEFAULT_RUNS_DIR = "runs"
RUN_FORMAT = 1

RUNNING, INTERRUPTED, FAILED, FINISHED = "running", "interrupted", "failed", "finished"
STATUSES = (RUNNING, INTERRUPTED, FAILED, FINISHED)
UNREADABLE = "unreadable"
KILLED_REASON = "the training process stopped without finishing (killed or crashed)"

# Keys every run.json has since format 1, and their JSON types: without them predict,
# evaluate and resume cannot use the run.
REQUIRED_KEYS: dict[str, type] = {
    "name": str,
    "status": str,
    "class_names": list,
    "image_shape": list,
    "objective": dict,
    "scaling": dict,
}

LIBRARIES = (
    "tensorflow",
    "keras",
    "numpy",
    "albumentations",
    "scikit-learn",
    "pydantic",
    "opencv-python-headless",
    "matplotlib",
)


def create_run_dir(root: str | Path, name: str) -> Path:
    """A new, empty ``root/<name>-<YYYYmmdd-HHMMSS>`` (``-2``, ``-3``... on a clash)."""
    root = Path(root)
    check_out_dir(root)
    with _folder_errors(root):
        root.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = f"{name}-{stamp}"
    for n in range(1, 10_000):
        candidate = root / (base if n == 1 else f"{base}-{n}")
        try:
            with _folder_errors(root):
                candidate.mkdir()  # atomic: fails if another run took the name
        except FileExistsError:
            continue
        return candidate
    raise UserError([Problem("no free run folder name left for this spec name", str(root))])


def check_out_dir(root: str | Path) -> None:
    """Refuse an ``--out`` that is a file before any work is done (a clear one-line error)."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise UserError([Problem("is a file; give --out a folder to hold run folders", str(root))])


def make_run_dir(path: str | Path) -> Path:
    """Exactly ``path`` as a new run folder (``train(run_dir=...)``); never an existing one."""
    path = Path(path)
    try:
        with _folder_errors(path):
            path.mkdir(parents=True)
    except FileExistsError:
        why = "already exists; a run never reuses a folder"
        raise UserError([Problem(why, str(path))]) from None
    return path


@contextmanager
def _folder_errors(path: Path) -> Iterator[None]:
    """mkdir failures other than "exists" as one line each (a file in the way, no permission)."""
    try:
        yield
    except FileExistsError:
        raise
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFull(str(path), None) from None
        why = exc.strerror or str(exc)
        if isinstance(exc, NotADirectoryError):
            why = "a file is in the way (a parent of this path is a file, not a folder)"
        raise UserError([Problem(f"cannot make this folder: {why}", str(path))]) from None


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, str | None]:
    from zoo import __version__

    out: dict[str, str | None] = {"zoo": __version__, "python": platform.python_version()}
    out.update({lib: _version(lib) for lib in LIBRARIES})
    return out


def plugins_used(spec: Any, registry: Any) -> dict[str, dict[str, Any]]:
    """Each plugin the spec names, with the distribution and version that provided it."""
    from zoo.spec.dynamic import PLUGIN_SECTIONS

    out = {}
    for section, (key, _, _) in PLUGIN_SECTIONS.items():
        part = getattr(spec, section, None)
        if part is None:
            continue
        entry = registry.get(getattr(part, key))
        prov = entry.provenance
        out[section] = {
            "name": entry.name,
            "plugin": prov.plugin,
            "distribution": prov.distribution,
            "version": prov.version,
            "module": prov.module,
        }
    return out


def spec_fingerprint(text: str) -> str:
    """A hash of a spec file's data (not its comments or layout), to notice a hand edit."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        data = text
    canonical = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def write_spec(run_dir: Path, resolved: dict[str, Any]) -> str:
    """Write ``spec.yaml``; returns its fingerprint for ``run.json``."""
    text = "# The spec this run used, every default filled in.\n"
    text += yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True)
    write_text(run_dir, SPEC_FILE, text)
    return spec_fingerprint(text)


def check_spec_unchanged(run_dir: Path, info: dict[str, Any]) -> None:
    """A run resumes with the spec it started with: refuse a ``spec.yaml`` edited since."""
    path = run_dir / SPEC_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        why = f"the run has no {SPEC_FILE}; it cannot be resumed"
        raise UserError([Problem(why, str(run_dir))]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError([Problem(f"cannot read {SPEC_FILE}: {exc}", str(run_dir))]) from None
    expected = info.get("spec_sha256")
    if expected and spec_fingerprint(text) != expected:
        raise UserError(
            [
                Problem(
                    f"{SPEC_FILE} changed since the run started (edited by hand?); a run only "
                    "resumes with the spec it started with: put it back, or train a new run "
                    "with the new spec",
                    str(path),
                )
            ]
        )


# ---- run.json -----------------------------------------------------------------------------


def info_problems(info: Any) -> list[str]:
    """What makes a parsed ``run.json`` unusable; [] when it is fine."""
    if not isinstance(info, dict):
        return [f"holds a JSON {type(info).__name__}, not an object"]
    problems = []
    missing = [k for k in REQUIRED_KEYS if k not in info]
    if missing:
        problems.append("lacks " + ", ".join(missing))
    wrong = [k for k, t in REQUIRED_KEYS.items() if k in info and not isinstance(info[k], t)]
    if wrong:
        problems.append("has the wrong type of value at " + ", ".join(wrong))
    if isinstance(info.get("status"), str) and info["status"] not in STATUSES:
        problems.append(f"has an unknown status {info['status']!r}")
    shape = info.get("image_shape")
    if isinstance(shape, list) and (len(shape) != 3 or not all(isinstance(d, int) for d in shape)):
        problems.append("has an image_shape that is not [height, width, channels]")
    objective = info.get("objective")
    if isinstance(objective, dict):
        lacking = [k for k in ("loss", "targets", "label_smoothing") if k not in objective]
        if lacking:
            problems.append("has an objective without " + ", ".join(lacking))
    fmt = info.get("format", RUN_FORMAT)
    if isinstance(fmt, int) and fmt > RUN_FORMAT:
        problems.append(
            f"was written by a newer zoo (run format {fmt}; this zoo reads {RUN_FORMAT})"
        )
    return problems


def load_info(run_dir: str | Path) -> tuple[dict[str, Any] | None, str | None]:
    """``(run.json, None)``, or ``(None, why it cannot be used)``; never raises."""
    path = Path(run_dir) / INFO_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, f"no {INFO_FILE}"
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"cannot read {INFO_FILE}: {exc}"
    try:
        info = json.loads(text)
    except ValueError as exc:
        return None, f"{INFO_FILE} is truncated or not JSON ({exc})"
    problems = info_problems(info)
    if problems:
        return None, f"{INFO_FILE} " + "; ".join(problems)
    return info, None


def read_info(run_dir: str | Path) -> dict[str, Any]:
    """run.json of a run folder; a missing, damaged or incomplete one is a UserError."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UserError([Problem("no such run folder", str(run_dir))])
    if not (run_dir / INFO_FILE).exists():
        raise UserError([Problem(f"not a zoo run folder (no {INFO_FILE})", str(run_dir))])
    info, why = load_info(run_dir)
    if info is None:
        raise UserError([Problem(f"unreadable run: {why}", str(run_dir))])
    return info


def write_info(run_dir: Path, info: dict[str, Any], step: str | None = None) -> None:
    with writing(run_dir, INFO_FILE, step):
        with atomic_path(run_dir / INFO_FILE) as tmp:
            tmp.write_text(json.dumps(info, indent=2, default=str) + "\n", encoding="utf-8")
            if step:
                fault(f"during_{step}")


def mark(run_dir: Path, info: dict[str, Any], status: str, reason: str | None = None) -> dict:
    """``info`` with a new status (and reason), written if the disk lets us.

    Best effort: when ``run.json`` cannot be written (a full disk), the lock still tells
    the truth, since a run nobody holds the lock of never shows as running.
    """
    info = {k: v for k, v in info.items() if k not in ("reason", "ended")}
    info["status"] = status
    if reason:
        info["reason"] = reason
    if status != RUNNING:
        info["ended"] = now()
    try:
        write_info(run_dir, info)
    except (OSError, UserError):
        pass
    return info


def now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


# ---- the lock -----------------------------------------------------------------------------


class RunLock:
    """An exclusive ``flock`` on ``<run>/.lock``: one process trains a run at a time.

    The kernel drops the lock when the file is closed or the process dies (even by
    SIGKILL), so a lock is never left stale. The file itself stays: deleting a lock file
    would let two processes lock two different files of the same name.
    """

    def __init__(self, run_dir: Path, fd: int) -> None:
        self.run_dir, self._fd = run_dir, fd

    @classmethod
    def acquire(cls, run_dir: str | Path) -> RunLock:
        run_dir = Path(run_dir)
        path = run_dir / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if is_disk_full(exc):
                raise DiskFull(LOCK_FILE, None) from None
            why = f"cannot lock the run: {exc.strerror or exc}"
            raise UserError([Problem(why, str(run_dir))]) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            pid = _lock_holder(path)
            who = f"process {pid}" if pid else "another process"
            raise UserError(
                [
                    Problem(
                        f"{who} is training this run; one process trains a run at a time "
                        "(wait for it to end, or stop it, then resume)",
                        str(run_dir),
                    )
                ]
            ) from None
        try:  # who holds it, for the message above; the lock works without it
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass
        return cls(run_dir, fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _lock_holder(path: Path) -> int | None:
    try:
        return int(path.read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None


def is_locked(run_dir: str | Path) -> bool:
    """Whether a live process holds the run's lock (it is training the run right now)."""
    try:
        fd = os.open(Path(run_dir) / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # also drops the shared lock just taken
    return False


# ---- status ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunState:
    """A run's honest status: run.json checked against the lock and history.csv."""

    status: str
    reason: str | None
    epochs: int | None
    info: dict[str, Any] | None


def run_state(run_dir: str | Path) -> RunState:
    run_dir = Path(run_dir)
    info, why = load_info(run_dir)
    epochs = history_epochs(run_dir)
    live = is_locked(run_dir)
    if info is None:
        if live:  # a new run between its folder and its run.json
            return RunState(RUNNING, None, epochs, None)
        return RunState(UNREADABLE, why, epochs, None)
    status, reason = info["status"], info.get("reason")
    if status == FINISHED:
        return RunState(FINISHED, None, epochs, info)
    if live:
        return RunState(RUNNING, None, epochs, info)
    if status == RUNNING:
        return RunState(INTERRUPTED, KILLED_REASON, epochs, info)
    return RunState(status, reason, epochs, info)


def list_runs(root: str | Path) -> list[dict[str, Any]]:
    """A summary per run folder under ``root`` (newest first): name, status, key metrics.

    A damaged folder is a row of its own (status ``unreadable`` and the reason); it never
    hides the others.
    """
    root = Path(root)
    if not root.is_dir():
        raise UserError([Problem("no such folder", str(root))])
    rows = []
    for run_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if not any((run_dir / n).exists() for n in (INFO_FILE, SPEC_FILE, LOCK_FILE)):
            continue  # not a run folder
        state = run_state(run_dir)
        info = state.info or {}
        metrics: Any = {}
        if (run_dir / METRICS_FILE).exists():
            try:
                metrics = json.loads((run_dir / METRICS_FILE).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                metrics = {}
        test = metrics.get(metrics.get("split") or "test", {}) if isinstance(metrics, dict) else {}
        test = test if isinstance(test, dict) else {}
        plugins = info.get("plugins") if isinstance(info.get("plugins"), dict) else {}
        model = plugins.get("model") if isinstance(plugins.get("model"), dict) else {}
        rows.append(
            {
                "run": str(run_dir),
                "name": info.get("name"),
                "status": state.status,
                "reason": state.reason,
                "architecture": model.get("name"),
                "epochs": state.epochs,
                "accuracy": test.get("accuracy"),
                "loss": test.get("loss"),
                "created": info.get("created"),
            }
        )
    rows.sort(key=lambda r: str(r.get("created") or ""), reverse=True)
    return rows


# ---- history.csv ----------------------------------------------------------------------------


def write_history(path: Path, rows: list[dict[str, Any]]) -> None:
    """The rows as CSV, columns in first-seen order, replaced atomically."""
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    with writing(path.parent, path.name):
        with atomic_path(path) as tmp:
            tmp.write_text(buf.getvalue(), encoding="utf-8")


def read_history(path: Path) -> dict[str, list[float]]:
    """history.csv as ``{column: [values]}`` (empty cells become NaN)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    columns = list(rows[0]) if rows else []
    return {
        c: [float(r[c]) if r[c] not in ("", None) else float("nan") for r in rows] for c in columns
    }


def history_epochs(run_dir: str | Path) -> int | None:
    """Epochs recorded in history.csv (0 without one; None when it cannot be read)."""
    path = Path(run_dir) / HISTORY_FILE
    try:
        with open(path, newline="", encoding="utf-8") as f:
            return sum(1 for _ in csv.DictReader(f))
    except FileNotFoundError:
        return 0
    except (OSError, ValueError, csv.Error):
        return None


# ---- artifacts: atomic, fault hooks, a full disk as one clear message -------------------------

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_DISK_FULL_TEXT = tuple(os.strerror(e) for e in DISK_FULL_ERRNOS)


class DiskFull(UserError):
    """No space left while writing a run's file; the run is left resumable."""

    def __init__(self, what: str, run_dir: Path | None) -> None:
        self.what, self.run_dir = what, run_dir
        then = (
            f"free space and run: zoo train --resume {run_dir}"
            if run_dir is not None
            else "free space and run the command again"
        )
        super().__init__([Problem(f"disk full while writing {what}; {then}")])


class RunFailed(ZooError):
    """Training stopped for a reason recorded in run.json (a NaN loss); not resumable as is."""

    def __init__(self, reason: str, run_dir: Path | None = None) -> None:
        self.reason, self.run_dir = reason, run_dir
        super().__init__(reason)


def is_disk_full(exc: BaseException) -> bool:
    """An ENOSPC/EDQUOT error, also when h5py or Keras wrapped it in another exception."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in DISK_FULL_ERRNOS:
            return True
        if any(text in str(current) for text in _DISK_FULL_TEXT):
            return True
        current = current.__cause__ or current.__context__
    return False


@contextmanager
def writing(run_dir: Path, what: str, step: str | None = None) -> Iterator[None]:
    """Around one artifact write: fault hooks before and after, and a full disk as DiskFull.

    ``run_dir`` is the run folder or a folder inside it; the message names the run folder.
    """
    try:
        if step:
            fault(f"before_{step}")
        yield
    except DiskFull:
        raise
    except Exception as exc:
        if is_disk_full(exc):
            raise DiskFull(what, _run_root(run_dir)) from None
        raise
    if step:
        fault(f"after_{step}")


def _run_root(path: Path) -> Path | None:
    for folder in (path, *path.parents):
        if (folder / INFO_FILE).exists():
            return folder
    return None


def save_file(
    run_dir: Path, name: str, save: Callable[[Path], Any], step: str | None = None
) -> None:
    """``save(tmp)`` (``model.save``, ``plt.savefig``...) then ``tmp`` replaces ``run_dir/name``."""
    target = run_dir / name
    with writing(target.parent, name, step):
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(target) as tmp:
            save(tmp)
            if step:
                fault(f"during_{step}")


def write_text(run_dir: Path, name: str, text: str, step: str | None = None) -> None:
    save_file(run_dir, name, lambda tmp: tmp.write_text(text, encoding="utf-8"), step)


def write_json(run_dir: Path, name: str, data: Any, step: str | None = None) -> None:
    write_text(run_dir, name, json.dumps(data, indent=2, default=str) + "\n", step)


def remove_backup(run_dir: Path, backup_dir: str | Path) -> None:
    """Drop a finished run's backup (the last write of a run)."""
    shutil.rmtree(run_dir / backup_dir, ignore_errors=True)
    fault("cleanup")


def remove_leftovers(run_dir: Path) -> list[Path]:
    """Temporary files of writes a kill cut short (call with the run's lock held)."""
    return remove_temp_files(run_dir)


# ---- fault injection (tests) ----------------------------------------------------------------

FAULT_ENV = "ZOO_FAULT"
# Per epoch (``STEP@N`` picks epoch N; without it, the first epoch): after the first
# batches, after history.csv got the epoch's row, inside the backup write (temporary file
# written, not yet in place), after the backup.
EPOCH_FAULT_STEPS = ("mid_epoch", "history", "during_backup", "backup")
ARTIFACT_STEPS = ("model", "checkpoint", "metrics", "curves", "confusion", "finish")
FAULT_STEPS = (
    *EPOCH_FAULT_STEPS,
    "phase_end",  # the end-of-phase backup written (``@N``: phase N)
    *(f"{when}_{what}" for what in ARTIFACT_STEPS for when in ("before", "during", "after")),
    "cleanup",  # the backup removed: the run's very last write
)


def fault(step: str, at: int | None = None) -> None:
    """Stop here if ``ZOO_FAULT`` names this step: ``STEP[@N][:ACTION]``.

    ACTION is ``kill`` (SIGKILL, the default), ``stop`` (SIGSTOP: a live process that holds
    the run's lock) or ``enospc`` (raise a disk-full OSError).
    """
    wanted = os.environ.get(FAULT_ENV)
    if wanted:
        _fault(wanted, step, at)


def _fault(wanted: str, step: str, at: int | None) -> None:
    target, _, action = wanted.partition(":")
    name, _, number = target.partition("@")
    if name != step:
        return
    if at is not None and int(number or (0 if step == "phase_end" else 1)) != at:
        return
    if action in ("", "kill"):
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "stop":
        os.kill(os.getpid(), signal.SIGSTOP)
    elif action == "enospc":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), f"<{FAULT_ENV}={wanted}>")
    else:
        raise ValueError(f"{FAULT_ENV}: unknown action {action!r} (kill, stop or enospc)")


def wants_fault(step: str) -> bool:
    """Whether ``ZOO_FAULT`` names ``step`` (to add a per-batch hook only when asked)."""
    wanted = os.environ.get(FAULT_ENV) or ""
    return wanted.partition(":")[0].partition("@")[0] == step
