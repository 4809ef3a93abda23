"""Batches every device can take an equal share of, for ``keras.distribution.DataParallel``.

JAX shards each batch across the devices evenly, so a batch of 29 images cannot run on 2
devices; the last batch of a split rarely divides. Rather than drop images (the test metrics
would then miss some), a short batch is padded with copies of its last image that weigh 0:
they add nothing to weighted metrics and the loss sum (the loss' mean over that one batch
counts them, a negligible difference). Class weights, when the spec has them, become the
sample weights of the real images, since Keras takes one or the other, not both.

tf.data datasets get a ``map``; the PyDataset batches a wrapper with the same ``map``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import keras
import numpy as np


def even_batches(
    dataset: Any,
    replicas: int,
    class_weight: dict[int, float] | None = None,
    processes: int = 1,
    process_id: int = 0,
) -> Any:
    """``dataset`` of ``(x, int labels)`` as ``(x, labels, weights)`` batches whose sizes
    divide by ``replicas`` (padded rows weigh 0, real rows 1 or their class weight). With
    several ``processes`` (hosts), each gets its contiguous share of every padded batch."""
    if dataset is None:
        return None
    table = _weight_table(class_weight)
    share = (processes, process_id)
    if type(dataset).__module__.startswith("tensorflow"):
        return _tf_even(dataset, replicas, table, share)
    return EvenBatches(dataset, replicas, table, share=share)


def _weight_table(class_weight: dict[int, float] | None) -> np.ndarray | None:
    if not class_weight:
        return None
    table = np.ones(max(class_weight) + 1, np.float32)
    for index, weight in class_weight.items():
        table[index] = weight
    return table


def _pad(
    x: np.ndarray,
    y: np.ndarray,
    replicas: int,
    table: np.ndarray | None,
    share: tuple[int, int] = (1, 0),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(x)
    extra = (-n) % replicas
    rows = np.concatenate([np.arange(n), np.full(extra, n - 1)]).astype(np.int64)
    weights = table[np.asarray(y, np.int64)] if table is not None else np.ones(n, np.float32)
    weights = np.concatenate([weights, np.zeros(extra, np.float32)])
    processes, index = share
    part = slice(index * len(rows) // processes, (index + 1) * len(rows) // processes)
    return x[rows[part]], np.asarray(y)[rows[part]], weights[part]


def _tf_even(
    dataset: Any, replicas: int, table: np.ndarray | None, share: tuple[int, int] = (1, 0)
) -> Any:
    import tensorflow as tf

    weights = tf.constant(table) if table is not None else None
    processes, index = share

    def pad(x: Any, y: Any) -> tuple[Any, Any, Any]:
        n = tf.shape(x)[0]
        extra = (replicas - n % replicas) % replicas
        rows = tf.concat([tf.range(n), tf.fill([extra], n - 1)], 0)
        real = (
            tf.gather(weights, tf.cast(y, tf.int32))
            if weights is not None
            else tf.ones([n], tf.float32)
        )
        w = tf.concat([real, tf.zeros([extra])], 0)
        total = n + extra
        rows = rows[index * total // processes : (index + 1) * total // processes]
        w = w[index * total // processes : (index + 1) * total // processes]
        return tf.gather(x, rows), tf.gather(y, rows), w

    return dataset.map(pad, deterministic=True)


class EvenBatches(keras.utils.PyDataset):
    """A zoo PyDataset's batches, padded as :func:`even_batches` says."""

    def __init__(
        self,
        inner: Any,
        replicas: int,
        table: np.ndarray | None,
        targets: Any = None,
        share: tuple[int, int] = (1, 0),
    ) -> None:
        super().__init__()
        self.inner, self.replicas, self.table, self.targets = inner, replicas, table, targets
        self.share = share

    @property
    def num_batches(self) -> int | None:
        return self.inner.num_batches

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        x, y = self.inner[index]
        x, y, w = _pad(x, y, self.replicas, self.table, self.share)
        if self.targets is not None:
            x, y = self.targets(x, y)
        return x, y, w

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        for i in range(len(self)):
            yield self[i]

    def map(self, targets: Any) -> EvenBatches:
        return (
            self
            if targets is None
            else EvenBatches(self.inner, self.replicas, self.table, targets, self.share)
        )
