"""On-disk formats for a cache of decoded, resized uint8 images, compared.

Compares, for 32x32x3 and 224x224x3 images (synthetic pixels; fewer at 224):

- ``npy``: NumPy ``.npy`` shards (``open_memmap`` to a temporary name, fsync, rename), read
  with ``np.load(mmap_mode="r")``, a shuffled batch gathered by fancy indexing;
  ``npy1`` is the same as ONE file (what ``ImageSet.images`` could simply be);
- ``arrayrecord``: ArrayRecord shards (``group_size:1``, uncompressed: random access) read
  with grain (``DataLoader`` + ``ArrayRecordDataSource``, 0 or 2 worker processes);
- ``tfrecord``: TFRecord shards of ``tf.train.Example`` (raw pixel bytes + label), read with
  tf.data (interleave over shuffled shards, a shuffle buffer, batch, ``parse_example`` +
  ``decode_raw``): sequential format, so shuffling is only as good as the buffer;
- in-memory vs memmap on tf.data: the pipeline zoo uses today (``tf.constant`` + batched
  ``tf.gather``) against the same order gathered from the npy memmap in a
  ``tf.numpy_function``; and a PyDataset-style reader (threads gathering from the memmap).

Every reader runs in its own fresh process (peak RSS is the reader's alone), interleaved
with the others and repeated. Epoch 1 starts with the cache files dropped from the page
cache (``posix_fadvise(DONTNEED)`` on these files only: a "cold" read) and includes the
reader's start-up (tracing, worker processes); later epochs read from the page cache
("warm"). Each reader is ONE pipeline over all epochs, delivering uint8 batches; the two
tf.data in-memory/memmap readers also cast and scale (float32 / 255) in the graph, as
zoo's pipeline does. Also checks what a killed writer, a truncated shard and a flipped
byte leave for a reader.

Run: ``.venv/bin/python benchmarks/bench_cache_formats.py`` (about 20 minutes on 2
busy cores with ``--n32 32768 --n224 2048``; ``--quick`` for a 2-minute smoke run;
``--only 32`` or ``--only 224``; ``--readers npy,grain`` keeps readers by substring).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

BATCH = 32


# ----------------------------------------------------------------------------- helpers


def proc_status() -> dict[str, int]:
    """VmHWM, VmRSS, RssAnon, RssFile of this process in MB."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem"):
                out[key] = int(rest.split()[0]) // 1024
    return out


def child_pids() -> list[int]:
    """Pids of this process's live children (cheap: /proc/self/task/*/children)."""
    pids = []
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/children") as f:
                pids += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return pids


def cpu_seconds() -> float:
    """CPU time of this process and its (live and finished) children."""
    import resource

    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    tick = os.sysconf("SC_CLK_TCK")
    for pid in child_pids():
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total


