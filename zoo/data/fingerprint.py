"""Fingerprints of data: what was decoded, and what each split holds.

- :func:`files_key`: a folder's files as they are on disk (path, size, modification time),
  so a changed, added or removed file changes the key (a stale decoded cache is never
  served); :func:`pixels_key` the same for images a source holds in memory (their bytes).
- :func:`decode_key`: those inputs and how they are decoded (size, channels, resize mode,
  bad-file rule, zoo's decoding version): the key of the decoded cache on disk.
- :func:`split_fingerprint`: one split's images, labels and order, from its origin's key:
  two runs with the same test fingerprint were tested on the very same images. The run
  record keeps them (:class:`zoo.record.run.DataRecord`).

SHA-256 throughout (hashlib): stable across machines and Python versions.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

# Bump when decoding or resizing changes what a file turns into: old cache entries then
# stop matching instead of serving pixels this zoo would not make.
DECODE_VERSION = 1
_CHUNK = 1 << 24  # bytes hashed at a time


def files_key(paths: Sequence[str | Path]) -> str:
    """The files' absolute paths, sizes and modification times (ns), in order."""
    hasher = hashlib.sha256(b"zoo-files-1\n")
    for path in paths:
        resolved = os.path.abspath(path)
        try:
            st = os.stat(resolved)
            stamp = f"{st.st_size}\t{st.st_mtime_ns}"
        except OSError:
            stamp = "missing"
        hasher.update(f"{resolved}\t{stamp}\n".encode("utf-8", "surrogateescape"))
    return hasher.hexdigest()


def pixels_key(images: np.ndarray) -> str:
    """The images' shape, dtype and bytes (a source's in-memory arrays)."""
    hasher = hashlib.sha256(f"zoo-pixels-1 {images.shape} {images.dtype}\n".encode())
    flat = np.ascontiguousarray(images).reshape(-1).view(np.uint8)
    for start in range(0, flat.size, _CHUNK):
        hasher.update(flat[start : start + _CHUNK].tobytes())
    return hasher.hexdigest()


def decode_key(
    inputs: str,
    image_size: tuple[int, int] | None,
    channels: int,
    resize: str,
    on_bad_file: str,
) -> str:
    """The decoded cache's key: its inputs and every setting that changes the pixels."""
    text = f"zoo-decoded-{DECODE_VERSION}\n{inputs}\n{image_size}\n{channels}\n{resize}\n"
    return hashlib.sha256((text + on_bad_file).encode()).hexdigest()


def split_fingerprint(origin: str, labels: np.ndarray, rows: np.ndarray | None) -> str:
    """One split: its origin's key, the rows it takes from it (in order) and their labels."""
    hasher = hashlib.sha256(f"zoo-split-1\n{origin}\n".encode())
    hasher.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    if rows is not None:
        hasher.update(b"rows")
        hasher.update(np.ascontiguousarray(rows, dtype=np.int64).tobytes())
    return hasher.hexdigest()


def combined(parts: dict[str, str]) -> str:
    """One fingerprint of several named ones (the whole data set of a run)."""
    hasher = hashlib.sha256(b"zoo-data-1\n")
    for name in sorted(parts):
        hasher.update(f"{name}={parts[name]}\n".encode())
    return hasher.hexdigest()
