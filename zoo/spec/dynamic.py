"""Builds the Spec model from whatever the registry holds.

Each plugin section (data, model, scaling, augmentation) is a discriminated union with one
member per registered plugin, whose ``params`` is that plugin's own Pydantic model. So a
typo in a ResNet parameter is caught by the same validation pass as a typo at the top, and
the JSON Schema lists every plugin's parameters for editors.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict, Union

from pydantic import AfterValidator, BaseModel, Field, create_model

from zoo.plugin.contracts import RecipeType
from zoo.plugin.registry import PluginEntry, Registry
from zoo.spec.sections import (
    AugmentationSpec,
    DataSpec,
    ModelSpec,
    RecipeSpec,
    Section,
    SpecBase,
)


# section name -> (key naming the plugin, base model, registry filter)
class SectionFilter(TypedDict, total=False):
    """Which registry entries may fill a plugin section (``Registry.list`` filters)."""

    kind: str
    recipe_type: RecipeType


PLUGIN_SECTIONS: dict[str, tuple[str, type[Section], SectionFilter]] = {
    "data": ("source", DataSpec, {"kind": "data"}),
    "model": ("architecture", ModelSpec, {"kind": "architecture"}),
    "scaling": ("recipe", RecipeSpec, {"kind": "recipe", "recipe_type": "scaling"}),
    "augmentation": ("recipe", AugmentationSpec, {"kind": "recipe", "recipe_type": "augmentation"}),
}
DISCRIMINATOR_KEYS = frozenset({"source", "architecture", "recipe", "type", "name"})
AUTO_SCALING = "auto"  # scaling: {recipe: auto} -> what the model needs, else the default


def _has_all_defaults(model: type[BaseModel]) -> bool:
    return all(not f.is_required() for f in model.model_fields.values())


def _member(section: str, key: str, base: type[Section], entry: PluginEntry) -> type[BaseModel]:
    params_field: Any
    if _has_all_defaults(entry.params):
        params_field = (
            entry.params,
            Field(default_factory=entry.params, description=f"Parameters of '{entry.name}'."),
        )
    else:
        params_field = (entry.params, Field(description=f"Parameters of '{entry.name}'."))
    return create_model(  # type: ignore[call-overload]
        f"{section.title()}_{entry.name}",
        __base__=base,
        __doc__=f"{entry.description}",
        **{key: (Literal[entry.name], Field(description=f"The {key} plugin."))},
        params=params_field,
    )


def _union(section: str, registry: Registry) -> Any:
    key, base, filters = PLUGIN_SECTIONS[section]
    members = [_member(section, key, base, e) for e in registry.list(**filters)]
    if not members:
        # No plugin of this kind is installed: any name is unknown.
        label = filters.get("recipe_type") or filters.get("kind", "plugin")

        def _none_registered(value: str) -> str:
            raise ValueError(f"unknown {label} '{value}' (none is registered)")

        fields: dict[str, Any] = {
            key: (Annotated[str, AfterValidator(_none_registered)], ...),
            "params": (dict[str, Any], Field(default_factory=dict)),
        }
        return create_model(f"{section.title()}_none", __base__=base, **fields)
    if len(members) == 1:
        return members[0]
    return Annotated[Union[tuple(members)], Field(discriminator=key)]  # noqa: UP007


def build_spec_model(registry: Registry) -> type[SpecBase]:
    """The top-level Spec model for this registry (cached on the registry)."""
    cached = getattr(registry, "_spec_model", None)
    if cached is not None:
        return cached
    scaling_union = _union("scaling", registry)
    scaling_default: dict[str, Any] = {}
    default = registry.default_scaling()
    if default is not None:
        scaling_default = {"default_factory": lambda: {"recipe": default}}
    spec_model = create_model(
        "Spec",
        __base__=SpecBase,
        __doc__=SpecBase.__doc__,
        data=(_union("data", registry), Field(description="Where the images come from.")),
        model=(_union("model", registry), Field(description="The architecture.")),
        scaling=(
            scaling_union,
            Field(validate_default=True, description="Pixel scaling.", **scaling_default),
        ),
        augmentation=(
            _union("augmentation", registry) | None,
            Field(None, description="Training-time augmentation, or none."),
        ),
    )
    registry._spec_model = spec_model  # type: ignore[attr-defined]
    return spec_model
