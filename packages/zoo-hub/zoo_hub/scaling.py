"""Which zoo scaling recipe a KerasHub preset's normalisation is, and the one zoo lacks.

A KerasHub image converter computes ``x * scale + offset`` on pixels in 0..255, per channel.
zoo applies the scaling outside the model, so each preset must name a zoo recipe that
computes the same thing: :func:`recipe_for` compares the converter's numbers with zoo's
built-in affine recipes (``raw``, ``unit``, ``tf``, ``torch``) and with this package's own
(``sat493m``, DINOv3's satellite statistics, which no built-in matches). No TensorFlow here:
``zoo validate`` reads this through ``required_scaling``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import zoo
from zoo import plugin

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # of pixels in 0..1, as zoo's 'torch' recipe
IMAGENET_STD = (0.229, 0.224, 0.225)
SAT493M_MEAN = (0.430, 0.411, 0.296)  # DINOv3 SAT-493M (satellite imagery) statistics
SAT493M_STD = (0.213, 0.156, 0.143)
RELATIVE_TOLERANCE = 1e-4  # JSON round trips and float32 converters


def _affine(
    divisor: float, mean: Sequence[float], std: Sequence[float]
) -> tuple[list[float], list[float]]:
    """``((x / divisor) - mean) / std`` as per-channel ``(scale, offset)``."""
    scale = [1.0 / (divisor * s) for s in std]
    offset = [-m / s for m, s in zip(mean, std, strict=True)]
    return scale, offset


# zoo recipe -> (scale, offset) per RGB channel; every recipe here is affine and RGB-ordered
KNOWN: dict[str, tuple[list[float], list[float]]] = {
    "raw": ([1.0] * 3, [0.0] * 3),
    "unit": ([1 / 255.0] * 3, [0.0] * 3),
    "tf": ([1 / 127.5] * 3, [-1.0] * 3),
    "torch": _affine(255.0, IMAGENET_MEAN, IMAGENET_STD),
    "sat493m": _affine(255.0, SAT493M_MEAN, SAT493M_STD),
}


def _per_channel(value: Any, default: float) -> list[float] | None:
    if value is None:
        return [default] * 3
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [float(value)] * 3
    if (
        isinstance(value, (list, tuple))
        and len(value) in (1, 3)
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        values = [float(v) for v in value]
        return values * 3 if len(values) == 1 else values
    return None


def _close(a: Sequence[float], b: Sequence[float]) -> bool:
    return all(
        abs(x - y) <= RELATIVE_TOLERANCE * max(1.0, abs(y)) for x, y in zip(a, b, strict=True)
    )


def recipe_for(scale: Any, offset: Any) -> str | None:
    """The zoo recipe computing ``x * scale + offset`` (None: no registered recipe does)."""
    s, o = _per_channel(scale, 1.0), _per_channel(offset, 0.0)
    if s is None or o is None:
        return None
    for name, (known_scale, known_offset) in KNOWN.items():
        if _close(s, known_scale) and _close(o, known_offset):
            return name
    return None


def recipe_for_stats(mean: Sequence[float], std: Sequence[float]) -> str | None:
    """The zoo recipe for ``((x / 255) - mean) / std`` (the upstream processors' form)."""
    return recipe_for(*_affine(255.0, mean, std))


def describe(scale: Any, offset: Any) -> str:
    """``x * [..] + [..]`` for messages."""

    def fmt(v: Any) -> str:
        return (
            "[" + ", ".join(f"{x:.6g}" for x in v) + "]" if isinstance(v, (list, tuple)) else f"{v}"
        )

    return f"x * {fmt(scale)} + {fmt(offset)}"


# ---------------------------------------------------------------- the package's own recipe


class Sat493mScaling(plugin.AffineScaling):
    """``(x / 255 - mean) / std`` with DINOv3's SAT-493M channel statistics.

    Subclassing ``AffineScaling`` gives zoo's affine state, so a run predicts and exports
    even where this package is not installed.
    """

    def __init__(self) -> None:
        super().__init__("sat493m", 255.0, SAT493M_MEAN, SAT493M_STD, False)

    def fit(self, images: Any) -> None:
        """Fixed statistics: nothing to learn."""


def build_sat493m(params: zoo.NoParams, state: dict | None = None) -> Sat493mScaling:
    return Sat493mScaling()


def _check_gray(params: Any, spec: Any) -> list[str]:
    if getattr(getattr(spec, "data", None), "channels", None) == 1:
        return [
            "the 'sat493m' scaling is made for RGB images; on gray images it uses the "
            "average of its channel statistics"
        ]
    return []


def register(registry: plugin.PluginRegistrar) -> None:
    registry.add_scaling(
        "sat493m",
        params=zoo.NoParams,
        factory=build_sat493m,
        description="x / 255, then per-channel z-score with the SAT-493M satellite-imagery "
        "statistics (mean 0.430, 0.411, 0.296; std 0.213, 0.156, 0.143): what KerasHub's "
        "DINOv3 *_sat493m presets expect.",
        tags={"fixed", "hub"},
        check_spec=_check_gray,
    )
