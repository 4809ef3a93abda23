"""Typed access to the generated preset table (``_presets.py``): variants and presets.

A *variant* is one backbone config, and so one zoo architecture (``vit_base_patch16_224``);
its *presets* are KerasHub's trained weights for that config
(``vit_base_patch16_224_imagenet``, ``..._imagenet21k``), which ``weights:`` chooses from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from zoo import plugin

from zoo_hub import _presets
from zoo_hub.families import FAMILIES, Family

KERAS_HUB_VERSION: str = _presets.KERAS_HUB_VERSION


@dataclass(frozen=True)
class Preset:
    """One KerasHub preset: where it downloads from and what input it expects."""

    name: str
    variant: str
    handle: str  # kaggle://owner/model/framework/variation/version
    description: str
    kerashub_params: int  # KerasHub's published count (see the README on differences)
    image_size: int  # the resolution its weights were trained at
    mean: tuple[float, ...]
    std: tuple[float, ...]
    scaling: str  # the zoo recipe its normalisation is
    source: str  # the upstream model it was converted from


@dataclass(frozen=True)
class Variant:
    """One backbone config: a zoo architecture, with the presets trained for it."""

    name: str
    family: Family
    config: dict[str, Any]
    image_size: int  # the default preset's trained resolution
    patch_size: int | None
    window_size: int | None
    stages: int | None
    params: int  # the backbone's parameters at image_size (built by the generator)
    features: int  # width of the pooled features
    prefix_tokens: int  # class, distillation and register tokens before the patch tokens
    presets: tuple[str, ...]

    @property
    def default_preset(self) -> str:
        return self.presets[0]

    @property
    def transformer(self) -> bool:
        return self.family.kind == "transformer"


PRESETS: dict[str, Preset] = {
    name: Preset(
        name=name,
        variant=row["variant"],
        handle=row["handle"],
        description=row["description"],
        kerashub_params=row["kerashub_params"],
        image_size=row["image_size"],
        mean=tuple(row["mean"]),
        std=tuple(row["std"]),
        scaling=row["scaling"],
        source=row["source"],
    )
    for name, row in _presets.PRESETS.items()
}

VARIANTS: dict[str, Variant] = {
    name: Variant(
        name=name,
        family=FAMILIES[row["backbone"]],
        config=row["config"],
        image_size=row["image_size"],
        patch_size=row["patch_size"],
        window_size=row["window_size"],
        stages=row["stages"],
        params=row["params"],
        features=row["features"],
        prefix_tokens=row["prefix_tokens"],
        presets=tuple(row["presets"]),
    )
    for name, row in _presets.VARIANTS.items()
}

EXCLUDED: dict[str, str] = dict(_presets.EXCLUDED)


def unknown_preset(name: str, variant: Variant) -> str:
    """'no KerasHub preset ...; did you mean ...?' over the whole installed table."""
    hint = plugin.did_you_mean(name, list(PRESETS))
    return (
        f"no KerasHub preset called {name!r} (keras-hub {KERAS_HUB_VERSION})"
        + (f"; {hint}" if hint else "")
        + f". {variant.name} takes: {', '.join(variant.presets)}, a local preset folder, "
        "or none"
    )
