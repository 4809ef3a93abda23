"""Atomic file writes: a killed process never leaves a half-written file behind.

A write goes to a temporary file beside its target (``.<name>.<random>.tmp<suffixes>``) and
replaces the target only once complete. An error removes the temporary file; a SIGKILL in
the middle can leave one behind, which :func:`remove_temp_files` recognises and deletes.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TEMP_MARK = ".tmp"
# ".{name}.{mkstemp's 8 random characters}.tmp{the target's suffixes}"
_TEMP_NAME = re.compile(r"^\..+\.[A-Za-z0-9_]{8}\.tmp(\.[^/]*)?$")


def is_temp_file(path: str | Path) -> bool:
    """Whether ``path`` is the name of an :func:`atomic_path` temporary file."""
    return bool(_TEMP_NAME.match(Path(path).name))


def remove_temp_files(folder: str | Path) -> list[Path]:
    """Delete temporary files a killed write left under ``folder``; returns what it removed.

    Only call it while no other process writes there (zoo holds the run's lock).
    """
    removed = []
    for path in Path(folder).rglob(f".*{TEMP_MARK}*"):
        if path.is_file() and is_temp_file(path):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; it replaces ``target`` only on success."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp" + "".join(target.suffixes), dir=target.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; keep normal file modes
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(target: str | Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_json(target: str | Path, data: Any) -> None:
    atomic_write_text(target, json.dumps(data, indent=2, default=str) + "\n")


def atomic_save(target: str | Path, save: Callable[[Path], Any]) -> None:
    """Run ``save(tmp_path)`` (e.g. ``model.save``) and move the result into place."""
    with atomic_path(target) as tmp:
        save(tmp)
