"""digits: scikit-learn's bundled 8x8 handwritten digits (1,797 real images, no download).

The zoo's default data for quick runs and tests: ten classes ``0``..``9``, gray, 8x8
(``upscale`` makes them larger by repeating pixels). scikit-learn stores pixel values
0..16; zoo scales them to 0..255 so every source hands on the same uint8 range.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import Field

import zoo
from zoo import plugin
from zoo.plugin import ImageSet, ShapeHint, SourceData

NATIVE_SIZE = 8


class DigitsParams(zoo.PluginParams):
    upscale: int = Field(
        1,
        ge=1,
        le=16,
        description="Repeat each pixel this many times in both directions (1 keeps 8x8).",
    )
    limit: int | None = Field(
        None,
        ge=10,
        description="Use only the first N images (quick experiments); null uses all 1,797.",
    )


@functools.cache
def _digits() -> tuple[Any, Any]:
    """The 1,797 images as uint8 0..255 and their labels (read once, read-only)."""
    import numpy as np
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    images = np.rint(np.asarray(bunch.images, dtype=np.float64) * (255.0 / 16.0))
    images = np.clip(images, 0, 255).astype(np.uint8)
    labels = np.asarray(bunch.target, dtype=np.int64)
    images.flags.writeable = labels.flags.writeable = False
    return images, labels


def load_digits(params: DigitsParams, ctx: zoo.DataContext) -> SourceData:
    images, labels = _digits()
    if params.limit is not None:
        images, labels = images[: params.limit], labels[: params.limit]
    if params.upscale > 1:
        images = images.repeat(params.upscale, axis=1).repeat(params.upscale, axis=2)
    return SourceData(
        class_names=[str(d) for d in range(10)],
        splits={"all": ImageSet(labels, images=images[..., None])},
    )


def digits_shape_hint(params: DigitsParams, ctx: zoo.DataContext) -> ShapeHint:
    size = NATIVE_SIZE * params.upscale
    return ShapeHint(
        image_size=ctx.image_size or (size, size), channels=ctx.channels or 1, num_classes=10
    )


@zoo.hookimpl
def zoo_register_data_sources(registry: plugin.PluginRegistrar) -> None:
    registry.add_data_source(
        "digits",
        params=DigitsParams,
        factory=load_digits,
        description="scikit-learn's 8x8 handwritten digits: 1,797 gray images, 10 classes, "
        "bundled.",
        tags={"bundled", "gray", "builtin"},
        input_kind="image",
        shape_hint=digits_shape_hint,
    )
