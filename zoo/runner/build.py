"""Build the Keras model a spec describes (no data loaded, no training), and check that the
architecture plugin kept its side of the contract."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from zoo.data.shape import resolve_model_context
from zoo.plugin.contracts import ModelContext
from zoo.plugin.guards import check_built_model
from zoo.plugin.registry import Registry
from zoo.spec.loader import LoadedSpec, load_spec
from zoo.spec.sections import SpecBase
from zoo.tf_import import import_keras as quiet_import


def resolve(
    spec: str | Path | LoadedSpec | SpecBase, registry: Registry | None = None
) -> LoadedSpec:
    """A ``LoadedSpec`` from a spec path, a ``LoadedSpec`` or a bare Spec model."""
    if isinstance(spec, LoadedSpec):
        return spec
    if isinstance(spec, (str, Path)):
        return load_spec(spec, registry=registry)
    if isinstance(spec, SpecBase):
        return LoadedSpec(spec, None, [], spec.model_dump(mode="json"), registry)
    raise TypeError(f"expected a spec path, LoadedSpec or Spec; got {type(spec).__name__}")


def import_keras() -> float:
    """Import Keras (and the backend behind it); the seconds it took, so `zoo build` can
    report the import apart from the build itself."""
    start = time.perf_counter()
    quiet_import()
    return time.perf_counter() - start


def build_model(
    spec: str | Path | LoadedSpec | SpecBase,
    registry: Registry | None = None,
    *,
    num_classes: int | None = None,
    image_shape: tuple[int, ...] | None = None,
    context: ModelContext | None = None,
) -> Any:
    """A ``keras.Model`` for ``spec`` (a path, a LoadedSpec or a Spec model)."""
    loaded = resolve(spec, registry)
    ctx = context or resolve_model_context(loaded, num_classes=num_classes, image_shape=image_shape)
    entry = loaded.entry("model")
    model = entry.factory(loaded.spec.model.params, ctx)
    check_built_model(model, entry, ctx)
    return model
