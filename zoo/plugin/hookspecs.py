"""The hooks a zoo plugin implements: how to write a plugin.

A plugin is a module (or object) registered under the ``zoo.plugins`` entry-point group.
It implements any of the hooks below with :data:`zoo.hookimpl` and, inside them,
adds entries to the registry it is handed. The built-in plugins do exactly this::

    # my_package/zoo_plugin.py
    from pydantic import Field
    import zoo

    class TinyParams(zoo.PluginParams):
        units: int = Field(32, ge=1, description="Width of the hidden layer.")

    def build_tiny(params: TinyParams, ctx: zoo.ModelContext):
        import keras  # import TensorFlow/Keras inside the factory, never at module top
        inputs = keras.Input(ctx.input_shape)
        x = keras.layers.Flatten()(inputs)
        x = keras.layers.Dense(params.units, activation="relu")(x)
        outputs = keras.layers.Dense(ctx.num_classes, activation=ctx.output_activation)(x)
        return keras.Model(inputs, outputs, name=ctx.name)

    @zoo.hookimpl
    def zoo_register_architectures(registry):
        registry.add_architecture(
            "tiny", params=TinyParams, factory=build_tiny,
            description="One hidden layer.", tags={"mlp"}, family="mlp", input_kind="any",
        )

and in ``pyproject.toml``::

    [project.entry-points."zoo.plugins"]
    tiny = "my_package.zoo_plugin"

Module tops must stay cheap (no TensorFlow import): ``zoo list`` imports every plugin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from zoo.plugin.registry import PluginRegistrar

PROJECT = "zoo"
ENTRY_POINT_GROUP = "zoo.plugins"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def zoo_register_architectures(registry: PluginRegistrar) -> None:
    """Add model architectures. Called once per plugin when the registry is first built.

    :param registry: call ``registry.add_architecture(name, params=..., factory=..., ...)``.
        The factory is called as ``factory(params, ctx: ModelContext)`` and returns a
        ``keras.Model``.
    """


@hookspec
def zoo_register_recipes(registry: PluginRegistrar) -> None:
    """Add scaling and augmentation recipes. Called once per plugin, like the others.

    :param registry: call ``registry.add_scaling(...)`` (factory ``(params, state) -> Scaling``)
        or ``registry.add_augmentation(...)`` (factory ``(params, ctx: AugmentContext) ->
        Augmenter``).
    """


@hookspec
def zoo_register_data_sources(registry: PluginRegistrar) -> None:
    """Add data sources. Called once per plugin, like the others.

    :param registry: call ``registry.add_data_source(...)``; the factory is called as
        ``factory(params, ctx: DataContext)`` and returns a :class:`zoo.plugin.source.SourceData`.
    """


@hookspec
def zoo_register_trackers(registry: PluginRegistrar) -> None:
    """Add experiment trackers (MLflow, TensorBoard...). Called once per plugin, like the others.

    :param registry: call ``registry.add_tracker(name, params=..., factory=..., description=...)``;
        the factory is called as ``factory(params)`` and returns a :class:`zoo.plugin.Tracker`.
        A run uses the trackers ``ZOO_TRACKING`` names.
    """
