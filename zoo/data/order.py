"""Which training images an epoch visits, in which order, and each batch's augmentation seed.

Both input pipelines (tf.data and the TensorFlow-free PyDataset) draw these here, with NumPy,
from (spec seed, epoch) alone. So the two give the same batches for the same seed, and a run
resumed at epoch k sees exactly what an uninterrupted run saw from epoch k on.

- :func:`epoch_order`: a shuffle through a buffer of ``buffer`` images, the algorithm of
  ``tf.data.Dataset.shuffle`` (fill the buffer, emit a random slot, refill it from the
  input); with a buffer as large as the split it is a uniform permutation.
- :func:`balanced_order` (``training.sampler: balanced``): as many draws as the split holds,
  every class equally likely, with replacement inside a class.
- :func:`batch_seeds`: one int64 seed per batch for the augmenter; in a run over several
  hosts each host augments only its own rows (:mod:`zoo.data.hosts`), with seeds of its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_SHUFFLE, _AUGMENT, _BALANCED, _HOST_AUGMENT = 0, 1, 2, 3


def _rng(seed: int, epoch: int, salt: int, *more: int) -> np.random.Generator:
    return np.random.default_rng([int(seed) % 2**63, int(epoch), salt, *more])


def epoch_order(n: int, buffer: int, seed: int, epoch: int) -> np.ndarray:
    """Indices 0..n-1 in the order epoch ``epoch`` visits them (int64)."""
    rng = _rng(seed, epoch, _SHUFFLE)
    buffer = max(1, min(int(buffer), n))
    if buffer >= n:
        return rng.permutation(n).astype(np.int64)
    # tf.data's buffered shuffle: the first `buffer` items wait in slots; each step emits a
    # random slot and refills it with the next input item (or closes it at the end).
    slots = list(range(buffer))
    picks = rng.random(n)
    out = np.empty(n, np.int64)
    following = buffer
    for i in range(n):
        j = int(picks[i] * len(slots))
        out[i] = slots[j]
        if following < n:
            slots[j] = following
            following += 1
        else:
            slots[j] = slots[-1]
            slots.pop()
    return out


def balanced_order(labels: Sequence[int] | np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """``len(labels)`` indices into ``labels``, every class present drawn equally often on
    average (classes first, then an image of that class, both uniform)."""
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    if n == 0:
        return np.zeros(0, np.int64)
    counts = np.bincount(labels)
    present = np.flatnonzero(counts)
    by_class = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[by_class], present)
    rng = _rng(seed, epoch, _BALANCED)
    which = rng.integers(0, len(present), n)
    sizes = counts[present][which]
    position = np.minimum((rng.random(n) * sizes).astype(np.int64), sizes - 1)
    return by_class[starts[which] + position].astype(np.int64)


def training_order(
    labels: Sequence[int] | np.ndarray, buffer: int, seed: int, epoch: int, sampler: str
) -> np.ndarray:
    """The training split's indices for one epoch, by the spec's ``training.sampler``."""
    if sampler == "balanced":
        return balanced_order(labels, seed, epoch)
    return epoch_order(len(labels), buffer, seed, epoch)


def batch_seeds(seed: int, epoch: int, steps: int, host: int | None = None) -> np.ndarray:
    """``steps`` int64 seeds, one for each batch of epoch ``epoch``; with ``host``, the
    seeds that host augments its rows of each batch with (a stream of its own, so no two
    hosts draw the same augmentation for different images)."""
    rng = _rng(seed, epoch, _AUGMENT) if host is None else _rng(seed, epoch, _HOST_AUGMENT, host)
    return rng.integers(0, 2**62, steps, dtype=np.int64)


def stream_seed(seed: int, host: int | None = None) -> int:
    """The seed of an endless stream of batch seeds (a split not drawn epoch by epoch)."""
    if host is None:
        return int(seed)
    return int(_rng(seed, 0, _HOST_AUGMENT, host).integers(0, 2**62))
