"""Download files a plugin needs (pretrained weights, data sets): once, hash-checked, never
hanging, and with one message per file that cannot be had.

Files live in Keras's cache (``$KERAS_HOME/<cache_subdir>``, else ``~/.keras/...``), so a file
Keras downloaded earlier is reused and a file copied there by hand on a machine without
network is found. Downloading itself is ``keras.utils.get_file`` (imported only when a file
is really missing), under a socket timeout (``ZOO_DOWNLOAD_TIMEOUT`` seconds, default 10).
``ZOO_OFFLINE=1`` never downloads. Importing this module never imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from zoo.errors import OfflineError, Problem
from zoo.tf_import import import_keras

TIMEOUT_ENV = "ZOO_DOWNLOAD_TIMEOUT"
OFFLINE_ENV = "ZOO_OFFLINE"
DEFAULT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class RemoteFile:
    """A published file: its name in the cache, where it is published, and its hash
    (64 hex digits: sha256; otherwise md5, the rule ``keras.utils.get_file`` follows)."""

    fname: str
    origin: str
    file_hash: str | None = None
    cache_subdir: str = "models"
    description: str = ""

    @property
    def path(self) -> Path:
        """Where the file is (or would be) kept."""
        return keras_home() / self.cache_subdir / self.fname


def keras_home() -> Path:
    """The Keras cache folder, found as Keras finds it."""
    if os.environ.get("KERAS_HOME"):
        return Path(os.environ["KERAS_HOME"]).expanduser()
    home = Path.home()
    return (home if os.access(home, os.W_OK) else Path("/tmp")) / ".keras"


def offline() -> bool:
    """True when ``ZOO_OFFLINE`` forbids downloads."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() not in ("", "0", "false", "no")


def file_hash(path: Path, expected: str) -> str:
    algorithm = "sha256" if len(expected) == 64 else "md5"
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def is_present(remote: RemoteFile) -> bool:
    """The file is in the cache and, when a hash is published, matches it."""
    path = remote.path
    if not path.is_file():
        return False
    return remote.file_hash is None or file_hash(path, remote.file_hash) == remote.file_hash


def ensure_files(files: Sequence[RemoteFile], *, what: str) -> list[Path]:
    """The local path of each file, downloading what is missing or corrupt.

    :param what: what the files are for, for messages ("VGG16 ImageNet weights").
    :raises OfflineError: with one problem per file that could not be had (all of them).
    """
    missing = [f for f in files if not is_present(f)]
    problems: list[Problem] = []
    for remote in missing:
        reason = f"{OFFLINE_ENV} is set" if offline() else _download(remote)
        if reason is not None:
            problems.append(_missing_problem(remote, what, reason))
    if problems:
        raise OfflineError(problems)
    return [f.path for f in files]


def _download(remote: RemoteFile) -> str | None:
    """Fetch one file with Keras; the reason it failed, or None."""
    try:
        timeout = float(os.environ.get(TIMEOUT_ENV) or DEFAULT_TIMEOUT_S)
    except ValueError:
        timeout = DEFAULT_TIMEOUT_S

    keras = import_keras()
    sys.stderr.write(f"zoo: downloading {remote.origin} to {remote.path}\n")
    try:  # Keras falls back to /tmp/.keras when the cache folder does not exist yet
        remote.path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create {remote.path.parent}: {exc}"
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        # Keras's progress bar goes to a terminal's stderr, never to stdout or a log file.
        with contextlib.ExitStack() as stack:
            progress = (
                sys.stderr if sys.stderr.isatty() else stack.enter_context(open(os.devnull, "w"))
            )
            stack.enter_context(contextlib.redirect_stdout(progress))
            keras.utils.get_file(
                fname=remote.fname,
                origin=remote.origin,
                file_hash=remote.file_hash,
                cache_subdir=remote.cache_subdir,
                cache_dir=str(keras_home()),
            )
    except Exception as exc:  # URL errors, timeouts, a hash mismatch: all one message
        with contextlib.suppress(OSError):
            if remote.path.is_file() and not is_present(remote):
                remote.path.unlink()
        return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    finally:
        socket.setdefaulttimeout(previous)
    if not is_present(remote):
        return "the downloaded file does not match its published hash"
    return None


def _missing_problem(remote: RemoteFile, what: str, reason: str) -> Problem:
    state = "is corrupt (wrong hash)" if remote.path.is_file() else "is missing"
    hash_note = f" (hash {remote.file_hash})" if remote.file_hash else ""
    return Problem(
        f"cannot download {what} ({reason}): {remote.path} {state}. Download {remote.origin}"
        f"{hash_note} where the network is reachable and copy it there, or set KERAS_HOME to "
        "a folder that holds it"
    )
