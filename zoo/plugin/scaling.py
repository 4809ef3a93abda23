"""The affine scaling every built-in recipe is: a public contract of the Scaling protocol.

``((x[..., ::-1] if bgr else x) / divisor - mean) / std``. A recipe whose ``state()`` lists
only these values (``recipe``, ``divisor``, ``mean``, ``std``, ``bgr``) lets a run predict
and export without the recipe's plugin installed: zoo rebuilds it from the state alone.
Plugins subclass :class:`AffineScaling` (``zoo.plugin.AffineScaling``) to get that for free.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from zoo.errors import UserError

AFFINE_KEYS = frozenset({"recipe", "divisor", "mean", "std", "bgr"})


class AffineScaling:
    """``((x[..., ::-1] if bgr else x) / divisor - mean) / std`` on NumPy or tf tensors.

    The same computation as zoo's built-in recipes (their ``state()`` lists these values),
    kept in core so a run predicts without the scaling plugin installed.
    """

    def __init__(
        self,
        recipe: str,
        divisor: float | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        bgr: bool = False,
    ) -> None:
        self.recipe = recipe
        self.divisor = None if divisor is None else float(divisor)
        self.mean = None if mean is None else [float(v) for v in mean]
        self.std = None if std is None else [float(v) for v in std]
        self.bgr = bool(bgr)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> AffineScaling:
        return cls(
            str(state.get("recipe", "?")),
            state.get("divisor"),
            state.get("mean"),
            state.get("std"),
            bool(state.get("bgr", False)),
        )

    def _values(self, values: list[float] | None, channels: int) -> np.ndarray | None:
        if values is None:
            return None
        if len(values) in (1, channels):
            return np.asarray(values, dtype=np.float32)
        if channels == 1:  # ImageNet statistics on gray images: their average (as the plugin)
            return np.asarray([np.mean(values)], dtype=np.float32)
        raise UserError(
            f"the run's '{self.recipe}' scaling has {len(values)} channel values; "
            f"the images have {channels} channels"
        )

    def channel_constants(self, channels: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Mean and std for images with ``channels`` channels (subclasses may refine)."""
        return self._values(self.mean, channels), self._values(self.std, channels)

    def fit(self, images: Any) -> None:
        """Restored from a run: nothing to learn."""

    def __call__(self, images: Any) -> Any:
        if isinstance(images, (np.ndarray, np.generic, list, tuple)):
            x = np.array(images, dtype=np.float32)
        else:
            import tensorflow as tf

            x = tf.cast(images, tf.float32)
        mean, std = self.channel_constants(int(x.shape[-1]))
        if self.bgr:
            x = x[..., ::-1]
        if self.divisor is not None:
            x = x / np.float32(self.divisor)
        if mean is not None:
            x = x - mean
        if std is not None:
            x = x / std
        return x

    def state(self) -> dict[str, Any]:
        return {
            "recipe": self.recipe,
            "divisor": self.divisor,
            "mean": self.mean,
            "std": self.std,
            "bgr": self.bgr,
        }
