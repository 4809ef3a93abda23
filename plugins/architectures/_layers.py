"""Pieces the architecture plugins share: initializer and regularizer options, the head.

The head is the part after the convolutional base (every reference model ends in one): pool
or flatten, Dense layers with optional Dropout before each, and the output layer, whose
units and activation come from the :class:`zoo.ModelContext`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, model_validator

import zoo

if TYPE_CHECKING:
    import keras

Activation = Literal["relu", "tanh", "sigmoid", "elu", "selu", "gelu", "swish", "leaky_relu"]
Initializer = Literal[
    "glorot_uniform", "glorot_normal", "he_normal", "he_uniform", "lecun_normal", "lecun_uniform"
]
Padding = Literal["same", "valid"]


class Regularizer(zoo.PluginParams):
    """L1 and/or L2 weight penalty, e.g. ``{l2: 1.0e-5}`` for Keras' ``l2(1e-5)``."""

    l1: float = Field(0.0, ge=0, description="L1 factor (0: none).")
    l2: float = Field(0.0, ge=0, description="L2 factor (0: none).")


def make_regularizer(reg: Regularizer | None) -> Any:
    """The Keras regularizer for ``reg``: L1, L2, L1L2 or None (all zero counts as none)."""
    if reg is None or (reg.l1 == 0 and reg.l2 == 0):
        return None
    from keras import regularizers

    if reg.l1 and reg.l2:
        return regularizers.L1L2(l1=reg.l1, l2=reg.l2)
    return regularizers.L1(reg.l1) if reg.l1 else regularizers.L2(reg.l2)


class Head(zoo.PluginParams):
    """What follows the convolutional base: pooling, Dense layers, Dropout, the output layer.

    ``dropout`` as one number puts a Dropout of that rate before every Dense layer, the
    output layer included (the reference VGG: GAP, Dropout, Dense 120, Dropout, output). As a
    list it gives one rate per Dense layer, output last, 0 meaning no Dropout there (the
    reference gray CNN with dropout: ``[0.5, 0, 0]`` for Dense 50, Dense 20, output).
    """

    pooling: Literal["gap", "gmp", "flatten"] = Field(
        "gap", description="gap: GlobalAveragePooling2D, gmp: GlobalMaxPooling2D, flatten: Flatten."
    )
    dense_units: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=list, description="Units of each hidden Dense layer before the output."
    )
    activation: Activation = Field("relu", description="Activation of the hidden Dense layers.")
    dropout: float | list[float] = Field(
        0.0,
        description="Dropout rate before each Dense layer (one number), or one rate per "
        "Dense layer with the output last (a list; 0 skips).",
    )
    kernel_initializer: Initializer = Field(
        "glorot_uniform", description="Initializer of the hidden Dense layers (He suits ReLU)."
    )
    kernel_regularizer: Regularizer | None = Field(
        None, description="Weight penalty on the hidden Dense layers, e.g. {l2: 1.0e-5}."
    )
    output_initializer: Initializer = Field(
        "glorot_uniform", description="Initializer of the output layer (Glorot suits softmax)."
    )

    @model_validator(mode="after")
    def _rates(self) -> Head:
        rates = self.dropout if isinstance(self.dropout, list) else [self.dropout]
        if any(not 0 <= r < 1 for r in rates):
            raise ValueError(f"dropout rates must be in [0, 1). Received: dropout={self.dropout}")
        if isinstance(self.dropout, list) and len(self.dropout) != len(self.dense_units) + 1:
            raise ValueError(
                f"a dropout list needs one rate per Dense layer, output included: "
                f"{len(self.dense_units) + 1} for dense_units={self.dense_units}. "
                f"Received: dropout={self.dropout}"
            )
        return self

    def rates(self) -> list[float]:
        """One Dropout rate per Dense layer, output last."""
        if isinstance(self.dropout, list):
            return list(self.dropout)
        return [self.dropout] * (len(self.dense_units) + 1)


def build_head(
    x: keras.KerasTensor, head: Head, ctx: zoo.ModelContext, prefix: str = "head"
) -> keras.KerasTensor:
    """Pooling, Dense layers and the output layer (named ``predictions``) on top of ``x``."""
    from keras import layers

    if len(x.shape) == 4:
        if head.pooling == "gap":
            x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        elif head.pooling == "gmp":
            x = layers.GlobalMaxPooling2D(name="max_pool")(x)
        else:
            x = layers.Flatten(name="flatten")(x)
    rates = head.rates()
    regularizer = head.kernel_regularizer
    for i, units in enumerate(head.dense_units, start=1):
        if rates[i - 1]:
            x = layers.Dropout(rates[i - 1], name=f"{prefix}_dropout{i}")(x)
        x = layers.Dense(
            units,
            activation=head.activation,
            kernel_initializer=head.kernel_initializer,
            kernel_regularizer=make_regularizer(regularizer),
            name=f"{prefix}_fc{i}",
        )(x)
    if rates[-1]:
        x = layers.Dropout(rates[-1], name=f"{prefix}_dropout{len(rates)}")(x)
    return layers.Dense(
        ctx.num_classes,
        activation=ctx.output_activation,
        kernel_initializer=head.output_initializer,
        name="predictions",
    )(x)
