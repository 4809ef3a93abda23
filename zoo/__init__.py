"""zoo: a declarative model zoo for TensorFlow/Keras image classifiers.

Look the zoo up from Python::

    import zoo
    [e.name for e in zoo.list_plugins("architectures", pattern="vgg*")]
    zoo.describe("resnet")["parameters"]
    spec = zoo.load_spec("specs/digits_mlp.yaml")
    result = zoo.train(spec)          # imports TensorFlow only now

Importing ``zoo`` never imports TensorFlow; building and training do.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

# albumentations asks PyPI for a newer version when it is imported, unless told not to: zoo
# makes no network call the user did not ask for (and an offline machine would wait on it).
os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

from zoo.errors import (
    DuplicatePluginError,
    OfflineError,
    PluginContractError,
    Problem,
    UnknownPluginError,
    UserError,
    ZooError,
)
from zoo.plugin.contracts import (
    AugmentContext,
    DataContext,
    ModelContext,
    NoParams,
    PluginParams,
    Scaling,
)
from zoo.plugin.hookspecs import hookimpl
from zoo.plugin.registry import BrokenPlugin, PluginEntry, Registry
from zoo.spec import LoadedSpec, load_spec, load_spec_text, spec_json_schema, validate_spec
from zoo.version import __version__

if TYPE_CHECKING:
    from zoo.plugin.registry import PluginKind


def registry() -> Registry:
    """The registry of every installed plugin (built once per process)."""
    from zoo.plugin.manager import default_registry

    return default_registry()


def list_plugins(kind: PluginKind | str | None = None, **filters: Any) -> list[PluginEntry]:
    """Entries filtered by kind, ``pattern`` (glob), ``tag``, ``family``, ``input_kind``,
    ``recipe_type``, ``weights_license``, ``min_params``/``max_params``."""
    return registry().list(kind, **filters)


def get(name: str, kind: str | None = None) -> PluginEntry:
    """One entry by name; :class:`UnknownPluginError` says 'did you mean ...?'."""
    return registry().get(name, kind)


def describe(name: str) -> dict[str, Any]:
    """Name, kind, description, tags, provenance and a row per parameter."""
    return registry().describe(name)


def __getattr__(name: str) -> Any:
    """The runner's API (TensorFlow) loads on first use: zoo.train, zoo.build_model, ..."""
    if name in ("train", "build_model", "load_run"):
        from zoo import runner

        return getattr(runner, name)
    if name in ("export", "load_export", "evaluate_run", "predict", "serving_model"):
        from zoo import serving

        return getattr(serving, name)
    raise AttributeError(f"module 'zoo' has no attribute {name!r}")


__all__ = [
    "AugmentContext",
    "BrokenPlugin",
    "DataContext",
    "DuplicatePluginError",
    "LoadedSpec",
    "ModelContext",
    "NoParams",
    "OfflineError",
    "PluginContractError",
    "PluginEntry",
    "PluginParams",
    "Problem",
    "Registry",
    "Scaling",
    "UnknownPluginError",
    "UserError",
    "ZooError",
    "__version__",
    "build_model",
    "describe",
    "evaluate_run",
    "export",
    "get",
    "hookimpl",
    "list_plugins",
    "load_export",
    "load_run",
    "load_spec",
    "load_spec_text",
    "predict",
    "registry",
    "serving_model",
    "spec_json_schema",
    "train",
    "validate_spec",
]
