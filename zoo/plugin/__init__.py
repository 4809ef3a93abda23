"""Everything a zoo plugin may use: the one public surface for plugin authors.

Built-in plugins import only from here (and from ``zoo``), exactly as a third-party
package does; a test fails if anything under ``plugins/`` imports another zoo module.
The guide is ``docs/plugins.md``; the hooks are in :mod:`zoo.plugin.hookspecs`; the capability
types are explained in :mod:`zoo.plugin.contracts`. Importing this module never imports
TensorFlow (import it inside factories)::

    from zoo.plugin import PluginParams, ModelContext, hookimpl

    @hookimpl
    def zoo_register_architectures(registry):
        registry.add_architecture("tiny", params=TinyParams, factory=build_tiny,
                                  description="One hidden layer.")
"""

from __future__ import annotations

from zoo.downloads import RemoteFile, ensure_files, keras_home, offline
from zoo.errors import OfflineError, PluginContractError, Problem, UserError
from zoo.images import IMAGE_SUFFIXES
from zoo.keypath import format_path
from zoo.label_map import apply_label_map, read_label_map
from zoo.plugin.contracts import (
    AugmentContext,
    Augmenter,
    DataContext,
    Fetch,
    FetchContext,
    GraphAugment,
    LossWeights,
    ModelContext,
    NoParams,
    ParamCount,
    PluginParams,
    RequiredScaling,
    Scaling,
    SetTrainable,
    ShapeHint,
    ShapeHintFn,
    SmallestInput,
    SpecCheck,
    ToSpec,
)
from zoo.plugin.hookspecs import hookimpl
from zoo.plugin.registry import PluginRegistrar
from zoo.plugin.scaling import AffineScaling
from zoo.plugin.source import SPLIT_NAMES, ImageSet, SourceData
from zoo.plugin.tracker import Tracker
from zoo.suggest import did_you_mean

API_VERSION = 1  # bumped when a plugin written for the previous version could break

__all__ = [
    "API_VERSION",
    "AffineScaling",
    "IMAGE_SUFFIXES",
    "SPLIT_NAMES",
    "AugmentContext",
    "Augmenter",
    "DataContext",
    "Fetch",
    "FetchContext",
    "GraphAugment",
    "ImageSet",
    "LossWeights",
    "ModelContext",
    "NoParams",
    "OfflineError",
    "ParamCount",
    "PluginContractError",
    "PluginParams",
    "PluginRegistrar",
    "Problem",
    "RemoteFile",
    "RequiredScaling",
    "Scaling",
    "SetTrainable",
    "ShapeHint",
    "ShapeHintFn",
    "SmallestInput",
    "SourceData",
    "SpecCheck",
    "ToSpec",
    "UserError",
    "apply_label_map",
    "did_you_mean",
    "ensure_files",
    "format_path",
    "hookimpl",
    "keras_home",
    "offline",
    "read_label_map",
]
__all__ += ["Tracker"]  # experiment trackers (zoo_register_trackers)
