"""The decoded-image cache on disk (``data.cache: disk``, and ``auto`` for folders).

A folder's images are decoded and resized once into a NumPy ``.npy`` file and read back
memory-mapped by every later run, sweep trial, resume and evaluation of the same data: a
batch is a fancy-indexed gather from the map, the operating system's page cache keeps what
fits in memory, and a data set larger than memory streams from disk.

Layout (``ZOO_CACHE_DIR``, default ``~/.cache/zoo/data``)::

    <root>/<key>/images.npy      uint8 NHWC, the decoded images (rows past ``count`` unused)
    <root>/<key>/kept.npy        int64: which input file each row holds (bad files left out)
    <root>/<key>/manifest.json   written last: count, shape, CRC-32 per chunk, source folder
    <root>/<key>.lock            held while the entry is built (flock)

``key`` is :func:`zoo.data.fingerprint.decode_key`: the files' paths, sizes and
modification times and the decoding settings, so a changed file makes a new entry and a
stale one is never served. An entry is built under a hidden name and renamed into place
when complete (a killed builder leaves nothing a reader trusts); a second process building
the same entry waits for the first and reads its result; every open checks the sizes and
CRC-32 checksums of the chunks, and a damaged entry is rebuilt (said once on stderr).
NumPy memory maps were chosen over ArrayRecord/grain and TFRecord by measurement: see the
benchmarks page.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import fcntl
import json
import os
import shutil
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import Problem, UserError
from zoo.record.writing import fault

CACHE_ENV = "ZOO_CACHE_DIR"
FORMAT = 1
IMAGES, KEPT, MANIFEST = "images.npy", "kept.npy", "manifest.json"
CHUNK_BYTES = 64 << 20  # one CRC-32 per 64 MB of pixels
BUILDING = ".building-"

# (images preallocated by the cache) -> (kept input positions, skipped "path: reason")
Build = Callable[[np.ndarray], tuple[np.ndarray, list[str]]]


class CacheUnavailable(Exception):
    """The cache folder cannot hold the entry (unwritable, full): the reason, in a line."""


def cache_root() -> Path:
    """``$ZOO_CACHE_DIR``, else ``$XDG_CACHE_HOME/zoo/data``, else ``~/.cache/zoo/data``."""
    given = os.environ.get(CACHE_ENV)
    if given:
        return Path(given).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "zoo" / "data"


@dataclass(frozen=True)
class CachedImages:
    """An open cache entry: the images (a read-only memory map), which inputs they are,
    what was skipped, and whether this call decoded them (``built``)."""

    images: np.ndarray
    kept: np.ndarray
    skipped: list[str]
    path: Path | None  # None: nothing was cached (every file was bad)
    built: bool


def open_or_build(
    key: str,
    count: int,
    shape: tuple[int, int, int],
    build: Build,
    source: str = "",
    root: Path | None = None,
) -> CachedImages:
    """The entry ``key`` for ``count`` inputs of ``shape``: read it when it is whole, else
    build it with ``build`` (decoding into the preallocated map), under a lock that makes a
    second process wait and then read it. Raises :class:`CacheUnavailable` when the cache
    folder cannot hold it."""
    root = root or cache_root()
    entry = root / key
    found = _open_valid(entry)
    if found is not None:
        return found
    try:
        root.mkdir(parents=True, exist_ok=True)
        with _locked(root / f"{key}.lock", entry):
            found = _open_valid(entry, report=True)  # another process may have built it
            if found is not None:
                return found
            if entry.exists():
                shutil.rmtree(entry, ignore_errors=True)
            _build(entry, count, shape, build, source)
    except OSError as exc:
        raise CacheUnavailable(_why(exc, root)) from None
    opened = _open_valid(entry, report=True)
    if opened is None:  # written and unreadable at once: the disk lies; say so, go on without
        raise CacheUnavailable(f"the entry just written in {entry} does not read back")
    return CachedImages(opened.images, opened.kept, opened.skipped, entry, built=True)


def _why(exc: OSError, root: Path) -> str:
    if exc.errno == errno.ENOSPC:
        return f"no space left in {root}"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write in {root} ({exc.strerror})"
    return f"cannot use {root}: {exc.strerror or exc}"


@contextlib.contextmanager
def _locked(lock_path: Path, entry: Path) -> Iterator[None]:
    """An exclusive flock; says once on stderr when it waits for another builder."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            sys.stderr.write(f"zoo: waiting for another process to finish the cache {entry}\n")
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _build(entry: Path, count: int, shape: tuple[int, int, int], build: Build, source: str) -> None:
    """Decode into a hidden folder, checksum, write the manifest last, rename into place."""
    staging = entry.parent / f".{entry.name}{BUILDING}{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        images = np.lib.format.open_memmap(
            staging / IMAGES, mode="w+", dtype=np.uint8, shape=(max(count, 1), *shape)
        )
        kept, skipped = build(images[:count])
        kept = np.asarray(kept, dtype=np.int64)
        images.flush()
        offset = int(images.offset)  # where the pixels start, after the .npy header
        crcs = _checksums(staging / IMAGES, offset, len(kept) * int(np.prod(shape)))
        del images
        np.save(staging / KEPT, kept)
        fault("during_cache")
        manifest = {
            "format": FORMAT,
            "key": entry.name,
            "count": len(kept),
            "inputs": count,
            "shape": list(shape),
            "offset": offset,
            "chunk_bytes": CHUNK_BYTES,
            "crc32": crcs,
            "skipped": skipped,
            "source": source,
            "created": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1))
        for name in (IMAGES, KEPT, MANIFEST):
            _fsync(staging / name)
        os.rename(staging, entry)
        _fsync_dir(entry.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        _fsync(path)


def _checksums(path: Path, offset: int, length: int) -> list[int]:
    """CRC-32 of each ``CHUNK_BYTES`` of the pixels (zlib releases the GIL)."""
    crcs = []
    with open(path, "rb") as f:
        f.seek(offset)
        left = length
        while left > 0:
            data = f.read(min(CHUNK_BYTES, left))
            if not data:
                break
            crcs.append(zlib.crc32(data))
            left -= len(data)
    return crcs


_REPORTED: set[str] = set()


def _open_valid(entry: Path, report: bool = False) -> CachedImages | None:
    """The entry when it is whole and its checksums match; None otherwise (a damaged one is
    said once on stderr when ``report``)."""
    if not (entry / MANIFEST).is_file():
        return None
    problem = None
    try:
        manifest = json.loads((entry / MANIFEST).read_text())
        images = np.load(entry / IMAGES, mmap_mode="r")
        kept = np.load(entry / KEPT)
        count, shape = int(manifest["count"]), tuple(int(d) for d in manifest["shape"])
        row_bytes = int(np.prod(shape))
        if manifest.get("format") != FORMAT or images.shape[1:] != shape or len(kept) != count:
            problem = "its manifest does not match its files"
        elif images.shape[0] < count or images.dtype != np.uint8:
            problem = "images.npy is shorter than its manifest says"
        elif _checksums(entry / IMAGES, int(manifest["offset"]), count * row_bytes) != [
            int(c) for c in manifest["crc32"]
        ]:
            problem = "a checksum of images.npy does not match"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        problem = f"it cannot be read ({type(exc).__name__})"
    if problem is not None:
        if report and str(entry) not in _REPORTED:
            _REPORTED.add(str(entry))
            sys.stderr.write(f"zoo: the data cache {entry} is damaged ({problem}); rebuilding\n")
        return None
    with contextlib.suppress(OSError):
        os.utime(entry)  # last used: zoo cache ls shows it
    skipped = [str(s) for s in manifest.get("skipped") or []]
    return CachedImages(images[:count], kept, skipped, entry, built=False)


# ---- zoo cache ls | clear ---------------------------------------------------------------


def entries(root: Path | None = None) -> list[dict[str, Any]]:
    """Every entry under the cache folder, most recently used first."""
    root = root or cache_root()
    if not root.is_dir():
        return []
    rows = []
    for entry in root.iterdir():
        if not entry.is_dir() or entry.name.startswith("."):
            continue
        try:
            manifest = json.loads((entry / MANIFEST).read_text())
        except (OSError, ValueError):
            manifest = {}
        size = sum(f.stat().st_size for f in entry.iterdir() if f.is_file())
        rows.append(
            {
                "key": entry.name,
                "path": str(entry),
                "images": manifest.get("count"),
                "shape": manifest.get("shape"),
                "bytes": size,
                "source": manifest.get("source"),
                "created": manifest.get("created"),
                "used": _dt.datetime.fromtimestamp(entry.stat().st_mtime)
                .astimezone()
                .isoformat(timespec="seconds"),
                "whole": bool(manifest),
            }
        )
    rows.sort(key=lambda r: r["used"], reverse=True)
    return rows


def clear(keys: list[str] | None = None, root: Path | None = None) -> list[str]:
    """Remove the given entries (default: all; a key may be shortened to a unique prefix,
    as ``zoo cache ls`` shows it); an entry being built is left alone."""
    root = root or cache_root()
    removed = []
    known = [e["key"] for e in entries(root)]
    wanted: set[str] = set(known) if not keys else set()
    problems = []
    for given in keys or []:
        matches = [k for k in known if k.startswith(given)]
        if len(matches) == 1:
            wanted.add(matches[0])
        else:
            why = "no cache entry" if not matches else "more than one cache entry starts with"
            problems.append(Problem(f"{why} {given!r} (zoo cache ls lists them)", str(root)))
    if problems:
        raise UserError(problems)
    for key in sorted(wanted):
        lock = root / f"{key}.lock"
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # being built right now
            shutil.rmtree(root / key, ignore_errors=True)
            removed.append(key)
        finally:
            os.close(fd)
        with contextlib.suppress(OSError):
            lock.unlink()
    if not keys:  # the remembered image sizes of folders (see zoo.data.decode) go too
        for note in root.glob("*.size"):
            with contextlib.suppress(OSError):
                note.unlink()
    return removed
