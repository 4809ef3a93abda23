"""Batches every device can take an equal share of, for ``keras.distribution.DataParallel``.

JAX shards each batch across the devices evenly, so a batch of 29 images cannot run on 2
devices; the last batch of a split rarely divides. Rather than drop images (the test metrics
would then miss some), a short batch is padded with copies of its last image that weigh 0:
they add nothing to weighted metrics and the loss sum (the loss' mean over that one batch
counts them, a negligible difference). Class weights, when the spec has them, become the
sample weights of the real images, since Keras takes one or the other, not both.

In a run over several hosts the pipelines have already kept this host's rows of every
padded batch (:mod:`zoo.data.hosts`) and mark each row real (1.0) or padding (0.0): those
batches only get their weights here.

tf.data datasets get a ``map``; the PyDataset batches a wrapper with the same ``map``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import keras
import numpy as np

from zoo.data.hosts import HostShare


def even_batches(
    dataset: Any,
    replicas: int,
    class_weight: dict[int, float] | None = None,
    processes: int = 1,
    process_id: int = 0,
) -> Any:
    """``dataset`` of ``(x, int labels)`` as ``(x, labels, weights)`` batches whose sizes
    divide by ``replicas`` (padded rows weigh 0, real rows 1 or their class weight). With
    several ``processes`` (hosts), each gets its contiguous share of every padded batch.
    A dataset of ``(x, labels, real)`` (a host's share, padded by the pipeline) is only
    weighed."""
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
    positions, real = HostShare(share[0], share[1], replicas).rows(len(x))
    labels = np.asarray(y)[positions]
    return x[positions], labels, _weigh(real, labels, table)


def _weigh(real: np.ndarray, labels: np.ndarray, table: np.ndarray | None) -> np.ndarray:
    """Sample weights: 0 for padding, else 1 or the row's class weight."""
    return real * table[np.asarray(labels, np.int64)] if table is not None else real


def _tf_even(
    dataset: Any, replicas: int, table: np.ndarray | None, share: tuple[int, int] = (1, 0)
) -> Any:
    import tensorflow as tf

    weights = tf.constant(table) if table is not None else None
    host = HostShare(share[0], share[1], replicas)

    def weigh(x: Any, y: Any, real: Any) -> tuple[Any, Any, Any]:
        if weights is None:
            return x, y, real
        return x, y, real * tf.gather(weights, tf.cast(y, tf.int32))

    if len(dataset.element_spec) == 3:  # already this host's padded rows
        return dataset.map(weigh)

    def pad(x: Any, y: Any) -> tuple[Any, Any, Any]:
        positions, real = host.tf_rows(tf, tf.shape(x, out_type=tf.int64)[0])
        return weigh(tf.gather(x, positions), tf.gather(y, positions), real)

    return dataset.map(pad)


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
        item = self.inner[index]
        if len(item) == 3:  # already this host's padded rows, with 1.0 for a real one
            x, y, real = item
            w = _weigh(real, y, self.table)
        else:
            x, y, w = _pad(item[0], item[1], self.replicas, self.table, self.share)
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
