"""The TensorFlow-free input pipeline: :class:`PreparedData` in, ``keras.utils.PyDataset``
batches out (``runtime.input: py_dataset``, or ``auto`` on a machine without TensorFlow).

It feeds every Keras backend from NumPy, with the same sources, splits, scaling recipes and
seeded augmentation as the tf.data pipeline (:mod:`zoo.data.pipeline`), and the same
batches: each epoch's order and each batch's augmentation seed come from
:mod:`zoo.data.order`, which both pipelines share. Per batch::

    indices of the batch -> gather (in memory) or decode (files, a thread per image)
    -> [augment, training split only] -> float32 -> scale -> [targets]

Batches are pure functions of their index and are made ahead in a thread pool (decoding
in threads too), so parallel work stays deterministic. Augmenters with ``augment_batch`` run
on whole batches (in worker processes for big runs, like the tf.data path); a plain
per-image augmenter draws from its own generator, so its batches are made one at a time.

Why not grain: it would add a dependency for what PyDataset already does here (index-based,
threaded, ordered), and PyDataset is what Keras' own ``fit`` adapts on every backend.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import keras
import numpy as np

from zoo.data.hosts import HostShare
from zoo.data.order import batch_seeds, training_order
from zoo.data.prepared import Pipelines, PreparedData
from zoo.data.recipes import (
    BatchAugment,
    augment_workers_for,
    batch_augmenter,
    fitted_scaling,
    make_augmenter,
)
from zoo.data.workers import usable_cpus
from zoo.errors import Problem, UserError
from zoo.images import ResizeMode, read_image
from zoo.plugin.contracts import Scaling
from zoo.plugin.source import ImageSet
from zoo.spec.loader import LoadedSpec

Targets = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, Any]]


@dataclass(frozen=True)
class _Split:
    """What one split's batches are made of."""

    image_set: ImageSet
    shape: tuple[int, int, int]
    resize: ResizeMode
    batch: int
    scaling: Scaling
    augment: BatchAugment | None = None
    order: Callable[[int], np.ndarray] | None = None  # epoch -> indices (training only)
    seeds: Callable[[int], np.ndarray] | None = None  # epoch -> a seed per batch
    targets: Targets | None = None
    first_epoch: int = 0
    share: HostShare | None = None  # a run over several hosts: this host's rows only


class Batches(keras.utils.PyDataset):
    """Batches of ``(float32 scaled images, labels or targets)`` of one split.

    Batch ``i`` is a pure function of ``i``: for the training split, an endless stream in
    which batch ``i`` is batch ``i % steps`` of epoch ``first_epoch + i // steps`` (Keras
    fits it with ``steps_per_epoch``, as the tf.data stream), so no Keras epoch callback
    has to arrive in time for the order to be right. Keras' own worker threads would drop
    prefetched indices between epochs, so the dataset prefetches itself: asking for batch
    ``i`` starts batches ``i+1..i+ahead`` in a thread pool.
    """

    def __init__(self, split: _Split, ahead: int = 0) -> None:
        super().__init__(workers=1, use_multiprocessing=False)
        self._split = split
        self._ahead = ahead
        self._steps = max(1, math.ceil(len(split.image_set) / split.batch))
        self._plans: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        self._lock = threading.Lock()
        self._pending: dict[int, Future] = {}
        self._pool = ThreadPoolExecutor(max(1, ahead)) if ahead else None
        self._decoder = (
            ThreadPoolExecutor(max(1, usable_cpus())) if split.image_set.images is None else None
        )

    @property
    def num_batches(self) -> int | None:
        return None if self._split.order is not None else self._steps

    def __len__(self) -> int:
        """Batches per epoch."""
        return self._steps

    def map(self, targets: Targets | None) -> Batches:
        """The same batches with labels turned into the objective's targets (see
        :func:`zoo.runner.compile.with_targets`)."""
        if targets is None:
            return self
        return Batches(replace(self._split, targets=targets), self._ahead)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        """One epoch (the first)."""
        for i in range(self._steps):
            yield self[i]

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        if index < 0 or (self._split.order is None and index >= self._steps):
            raise IndexError(index)
        if self._pool is None:
            return self._make(index)
        with self._lock:
            for stale in [k for k in self._pending if k < index]:
                self._pending.pop(stale).cancel()
            wanted = self._pending.pop(index, None) or self._pool.submit(self._make, index)
            last = (
                index + self._ahead
                if self._split.order is not None
                else min(index + self._ahead, self._steps - 1)
            )
            for k in range(index + 1, last + 1):
                if k not in self._pending:
                    self._pending[k] = self._pool.submit(self._make, k)
        return wanted.result()

    def _make(self, index: int) -> tuple[Any, ...]:
        s = self._split
        epoch, step = divmod(index, self._steps)
        rows = np.arange(step * s.batch, min((step + 1) * s.batch, len(s.image_set)))
        seed = None
        if s.order is not None:
            order, seeds = self._plan(s.first_epoch + epoch)
            rows = order[rows]
            seed = int(seeds[step]) if seeds is not None else None
        real: tuple[np.ndarray, ...] = ()
        if s.share is not None:  # this host's rows of the global batch, before reading any
            positions, mask = s.share.rows(len(rows))
            rows, real = rows[positions], (mask,)
        images = self._images(rows)
        labels = np.asarray(s.image_set.labels, dtype=np.int64)[rows]
        if s.augment is not None and seed is not None:
            images = s.augment(images, seed)
        x = np.asarray(s.scaling(images.astype(np.float32)), dtype=np.float32)
        return (*s.targets(x, labels), *real) if s.targets is not None else (x, labels, *real)

    def _plan(self, epoch: int) -> tuple[np.ndarray, np.ndarray | None]:
        """(order, batch seeds) of an epoch; the last two epochs' are kept."""
        s = self._split
        with self._lock:
            plan = self._plans.get(epoch)
        if plan is None:
            assert s.order is not None
            plan = (s.order(epoch), s.seeds(epoch) if s.seeds is not None else None)
            with self._lock:
                self._plans = {k: v for k, v in self._plans.items() if k >= epoch - 1}
                self._plans[epoch] = plan
        return plan

    def _images(self, indices: np.ndarray) -> np.ndarray:
        s = self._split
        if s.image_set.images is not None:
            return np.ascontiguousarray(s.image_set.images[indices], dtype=np.uint8)
        paths = s.image_set.paths or []
        size, channels = (int(s.shape[0]), int(s.shape[1])), int(s.shape[2])
        assert self._decoder is not None
        return np.stack(
            list(
                self._decoder.map(
                    lambda i: read_image(str(paths[int(i)]), size, channels, s.resize), indices
                )
            )
        )


