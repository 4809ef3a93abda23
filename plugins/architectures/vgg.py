"""VGG (Simonyan & Zisserman 2014, configurations A/B/D/E) and the reference variant of it.

Blocks of 3x3 'same' ReLU convs, each block ending in a 2x2 max-pool. The defaults are the
reference VGG (docs/reference-models.md): the VGG16 layout 64x2, 128x2, 256x3, 512x3, 512x3 with the
first pool at stride 1, then GlobalAveragePooling, Dropout 0.5, Dense 120, Dropout 0.5.
``depth: 16, first_pool_strides: 2`` gives the paper's (and keras.applications') VGG16 base;
``head: {pooling: flatten, dense_units: [4096, 4096], dropout: [0, 0.5, 0.5]}`` its classifier.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, model_validator
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

LAYOUTS: dict[int, list[list[int]]] = {
    11: [[64], [128], [256, 256], [512, 512], [512, 512]],
    13: [[64, 64], [128, 128], [256, 256], [512, 512], [512, 512]],
    16: [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]],
    19: [[64, 64], [128, 128], [256] * 4, [512] * 4, [512] * 4],
}


class VGGParams(zoo.PluginParams):
    depth: Literal[11, 13, 16, 19] = Field(
        16,
        description="Weight layers of the paper's configuration: 11 (A), 13 (B), 16 (D), 19 (E).",
    )
    blocks: list[Annotated[list[Annotated[int, Field(ge=1)]], Field(min_length=1)]] | None = Field(
        None, description="Own layout: filters of each conv, one list per block (overrides depth)."
    )
    first_pool_strides: int = Field(
        1,
        ge=1,
        le=2,
        description="Stride of the first block's pool: the reference VGG uses 1, the paper 2.",
    )
    batch_norm: bool = Field(False, description="Conv -> BatchNorm -> ReLU (VGG-BN).")
    kernel_initializer: Initializer = Field(
        "glorot_uniform", description="Initializer of the convs."
    )
    head: Head = Field(
        default_factory=lambda: Head(pooling="gap", dense_units=[120], dropout=0.5),
        description="The reference head: GAP, Dropout 0.5, Dense 120, Dropout 0.5.",
    )

    @model_validator(mode="after")
    def _layout_ok(self) -> VGGParams:
        if self.blocks is not None and not self.blocks:
            raise ValueError("blocks needs at least one block (or null to use depth)")
        return self

    def layout(self) -> list[list[int]]:
        return self.blocks if self.blocks is not None else LAYOUTS[self.depth]


def _trace(params: VGGParams) -> Tracer:
    def trace(height: int, width: int) -> SpatialTrace:
        t = SpatialTrace(height, width)
        for b, _ in enumerate(params.layout(), start=1):
            t.pool(f"block{b}_pool", 2, params.first_pool_strides if b == 1 else 2)
        return t

    return trace


def build_vgg(params: VGGParams, ctx: zoo.ModelContext) -> keras.Model:
    check_input_size("vgg", ctx, _trace(params))
    import keras
    from keras import layers

    inputs = keras.Input(shape=ctx.input_shape, name="input")
    x = inputs
    for b, filters in enumerate(params.layout(), start=1):
        for c, n in enumerate(filters, start=1):
            name = f"block{b}_conv{c}"
            if params.batch_norm:
                x = layers.Conv2D(
                    n, 3, padding="same", kernel_initializer=params.kernel_initializer, name=name
                )(x)
                x = layers.BatchNormalization(name=f"{name}_bn")(x)
                x = layers.Activation("relu", name=f"{name}_relu")(x)
            else:
                x = layers.Conv2D(
                    n,
                    3,
                    padding="same",
                    activation="relu",
                    kernel_initializer=params.kernel_initializer,
                    name=name,
                )(x)
        strides = params.first_pool_strides if b == 1 else 2
        x = layers.MaxPooling2D(2, strides=strides, name=f"block{b}_pool")(x)
    outputs = build_head(x, params.head, ctx)
    return keras.Model(inputs, outputs, name=ctx.name)


@zoo.hookimpl
def zoo_register_architectures(registry: plugin.PluginRegistrar) -> None:
    registry.add_architecture(
        "vgg",
        params=VGGParams,
        factory=build_vgg,
        description="VGG 11/13/16/19 or an own block layout, optional BatchNorm; defaults are "
        "the reference VGG16 variant (first pool stride 1, GAP head with Dense 120).",
        tags={"cnn", "reference", "paper"},
        family="vgg",
        input_kind="image",
        param_count=plugin.ParamCount(14_777_458, input_shape=(224, 224, 3), num_classes=10),
        smallest_input=smallest_input(_trace),
    )
