"""Build the Keras model a spec describes (no data loaded, no training)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.contracts import ModelContext
from zoo.registry import Registry


def _spec_and_registry(spec: Any, registry: Registry | None) -> tuple[Any, Registry, Path | None]:
    from zoo.plugin_manager import default_registry
    from zoo.spec import LoadedSpec, load_spec

    if isinstance(spec, (str, bytes)) or hasattr(spec, "__fspath__"):
        spec = load_spec(spec, registry=registry)
    spec_dir = None
    if isinstance(spec, LoadedSpec):
        spec_dir = spec.path.parent if spec.path else None
        spec = spec.spec
    return spec, registry or default_registry(), spec_dir


def import_keras() -> float:
    """Import Keras (and TensorFlow behind it); the seconds it took, so `zoo build` can
    report the import apart from the build itself."""
    import time

    start = time.perf_counter()
    import keras  # noqa: F401

    return time.perf_counter() - start


def build_model(spec: Any, registry: Registry | None = None, *, num_classes: int | None = None,
                image_shape: tuple[int, ...] | None = None, context: ModelContext | None = None) -> Any:
    """A ``keras.Model`` for ``spec`` (a path, a LoadedSpec or a Spec model)."""
    from zoo.model_context import resolve_model_context

    spec, registry, spec_dir = _spec_and_registry(spec, registry)
    ctx = context or resolve_model_context(spec, registry, num_classes=num_classes,
                                           image_shape=image_shape, spec_dir=spec_dir)
    entry = registry.get(spec.model.architecture, "architecture")
    return entry.factory(spec.model.params, ctx)
