"""Pixel scaling recipes: how 0..255 pixels become model inputs, one name per convention.

Each recipe maps float32 pixels in 0..255 to model inputs, on a ``tf.Tensor`` (inside the
tf.data pipeline, after batching) and on a NumPy array (``zoo predict``) alike:

- ``unit``: ``x / 255`` (0..1), the default (the reference models' scaling).
- ``tf``: ``x / 127.5 - 1`` (-1..1), ``preprocess_input(mode="tf")``.
- ``torch``: ``x / 255`` then per-channel z-score with ImageNet's mean and std,
  ``preprocess_input(mode="torch")``.
- ``caffe``: RGB to BGR, then subtract ImageNet's BGR mean pixel, no scaling:
  ``preprocess_input(mode="caffe")``, what keras.applications' VGG16/ResNet50 weights expect.
- ``raw``: pixels unchanged (0..255, float32), for models whose preprocessing is inside the
  model: keras.applications' EfficientNet, EfficientNetV2, ConvNeXt and MobileNetV3
  (``preprocess_input`` passes through for them).
- ``dataset``: per-channel mean and standard deviation measured on the training split by
  ``fit``; ``state()`` carries them into the run so ``zoo predict`` scales the same way.

Gray (1-channel) images: ``torch`` and ``caffe`` use the average of ImageNet's three
channel means (and standard deviations), as timm does for gray inputs; ``caffe``'s channel
swap does nothing to one channel. Images with another channel count than 1 or 3 are an error
for those two recipes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from pydantic import Field

import zoo
from zoo import plugin
from zoo.plugin import AffineScaling

IMAGENET_RGB_MEAN = (0.485, 0.456, 0.406)  # of pixels in 0..1 (torch)
IMAGENET_RGB_STD = (0.229, 0.224, 0.225)
IMAGENET_BGR_MEAN_PIXEL = (103.939, 116.779, 123.68)  # of pixels in 0..255, BGR order (caffe)


def _is_numpy(images: Any) -> bool:
    return isinstance(images, (np.ndarray, np.generic, list, tuple))


def _channel_values(values: Sequence[float], channels: int, recipe: str) -> np.ndarray:
    """``values`` for an image with ``channels`` channels (averaged for gray)."""
    if len(values) in (1, channels):
        return np.asarray(values, dtype=np.float32)
    if channels == 1:
        return np.asarray([np.mean(values)], dtype=np.float32)
    raise ValueError(
        f"the '{recipe}' scaling needs 1 or {len(values)} channels; "
        f"Received: images with {channels} channels"
    )


class ChannelScaling(AffineScaling):
    """``((x[..., ::-1] if bgr else x) / divisor - mean) / std``; each step optional.

    ``mean`` and ``std`` are per-channel (or one value for every channel); on a gray image a
    three-value mean or std is averaged. The computation is zoo's public affine form
    (:class:`zoo.plugin.AffineScaling`), so a run predicts even without this plugin.
    """

    def __init__(
        self,
        recipe: str,
        *,
        divisor: float | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        bgr: bool = False,
    ) -> None:
        super().__init__(recipe, divisor, mean, std, bgr)

    def fit(self, images: Any) -> None:
        """Fixed recipes learn nothing."""

    def channel_constants(self, channels: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        mean = None if self.mean is None else _channel_values(self.mean, channels, self.recipe)
        std = None if self.std is None else _channel_values(self.std, channels, self.recipe)
        return mean, std

    def __repr__(self) -> str:
        return f"ChannelScaling({self.state()})"


# --- fixed recipes -------------------------------------------------------------------------


def build_unit(params: zoo.NoParams, state: dict | None = None) -> ChannelScaling:
    return ChannelScaling("unit", divisor=255.0)


def build_tf(params: zoo.NoParams, state: dict | None = None) -> ChannelScaling:
    return ChannelScaling("tf", divisor=127.5, mean=[1.0])


def build_torch(params: zoo.NoParams, state: dict | None = None) -> ChannelScaling:
    return ChannelScaling("torch", divisor=255.0, mean=IMAGENET_RGB_MEAN, std=IMAGENET_RGB_STD)


def build_caffe(params: zoo.NoParams, state: dict | None = None) -> ChannelScaling:
    return ChannelScaling("caffe", mean=IMAGENET_BGR_MEAN_PIXEL, bgr=True)


def build_raw(params: zoo.NoParams, state: dict | None = None) -> ChannelScaling:
    return ChannelScaling("raw")


# --- dataset statistics --------------------------------------------------------------------


class DatasetParams(zoo.PluginParams):
    per_channel: bool = Field(
        True, description="One mean and standard deviation per channel (false: one for all)."
    )
    min_std: float = Field(
        1e-3, gt=0, description="Floor of the standard deviation (pixel units), for flat channels."
    )


class DatasetScaling(ChannelScaling):
    """``(x - mean) / std`` with mean and std (pixel units) measured on the training split."""

    def __init__(self, params: DatasetParams, state: dict | None = None) -> None:
        super().__init__("dataset")
        self.params = params
        if state:
            self.mean = [float(v) for v in state["mean"]]
            self.std = [float(v) for v in state["std"]]

    def fit(self, images: Any) -> None:
        """Measure mean and std on ``images``: a uint8/float NHWC array, or an iterable of
        such batches (tf.Tensor or NumPy), read chunk by chunk in float64."""
        count, mean, m2 = 0, None, None
        for chunk in _chunks(images):
            flat = (
                chunk.reshape(-1, chunk.shape[-1])
                if self.params.per_channel
                else chunk.reshape(-1, 1)
            )
            n = flat.shape[0]
            if n == 0:
                continue
            c_mean = flat.mean(axis=0)
            c_m2 = ((flat - c_mean) ** 2).sum(axis=0)
            if mean is None:
                count, mean, m2 = n, c_mean, c_m2
                continue
            delta = c_mean - mean  # Chan et al.'s pairwise update
            total = count + n
            mean = mean + delta * (n / total)
            m2 = m2 + c_m2 + delta**2 * (count * n / total)
            count = total
        if mean is None or m2 is None:
            raise ValueError("the 'dataset' scaling needs training images to fit on; got none")
        std = np.maximum(np.sqrt(m2 / count), self.params.min_std)
        self.mean = [float(v) for v in mean]
        self.std = [float(v) for v in std]

    def __call__(self, images: Any) -> Any:
        if self.mean is None or self.std is None:
            raise RuntimeError("the 'dataset' scaling must be fitted on the training images first")
        return super().__call__(images)

    def channel_constants(self, channels: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        mean, std = np.asarray(self.mean, np.float32), np.asarray(self.std, np.float32)
        if len(mean) not in (1, channels):
            raise ValueError(
                f"the 'dataset' scaling was fitted on {len(mean)}-channel images; "
                f"Received: images with {channels} channels"
            )
        return mean, std

    def state(self) -> dict[str, Any]:
        return {"recipe": "dataset", "mean": self.mean, "std": self.std}


def _chunks(images: Any, size: int = 512) -> Iterable[np.ndarray]:
    if hasattr(images, "shape") or isinstance(images, (list, tuple)):  # one array or tensor
        array = np.asarray(images)
        if array.ndim == 3:
            array = array[None]
        for start in range(0, len(array), size):
            yield array[start : start + size].astype(np.float64)
        return
    for batch in images:
        if isinstance(batch, tuple):  # (images, labels) batches
            batch = batch[0]
        array = np.asarray(batch)
        yield (array[None] if array.ndim == 3 else array).astype(np.float64)


def build_dataset(params: DatasetParams, state: dict | None = None) -> DatasetScaling:
    return DatasetScaling(params, state)


def _check_gray(recipe: str) -> Callable[[Any, Any], list[str]]:
    def check(params: Any, spec: Any) -> list[str]:
        if getattr(spec.data, "channels", None) == 1:
            return [
                f"the '{recipe}' scaling is made for RGB images; on gray images it uses the "
                "average of ImageNet's channel statistics"
            ]
        return []

    return check


@zoo.hookimpl
def zoo_register_recipes(registry: plugin.PluginRegistrar) -> None:
    registry.add_scaling(
        "unit",
        params=zoo.NoParams,
        factory=build_unit,
        description="Divide by 255: pixels in 0..1 (the reference default).",
        tags={"fixed"},
        default=True,
    )
    registry.add_scaling(
        "tf",
        params=zoo.NoParams,
        factory=build_tf,
        description="x / 127.5 - 1: pixels in -1..1 (keras preprocess_input mode 'tf').",
        tags={"fixed", "imagenet"},
    )
    registry.add_scaling(
        "torch",
        params=zoo.NoParams,
        factory=build_torch,
        description="x / 255, then ImageNet per-channel z-score (preprocess_input mode 'torch').",
        tags={"fixed", "imagenet"},
        check_spec=_check_gray("torch"),
    )
    registry.add_scaling(
        "caffe",
        params=zoo.NoParams,
        factory=build_caffe,
        description="RGB to BGR, minus ImageNet's mean pixel (preprocess_input mode 'caffe', "
        "what VGG16/ResNet50 weights expect).",
        tags={"fixed", "imagenet"},
        check_spec=_check_gray("caffe"),
    )
    registry.add_scaling(
        "raw",
        params=zoo.NoParams,
        factory=build_raw,
        description="Pixels unchanged (0..255): for models with their preprocessing inside "
        "(EfficientNet, EfficientNetV2, ConvNeXt, MobileNetV3).",
        tags={"fixed", "imagenet"},
    )
    registry.add_scaling(
        "dataset",
        params=DatasetParams,
        factory=build_dataset,
        description="Per-channel z-score with mean and std measured on the training split.",
        tags={"fitted"},
    )
