"""Example Plugin's zoo plugin.

One architecture, one scaling recipe, one augmentation recipe and one data source,
registered through the ``zoo.plugins`` entry point ``example_plugin``.

Rules (zoo's docs/plugins.md): import only ``zoo.plugin`` from zoo; import TensorFlow/Keras
inside factories, never at module top (``zoo list`` imports this module); describe every
parameter; draw random numbers from the seeds zoo hands over.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field

from zoo.plugin import (
    AugmentContext,
    DataContext,
    ImageSet,
    ModelContext,
    ParamCount,
    PluginParams,
    ShapeHint,
    SourceData,
    hookimpl,
)

# ------------------------------------------------------------------------ architecture


class NetParams(PluginParams):
    filters: list[int] = Field([8, 16], min_length=1, description="Filters of each conv block.")
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout before the classifier.")


def build_net(params: NetParams, ctx: ModelContext) -> Any:
    """Conv blocks ('same' padding: any input size), global average pooling, classifier."""
    import keras

    inputs = keras.Input(ctx.input_shape)
    x = inputs
    for i, filters in enumerate(params.filters):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu",
                                name=f"conv{i + 1}")(x)
        if i < len(params.filters) - 1:
            x = keras.layers.MaxPooling2D(2, padding="same", name=f"pool{i + 1}")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    if params.dropout:
        x = keras.layers.Dropout(params.dropout)(x)
    outputs = keras.layers.Dense(ctx.num_classes, activation=ctx.output_activation,
                                 name="predictions")(x)
    return keras.Model(inputs, outputs, name=ctx.name)


# ----------------------------------------------------------------------------- scaling


class ScalingParams(PluginParams):
    min_std: float = Field(1.0, gt=0, description="Floor of the fitted standard deviation.")


class ZScore:
    """(x - mean) / std with one mean and std fitted on the training images.

    Plain arithmetic with Python floats works on tf.Tensor and np.ndarray alike; ``state()``
    is what zoo saves in the run so predict scales exactly like training.
    """

    def __init__(self, params: ScalingParams, state: dict | None = None) -> None:
        self.min_std = params.min_std
        self.mean = float(state["mean"]) if state else None
        self.std = float(state["std"]) if state else None

    def fit(self, images: Any) -> None:
        batches = [images] if hasattr(images, "shape") else images
        total, total_sq, n = 0.0, 0.0, 0
        for batch in batches:
            array = np.asarray(batch[0] if isinstance(batch, tuple) else batch, dtype=np.float64)
            total, total_sq, n = total + array.sum(), total_sq + (array**2).sum(), n + array.size
        if n == 0:
            raise ValueError("example_plugin_scaling needs training images to fit on")
        self.mean = total / n
        self.std = max(float(np.sqrt(max(total_sq / n - self.mean**2, 0.0))), self.min_std)

    def __call__(self, images: Any) -> Any:
        if self.mean is None or self.std is None:
            raise RuntimeError("example_plugin_scaling must be fitted first")
        return (images - self.mean) / self.std

    def state(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std}


def build_scaling(params: ScalingParams, state: dict | None) -> ZScore:
    return ZScore(params, state)


# ------------------------------------------------------------------------ augmentation


class JitterParams(PluginParams):
    flip: float = Field(0.5, ge=0, le=1, description="Probability of a horizontal flip.")
    brightness: int = Field(30, ge=0, le=255, description="Largest brightness shift (+/-).")


class Jitter:
    """Random flip and brightness shift. A plain class (so it pickles for worker
    processes) with its own generator seeded from ``AugmentContext.seed``."""

    def __init__(self, params: JitterParams, seed: int | None) -> None:
        self.params = params
        self.rng = np.random.default_rng(seed)

    def _apply(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = image[:, ::-1] if rng.random() < self.params.flip else image
        shift = int(rng.integers(-self.params.brightness, self.params.brightness + 1))
        return np.clip(out.astype(np.int16) + shift, 0, 255).astype(np.uint8)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        return self._apply(np.asarray(image), self.rng)

    def augment_batch(self, images: np.ndarray, seed: int) -> np.ndarray:
        """A whole uint8 NHWC batch from a per-batch seed (threads and workers call it)."""
        rng = np.random.default_rng(seed)
        return np.stack([self._apply(image, rng) for image in np.asarray(images)])


def build_jitter(params: JitterParams, ctx: AugmentContext) -> Jitter:
    return Jitter(params, ctx.seed)


# ------------------------------------------------------------------------- data source

CLASSES = ["horizontal", "vertical"]


class ShapesParams(PluginParams):
    count: int = Field(100, ge=2, le=100_000, description="Images to make.")
    image_size: int = Field(16, ge=4, le=512, description="Side of the square gray images.")


def load_shapes(params: ShapesParams, ctx: DataContext) -> SourceData:
    """Synthetic stripes: label 0 horizontal, label 1 vertical, noise seeded by the spec."""
    rng = np.random.default_rng(ctx.seed)
    n, side = params.count, params.image_size
    labels = np.arange(n) % 2
    images = rng.integers(0, 60, size=(n, side, side, 1), dtype=np.uint8)
    images[labels == 0, ::3, :, :] = 220
    images[labels == 1, :, ::3, :] = 220
    return SourceData(list(CLASSES), {"all": ImageSet(labels, images=images)})


def shapes_hint(params: ShapesParams, ctx: DataContext) -> ShapeHint:
    """Known without making the images: what zoo build needs to size a model."""
    return ShapeHint(image_size=(params.image_size, params.image_size), channels=1,
                     num_classes=len(CLASSES))


# ------------------------------------------------------------------------------- hooks


@hookimpl
def zoo_register_architectures(registry) -> None:
    registry.add_architecture(
        "example_plugin_net", params=NetParams, factory=build_net,
        description="A small CNN: conv blocks, global average pooling, classifier.",
        tags={"cnn", "example_plugin"}, family="example_plugin", input_kind="image",
        param_count=ParamCount(1_418, input_shape=(28, 28, 1), num_classes=10),
    )


@hookimpl
def zoo_register_recipes(registry) -> None:
    registry.add_scaling(
        "example_plugin_scaling", params=ScalingParams, factory=build_scaling,
        description="z-score with one mean and std fitted on the training images.",
        tags={"fitted", "example_plugin"},
    )
    registry.add_augmentation(
        "example_plugin_jitter", params=JitterParams, factory=build_jitter,
        description="Random horizontal flip and brightness shift.", tags={"example_plugin"},
    )


@hookimpl
def zoo_register_data_sources(registry) -> None:
    registry.add_data_source(
        "example_plugin_shapes", params=ShapesParams, factory=load_shapes,
        description="Synthetic gray stripes, horizontal or vertical (2 classes, no files).",
        tags={"synthetic", "example_plugin"}, input_kind="image", shape_hint=shapes_hint,
    )
