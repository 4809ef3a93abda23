"""MLP: Flatten then Dense layers.

The defaults are the reference Fashion-MNIST MLP: Flatten, Dense 64 relu, Dense 128 relu,
Dense n softmax.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import Field
from zoo_builtins.architectures._layers import Activation, Initializer

import zoo
from zoo import plugin

if TYPE_CHECKING:
    import keras


class MLPParams(zoo.PluginParams):
    hidden_units: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=lambda: [64, 128],
        min_length=1,
        description="Units of each hidden Dense layer, in order.",
    )
    activation: Activation = Field("relu", description="Activation of the hidden layers.")
    dropout: float = Field(
        0.0, ge=0, lt=1, description="Dropout after each hidden layer (0: none)."
    )
    batch_norm: bool = Field(False, description="BatchNorm between each Dense and its activation.")
    kernel_initializer: Initializer = Field(
        "glorot_uniform", description="Initializer of the hidden layers (He suits ReLU)."
    )


def build_mlp(params: MLPParams, ctx: zoo.ModelContext) -> keras.Model:
    import keras
    from keras import layers

    inputs = keras.Input(shape=ctx.input_shape, name="input")
    x = layers.Flatten(name="flatten")(inputs)
    for i, units in enumerate(params.hidden_units, start=1):
        # Dense(units, activation='relu'); with BatchNorm, Dense -> BN -> activation.
        x = layers.Dense(
            units,
            activation=None if params.batch_norm else params.activation,
            use_bias=not params.batch_norm,
            kernel_initializer=params.kernel_initializer,
            name=f"dense{i}",
        )(x)
        if params.batch_norm:
            x = layers.BatchNormalization(name=f"dense{i}_bn")(x)
            x = layers.Activation(params.activation, name=f"dense{i}_{params.activation}")(x)
        if params.dropout:
            x = layers.Dropout(params.dropout, name=f"dense{i}_dropout")(x)
    outputs = layers.Dense(ctx.num_classes, activation=ctx.output_activation, name="predictions")(x)
    return keras.Model(inputs, outputs, name=ctx.name)


@zoo.hookimpl
def zoo_register_architectures(registry: plugin.PluginRegistrar) -> None:
    registry.add_architecture(
        "mlp",
        params=MLPParams,
        factory=build_mlp,
        description="Multi-layer perceptron: Flatten, Dense hidden layers, classifier; any input "
        "shape; the default is the reference model (Dense 64, Dense 128).",
        tags={"dense"},
        family="mlp",
        input_kind="any",
        param_count=plugin.ParamCount(59_850, input_shape=(28, 28, 1), num_classes=10),
    )
