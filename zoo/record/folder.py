"""Run folders: making them, their lock, their honest status, and listing them.

A run folder holds::

    spec.yaml             the spec with every default filled in (loadable with zoo.load_spec)
    run.json              the run record (zoo.record.run): status, seed, versions, plugins...
    history.csv           one row per epoch (epoch, phase, loss, metrics, learning_rate)
    checkpoints/          best and last weights (metrics.json says which the model holds)
    backup/state.npz      the training state while a run is unfinished (for --resume)
    model.keras           the final model
    metrics.json          the results (zoo.record.results): test metrics, the kept weights
    curves.png, confusion_matrix.png, errors.png
    .lock                 flock-ed by the process training the run, for as long as it lives

A run's status is what ``run.json`` says, checked against the lock: ``running`` only while
a live process holds the lock (the kernel drops a flock when its process dies, however it
dies), so a run whose record still says running but whose lock is free was killed and shows
as ``interrupted``. Statuses:

- ``running``: a live process trains it (or writes its final files);
- ``interrupted``: stopped before the end (kill, Ctrl-C, full disk); ``--resume`` continues it;
- ``failed``: training raised (a NaN loss, a crash); ``run.json`` says why; resumable;
- ``finished``: every artifact written; the backup is gone;
- ``unreadable`` (``zoo runs`` only): ``run.json`` is missing or damaged; the reason says how.
"""

from __future__ import annotations

import datetime as _dt
import fcntl
import hashlib
import json
import os
import platform
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from zoo.errors import Problem, UserError
from zoo.record.files import RecordError, read_text
from zoo.record.group import is_group, read_group
from zoo.record.history import history_epochs
from zoo.record.results import Results, read_results
from zoo.record.run import FINISHED, INTERRUPTED, RUNNING, RunRecord, try_run_record
from zoo.record.writing import DiskFull, fault, is_disk_full, write_text
from zoo.run_files import INFO_FILE, LOCK_FILE, METRICS_FILE, SPEC_FILE
from zoo.version import __version__

DEFAULT_RUNS_DIR = "runs"
UNREADABLE = "unreadable"
KILLED_REASON = "the training process stopped without finishing (killed or crashed)"

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


STAGING = ".zoo-new-"  # a run folder being made: ".<name>.zoo-new-<pid>", renamed when whole

Fill = Callable[[Path], None]


def create_run_dir(root: str | Path, name: str, fill: Fill) -> tuple[Path, RunLock]:
    """A new ``root/<name>-<YYYYmmdd-HHMMSS>`` (``-2``, ``-3``... on a clash), already
    holding what ``fill`` writes and locked by this process.

    The folder is made under a hidden name, locked, filled (the spec, the record) and only
    then renamed into place, so a kill at any moment leaves either no run folder or one
    that ``--resume`` can finish; a hidden leftover of a dead process is removed later.
    """
    root = Path(root)
    check_out_dir(root)
    with _folder_errors(root):
        root.mkdir(parents=True, exist_ok=True)
    remove_stale_staging(root)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = f"{name}-{stamp}"
    staging, lock = _stage(root / base, fill)
    for n in range(1, 10_000):
        candidate = root / (base if n == 1 else f"{base}-{n}")
        if _claim(staging, candidate):
            lock.run_dir = candidate
            return candidate, lock
    lock.release()
    shutil.rmtree(staging, ignore_errors=True)
    raise UserError([Problem("no free run folder name left for this spec name", str(root))])


def make_run_dir(path: str | Path, fill: Fill) -> tuple[Path, RunLock]:
    """Exactly ``path`` as a new run folder (``train(run_dir=...)``), made as
    :func:`create_run_dir` makes one; never an existing folder."""
    path = Path(path)
    if path.exists() or path.is_symlink():
        raise UserError([Problem("already exists; a run never reuses a folder", str(path))])
    with _folder_errors(path.parent):
        path.parent.mkdir(parents=True, exist_ok=True)
    staging, lock = _stage(path, fill)
    if not _claim(staging, path):
        lock.release()
        shutil.rmtree(staging, ignore_errors=True)
        raise UserError([Problem("already exists; a run never reuses a folder", str(path))])
    lock.run_dir = path
    return path, lock


def _stage(target: Path, fill: Fill) -> tuple[Path, RunLock]:
    staging = target.parent / f".{target.name}{STAGING}{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    with _folder_errors(target):
        staging.mkdir()
    lock = RunLock.acquire(staging)
    try:
        fill(staging)
        fault("staged")
    except BaseException:
        lock.release()
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging, lock


def _claim(staging: Path, target: Path) -> bool:
    """Rename the staged folder to ``target``; False when ``target`` is taken."""
    if target.exists() or target.is_symlink():
        return False
    try:
        with _folder_errors(target):
            os.rename(staging, target)
    except (FileExistsError, IsADirectoryError):
        return False
    except UserError as exc:
        if "not empty" in str(exc).lower():
            return False
        raise
    return True


