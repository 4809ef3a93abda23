"""Build the Keras model a spec describes (no data loaded, no training), and check that the
architecture plugin kept its side of the contract."""

from __future__ import annotations

from typing import Any

from zoo.contracts import ModelContext
from zoo.errors import PluginContractError
from zoo.registry import PluginEntry, Registry


def resolve(spec: Any, registry: Registry | None = None) -> Any:
    """A ``LoadedSpec`` from a spec path, a ``LoadedSpec`` or a bare Spec model."""
    from zoo.spec import LoadedSpec, load_spec

    if isinstance(spec, LoadedSpec):
        return spec
    if isinstance(spec, (str, bytes)) or hasattr(spec, "__fspath__"):
        return load_spec(spec, registry=registry)
    if hasattr(spec, "model_dump"):
        return LoadedSpec(spec, None, [], spec.model_dump(mode="json"), registry)
    raise TypeError(f"expected a spec path, LoadedSpec or Spec; got {type(spec).__name__}")


def import_keras() -> float:
    """Import Keras (and the backend behind it); the seconds it took, so `zoo build` can
    report the import apart from the build itself."""
    import time

    from zoo.tf_import import import_keras as quiet_import

    start = time.perf_counter()
    quiet_import()
    return time.perf_counter() - start


def build_model(spec: Any, registry: Registry | None = None, *, num_classes: int | None = None,
                image_shape: tuple[int, ...] | None = None, context: ModelContext | None = None) -> Any:
    """A ``keras.Model`` for ``spec`` (a path, a LoadedSpec or a Spec model)."""
    from zoo.model_context import resolve_model_context

    loaded = resolve(spec, registry)
    ctx = context or resolve_model_context(loaded, num_classes=num_classes, image_shape=image_shape)
    entry = loaded.entry("model")
    model = entry.factory(loaded.spec.model.params, ctx)
    check_built_model(model, entry, ctx)
    return model


def check_built_model(model: Any, entry: PluginEntry, ctx: ModelContext) -> None:
    """The factory must return a Keras model taking ``ctx.input_shape`` whose first output
    has one unit per class (one unit for a sigmoid binary model); extra outputs need
    ``loss_weights``."""
    import keras

    def broken(why: str) -> PluginContractError:
        return PluginContractError(
            f"architecture '{entry.name}' of {entry.owner} broke the contract: {why}")

    if not isinstance(model, keras.Model):
        raise broken(f"its factory must return a keras.Model, got {type(model).__name__}")
    if len(model.inputs) != 1:
        raise broken(f"the model must have one input, it has {len(model.inputs)}")
    got_in = tuple(model.inputs[0].shape[1:])
    if got_in != tuple(ctx.input_shape):
        raise broken(f"expected input shape {tuple(ctx.input_shape)}, got {got_in}")
    out = model.outputs[0].shape
    units = out[-1] if len(out) == 2 else None
    binary_ok = ctx.output_activation == "sigmoid" and units == 1
    if units != ctx.num_classes and not binary_ok:
        raise broken(f"expected a first output of shape (None, {ctx.num_classes}), got "
                     f"{tuple(out)}")
    if len(model.outputs) > 1 and entry.capabilities.loss_weights is None:
        raise broken(f"the model has {len(model.outputs)} outputs but the plugin declares no "
                     "loss_weights for the auxiliary ones")