def machine_busy() -> float:
    """CPU seconds every process on the machine has used (all CPUs, from /proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def children_peak_mb() -> int:
    """Largest peak RSS among live children (grain workers), MB."""
    peak = 0
    for pid in child_pids():
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) // 1024)
        except OSError:
            pass
    return peak


def drop_from_page_cache(folder: Path) -> None:
    for path in folder.iterdir():
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def synthetic(n: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uint8 images (gradients plus noise, so compressors have something to do)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    base = np.stack([xx * 200, yy * 200, (1 - xx) * yy * 255], axis=-1)
    images = np.empty((n, size, size, 3), np.uint8)
    for start in range(0, n, 256):
        k = min(256, n - start)
        noise = rng.integers(0, 48, (k, size, size, 3), dtype=np.uint8)
        images[start : start + k] = (base[None] * rng.uniform(0.5, 1, (k, 1, 1, 1))).astype(
            np.uint8
        ) + noise
    labels = (np.arange(n) % 10).astype(np.int64)
    return images, labels


def shard_bounds(n: int, per_shard: int) -> list[tuple[int, int]]:
    return [(s, min(n, s + per_shard)) for s in range(0, n, per_shard)]


# ----------------------------------------------------------------------------- writers


def write_npy(folder: Path, images: np.ndarray, labels: np.ndarray, per_shard: int) -> None:
    """Shards written to a temporary name, fsynced, renamed; a manifest written last."""
    folder.mkdir(parents=True)
    shards = []
    for i, (lo, hi) in enumerate(shard_bounds(len(images), per_shard)):
        final = folder / f"images-{i:05d}.npy"
        tmp = folder / f".images-{i:05d}.npy.tmp"
        out = np.lib.format.open_memmap(
            tmp, mode="w+", dtype=np.uint8, shape=(hi - lo, *images.shape[1:])
        )
        out[:] = images[lo:hi]
        out.flush()
        del out
        fsync_path(tmp)
        os.replace(tmp, final)
        shards.append({"file": final.name, "rows": hi - lo})
    np.save(folder / "labels.npy", labels)
    fsync_path(folder / "labels.npy")
    (folder / "manifest.json").write_text(
        json.dumps({"shards": shards, "shape": list(images.shape[1:])})
    )
    fsync_path(folder / "manifest.json")


def write_npy_one(folder: Path, images: np.ndarray, labels: np.ndarray, per_shard: int) -> None:
    write_npy(folder, images, labels, len(images))


def write_arrayrecord(folder: Path, images: np.ndarray, labels: np.ndarray, per_shard: int) -> None:
    from array_record.python.array_record_module import ArrayRecordWriter

    folder.mkdir(parents=True)
    shards = []
    for i, (lo, hi) in enumerate(shard_bounds(len(images), per_shard)):
        final = folder / f"images-{i:05d}.array_record"
        tmp = folder / f".images-{i:05d}.array_record.tmp"
        writer = ArrayRecordWriter(str(tmp), "group_size:1,uncompressed")
        for j in range(lo, hi):
            writer.write(bytes([labels[j]]) + images[j].tobytes())
        writer.close()
        fsync_path(tmp)
        os.replace(tmp, final)
        shards.append({"file": final.name, "rows": hi - lo})
    (folder / "manifest.json").write_text(
        json.dumps({"shards": shards, "shape": list(images.shape[1:])})
    )
    fsync_path(folder / "manifest.json")


def write_tfrecord(folder: Path, images: np.ndarray, labels: np.ndarray, per_shard: int) -> None:
    import tensorflow as tf

    folder.mkdir(parents=True)
    shards = []
    for i, (lo, hi) in enumerate(shard_bounds(len(images), per_shard)):
        final = folder / f"images-{i:05d}.tfrecord"
        tmp = folder / f".images-{i:05d}.tfrecord.tmp"
        with tf.io.TFRecordWriter(str(tmp)) as writer:
            for j in range(lo, hi):
                example = tf.train.Example(
                    features=tf.train.Features(
                        feature={
                            "image": tf.train.Feature(
                                bytes_list=tf.train.BytesList(value=[images[j].tobytes()])
                            ),
                            "label": tf.train.Feature(
                                int64_list=tf.train.Int64List(value=[int(labels[j])])
                            ),
                        }
                    )
                )
                writer.write(example.SerializeToString())
        fsync_path(tmp)
        os.replace(tmp, final)
        shards.append({"file": final.name, "rows": hi - lo})
    (folder / "manifest.json").write_text(
        json.dumps({"shards": shards, "shape": list(images.shape[1:])})
    )
    fsync_path(folder / "manifest.json")


WRITERS = {
    "npy": write_npy,
    "npy1": write_npy_one,
    "arrayrecord": write_arrayrecord,
    "tfrecord": write_tfrecord,
}


# ----------------------------------------------------------------------------- readers
# Each reader: make(folder, n, shape, mode) -> epoch(e) -> iterator of (float32 x, labels)


def epoch_order(n: int, epoch: int) -> np.ndarray:
    return np.random.default_rng([0, epoch]).permutation(n).astype(np.int64)


def all_orders(n: int, epochs: int) -> np.ndarray:
    return np.concatenate([epoch_order(n, e) for e in range(epochs)])


class NpyShards:
    """Memory-mapped npy shards; ``gather(indices)`` returns a uint8 batch (a copy)."""

    def __init__(self, folder: Path) -> None:
        manifest = json.loads((folder / "manifest.json").read_text())
        self.shards = [np.load(folder / s["file"], mmap_mode="r") for s in manifest["shards"]]
        self.per = len(self.shards[0])
        self.labels = np.load(folder / "labels.npy")
        self.shape = tuple(manifest["shape"])

    def gather(self, idx: np.ndarray) -> np.ndarray:
        if len(self.shards) == 1:
            return self.shards[0][idx]
        out = np.empty((len(idx), *self.shape), np.uint8)
        which, row = np.divmod(idx, self.per)
        for s in np.unique(which):
            mask = which == s
            out[mask] = self.shards[s][row[mask]]
        return out


def reader_npy(folder: Path, epochs: int, threads: int) -> Iterator:
    """A PyDataset-style reader (what zoo's Batches does): uint8 batches gathered from the
    memmap, ``threads`` threads making batches ahead, in order."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    data = NpyShards(folder)
    n = len(data.labels)

    def make(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return data.gather(idx), data.labels[idx]

    order = all_orders(n, epochs)
    batches = (order[i : i + BATCH] for i in range(0, len(order), BATCH))
    if threads <= 1:
        for b in batches:
            yield make(b)
        return
    pool = ThreadPoolExecutor(threads)
    ahead: deque = deque()
    for b in batches:
        ahead.append(pool.submit(make, b))
        if len(ahead) > 2 * threads:
            yield ahead.popleft().result()
    while ahead:
        yield ahead.popleft().result()


def _tf_options(tf: Any, ds: Any, single: bool) -> Any:
    options = tf.data.Options()
    options.deterministic = True
    if single:
        options.threading.private_threadpool_size = 1
        options.threading.max_intra_op_parallelism = 1
        options.autotune.enabled = False
    return ds.with_options(options).prefetch(1 if single else tf.data.AUTOTUNE)


def reader_tf_inmemory(folder: Path, epochs: int, single: bool) -> Iterator:
    """zoo's tf.data path today: the whole array as a tf.constant, one batched tf.gather,
    then cast and scale (float32 / 255)."""
    import tensorflow as tf

    data = NpyShards(folder)
    n = len(data.labels)
    images = tf.constant(np.concatenate([np.asarray(s) for s in data.shards]))
    labels = tf.constant(data.labels)
    par = 1 if single else tf.data.AUTOTUNE
    ds = tf.data.Dataset.from_tensor_slices(all_orders(n, epochs)).batch(BATCH)
    ds = ds.map(
        lambda i: (tf.gather(images, i), tf.gather(labels, i)),
        num_parallel_calls=par,
        deterministic=True,
    )
    ds = ds.map(
        lambda x, y: (tf.cast(x, tf.float32) * (1 / 255), y),
        num_parallel_calls=par,
        deterministic=True,
    )
    yield from _tf_options(tf, ds, single)


def reader_tf_memmap(folder: Path, epochs: int, single: bool, chunk: int = 1) -> Iterator:
    """The same, gathering from the npy memmap in a tf.numpy_function: each batch, or
    ``chunk`` batches at a time (one Python call for them all) then ``rebatch``."""
    import tensorflow as tf

    data = NpyShards(folder)
    n = len(data.labels)
    shape = data.shape
    labels = tf.constant(data.labels)
    par = 1 if single else tf.data.AUTOTUNE

    def load(i: Any) -> tuple[Any, Any]:
        x = tf.numpy_function(data.gather, [i], tf.uint8, stateful=False)
        x.set_shape((None, *shape))
        return x, tf.gather(labels, i)

    ds = tf.data.Dataset.from_tensor_slices(all_orders(n, epochs)).batch(BATCH * chunk)
    ds = ds.map(load, num_parallel_calls=par, deterministic=True)
    if chunk > 1:
        ds = ds.rebatch(BATCH)
    ds = ds.map(
        lambda x, y: (tf.cast(x, tf.float32) * (1 / 255), y),
        num_parallel_calls=par,
        deterministic=True,
    )
    yield from _tf_options(tf, ds, single)


def reader_tfrecord(folder: Path, epochs: int, single: bool) -> Iterator:
    """Shards in a shuffled order, 4 interleaved, an 8192-record shuffle buffer, batched
    ``parse_example`` + ``decode_raw`` (uint8 batches)."""
    import tensorflow as tf

    manifest = json.loads((folder / "manifest.json").read_text())
    files = [str(folder / s["file"]) for s in manifest["shards"]]
    shape = tuple(manifest["shape"])
    n = sum(s["rows"] for s in manifest["shards"])
    par = 1 if single else tf.data.AUTOTUNE
    spec = {
        "image": tf.io.FixedLenFeature([], tf.string),
        "label": tf.io.FixedLenFeature([], tf.int64),
    }

    def parse(records: Any) -> tuple[Any, Any]:
        ex = tf.io.parse_example(records, spec)
        return tf.reshape(tf.io.decode_raw(ex["image"], tf.uint8), (-1, *shape)), ex["label"]

    ds = tf.data.Dataset.from_tensor_slices(files).shuffle(len(files), seed=0).repeat(epochs)
    ds = ds.interleave(
        tf.data.TFRecordDataset,
        cycle_length=min(4, len(files)),
        num_parallel_calls=par,
        deterministic=True,
    )
    ds = ds.shuffle(min(n, 8192), seed=0).batch(BATCH)
    ds = ds.map(parse, num_parallel_calls=par, deterministic=True)
    yield from _tf_options(tf, ds, single)


if os.environ.get("ZOO_BENCH_GRAIN"):  # grain readers (and their worker processes) only
    import grain.python as gp
    from absl import flags as _flags

    if not _flags.FLAGS.is_parsed():
        _flags.FLAGS.mark_as_parsed()  # grain reads absl flags; this is no absl app

    class ParseRecord(gp.MapTransform):
        """A record (label byte + pixels) -> (image, label)."""

        def __init__(self, shape: tuple[int, ...]) -> None:
            self.shape = shape

        def map(self, record: bytes) -> tuple[np.ndarray, np.int64]:
            arr = np.frombuffer(record, np.uint8)
            return arr[1:].reshape(self.shape), np.int64(arr[0])


def reader_grain(folder: Path, epochs: int, workers: int, api: str = "loader") -> Iterator:
    """ArrayRecord shards through grain: ``DataLoader`` (IndexSampler, a global shuffle per
    epoch) or the ``MapDataset`` API (``mp_prefetch`` for worker processes)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    files = [str(folder / s["file"]) for s in manifest["shards"]]
    shape = tuple(manifest["shape"])
    source = gp.ArrayRecordDataSource(files)  # its default reader options: random access
    n = len(source)
    if api == "loader":
        yield from gp.DataLoader(
            data_source=source,
            sampler=gp.IndexSampler(n, shuffle=True, seed=0, num_epochs=epochs),
            operations=[ParseRecord(shape), gp.Batch(BATCH)],
            worker_count=workers,
            worker_buffer_size=2,
            read_options=gp.ReadOptions(
                num_threads=1 if workers == 0 else 2, prefetch_buffer_size=256
            ),
        )
        return
    ds = gp.MapDataset.source(source).shuffle(seed=0).repeat(epochs)
    ds = ds.map(ParseRecord(shape)).batch(BATCH)
    it = ds.to_iter_dataset(gp.ReadOptions(num_threads=0 if workers == 0 else 2))
    if workers:
        it = it.mp_prefetch(
            gp.MultiprocessingOptions(num_workers=workers, per_worker_buffer_size=2)
        )
    yield from it


READERS: dict[str, Callable[[Path, int], Iterator]] = {
    "npy memmap gather, 1 thread": lambda f, e: reader_npy(f, e, 1),
    "npy memmap gather, 2 threads": lambda f, e: reader_npy(f, e, 2),
    "npy ONE file memmap gather, 1 thread": lambda f, e: reader_npy(f, e, 1),
    "arrayrecord grain DataLoader workers=0": lambda f, e: reader_grain(f, e, 0),
    "arrayrecord grain DataLoader workers=2": lambda f, e: reader_grain(f, e, 2),
    "arrayrecord grain MapDataset 0 workers": lambda f, e: reader_grain(f, e, 0, "dataset"),
    "arrayrecord grain MapDataset mp_prefetch 2": lambda f, e: reader_grain(f, e, 2, "dataset"),
    "tfrecord tf.data, 1 thread": lambda f, e: reader_tfrecord(f, e, True),
    "tfrecord tf.data, parallel": lambda f, e: reader_tfrecord(f, e, False),
    "tf.data in-memory tf.constant, 1 thread": lambda f, e: reader_tf_inmemory(f, e, True),
    "tf.data in-memory tf.constant, parallel": lambda f, e: reader_tf_inmemory(f, e, False),
    "tf.data npy memmap numpy_function, 1 thread": lambda f, e: reader_tf_memmap(f, e, True),
    "tf.data npy memmap numpy_function, parallel": lambda f, e: reader_tf_memmap(f, e, False),
    "tf.data npy memmap numpy_function x8, 1 thread": lambda f, e: reader_tf_memmap(f, e, True, 8),
    "tf.data npy memmap numpy_function x8, parallel": lambda f, e: reader_tf_memmap(f, e, False, 8),
}
FOLDER_OF = {"npy ONE file memmap gather, 1 thread": "npy1"}


def folder_for(name: str) -> str:
    return FOLDER_OF.get(name) or (
        "arrayrecord" if "arrayrecord" in name else "tfrecord" if "tfrecord" in name else "npy"
    )


def run_reader(name: str, folder: Path, epochs: int) -> dict[str, Any]:
    """In a fresh process: imports, then one pipeline over ``epochs`` epochs, timed epoch by
    epoch (by counting images). Epoch 1 reads a cold page cache and includes start-up."""
    import threading

    if name.startswith(("tf", "tfrecord")):
        import tensorflow  # noqa: F401
    n = json.loads((folder / "manifest.json").read_text())
    n = sum(s["rows"] for s in n["shards"])
    before = proc_status()
    peak_children = [0]
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(0.2):
            peak_children[0] = max(peak_children[0], children_peak_mb())

    threading.Thread(target=watch, daemon=True).start()
    drop_from_page_cache(folder)
    wall0, cpu0 = time.perf_counter(), cpu_seconds()
    marks, cpu_marks, machine_marks, count = [], [], [], 0
    for x, _y in READERS[name](folder, epochs):
        count += int(x.shape[0])
        if count % n == 0 or count >= n * (len(marks) + 1):
            marks.append(time.perf_counter())
            cpu_marks.append(cpu_seconds())
            machine_marks.append(machine_busy())
    stop.set()
    after = proc_status()
    times = [b - a for a, b in zip([wall0, *marks[:-1]], marks, strict=True)]
    warm_wall = marks[-1] - marks[0]
    return {
        "images": count,
        "epoch_s": times,
        "first": n / times[0],
        "warm": n * (len(marks) - 1) / warm_wall,
        "warm_cpus": (cpu_marks[-1] - cpu_marks[0]) / warm_wall,
        "others": (machine_marks[-1] - machine_marks[0] - cpu_marks[-1] + cpu_marks[0]) / warm_wall,
        "cpus": (cpu_marks[-1] - cpu0) / (marks[-1] - wall0),
        "rss_before": before["VmRSS"],
        "hwm": after["VmHWM"],
        "anon": after["RssAnon"],
        "file": after["RssFile"],
        "children_hwm": peak_children[0],
    }


# ----------------------------------------------------------------------------- integrity


def _crash_writer(fmt: str, folder: Path, size: int, rows: int) -> None:
    """Write ``rows`` records straight to the final name and die (SIGKILL) half-way."""
    images, labels = synthetic(rows, size, seed=1)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = {"npy": "npy", "arrayrecord": "array_record", "tfrecord": "tfrecord"}[fmt]
    path = folder / f"images-00000.{suffix}"
    half = rows // 2
    if fmt == "npy":
        out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=images.shape)
        out[:half] = images[:half]
        out.flush()
    elif fmt == "arrayrecord":
        from array_record.python.array_record_module import ArrayRecordWriter

        w = ArrayRecordWriter(str(path), "group_size:1,uncompressed")
        for j in range(half):
            w.write(bytes([labels[j]]) + images[j].tobytes())
    else:
        import tensorflow as tf

        w = tf.io.TFRecordWriter(str(path))
        for j in range(half):
            w.write(images[j].tobytes())
        w.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _read_all(fmt: str, path: Path, size: int) -> str:
    """What a reader that trusts the file sees: a count of records, or the error."""
    try:
        if fmt == "npy":
            arr = np.load(path, mmap_mode="r")
            zero_rows = int((np.asarray(arr).reshape(len(arr), -1).max(axis=1) == 0).sum())
            return f"opens: {len(arr)} rows, {zero_rows} all-zero rows"
        if fmt == "arrayrecord":
            from array_record.python.array_record_module import ArrayRecordReader

            r = ArrayRecordReader(str(path), "readahead_buffer_size:0")
            k = r.num_records()
            got = r.read(list(range(k)))
            return f"opens: {k} records, {len(got)} read"
        import tensorflow as tf

        k = 0
        for _ in tf.data.TFRecordDataset(str(path)):
            k += 1
        return f"opens: {k} records read"
    except Exception as exc:  # noqa: BLE001
        return f"error: {type(exc).__name__}: {str(exc).splitlines()[0][:90]}"


def integrity(root: Path, size: int = 32, rows: int = 2000) -> list[tuple[str, str, str]]:
    results = []
    for fmt in ("npy", "arrayrecord", "tfrecord"):
        folder = root / f"crash-{fmt}"
        proc = subprocess.run(
            [sys.executable, __file__, "--crash-writer", fmt, str(folder), str(size), str(rows)],
            capture_output=True,
        )
        (path,) = [p for p in folder.iterdir()]
        results.append(
            (
                fmt,
                f"writer SIGKILLed after {rows // 2} of {rows} records "
                f"(exit {proc.returncode}, file {path.stat().st_size} B)",
                _read_all(fmt, path, size),
            )
        )
        # a complete shard, then damaged copies
        full = root / f"full-{fmt}"
        images, labels = synthetic(rows, size, seed=2)
        WRITERS[fmt](full, images, labels, rows)
        (shard,) = [p for p in full.iterdir() if p.name.startswith("images-")]
        raw = shard.read_bytes()
        cut = root / f"cut-{fmt}" / shard.name
        cut.parent.mkdir()
        cut.write_bytes(raw[: int(len(raw) * 0.6)])
        results.append(
            (fmt, "complete shard truncated to 60% of its bytes", _read_all(fmt, cut, size))
        )
        flip = root / f"flip-{fmt}" / shard.name
        flip.parent.mkdir()
        b = bytearray(raw)
        b[len(b) // 2] ^= 0xFF
        flip.write_bytes(bytes(b))
        results.append((fmt, "one byte flipped mid-file", _read_all(fmt, flip, size)))
    return results


# ----------------------------------------------------------------------------- main


def stats(values: list[float]) -> str:
    return f"{max(values):8.0f} {statistics.median(values):8.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n32", type=int, default=65536, help="images at 32x32")
    parser.add_argument("--n224", type=int, default=4096, help="images at 224x224")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=["32", "224"])
    parser.add_argument("--readers", default="", help="comma-separated substrings to keep")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--no-integrity", action="store_true")
    parser.add_argument("--dir", default="", help="scratch folder (default: a temp folder)")
    args = parser.parse_args(argv)
    if args.quick:
        args.n32, args.n224, args.repeat, args.epochs = 8192, 512, 1, 2

    root = Path(args.dir or tempfile.mkdtemp(prefix="zoo-cache-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    print(
        f"{os.cpu_count()} CPUs; batch {BATCH}; best and median of {args.repeat} runs; "
        f"scratch {root}",
        flush=True,
    )
    sizes = [(32, args.n32, 16384), (224, args.n224, 512)]
    if args.only:
        sizes = [s for s in sizes if str(s[0]) == args.only]
    try:
        for size, n, per_shard in sizes:
            images, labels = synthetic(n, size)
            mb = images.nbytes / 2**20
            print(
                f"\n== {n} images of {size}x{size}x3 ({mb:.0f} MB of pixels; shards of "
                f"{per_shard}) ==",
                flush=True,
            )
            writes: dict[str, list[float]] = {k: [] for k in WRITERS}
            sizes_on_disk: dict[str, int] = {}
            for _ in range(args.repeat):
                for fmt, writer in WRITERS.items():
                    folder = root / f"{size}-{fmt}"
                    shutil.rmtree(folder, ignore_errors=True)
                    t0 = time.perf_counter()
                    writer(folder, images, labels, per_shard)
                    writes[fmt].append(n / (time.perf_counter() - t0))
                    sizes_on_disk[fmt] = sum(p.stat().st_size for p in folder.iterdir())
            del images
            print(
                f"{'write (1 thread, incl. fsync)':44s} {'best':>8s} {'median':>8s}  "
                "images/s   on disk",
                flush=True,
            )
            for fmt, rates in writes.items():
                print(f"  {fmt:42s} {stats(rates)}  {sizes_on_disk[fmt] / 2**20:7.0f} MB")

            names = [
                k
                for k in READERS
                if not args.readers or any(s in k for s in args.readers.split(","))
            ]
            runs: dict[str, list[dict[str, Any]]] = {k: [] for k in names}
            for _ in range(args.repeat):
                for name in names:
                    fmt = folder_for(name)
                    proc = subprocess.run(
                        [
                            sys.executable,
                            __file__,
                            "--reader",
                            name,
                            str(root / f"{size}-{fmt}"),
                            str(args.epochs),
                        ],
                        capture_output=True,
                        text=True,
                    )
                    if proc.returncode != 0:
                        print(f"  {name}: FAILED\n{proc.stderr[-2000:]}", flush=True)
                        continue
                    runs[name].append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(
                f"{'read: shuffled uint8 batches of 32':49s} "
                f"{'warm best':>9s} {'median':>8s} | {'1st best':>9s} {'median':>8s} | "
                "CPUs warm (others) CPU us/img | MB: HWM  anon  file  child-HWM  (before reading)",
                flush=True,
            )
            for name, rs in runs.items():
                if not rs:
                    continue
                warm = [x["warm"] for x in rs]
                cold = [x["first"] for x in rs]
                last = rs[-1]
                print(
                    f"  {name:47s} {stats(warm)} | {stats(cold)} | "
                    f"{statistics.median(x['warm_cpus'] for x in rs):9.2f} "
                    f"({statistics.median(x['others'] for x in rs):4.2f}) "
                    f"{statistics.median(x['warm_cpus'] / x['warm'] * 1e6 for x in rs):7.1f} | "
                    f"{max(x['hwm'] for x in rs):7d} {last['anon']:5d} {last['file']:5d} "
                    f"{max(x['children_hwm'] for x in rs):6d}  ({last['rss_before']})",
                    flush=True,
                )
            mem = {k: statistics.median(x["warm"] for x in v) for k, v in runs.items() if v}
            best = {k: max(x["warm"] for x in v) for k, v in runs.items() if v}
            for single in ("1 thread", "parallel"):
                for how in ("numpy_function", "numpy_function x8"):
                    a = f"tf.data in-memory tf.constant, {single}"
                    b = f"tf.data npy memmap {how}, {single}"
                    if a in mem and b in mem:
                        print(
                            f"  tf.data in-memory / memmap {how} ({single}, warm): "
                            f"{best[a] / best[b]:.2f}x best, {mem[a] / mem[b]:.2f}x median",
                            flush=True,
                        )
        if not args.no_integrity:
            print(
                "\n== a killed writer, a truncated shard, a flipped byte: what a reader that "
                "trusts the file sees ==",
                flush=True,
            )
            for fmt, case, seen in integrity(root / "integrity"):
                print(f"  {fmt:12s} {case:62s} -> {seen}", flush=True)
    finally:
        if not args.dir:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--reader"]:
        if "grain" in sys.argv[2] and not os.environ.get("ZOO_BENCH_GRAIN"):
            os.environ["ZOO_BENCH_GRAIN"] = "1"
            os.execv(sys.executable, [sys.executable, *sys.argv])
        result = run_reader(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]))
        print(json.dumps(result), flush=True)
        os._exit(0)  # grain/TF threads can hold up a normal exit
    if sys.argv[1:2] == ["--crash-writer"]:
        _crash_writer(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    sys.exit(main())