def remove_stale_staging(root: Path) -> list[Path]:
    """Hidden half-made run folders of processes that died before renaming them."""
    removed = []
    for path in root.glob(f".*{STAGING}*"):
        pid_text = path.name.rsplit(STAGING, 1)[-1]
        if path.is_dir() and pid_text.isdigit() and not _pid_alive(int(pid_text)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def check_out_dir(root: str | Path) -> None:
    """Refuse an ``--out`` that is a file before any work is done (a clear one-line error)."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise UserError([Problem("is a file; give --out a folder to hold run folders", str(root))])


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
    """zoo's, Python's and the main libraries' versions, for the record."""
    out: dict[str, str | None] = {"zoo": __version__, "python": platform.python_version()}
    out.update({lib: _version(lib) for lib in LIBRARIES})
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


def check_spec_unchanged(run_dir: Path, record: RunRecord) -> None:
    """A run resumes with the spec it started with: refuse a ``spec.yaml`` edited since."""
    path = run_dir / SPEC_FILE
    try:
        text = read_text(path)
    except RecordError as exc:
        why = exc.problems[0].message
        if why == "no such file":
            why = f"the run has no {SPEC_FILE}; it cannot be resumed"
        raise UserError([Problem(why, str(path))]) from None
    if record.spec_sha256 and spec_fingerprint(text) != record.spec_sha256:
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


# ---- the lock -----------------------------------------------------------------------------


class RunLock:
    """An exclusive ``flock`` on ``<run>/.lock``: one process trains a run at a time.

    The kernel drops the lock when the file is closed or the process dies (even by
    SIGKILL), so a lock is never left stale. The file itself stays: deleting a lock file
    would let two processes lock two different files of the same name.
    """

    def __init__(self, run_dir: Path, fd: int) -> None:
        self.run_dir = run_dir
        self._fd: int | None = fd

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
    """A run's honest status: its record checked against the lock and history.csv."""

    status: str
    reason: str | None
    epochs: int | None
    record: RunRecord | None


def run_state(run_dir: str | Path) -> RunState:
    run_dir = Path(run_dir)
    record, why = try_run_record(run_dir)
    epochs = history_epochs(run_dir)
    live = is_locked(run_dir)
    if record is None:
        if live:  # a new run between its folder and its run.json
            return RunState(RUNNING, None, epochs, None)
        return RunState(UNREADABLE, why, epochs, None)
    if record.status == FINISHED:
        return RunState(FINISHED, None, epochs, record)
    if live:
        return RunState(RUNNING, None, epochs, record)
    if record.status == RUNNING:
        return RunState(INTERRUPTED, KILLED_REASON, epochs, record)
    return RunState(record.status, record.reason, epochs, record)


def is_run_folder(path: Path) -> bool:
    return (
        path.is_dir()
        and not path.name.startswith(".")
        and not is_group(path)
        and any(
            (path / n).exists() or (path / n).is_symlink()
            for n in (INFO_FILE, SPEC_FILE, LOCK_FILE)
        )
    )


def try_results(run_dir: Path) -> Results | None:
    """The run's results when ``metrics.json`` is there and sound (else None)."""
    if not ((run_dir / METRICS_FILE).exists() or (run_dir / METRICS_FILE).is_symlink()):
        return None
    try:
        return read_results(run_dir)
    except RecordError:
        return None


def list_runs(root: str | Path) -> list[dict[str, Any]]:
    """A summary per run folder under ``root`` (newest first): name, status, key metrics.
    A seed group is one row: its runs' mean with ``<metric>_std`` beside it.

    A damaged folder is a row of its own (status ``unreadable`` and the reason); it never
    hides the others.
    """
    root = Path(root)
    if not root.is_dir():
        raise UserError([Problem("no such folder", str(root))])
    rows = []
    for path in sorted(root.iterdir()):
        if path.name.startswith("."):
            continue
        if is_group(path):
            rows.append(group_row(path))
        elif is_run_folder(path):
            rows.append(run_row(path))
    rows.sort(key=lambda r: str(r.get("created") or ""), reverse=True)
    return rows


def run_row(run_dir: Path) -> dict[str, Any]:
    state = run_state(run_dir)
    record = state.record
    results = try_results(run_dir) if state.status == FINISHED else None
    scores = results.scores if results is not None else {}
    model = record.plugins.get("model") if record is not None else None
    return {
        "run": str(run_dir),
        "name": record.name if record else None,
        "status": state.status,
        "reason": state.reason,
        "architecture": model.name if model else None,
        "backend": record.backend if record else None,
        "epochs": state.epochs,
        "accuracy": scores.get("accuracy"),
        "loss": scores.get("loss"),
        "created": record.created if record else None,
    }


def group_row(group_dir: Path) -> dict[str, Any]:
    """A seed group as one row: its status from the group's lock and its runs' states, its
    metrics the table's mean and standard deviation over the seeds."""
    try:
        group = read_group(group_dir)
    except RecordError as exc:
        return {
            "run": str(group_dir),
            "name": None,
            "status": UNREADABLE,
            "reason": exc.problems[0].message,
            "architecture": None,
            "backend": None,
            "epochs": None,
            "accuracy": None,
            "loss": None,
            "created": None,
        }
    members = [run_row(group_dir / r.run) for r in group.runs if is_run_folder(group_dir / r.run)]
    statuses = {m["status"] for m in members}
    if is_locked(group_dir) or RUNNING in statuses:
        status, reason = RUNNING, None
    elif group.finished and len(members) == len(group.runs) and statuses == {FINISHED}:
        status, reason = FINISHED, "seeds " + ", ".join(map(str, group.seeds))
    else:
        status = INTERRUPTED
        done = sum(m["status"] == FINISHED for m in members)
        reason = f"{done} of {len(group.runs)} seeds finished; zoo train --resume {group_dir}"
    row: dict[str, Any] = {
        "run": str(group_dir),
        "name": group.name,
        "status": status,
        "reason": reason,
        "architecture": next((m["architecture"] for m in members if m["architecture"]), None),
        "backend": next((m["backend"] for m in members if m["backend"]), None),
        "epochs": None,
        "created": group.created,
        "seeds": group.seeds,
    }
    for metric in ("accuracy", "loss"):
        found = group.row(metric) if status == FINISHED else None
        row[metric] = found.mean if found else None
        row[f"{metric}_std"] = found.std if found else None
    return row