class ArrayBatches(keras.utils.PyDataset):
    """Batches of in-memory ``(images, labels)`` arrays (prediction and evaluation of a run)."""

    def __init__(
        self, x: np.ndarray, y: np.ndarray, batch_size: int, targets: Targets | None = None
    ) -> None:
        super().__init__()
        self.x, self.y, self.batch_size, self.targets = x, y, int(batch_size), targets

    @property
    def num_batches(self) -> int:
        return max(1, math.ceil(len(self.x) / self.batch_size))

    def __len__(self) -> int:
        return self.num_batches

    def __getitem__(self, index: int) -> tuple[np.ndarray, Any]:
        if not 0 <= index < self.num_batches:
            raise IndexError(index)
        part = slice(index * self.batch_size, (index + 1) * self.batch_size)
        x, y = self.x[part], self.y[part]
        return self.targets(x, y) if self.targets is not None else (x, y)

    def __iter__(self) -> Iterator[tuple[np.ndarray, Any]]:
        for i in range(self.num_batches):
            yield self[i]

    def map(self, targets: Targets | None) -> ArrayBatches:
        return self if targets is None else ArrayBatches(self.x, self.y, self.batch_size, targets)


def build_py_pipelines(
    prepared: PreparedData,
    loaded: LoadedSpec,
    *,
    batch_size: int | None = None,
    scaling_state: dict[str, Any] | None = None,
    augment_workers: int | None = None,
    first_epoch: int | None = None,
    share: HostShare | None = None,
) -> Pipelines:
    """:class:`Pipelines` of :class:`Batches`; the arguments are those of
    :func:`zoo.data.pipeline.build_pipelines`."""
    spec = loaded.spec
    batch = int(batch_size or spec.training.batch_size)
    seed = int(spec.seed)
    scaling = fitted_scaling(prepared, loaded, scaling_state)
    if spec.augmentation is not None and spec.augmentation.path == "graph":
        raise UserError(
            [Problem("path: graph needs the tf_data input", key_path="augmentation.path")]
        )
    augmenter = make_augmenter(loaded, prepared.image_shape)
    threads = max(1, min(usable_cpus(), 8))
    base = dict(shape=prepared.image_shape, resize=spec.data.resize, batch=batch, scaling=scaling)

    def evaluation(image_set: ImageSet | None, mine: HostShare | None = None) -> Batches | None:
        if image_set is None:
            return None
        return Batches(_Split(image_set, **base, share=mine), ahead=threads)  # type: ignore[arg-type]

    train = prepared.train
    steps = max(1, math.ceil(len(train) / batch))
    labels = np.asarray(train.labels, dtype=np.int64)
    buffer = int(spec.training.shuffle_buffer)
    sampler = spec.training.sampler
    host = share.index if share is not None else None
    augment, parallel = None, None
    if augmenter is not None:
        hosts = share.hosts if share is not None else 1
        workers = augment_workers_for(spec, len(train) // hosts, augment_workers)
        augment, parallel = batch_augmenter(augmenter, workers)
    training = _Split(
        train,
        **base,  # type: ignore[arg-type]
        augment=augment,
        order=lambda epoch: training_order(labels, buffer, seed, epoch, sampler),
        seeds=lambda epoch: batch_seeds(seed, epoch, steps, host),
        first_epoch=int(first_epoch or 0),
        share=share,
    )
    return Pipelines(
        train=Batches(training, ahead=0 if parallel == 1 else threads),
        validation=evaluation(prepared.validation),
        test=evaluation(prepared.test),
        scaling=scaling,
        steps_per_epoch=steps,
        validation_share=evaluation(prepared.validation, share) if share else None,
    )
