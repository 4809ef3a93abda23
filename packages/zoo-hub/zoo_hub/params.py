"""The parameters of every hub architecture: weights, unfreeze and the head.

The same three as zoo's keras.applications backbones. ``weights``: a KerasHub preset of this
architecture (the default: its first preset), a local preset folder, or ``none`` (random
weights from the config). ``unfreeze``: how much of the backbone trains, counted in
transformer blocks for the transformer families. ``head``: pooling, Dense layers, Dropout,
then the output layer. The pooling choices depend on what the backbone outputs: tokens with
a class token (ViT, DeiT, DINOv2/v3), tokens without (Swin), or a feature map (MiT, CNNs).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import zoo
from pydantic import Field, field_validator

from zoo_hub.table import Variant

Activation = Literal["relu", "gelu", "tanh", "swish", "elu", "selu"]


class _Head(zoo.PluginParams):
    pooling: str = Field(description="How the backbone's output becomes one vector.")
    dense_units: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=list, description="Units of each hidden Dense layer before the output."
    )
    activation: Activation = Field("relu", description="Activation of the hidden Dense layers.")
    dropout: float = Field(
        0.2,
        ge=0,
        lt=1,
        description="Dropout rate before each Dense layer, the output layer included (0: none).",
    )


class TokenHead(_Head):
    """Head of a backbone with a class token."""

    pooling: Literal["class_token", "patch_mean"] = Field(
        "class_token",
        description="class_token: the class token's features (what these "
        "models were trained to classify with); patch_mean: the average of the patch tokens "
        "(class, distillation and register tokens left out).",
    )


class MeanHead(_Head):
    """Head of a token backbone without a class token (Swin)."""

    pooling: Literal["patch_mean"] = Field(
        "patch_mean",
        description="patch_mean: the average of the patch tokens (Swin has no class token).",
    )


class MapHead(_Head):
    """Head of a backbone that outputs a feature map."""

    pooling: Literal["gap", "gmp"] = Field(
        "gap",
        description="gap: global average pooling of the last feature map; gmp: global max pooling.",
    )


class HubParams(zoo.PluginParams):
    """Shared by every hub architecture; each gets a subclass with its own weights default
    and head (:func:`params_class`)."""

    weights: str | None = Field(
        None,
        description="A KerasHub preset of this architecture, a "
        "local preset folder, or none (random weights).",
    )
    unfreeze: int | str = Field(
        "none",
        description="How much of the backbone trains: a count of units from the top "
        "(transformer blocks, or layers with weights for CNNs), all, none (frozen), or the "
        "name of a block or layer to unfreeze from. BatchNormalization stays frozen.",
    )
    head: _Head = Field(
        default_factory=lambda: MapHead(),
        description="Pooling, Dense layers and Dropout before the output.",
    )

    @field_validator("weights", mode="before")
    @classmethod
    def _none_word(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() in ("none", ""):
            return None
        return value

    @field_validator("unfreeze", mode="before")
    @classmethod
    def _unfreeze_kind(cls, value: Any) -> Any:
        if isinstance(value, bool) or (isinstance(value, int) and value < 0):
            raise ValueError(
                "unfreeze must be a count >= 0, all, none or a block or layer "
                f"name. Received: unfreeze={value!r}"
            )
        if isinstance(value, str) and not value.strip():
            raise ValueError("unfreeze must not be empty")
        return value


def head_class(variant: Variant) -> type[_Head]:
    if variant.family.output == "map":
        return MapHead
    return TokenHead if variant.prefix_tokens else MeanHead


def default_pooling(variant: Variant) -> str:
    """The pooling the variant's head uses unless the spec says otherwise."""
    return str(head_class(variant).model_fields["pooling"].default)


def params_class(variant: Variant) -> type[HubParams]:
    """The variant's params model: its default preset, and the head its output allows."""
    head = head_class(variant)
    default = variant.default_preset
    presets = ", ".join(variant.presets)
    return type(
        f"{variant.name.title().replace('_', '')}Params",
        (HubParams,),
        {
            "__annotations__": {"weights": str | None, "head": head},
            "weights": Field(
                default,
                description=f"A KerasHub preset of this architecture "
                f"({presets}; default {default}), a local preset folder (written by "
                "KerasHub's save_to_preset), or none (random weights from the "
                "config).",
            ),
            "head": Field(
                default_factory=head,
                description="Pooling, Dense layers and Dropout "
                f"before the output (default: {default_pooling(variant)}, Dropout 0.2, output).",
            ),
            "__module__": __name__,
        },
    )
