"""Which rows of every global batch one host reads, in a run over several hosts.

``keras.distribution.DataParallel`` across hosts wants each host to feed its own part of
every global batch. Every host draws the same global batches (:mod:`zoo.data.order`: each
epoch's order from the seed and the epoch alone), and then keeps only its rows *before*
reading them, so each host gathers or decodes 1/hosts of the data every epoch, not all of it.

A global batch of ``n`` rows is first padded to divide by the devices of all hosts (copies
of its last row, which weigh 0: no image is dropped and none counts twice), then cut into
equal contiguous parts, host 0 first. The hosts' parts, put side by side, are the padded
global batch a one-host run over the same devices trains on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class HostShare:
    """This host's part of every global batch.

    :param hosts: processes of the run (one per host).
    :param index: this process's index, 0 to ``hosts - 1``.
    :param devices: devices of all hosts together, which every padded batch divides by.
    """

    hosts: int
    index: int
    devices: int

    def __post_init__(self) -> None:
        if self.hosts < 1 or not 0 <= self.index < self.hosts:
            raise ValueError(f"host {self.index} of {self.hosts} does not exist")
        if self.devices < self.hosts or self.devices % self.hosts:
            # unequal parts would give hosts batches of different sizes, which JAX refuses
            raise ValueError(
                f"{self.devices} devices cannot be shared equally by {self.hosts} hosts"
            )

    def padded(self, n: int) -> int:
        """Rows of a global batch of ``n`` rows once padded to divide by the devices."""
        return n + (-n) % self.devices

    def part(self, n: int) -> int:
        """Rows this host feeds of a global batch of ``n`` rows (the same on every host)."""
        return self.padded(n) // self.hosts

    def rows(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``(positions, real)`` for a global batch of ``n`` rows: the positions in the batch
        this host reads (int64; padding repeats the last row) and 1.0 for a real row, 0.0
        for padding (float32)."""
        if n < 1:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        total = self.padded(n)
        at = np.arange(self.index * total // self.hosts, (self.index + 1) * total // self.hosts)
        return np.minimum(at, n - 1).astype(np.int64), (at < n).astype(np.float32)

    def tf_rows(self, tf: Any, n: Any) -> tuple[Any, Any]:
        """:meth:`rows` in TensorFlow ops, for ``n`` a scalar int64 tensor (inside tf.data,
        where the batch size is known only as a tensor); ``tf`` is the module."""
        total = n + (self.devices - n % self.devices) % self.devices
        at = tf.range(self.index * total // self.hosts, (self.index + 1) * total // self.hosts)
        return tf.minimum(at, n - 1), tf.cast(at < n, tf.float32)
