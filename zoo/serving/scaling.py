"""A run's scaling, rebuilt for prediction and export from run.json and spec.yaml alone.

Prediction must not need the data-source plugin that trained a run, and should survive
without the scaling plugin too. So the scaling comes from the run's own files:

1. the registered recipe (its factory, the spec's ``scaling.params`` read as plain YAML,
   and the saved ``state``): the plugin stays the authority whenever it is installed;
2. otherwise, when the saved state is in the *affine form* (only the keys ``recipe``,
   ``divisor``, ``mean``, ``std``, ``bgr``; zoo's built-in recipes write it, and any scaling
   plugin may: ``docs/plugins.md``), :class:`AffineScaling` from it, which spells out the
   whole computation;
3. otherwise a :class:`UserError` naming the missing plugin.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from zoo.errors import Problem, UserError

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

    def _constants(self, channels: int) -> tuple[np.ndarray | None, np.ndarray | None]:
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
        mean, std = self._constants(int(x.shape[-1]))
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


def is_affine_state(info: dict[str, Any]) -> bool:
    """True when run.json's scaling state is in the affine form (a public contract of the
    Scaling protocol, not a property of one plugin)."""
    state = (info.get("scaling") or {}).get("state")
    return (
        isinstance(state, dict)
        and set(state) <= AFFINE_KEYS
        and bool(set(state) & {"divisor", "mean", "std", "bgr"})
    )


def run_scaling(
    info: dict[str, Any], section: dict[str, Any] | None, registry: Any, where: str
) -> Any:
    """The run's scaling object (see the module docstring for the order tried)."""
    from zoo.errors import UnknownPluginError

    scaling_info = info.get("scaling") or {}
    recipe = str(scaling_info.get("recipe") or (section or {}).get("recipe") or "")
    state = scaling_info.get("state")
    if not recipe:
        raise UserError([Problem("run.json does not name the run's scaling recipe", where)])
    try:
        entry = registry.get(recipe, "recipe", "scaling")
    except UnknownPluginError:
        entry = None
    if entry is not None:
        params = entry.params.model_validate((section or {}).get("params") or {})
        return entry.factory(params, state)
    if is_affine_state(info):
        return AffineScaling.from_state(state)
    plugin = ((info.get("plugins") or {}).get("scaling") or {}).get("distribution")
    raise UserError(
        [
            Problem(
                f"the run's scaling recipe '{recipe}' is not installed"
                + (f" (it came from the '{plugin}' package)" if plugin else ""),
                where,
            )
        ]
    )


def describe_scaling(info: dict[str, Any], section: dict[str, Any] | None) -> dict[str, Any]:
    """What the manifest says about the scaling inside an export."""
    scaling_info = info.get("scaling") or {}
    out: dict[str, Any] = {
        "recipe": scaling_info.get("recipe"),
        "params": (section or {}).get("params") or {},
        "state": scaling_info.get("state"),
        "input_range": [0, 255],
    }
    if is_affine_state(info):
        out["formula"] = affine_formula(scaling_info["state"])
    return out


def affine_formula(state: dict[str, Any]) -> str:
    """The computation a built-in recipe's state describes, e.g. ``(x - mean) / std``."""
    x = "x[..., ::-1]" if state.get("bgr") else "x"
    if state.get("divisor") is not None:
        x = f"{x} / {state['divisor']:g}"
    if state.get("mean") is not None:
        x = f"{x} - mean"
    if state.get("std") is not None:
        x = f"({x}) / std" if " " in x else f"{x} / std"
    return x
