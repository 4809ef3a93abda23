"""Decode a source's image files once, as ``data.cache`` says, before training starts.

- ``disk`` (and ``auto``): into the decoded cache on disk (:mod:`zoo.data.disk_cache`),
  or straight from it when an earlier run decoded the same files with the same settings;
  the sets are read-only memory maps.
- ``memory``: into one array in memory, the pixels held once.
- ``none``: decoded once to find bad files and the size, then dropped (the pipeline decodes
  the files again each epoch; a header check would let a truncated file crash training).

``auto`` falls back to memory, saying why in one line, when the cache folder cannot hold
the entry; ``disk`` stops with that line instead. Bad files stop the run with one problem
each, or are skipped and counted under ``data.on_bad_file: skip``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.data.disk_cache import CachedImages, CacheUnavailable, cache_root, open_or_build
from zoo.data.fingerprint import combined, decode_key, files_key
from zoo.errors import Problem, UserError
from zoo.images import ProbedImages, load_images, probe_images
from zoo.plugin.source import ImageSet
from zoo.spec.sections import DataSpec

FILE_CHANNELS_DEFAULT = 3  # like Keras's color_mode="rgb": file images are RGB unless told


@dataclass
class DecodedFiles:
    """The checked file sets and what it took: each kept image's file, what was skipped,
    the common size (when undecoded), each set's key, and which cache holds the pixels."""

    sets: dict[str, ImageSet]
    files: dict[str, list[Path]]
    skipped: list[str]
    image_size: tuple[int, int] | None
    keys: dict[str, str]
    cache: str  # disk, memory or none
    entry: Path | None = None  # the disk cache entry
    built: bool = False  # this call decoded into it (False: read from an earlier run's)


def decode_file_sets(
    file_sets: dict[str, ImageSet],
    data: DataSpec,
    size: tuple[int, int] | None,
    workers: int | None,
) -> DecodedFiles:
    """Decode every file of every set in one parallel pass, as ``data.cache`` says."""
    names = list(file_sets)
    paths = [p for n in names for p in file_sets[n].paths or []]
    starts = np.cumsum([0] + [len(file_sets[n]) for n in names])
    channels = data.channels or FILE_CHANNELS_DEFAULT
    settings = (channels, data.resize, data.on_bad_file)
    keys = {n: decode_key(files_key(file_sets[n].paths or []), size, *settings) for n in names}
    mode = data.cache
    entry, built, found_size = None, False, None
    if mode in ("disk", "auto"):
        try:
            cached = _from_disk(paths, data, size, channels, combined(keys), workers)
            images, kept, skipped = cached.images, cached.kept, cached.skipped
            entry, built, mode = cached.path, cached.built, "disk"
        except CacheUnavailable as why:
            if mode == "disk":
                raise UserError(
                    [
                        Problem(
                            f"the decoded cache on disk is not available: {why} (set "
                            "ZOO_CACHE_DIR to a writable folder, or data.cache: memory)",
                            key_path="data.cache",
                        )
                    ]
                ) from None
            sys.stderr.write(f"zoo: data cache: {why}; keeping the images in memory instead\n")
            mode = "memory"
    if mode == "memory":
        loaded = load_images(paths, size, channels, data.resize, data.on_bad_file, workers)
        images, kept, skipped = loaded.images, loaded.kept, loaded.skipped
    elif mode == "none":
        probed = probe_images(paths, size, data.on_bad_file, workers)
        kept, skipped, found_size = probed.kept, probed.skipped, probed.image_size
    sets: dict[str, ImageSet] = {}
    files: dict[str, list[Path]] = {}
    for i, name in enumerate(names):
        lo, hi = int(starts[i]), int(starts[i + 1])
        first, last = np.searchsorted(kept, [lo, hi])  # kept is ascending: one range a set
        positions = kept[first:last] - lo
        labels = file_sets[name].labels[positions]
        files[name] = [Path(paths[lo + p]) for p in positions]
        if mode == "none":
            sets[name] = ImageSet(labels, paths=files[name])
        else:
            sets[name] = ImageSet(labels, images=images[first:last])  # a view, no copy
    return DecodedFiles(sets, files, skipped, found_size, keys, mode, entry, built)


def _from_disk(
    paths: list[Path],
    data: DataSpec,
    size: tuple[int, int] | None,
    channels: int,
    inputs: str,
    workers: int | None,
) -> CachedImages:
    """The disk cache entry of these files, built when missing. Without ``data.image_size``
    the files' common size is found by a first decode (once, when building): files of
    another size are bad files, as when decoding into memory."""
    screened: ProbedImages | None = None
    own_size = size is None
    if size is None:
        key = decode_key(inputs, None, channels, data.resize, data.on_bad_file)
        size, screened = _common_size(paths, data, workers, key)
        if size is None:  # every file is bad: nothing to cache
            assert screened is not None
            empty = np.zeros((0, 1, 1, channels), dtype=np.uint8)
            return CachedImages(empty, screened.kept, screened.skipped, None, built=False)
    key = decode_key(inputs, size, channels, data.resize, data.on_bad_file)
    shape = (int(size[0]), int(size[1]), channels)

    def build(out: np.ndarray) -> tuple[np.ndarray, list[str]]:
        probed = screened or _screen(paths, data, workers, own_size)
        good = [paths[i] for i in probed.kept]
        loaded = load_images(
            good, shape[:2], channels, data.resize, data.on_bad_file, workers, out=out
        )
        return probed.kept[loaded.kept], probed.skipped + loaded.skipped

    return open_or_build(key, len(paths), shape, build, _source(paths))


def _screen(paths: list[Path], data: DataSpec, workers: int | None, own_size: bool) -> ProbedImages:
    """Which files to build from: with the images' own size, those of the common size (a
    first decode); with ``data.image_size``, every file (the build judges each itself)."""
    if own_size:
        return probe_images(paths, None, data.on_bad_file, workers)
    return ProbedImages(None, None, np.arange(len(paths), dtype=np.int64), [])


def _common_size(
    paths: list[Path], data: DataSpec, workers: int | None, key: str
) -> tuple[tuple[int, int] | None, ProbedImages | None]:
    """The files' common size (``data.image_size`` unset) and, when it had to be found now,
    the first decode's verdict (files of another size are bad). The size is remembered
    beside the cache so that later runs need not decode to learn it."""
    note = cache_root() / f"{key}.size"
    try:
        h, w = (int(v) for v in note.read_text().split())
        return (h, w), None
    except (OSError, ValueError):
        pass
    probed = probe_images(paths, None, data.on_bad_file, workers)
    if probed.image_size is not None:
        try:
            note.parent.mkdir(parents=True, exist_ok=True)
            note.write_text(f"{probed.image_size[0]} {probed.image_size[1]}\n")
        except OSError:
            pass
    return probed.image_size, probed


def _source(paths: list[Path]) -> str:
    """The folder the files share (shown by zoo cache ls)."""
    try:
        return os.path.commonpath([os.path.abspath(p) for p in paths[:10_000]]) if paths else ""
    except ValueError:
        return ""
