"""Simple CNN: blocks of convolutions, each block ending in a pool, then a head.

Reproduces the four reference CNNs (docs/reference-models.md) exactly, through ``blocks``
and ``head`` or through ``preset``:

- ``gray`` (the default; 28x28x1): Conv 16 k3 same, Conv 32 k4 same, Conv 64 k4 valid,
  MaxPool 2, Flatten, Dense 50, Dense 20, output.
- ``gray_dropout``: the same with Dropout 0.5 after Flatten.
- ``rgb`` (32x32x3): Conv 32 k5 valid, Conv 32 k3, pool; Conv 64, Conv 64 + separate
  ReLU, pool; Conv 128, Conv 128 + separate ReLU, pool; Flatten, Dropout 0.5, Dense 300,
  Dropout 0.5, output.
- ``performance`` (32x32x3): pairs of Conv k3 (64, 128, 256), each Conv -> BatchNorm ->
  ReLU, He-normal init (except the very first conv, which keeps Keras' default,
  Glorot-uniform), L2 1e-5 on the second conv only, MaxPool after each pair; GAP, Dropout
  0.5, Dense 300 (L2 1e-5, He), Dropout 0.5, output with Glorot-normal init.

The presets were first named ``note_gray``, ``note_gray_dropout``, ``note_rgb`` and
``note_performance``; those names are still accepted and mean the same (``OLD_PRESETS``).

A conv may be written as a bare number (its filters, every other option inherited), e.g.
``blocks: [{convs: [32, 32]}, {convs: [64, 64], dropout: 0.25}]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from zoo_builtins.architectures._checks import (
    SpatialTrace,
    Tracer,
    check_input_size,
    smallest_input,
)
from zoo_builtins.architectures._layers import (
    Activation,
    Head,
    Initializer,
    Padding,
    Regularizer,
    build_head,
    make_regularizer,
)

import zoo
from zoo import plugin

if TYPE_CHECKING:
    import keras


class Conv(zoo.PluginParams):
    """One Conv2D layer; options left null inherit the network-wide setting."""

    filters: int = Field(ge=1, description="Number of filters.")
    kernel: int | tuple[int, int] = Field(3, description="Kernel size: n or [height, width].")
    strides: int = Field(1, ge=1, description="Stride.")
    padding: Padding = Field("same", description="same keeps the size, valid shrinks it.")
    activation: Activation | None = Field(
        None, description="Activation; null inherits the network's `activation`."
    )
    separate_activation: bool = Field(
        False,
        description="Apply the activation as its own Activation layer after the conv "
        "(the reference RGB CNN); always so when batch_norm is on.",
    )
    batch_norm: bool | None = Field(
        None, description="Conv -> BatchNorm -> activation; null inherits `batch_norm`."
    )
    kernel_initializer: Initializer | None = Field(
        None, description="Initializer; null inherits `kernel_initializer`."
    )
    kernel_regularizer: Regularizer | None = Field(
        None, description="Weight penalty; null inherits `kernel_regularizer` ({l2: 0}: none)."
    )
    use_bias: bool = Field(True, description="Give the conv a bias (the reference CNNs always do).")


class Block(zoo.PluginParams):
    """Convolutions followed by an optional pooling layer and Dropout."""

    # A bare number is turned into Conv(filters=number) before validation; the int stays in
    # the annotation so the JSON Schema (and editors) accept the short form too.
    convs: list[Conv | Annotated[int, Field(ge=1)]] = Field(
        min_length=1,
        description="The block's convs, in order (a number: a conv with that many filters).",
    )
    pool: Literal["max", "avg"] | None = Field(
        "max", description="Pooling after the convs, or null."
    )
    pool_size: int = Field(2, ge=1, description="Pooling window.")
    pool_strides: int | None = Field(
        None, ge=1, description="Pooling stride; null: the window size."
    )
    pool_padding: Padding = Field("valid", description="Pooling padding.")
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout after the block (0: none).")

    @field_validator("convs", mode="before")
    @classmethod
    def _bare_numbers(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [
                {"filters": v} if isinstance(v, int) and not isinstance(v, bool) else v
                for v in value
            ]
        return value

    def conv_layers(self) -> list[Conv]:
        return [c if isinstance(c, Conv) else Conv(filters=c) for c in self.convs]


def _conv(filters: int, kernel: int = 3, **kw: Any) -> dict[str, Any]:
    return {"filters": filters, "kernel": kernel, **kw}


L2_1E5 = {"l2": 1e-5}
PRESETS: dict[str, dict[str, Any]] = {
    "gray": {
        "blocks": [{"convs": [_conv(16, 3), _conv(32, 4), _conv(64, 4, padding="valid")]}],
        "head": {"pooling": "flatten", "dense_units": [50, 20], "dropout": 0.0},
    },
    "gray_dropout": {
        "blocks": [{"convs": [_conv(16, 3), _conv(32, 4), _conv(64, 4, padding="valid")]}],
        "head": {"pooling": "flatten", "dense_units": [50, 20], "dropout": [0.5, 0.0, 0.0]},
    },
    "rgb": {
        "blocks": [
            {"convs": [_conv(32, 5, padding="valid"), _conv(32, 3)]},
            {"convs": [_conv(64, 3), _conv(64, 3, separate_activation=True)]},
            {"convs": [_conv(128, 3), _conv(128, 3, separate_activation=True)]},
        ],
        "head": {"pooling": "flatten", "dense_units": [300], "dropout": 0.5},
    },
    "performance": {
        "batch_norm": True,
        "kernel_initializer": "he_normal",
        "blocks": [
            {
                "convs": [
                    _conv(64, 3, kernel_initializer="glorot_uniform"),
                    _conv(64, 3, kernel_regularizer=L2_1E5),
                ]
            },
            {"convs": [_conv(128, 3), _conv(128, 3)]},
            {"convs": [_conv(256, 3), _conv(256, 3)]},
        ],
        "head": {
            "pooling": "gap",
            "dense_units": [300],
            "dropout": 0.5,
            "kernel_initializer": "he_normal",
            "kernel_regularizer": L2_1E5,
            "output_initializer": "glorot_normal",
        },
    },
}
Preset = Literal["gray", "gray_dropout", "rgb", "performance"]
# The presets' first names, still accepted: each means the preset it maps to.
OLD_PRESETS = {f"note_{name}": name for name in PRESETS}
DEFAULT = PRESETS["gray"]


class SimpleCNNParams(zoo.PluginParams):
    preset: Preset | None = Field(
        None,
        description="Start from one of the reference models; keys given beside it override "
        "the preset's (gray, gray_dropout, rgb, performance).",
    )
    blocks: list[Block] = Field(
        default_factory=lambda: [Block.model_validate(b) for b in DEFAULT["blocks"]],
        min_length=1,
        description="Conv blocks, in order; the default is the reference gray CNN.",
    )
    activation: Activation = Field("relu", description="Activation of the convs.")
    batch_norm: bool = Field(False, description="Conv -> BatchNorm -> activation in every conv.")
    kernel_initializer: Initializer = Field(
        "glorot_uniform",
        description="Initializer of the convs (the reference performance CNN: he_normal).",
    )
    kernel_regularizer: Regularizer | None = Field(
        None, description="Weight penalty on every conv, e.g. {l2: 1.0e-5}; null: none."
    )
    head: Head = Field(
        default_factory=lambda: Head.model_validate(DEFAULT["head"]),
        description="Pooling/Flatten, Dense layers and Dropout before the output.",
    )

    @field_validator("preset", mode="before")
    @classmethod
    def _old_preset_names(cls, value: Any) -> Any:
        return OLD_PRESETS.get(value, value) if isinstance(value, str) else value

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("preset"), str):
            name = OLD_PRESETS.get(data["preset"], data["preset"])
            if name in PRESETS:
                return {**PRESETS[name], **data}
        return data


def _trace(params: SimpleCNNParams) -> Tracer:
    def trace(height: int, width: int) -> SpatialTrace:
        t = SpatialTrace(height, width)
        for b, block in enumerate(params.blocks, start=1):
            for c, conv in enumerate(block.conv_layers(), start=1):
                t.conv(f"block{b}_conv{c}", conv.kernel, conv.strides, conv.padding)
            if block.pool:
                t.pool(f"block{b}_pool", block.pool_size, block.pool_strides, block.pool_padding)
        return t

    return trace


def build_simple_cnn(params: SimpleCNNParams, ctx: zoo.ModelContext) -> keras.Model:
    check_input_size("simple_cnn", ctx, _trace(params))
    import keras
    from keras import layers

    inputs = keras.Input(shape=ctx.input_shape, name="input")
    x = inputs
    for b, block in enumerate(params.blocks, start=1):
        for c, conv in enumerate(block.conv_layers(), start=1):
            name = f"block{b}_conv{c}"
            activation = conv.activation or params.activation
            batch_norm = params.batch_norm if conv.batch_norm is None else conv.batch_norm
            separate = batch_norm or conv.separate_activation
            reg = conv.kernel_regularizer
            if reg is None:
                reg = params.kernel_regularizer
            x = layers.Conv2D(
                conv.filters,
                conv.kernel,
                strides=conv.strides,
                padding=conv.padding,
                activation=None if separate else activation,
                use_bias=conv.use_bias,
                kernel_initializer=conv.kernel_initializer or params.kernel_initializer,
                kernel_regularizer=make_regularizer(reg),
                name=name,
            )(x)
            if batch_norm:
                x = layers.BatchNormalization(name=f"{name}_bn")(x)
            if separate:
                x = layers.Activation(activation, name=f"{name}_{activation}")(x)
        if block.pool:
            pool = layers.MaxPooling2D if block.pool == "max" else layers.AveragePooling2D
            x = pool(
                block.pool_size,
                strides=block.pool_strides,
                padding=block.pool_padding,
                name=f"block{b}_pool",
            )(x)
        if block.dropout:
            x = layers.Dropout(block.dropout, name=f"block{b}_dropout")(x)
    outputs = build_head(x, params.head, ctx)
    return keras.Model(inputs, outputs, name=ctx.name)


@zoo.hookimpl
def zoo_register_architectures(registry: plugin.PluginRegistrar) -> None:
    registry.add_architecture(
        "simple_cnn",
        params=SimpleCNNParams,
        factory=build_simple_cnn,
        description="Configurable small CNN: conv blocks (optional BatchNorm, initializers, "
        "L1/L2), pooling, dropout, GAP or Flatten head; presets reproduce the four reference "
        "CNNs (the default: the gray reference CNN).",
        tags={"cnn", "reference"},
        family="simple_cnn",
        input_kind="image",
        param_count=plugin.ParamCount(503_296, input_shape=(28, 28, 1), num_classes=10),
        smallest_input=smallest_input(_trace),
    )
