"""zoo-hub's entry point: every KerasHub image-classification variant as a zoo architecture,
and the ``sat493m`` scaling recipe.

Registration reads the generated preset table (plain data) and imports neither TensorFlow
nor KerasHub: ``zoo list`` imports every plugin. Each architecture is one backbone config of
KerasHub's table (``vit_base_patch16_224``); its presets are what ``weights:`` picks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import zoo
from zoo import plugin

from zoo_hub import capabilities, scaling
from zoo_hub.params import HubParams, default_pooling, params_class
from zoo_hub.table import KERAS_HUB_VERSION, PRESETS, VARIANTS, Variant

DEFAULT_CLASSES = 10  # param_count: the default head at the preset's size, 10 classes
WEIGHTS_LICENSE = "KerasHub preset licenses (each preset's model card: kaggle.com/models/keras)"


def _factory(variant: Variant) -> Callable[[HubParams, zoo.ModelContext], Any]:
    def factory(params: HubParams, ctx: zoo.ModelContext) -> Any:
        from zoo_hub.build import build_model  # imports Keras and KerasHub when building

        return build_model(params, ctx, variant=variant)

    factory.__name__ = f"build_{variant.name}"
    return factory


def _set_trainable(model: Any, unfreeze: int | str) -> int:
    from zoo_hub.trainable import set_trainable

    return set_trainable(model, unfreeze)


def param_count(variant: Variant) -> plugin.ParamCount:
    """The default model (random weights count the same) at the preset's size."""
    head = variant.features * DEFAULT_CLASSES + DEFAULT_CLASSES
    size = variant.image_size
    return plugin.ParamCount(
        count=variant.params + head,
        input_shape=(size, size, 3),
        num_classes=DEFAULT_CLASSES,
        params={"weights": "none"},
    )


def description(variant: Variant) -> str:
    default = PRESETS[variant.default_preset]
    recipes = sorted({PRESETS[p].scaling for p in variant.presets})
    size = variant.image_size
    return (
        f"{variant.family.title} backbone from KerasHub {KERAS_HUB_VERSION} "
        f"({variant.params:,} parameters at {size}x{size}), preset weights "
        f"({', '.join(variant.presets)}), a local preset folder or random, frozen or "
        f"partly unfrozen, with a {default_pooling(variant)} head. Presets expect "
        f"the {'/'.join(recipes)} scaling ('auto' picks it). {default.description}"
    )


def register_variant(registry: plugin.PluginRegistrar, variant: Variant) -> None:
    bind = functools.partial
    family = variant.family
    registry.add_architecture(
        variant.name,
        params=params_class(variant),
        factory=_factory(variant),
        description=description(variant),
        tags={"hub", "pretrained", "transfer", family.key, family.kind},
        family=family.key,
        input_kind="image",
        param_count=param_count(variant),
        weights_license=WEIGHTS_LICENSE,
        check_spec=bind(capabilities.check_spec, variant=variant),
        fetch=bind(capabilities.fetch, variant=variant),
        required_scaling=bind(capabilities.required_scaling, variant=variant),
        smallest_input=bind(capabilities.smallest_input, variant=variant),
        set_trainable=_set_trainable,
    )


@zoo.hookimpl
def zoo_register_architectures(registry: plugin.PluginRegistrar) -> None:
    for variant in VARIANTS.values():
        register_variant(registry, variant)


@zoo.hookimpl
def zoo_register_recipes(registry: plugin.PluginRegistrar) -> None:
    scaling.register(registry)
