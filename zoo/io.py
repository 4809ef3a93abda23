"""Files, safely: atomic writes, and bounded reads of regular files only.

A killed process never leaves a half-written file behind.

A write goes to a temporary file beside its target (``.<name>.<random>.tmp<suffixes>``) and
replaces the target only once complete. An error removes the temporary file; a SIGKILL in
the middle can leave one behind, which :func:`remove_temp_files` recognises and deletes.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from zoo.errors import Problem, UserError

TEMP_MARK = ".tmp"
MAX_READ_BYTES = 16 << 20  # what zoo reads whole (records, specs, sweep files): kilobytes
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


class FileError(UserError):
    """A file zoo was given that is missing, not a regular file, too large or not valid."""


def read_bytes(path: Path, limit: int = MAX_READ_BYTES) -> bytes:
    """The content of a regular file of at most ``limit`` bytes; a RecordError otherwise.

    Opened without blocking (a FIFO in place of the file returns at once) and checked with
    ``fstat`` on the open descriptor, so a file swapped between a check and the read is
    still refused.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FileError([Problem("no such file", str(path))]) from None
    except OSError as exc:
        why = "too many levels of links" if exc.errno == errno.ELOOP else exc.strerror or exc
        raise FileError([Problem(f"cannot read this file: {why}", str(path))]) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileError([Problem(f"is a {_kind(info.st_mode)}, not a regular file", str(path))])
        if info.st_size > limit:
            raise FileError(
                [
                    Problem(
                        f"is {info.st_size:,} bytes, more than the {limit:,} "
                        "a file of this kind may have",
                        str(path),
                    )
                ]
            )
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise FileError(
                [
                    Problem(
                        f"grew beyond the {limit:,} bytes a file of this kind may "
                        "have while being read",
                        str(path),
                    )
                ]
            )
        return b"".join(chunks)
    except OSError as exc:
        raise FileError(
            [Problem(f"cannot read this file: {exc.strerror or exc}", str(path))]
        ) from None
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "folder"),
        (stat.S_ISFIFO, "named pipe"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
    ):
        if test(mode):
            return name
    return "special file"


def read_text(path: Path, limit: int = MAX_READ_BYTES) -> str:
    """A regular UTF-8 text file of bounded size (see :func:`read_bytes`)."""
    data = read_bytes(path, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileError([Problem(f"is not UTF-8 text (byte {exc.start})", str(path))]) from None


def atomic_write_text(target: str | Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def atomic_write_json(target: str | Path, data: Any) -> None:
    atomic_write_text(target, json.dumps(data, indent=2, default=str) + "\n")


def atomic_save(target: str | Path, save: Callable[[Path], Any]) -> None:
    """Run ``save(tmp_path)`` (e.g. ``model.save``) and move the result into place."""
    with atomic_path(target) as tmp:
        save(tmp)
