"""``training.sampler: balanced``: each epoch draws as many training images as the split
holds, every class equally likely (with replacement inside a class), seeded from (seed,
epoch) alone so a resumed run draws what an uninterrupted one would.

Complements ``training.class_weight``: weights change what a mistake costs; the sampler
changes how often each class is seen (rare classes repeat, common ones are subsampled).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def balanced_order(tf: Any, labels: Any, seed: Any) -> Any:
    """A ``tf.data.Dataset`` of ``len(labels)`` indices into ``labels``, every class present
    drawn with the same probability. ``seed`` is an int64 scalar tensor (one per epoch)."""
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    counts = np.bincount(labels) if n else np.zeros(0, np.int64)
    present = np.flatnonzero(counts)
    by_class = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[by_class], present)
    sizes = tf.constant(counts[present].astype(np.int64))
    starts_t = tf.constant(starts.astype(np.int64))
    by_class_t = tf.constant(by_class.astype(np.int64))
    k = len(present)
    key = tf.stack([tf.cast(seed, tf.int64), tf.constant(17, tf.int64)])
    u = tf.random.stateless_uniform([2, n], seed=key, dtype=tf.float64)
    which = tf.minimum(tf.cast(tf.floor(u[0] * k), tf.int64), k - 1)
    size = tf.gather(sizes, which)
    pos = tf.minimum(tf.cast(tf.floor(u[1] * tf.cast(size, tf.float64)), tf.int64), size - 1)
    picked = tf.gather(by_class_t, tf.gather(starts_t, which) + pos)
    return tf.data.Dataset.from_tensor_slices(picked)
