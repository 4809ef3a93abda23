"""Augmentation in worker processes: :class:`WorkerPool`, used by :mod:`zoo.data.pipeline`.

albumentations is mostly Python, so threads of one process share one core (the GIL). Each
worker is a fresh interpreter (``python -m zoo.data.workers``: no fork of a process that
runs TensorFlow, no re-import of the caller's __main__) that unpickles the augmenter once
and then turns (batch, seed) requests into augmented batches over its stdin and stdout;
the pixels travel through a shared-memory file, the pipe carries a few bytes.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import struct
import subprocess
import sys
import tempfile
import threading
import weakref
from typing import IO, Any

import numpy as np

WORKERS_ENV = "ZOO_AUGMENT_WORKERS"  # augmentation processes; 0: augment in threads instead
MAX_WORKERS = 8


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask), for the number of workers."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _send(stream: IO[bytes], obj: Any) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)))
    stream.write(data)
    stream.flush()


def _read_exactly(stream: IO[bytes], n: int) -> bytes:
    chunks, left = [], n
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise EOFError("augmentation worker closed its pipe")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _recv(stream: IO[bytes]) -> Any:
    (size,) = struct.unpack("<Q", _read_exactly(stream, 8))
    return pickle.loads(_read_exactly(stream, size))


class WorkerPool:
    """Processes running ``augmenter.augment_batch``; any idle one takes the next batch.

    Until a worker has started (importing albumentations takes a moment), and whenever every
    worker is busy, one batch at a time is augmented in this process instead, so nothing
    waits for the workers. Each batch carries its seed, so where it runs changes nothing.
    A worker that dies is dropped; the rest (and this process) carry on.
    """

    def __init__(self, augmenter: Any, workers: int) -> None:
        payload = pickle.dumps(augmenter, protocol=pickle.HIGHEST_PROTOCOL)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        self._augment_here = augmenter.augment_batch
        self._here = threading.Lock()
        self._idle: queue.Queue[subprocess.Popen] = queue.Queue()
        self._procs: list[subprocess.Popen] = []
        self._buffers: dict[int, _Buffer] = {}
        self.failures: list[str] = []
        for _ in range(workers):
            proc = subprocess.Popen(
                [sys.executable, "-m", "zoo.data.workers", "--augment-worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env=env,
            )
            self._procs.append(proc)
            self._buffers[proc.pid] = _Buffer()
            threading.Thread(target=self._hand_over, args=(proc, payload), daemon=True).start()
        weakref.finalize(self, _stop_workers, list(self._procs), list(self._buffers.values()))

    def _hand_over(self, proc: subprocess.Popen, payload: bytes) -> None:
        """Send the augmenter; the worker joins the pool once it says it is ready."""
        try:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(struct.pack("<Q", len(payload)) + payload)
            proc.stdin.flush()
            ok, detail = _recv(proc.stdout)
        except (OSError, EOFError) as exc:
            ok, detail = False, str(exc)
        if ok:
            self._idle.put(proc)
        else:
            self.failures.append(f"worker {proc.pid} did not start: {detail}")

    @classmethod
    def start(cls, augmenter: Any, workers: int | None) -> WorkerPool | None:
        """A pool, or None on one CPU (or ``workers=0``) or for an augmenter that cannot
        be pickled."""
        if workers is None:
            cpus = usable_cpus()
            env = os.environ.get(WORKERS_ENV, "").strip()
            workers = int(env) if env else (min(MAX_WORKERS, cpus) if cpus > 1 else 0)
        if workers < 1:
            return None
        try:
            return cls(augmenter, workers)
        except (pickle.PicklingError, TypeError, AttributeError, OSError):
            return None

    def augment(self, images: np.ndarray, seed: int) -> np.ndarray:
        while True:
            try:
                proc = self._idle.get_nowait()
                break
            except queue.Empty:
                pass
            if self._here.acquire(timeout=0.005):
                try:
                    return self._augment_here(images, seed)
                finally:
                    self._here.release()
        try:
            assert proc.stdin is not None and proc.stdout is not None
            view = self._buffers[proc.pid].view(images)
            _send(proc.stdin, (self._buffers[proc.pid].path, images.shape, images.dtype.str, seed))
            ok, detail = _recv(proc.stdout)
            result = np.array(view)  # the worker wrote the augmented batch in place
        except (OSError, EOFError) as exc:  # the worker died: drop it, do the batch here
            self.failures.append(f"worker {proc.pid} died (exit code {proc.poll()}): {exc}")
            with self._here:
                return self._augment_here(images, seed)
        self._idle.put(proc)
        if not ok:
            raise RuntimeError(f"augmentation failed in a worker: {detail}")
        return result

    @property
    def size(self) -> int:
        return len(self._procs)


class _Buffer:
    """A file in shared memory (/dev/shm) that carries one worker's batches both ways:
    the pipe then only carries a few bytes, not the pixels."""

    def __init__(self) -> None:
        self.path = ""
        self.capacity = 0
        self._map: np.memmap | None = None

    def view(self, images: np.ndarray) -> np.ndarray:
        """The buffer as an array shaped like ``images``, holding a copy of them."""
        if images.nbytes > self.capacity:
            self.close()
            folder = "/dev/shm" if os.path.isdir("/dev/shm") else None
            fd, self.path = tempfile.mkstemp(prefix="zoo-augment-", dir=folder)
            os.close(fd)
            self.capacity = max(images.nbytes, 1)
            self._map = np.memmap(self.path, dtype=np.uint8, mode="w+", shape=(self.capacity,))
        assert self._map is not None
        view = np.ndarray(images.shape, images.dtype, buffer=self._map)
        view[...] = images
        return view

    def close(self) -> None:
        self._map = None
        if self.path:
            with contextlib.suppress(OSError):
                os.unlink(self.path)
        self.path, self.capacity = "", 0


def _stop_workers(procs: list[subprocess.Popen], buffers: list[_Buffer] = ()) -> None:  # type: ignore[assignment]
    for proc in procs:
        try:
            if proc.stdin is not None:
                proc.stdin.close()  # the worker exits at the end of its input
        except OSError:
            pass
    for proc in procs:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
    for buffer in buffers:
        buffer.close()


def _worker_main() -> None:
    """A worker: read the pickled augmenter, then answer (images, seed) with augmented images."""
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr  # a stray print must not corrupt the channel
    inp = sys.stdin.buffer
    # albumentations imports its PyTorch helpers (and so torch, about a second) when they
    # are there; a worker augments uint8 arrays and never needs them.
    sys.modules.setdefault("albumentations.pytorch", None)  # type: ignore[arg-type]
    try:
        import cv2

        cv2.setNumThreads(1)  # one process per CPU already
    except ImportError:
        pass
    try:
        augmenter = _recv(inp)
    except Exception as exc:  # noqa: BLE001 (reported to the pool, which carries on without us)
        _send(out, (False, f"{type(exc).__name__}: {exc}"))
        return
    _send(out, (True, "ready"))
    maps: dict[str, np.memmap] = {}
    while True:
        try:
            path, shape, dtype, seed = _recv(inp)
        except EOFError:
            return
        try:
            if path not in maps:
                maps.clear()  # the pool made a bigger buffer: the old one is gone
                maps[path] = np.memmap(path, dtype=np.uint8, mode="r+")
            batch = np.ndarray(shape, np.dtype(dtype), buffer=maps[path])
            batch[...] = augmenter.augment_batch(batch, seed)
            reply: tuple[bool, Any] = (True, None)
        except Exception as exc:  # reported to the pipeline, which raises it
            reply = (False, f"{type(exc).__name__}: {exc}")
        _send(out, reply)


if __name__ == "__main__" and sys.argv[1:] == ["--augment-worker"]:
    _worker_main()
