"""ResNet v1 (He et al. 2015): resnet18/34 (basic blocks), resnet50/101/152 (bottleneck).

One builder makes every variant; the registered names differ only in block type and
blocks per stage. The defaults are the reference ResNet50 (docs/reference-models.md):
ZeroPadding 3, Conv 64 7x7/2 (He-normal), BN, ReLU, ZeroPadding 1, MaxPool 3/2; bottleneck
stages [64, 64, 256] x3 (first block stride 1), [128, 128, 512] x4, [256, 256, 1024] x6,
[512, 512, 2048] x3, where a stage's first (conv) block has a 1x1 conv + BN shortcut and the
stride on its first 1x1 conv, and the others (identity blocks) add their input; a ReLU after
each add. Head: GAP, Dropout 0.5, Dense 200 ReLU, Dropout 0.5, output.

Layers are named as in keras.applications (``conv2_block1_1_conv``...), and with the default
``conv_bias: true`` the convolutional base has exactly keras.applications' parameters
(ResNet50 without top: 23,587,712). ``conv_bias: false`` gives the paper's (and
torchvision's) count. ``stem: cifar`` replaces the 7x7/2 conv and the max-pool with one
3x3/1 conv, for 32x32 images.

``weights`` (resnet50, resnet101, resnet152): ``imagenet`` loads Keras' published no-top
ImageNet file into the convolutional base (downloaded once, hash-checked; ``zoo fetch``),
a path loads a local ``.weights.h5``/``.h5`` file of keras.applications' ResNet base, and
``none`` (the default) starts from random weights. Pretrained weights need the
keras.applications configuration (``stem: imagenet``, ``conv_bias: true``; ``bn_epsilon``
then defaults to Keras' 1.001e-5) and the ``caffe`` scaling (declared, so
``scaling: {recipe: auto}`` picks it). The same file can also be had through
``resnet50_transfer`` (plugins/architectures/applications.py), which adds freezing.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator
from zoo_builtins.architectures._checks import (
    SpatialTrace,
    Tracer,
    check_input_size,
    smallest_input,
)
from zoo_builtins.architectures._layers import Head, Initializer, build_head

import zoo
from zoo import plugin

if TYPE_CHECKING:
    import keras

BlockType = Literal["basic", "bottleneck"]
# name -> (block type, blocks per stage, param count of the default config at 224x224x3, 10 classes)
VARIANTS: dict[str, tuple[BlockType, tuple[int, int, int, int], int]] = {
    "resnet18": ("basic", (2, 2, 2, 2), 11_295_522),
    "resnet34": ("basic", (3, 4, 6, 3), 21_414_818),
    "resnet50": ("bottleneck", (3, 4, 6, 3), 23_999_522),
    "resnet101": ("bottleneck", (3, 4, 23, 3), 43_069_986),
    "resnet152": ("bottleneck", (3, 8, 36, 3), 58_782_754),
}
STAGE_FILTERS = (64, 128, 256, 512)  # bottleneck blocks expand these by 4
KERAS_BN_EPSILON = 1.001e-5
# keras.applications' no-top ImageNet files (keras/src/applications/resnet.py WEIGHTS_HASHES)
IMAGENET_FILES = {
    "resnet50": "4d473c1dd8becc155b73f8504c6f6626",
    "resnet101": "88cf7a10940856eca736dc7b7e228a21",
    "resnet152": "ee4c566cf9a93f14d82f913c2dc6dd0c",
}
KERAS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"
LAST_BASE_LAYER = "conv5_block3_out"


class ResNetParams(zoo.PluginParams):
    stem: Literal["imagenet", "cifar"] = Field(
        "imagenet",
        description="imagenet: pad 3, Conv 7x7/2, BN, ReLU, pad 1, MaxPool 3/2 (the "
        "reference model); cifar: Conv 3x3/1, BN, ReLU, no pool (for 32x32 images).",
    )
    conv_bias: bool = Field(
        True,
        description="Biases in the convs (the reference model and keras.applications: "
        "true; the paper "
        "and torchvision: false, BN makes them redundant).",
    )
    bn_epsilon: float = Field(
        1e-3,
        gt=0,
        description="BatchNorm epsilon (Keras' default, as in the reference model; "
        "keras.applications uses 1.001e-5).",
    )
    kernel_initializer: Initializer = Field("he_normal", description="Initializer of the convs.")
    head: Head = Field(
        default_factory=lambda: Head(pooling="gap", dense_units=[200], dropout=0.5),
        description="The reference head: GAP, Dropout 0.5, Dense 200, Dropout 0.5.",
    )
    weights: str | None = Field(
        None,
        description="none (random), imagenet (keras.applications' file; resnet50/101/152) "
        "or a path to a .weights.h5/.h5 file of the keras.applications base.",
    )

    @field_validator("weights", mode="before")
    @classmethod
    def _none_word(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip().lower() in ("none", "") else value

    @model_validator(mode="before")
    @classmethod
    def _keras_epsilon(cls, data: Any) -> Any:
        """Pretrained weights come with Keras' BN epsilon unless one is given."""
        if (
            isinstance(data, dict)
            and data.get("weights") not in (None, "none", "None", "")
            and "bn_epsilon" not in data
        ):
            return {**data, "bn_epsilon": KERAS_BN_EPSILON}
        return data

    @model_validator(mode="after")
    def _pretrained_layout(self) -> ResNetParams:
        if self.weights is None:
            return self
        if self.weights != "imagenet" and not self.weights.lower().endswith((".h5", ".hdf5")):
            raise ValueError(
                "weights must be none, imagenet or a path to a .weights.h5/.h5 "
                f"file. Received: weights={self.weights!r}"
            )
        if self.stem != "imagenet" or not self.conv_bias:
            raise ValueError(
                "pretrained weights need keras.applications' layout: stem: "
                f"imagenet and conv_bias: true. Received: stem={self.stem!r}, "
                f"conv_bias={self.conv_bias}"
            )
        return self


