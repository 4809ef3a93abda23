"""GoogLeNet / Inception v1 (Szegedy et al. 2014), the reference GoogLeNet.

Stem: Conv 64 7x7/2, MaxPool 3/2, Conv 64 1x1, Conv 192 3x3, MaxPool 3/2 (all 'same');
inception 3a, 3b, MaxPool 3/2, 4a-4e, MaxPool 3/2, 5a, 5b; GlobalAveragePooling, Dropout 0.5,
output. An inception module concatenates, along channels, a 1x1 conv, a 1x1 reduce then
3x3 conv, a 1x1 reduce then 5x5 conv, and a 3x3/1 max-pool then 1x1 projection; all ReLU.
The paper's local response normalisation is left out.

Auxiliary classifiers (``aux_classifiers: true``; off by default) follow the paper: on the
outputs of 4a and 4d, AvgPool 5x5/3 'valid', Conv 128 1x1 ReLU, Flatten, Dense 1024 ReLU,
Dropout 0.7, Dense classes. The model then has three outputs, in this order:
``predictions``, ``aux1_predictions``, ``aux2_predictions``. Train all three on the same
targets with loss weights 1, ``aux_loss_weight``, ``aux_loss_weight`` (the paper: 0.3),
which the ``loss_weights(params)`` capability returns as ``{output name: weight}``; the
runner trains all three and evaluates, predicts and saves ``predictions`` only. With aux
off (the default) the model has one output and ``loss_weights`` returns None.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field
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

ModuleName = Literal["3a", "3b", "4a", "4b", "4c", "4d", "4e", "5a", "5b"]
Filters = tuple[int, int, int, int, int, int]
# (1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj): the reference (and the paper's) table.
REFERENCE_FILTERS: dict[str, Filters] = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
TOTAL_STRIDE = 32


class GoogLeNetParams(zoo.PluginParams):
    inception_filters: dict[ModuleName, Filters] = Field(
        default_factory=dict,
        description="Rows replacing the reference filter table, by module name, e.g. "
        "{'3a': [64, 96, 128, 16, 32, 32]}: 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj. "
        "Modules not named keep the reference row.",
    )
    aux_classifiers: bool = Field(
        False,
        description="Add the paper's two auxiliary classifiers (the model then has 3 outputs).",
    )
    aux_loss_weight: float = Field(0.3, ge=0, description="Loss weight of each auxiliary output.")
    kernel_initializer: Initializer = Field(
        "glorot_uniform", description="Initializer of the convs."
    )
    head: Head = Field(
        default_factory=lambda: Head(pooling="gap", dense_units=[], dropout=0.5),
        description="The reference head: GAP, Dropout 0.5.",
    )

    def filters(self, module: ModuleName) -> Filters:
        return self.inception_filters.get(module, REFERENCE_FILTERS[module])


def loss_weights(params: GoogLeNetParams) -> dict[str, float] | None:
    """Loss weight per output name when the model has auxiliary outputs, else None."""
    if not params.aux_classifiers:
        return None
    w = params.aux_loss_weight
    return {"predictions": 1.0, "aux1_predictions": w, "aux2_predictions": w}


def _trace(params: GoogLeNetParams) -> Tracer:
    def trace(height: int, width: int) -> SpatialTrace:
        t = SpatialTrace(height, width)
        t.require(
            TOTAL_STRIDE,
            f"GoogLeNet halves the image five times (total stride "
            f"{TOTAL_STRIDE}) and needs at least {TOTAL_STRIDE}x{TOTAL_STRIDE}",
        )
        t.conv("conv1_7x7_s2", 7, 2).pool("pool1_3x3_s2", 3, 2, "same")
        t.pool("pool2_3x3_s2", 3, 2, "same").pool("pool3_3x3_s2", 3, 2, "same")
        if params.aux_classifiers:
            t.pool("aux1_avg_pool (on inception_4a)", 5, 3, "valid")
        return t

    return trace


def _inception(x: keras.KerasTensor, filters: Filters, name: str, init: str) -> keras.KerasTensor:
    from keras import layers

    f1, f3r, f3, f5r, f5, fp = filters

    def conv(t: keras.KerasTensor, n: int, k: int, suffix: str) -> keras.KerasTensor:
        return layers.Conv2D(
            n,
            k,
            padding="same",
            activation="relu",
            kernel_initializer=init,
            name=f"{name}_{suffix}",
        )(t)

    branch1 = conv(x, f1, 1, "1x1")
    branch3 = conv(conv(x, f3r, 1, "3x3_reduce"), f3, 3, "3x3")
    branch5 = conv(conv(x, f5r, 1, "5x5_reduce"), f5, 5, "5x5")
    pool = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    pool = conv(pool, fp, 1, "pool_proj")
    return layers.Concatenate(axis=-1, name=name)([branch1, branch3, branch5, pool])


def _aux(x: keras.KerasTensor, ctx: zoo.ModelContext, name: str, init: str) -> keras.KerasTensor:
    from keras import layers

    x = layers.AveragePooling2D(5, strides=3, padding="valid", name=f"{name}_avg_pool")(x)
    x = layers.Conv2D(
        128, 1, padding="same", activation="relu", kernel_initializer=init, name=f"{name}_conv"
    )(x)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(1024, activation="relu", name=f"{name}_fc")(x)
    x = layers.Dropout(0.7, name=f"{name}_dropout")(x)
    return layers.Dense(
        ctx.num_classes, activation=ctx.output_activation, name=f"{name}_predictions"
    )(x)


def build_googlenet(params: GoogLeNetParams, ctx: zoo.ModelContext) -> keras.Model:
    check_input_size("googlenet", ctx, _trace(params))
    import keras
    from keras import layers

    init = params.kernel_initializer
    inputs = keras.Input(shape=ctx.input_shape, name="input")
    # Stem
    x = layers.Conv2D(
        64,
        7,
        strides=2,
        padding="same",
        activation="relu",
        kernel_initializer=init,
        name="conv1_7x7_s2",
    )(inputs)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool1_3x3_s2")(x)
    x = layers.Conv2D(
        64, 1, padding="same", activation="relu", kernel_initializer=init, name="conv2_3x3_reduce"
    )(x)
    x = layers.Conv2D(
        192, 3, padding="same", activation="relu", kernel_initializer=init, name="conv2_3x3"
    )(x)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool2_3x3_s2")(x)
    # Stage 3
    x = _inception(x, params.filters("3a"), "inception_3a", init)
    x = _inception(x, params.filters("3b"), "inception_3b", init)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool3_3x3_s2")(x)
    # Stage 4
    aux_outputs: list[Any] = []
    for module in ("4a", "4b", "4c", "4d", "4e"):
        x = _inception(x, params.filters(module), f"inception_{module}", init)
        if params.aux_classifiers and module in ("4a", "4d"):
            aux_outputs.append(_aux(x, ctx, f"aux{len(aux_outputs) + 1}", init))
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="pool4_3x3_s2")(x)
    # Stage 5
    x = _inception(x, params.filters("5a"), "inception_5a", init)
    x = _inception(x, params.filters("5b"), "inception_5b", init)
    outputs = build_head(x, params.head, ctx)
    if aux_outputs:
        return keras.Model(inputs, [outputs, *aux_outputs], name=ctx.name)
    return keras.Model(inputs, outputs, name=ctx.name)


@zoo.hookimpl
def zoo_register_architectures(registry: plugin.PluginRegistrar) -> None:
    registry.add_architecture(
        "googlenet",
        params=GoogLeNetParams,
        factory=build_googlenet,
        description="GoogLeNet / Inception v1 with the reference filter table; optional auxiliary "
        "classifiers (3 outputs, trained with loss weights; only the main one predicts).",
        tags={"cnn", "inception", "reference", "paper"},
        family="googlenet",
        input_kind="image",
        param_count=plugin.ParamCount(5_983_802, input_shape=(224, 224, 3), num_classes=10),
        smallest_input=smallest_input(_trace),
        loss_weights=loss_weights,
    )
