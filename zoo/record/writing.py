"""How zoo writes into a run folder: atomically, with fault hooks, a full disk as one line.

Every file of a run is replaced atomically (:mod:`zoo.io`): a kill leaves the old version or
the new one, never half of one. :func:`writing` wraps each write: a full disk becomes
:class:`DiskFull` (a one-line error that leaves the run resumable), and
``ZOO_FAULT=STEP[@N][:kill|stop|enospc]`` stops the process at a named write (see
:data:`FAULT_STEPS`) for fault-injection tests; unset, it costs one dict lookup per write.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from zoo.errors import Problem, UserError
from zoo.io import atomic_path, remove_temp_files
from zoo.run_files import INFO_FILE

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
# Outside a run's own life: a new run folder filled but not yet renamed into place, an
# export's artifact written but its manifest not, a decoded-cache entry's pixels written
# but its manifest not.
OTHER_FAULT_STEPS = ("staged", "during_export", "during_cache")


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