def imagenet_file(variant: str) -> plugin.RemoteFile:
    fname = f"{variant}_weights_tf_dim_ordering_tf_kernels_notop.h5"
    base = os.environ.get("ZOO_WEIGHTS_BASE_URL") or KERAS_URL
    return plugin.RemoteFile(
        fname=fname,
        origin=base.rstrip("/") + "/resnet/" + fname,
        file_hash=IMAGENET_FILES[variant],
        cache_subdir="models",
    )


def _weights_path(params: ResNetParams, variant: str, spec_dir: Path | None = None) -> Path | None:
    if params.weights is None:
        return None
    if params.weights == "imagenet":
        if variant not in IMAGENET_FILES:
            raise zoo.UserError(
                [
                    zoo.Problem(
                        f"{variant}: Keras publishes ImageNet weights only for "
                        f"{', '.join(IMAGENET_FILES)}. Received: weights='imagenet'",
                        key_path="model.params.weights",
                    )
                ]
            )
        return plugin.ensure_files([imagenet_file(variant)], what=f"{variant} ImageNet weights")[0]
    path = Path(params.weights).expanduser()
    if not path.is_absolute() and spec_dir is not None:
        path = Path(spec_dir) / path
    if not path.is_file():
        raise zoo.UserError(
            [
                zoo.Problem(
                    f"{variant}: weights file not found: {path.resolve()}. "
                    f"Received: weights={params.weights!r}",
                    key_path="model.params.weights",
                )
            ]
        )
    return path


def check_local_weights(
    params: ResNetParams, spec: Any, *, spec_dir: Path, variant: str
) -> list[str]:
    """``zoo validate`` finds a missing local weights file (never a download here)."""
    if params.weights not in (None, "imagenet"):
        _weights_path(params, variant, spec_dir)
    return []


def _load_base_weights(model: keras.Model, path: Path, variant: str) -> None:
    """Load a keras.applications ResNet base file into the model's convolutional base."""
    import warnings

    import keras

    base = keras.Model(model.inputs, model.get_layer(LAST_BASE_LAYER).output)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            base.load_weights(str(path))
    except (ValueError, OSError, KeyError) as exc:
        raise zoo.UserError(
            [
                zoo.Problem(
                    f"{variant}: cannot load weights from {path}: the file does not match "
                    f"keras.applications' {variant} base (expected {imagenet_file(variant).fname} "
                    "or "
                    f"a file saved from that base): {' '.join(str(exc).split())[:400]}",
                    key_path="model.params.weights",
                )
            ]
        ) from None


def fetch(params: ResNetParams, ctx: plugin.FetchContext, *, variant: str) -> list[Path]:
    path = _weights_path(params, variant, ctx.spec_dir)
    return [path] if path else []


def required_scaling(params: ResNetParams) -> str | None:
    """keras.applications' ResNet v1 weights were trained on 'caffe' inputs."""
    return "caffe" if params.weights is not None else None


def _trace(params: ResNetParams) -> Tracer:
    total = 32 if params.stem == "imagenet" else 8

    def trace(height: int, width: int) -> SpatialTrace:
        t = SpatialTrace(height, width)
        t.require(
            total,
            f"this ResNet halves the image {total.bit_length() - 1} times (total "
            f"stride {total}) and needs at least {total}x{total}",
        )
        if params.stem == "imagenet":
            t.pad("conv1_pad", 3).conv("conv1_conv", 7, 2, "valid")
            t.pad("pool1_pad", 1).pool("pool1_pool", 3, 2, "valid")
        return t

    return trace


def _conv_bn(
    x: keras.KerasTensor,
    filters: int,
    kernel: int,
    strides: int,
    name: str,
    params: ResNetParams,
    relu: bool = True,
) -> keras.KerasTensor:
    from keras import layers

    x = layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding="same",
        use_bias=params.conv_bias,
        kernel_initializer=params.kernel_initializer,
        name=f"{name}_conv",
    )(x)
    x = layers.BatchNormalization(axis=-1, epsilon=params.bn_epsilon, name=f"{name}_bn")(x)
    return layers.Activation("relu", name=f"{name}_relu")(x) if relu else x


def bottleneck_block(
    x: keras.KerasTensor,
    filters: int,
    strides: int,
    conv_shortcut: bool,
    name: str,
    params: ResNetParams,
) -> keras.KerasTensor:
    """1x1 (stride here, as in v1) -> 3x3 -> 1x1 x4, plus the input or a 1x1 conv + BN of it."""
    from keras import layers

    shortcut = (
        _conv_bn(x, 4 * filters, 1, strides, f"{name}_0", params, relu=False)
        if conv_shortcut
        else x
    )
    y = _conv_bn(x, filters, 1, strides, f"{name}_1", params)
    y = _conv_bn(y, filters, 3, 1, f"{name}_2", params)
    y = _conv_bn(y, 4 * filters, 1, 1, f"{name}_3", params, relu=False)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def basic_block(
    x: keras.KerasTensor,
    filters: int,
    strides: int,
    conv_shortcut: bool,
    name: str,
    params: ResNetParams,
) -> keras.KerasTensor:
    """3x3 (stride) -> 3x3, plus the input or a 1x1 conv + BN of it."""
    from keras import layers

    shortcut = (
        _conv_bn(x, filters, 1, strides, f"{name}_0", params, relu=False) if conv_shortcut else x
    )
    y = _conv_bn(x, filters, 3, strides, f"{name}_1", params)
    y = _conv_bn(y, filters, 3, 1, f"{name}_2", params, relu=False)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def build_resnet(params: ResNetParams, ctx: zoo.ModelContext, *, variant: str) -> keras.Model:
    check_input_size(variant, ctx, _trace(params))
    weights = _weights_path(params, variant, ctx.spec_dir)
    import keras
    from keras import layers

    block_type, depths, _ = VARIANTS[variant]
    block = bottleneck_block if block_type == "bottleneck" else basic_block
    expansion = 4 if block_type == "bottleneck" else 1

    inputs = keras.Input(shape=ctx.input_shape, name="input")
    if params.stem == "imagenet":
        x = layers.ZeroPadding2D(3, name="conv1_pad")(inputs)
        x = layers.Conv2D(
            64,
            7,
            strides=2,
            use_bias=params.conv_bias,
            kernel_initializer=params.kernel_initializer,
            name="conv1_conv",
        )(x)
        x = layers.BatchNormalization(axis=-1, epsilon=params.bn_epsilon, name="conv1_bn")(x)
        x = layers.Activation("relu", name="conv1_relu")(x)
        x = layers.ZeroPadding2D(1, name="pool1_pad")(x)
        x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    else:
        x = _conv_bn(inputs, 64, 3, 1, "conv1", params)
    channels = 64
    for stage, (filters, blocks) in enumerate(zip(STAGE_FILTERS, depths, strict=True), start=2):
        for b in range(1, blocks + 1):
            strides = 2 if (b == 1 and stage > 2) else 1
            conv_shortcut = b == 1 and (strides != 1 or channels != filters * expansion)
            x = block(x, filters, strides, conv_shortcut, f"conv{stage}_block{b}", params)
            channels = filters * expansion
    outputs = build_head(x, params.head, ctx)
    model = keras.Model(inputs, outputs, name=ctx.name)
    if weights is not None:
        _load_base_weights(model, weights, variant)
    return model


@zoo.hookimpl
def zoo_register_architectures(registry: plugin.PluginRegistrar) -> None:
    for name, (block_type, depths, count) in VARIANTS.items():
        layers_total = sum(depths) * (3 if block_type == "bottleneck" else 2) + 2
        note = " (the reference model with the defaults)" if name == "resnet50" else ""
        registry.add_architecture(
            name,
            params=ResNetParams,
            factory=functools.partial(build_resnet, variant=name),
            description=f"ResNet-{layers_total} v1, {block_type} blocks {list(depths)}{note}; "
            "head as in the reference model (GAP, Dropout, Dense 200, Dropout).",
            tags={"cnn", "residual", "paper"} | ({"reference"} if note else set()),
            family="resnet",
            input_kind="image",
            param_count=plugin.ParamCount(count, input_shape=(224, 224, 3), num_classes=10),
            smallest_input=smallest_input(_trace),
            fetch=functools.partial(fetch, variant=name),
            required_scaling=required_scaling,
            check_spec=functools.partial(check_local_weights, variant=name),
        )
