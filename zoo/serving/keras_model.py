"""``zoo.serving_model(run)``: a finished run as one plain Keras model that saves as ``.keras``.

Raw pixels in (float32 NHWC, 0..255, any batch), class probabilities out (float32, one column
per class, ``[1 - p, p]`` for one sigmoid unit), like zoo's exports. The exported graph of
:mod:`zoo.serving.graph` is traced once and never saved; this model is saved as ``.keras`` and
loaded again elsewhere (an MLflow model, ``mlflow models serve``), in Keras safe mode, by a
process that may never import zoo. So it holds nothing but Keras' own layers and ops (and
those of packages Keras' loader imports by itself, such as KerasHub backbones)::

    pixels -> keras.ops.flip(axis=-1)              when the recipe reads BGR
           -> keras.layers.Rescaling(scale, offset)  per channel
           -> the trained model
           -> probabilities: a float32 Identity, or Concatenate([1 - p, p]) for one unit

Every built-in scaling recipe is affine per channel, ``((x[..., ::-1] if bgr else x) /
divisor - mean) / std``, which is ``x * scale + offset`` after the flip. A recipe whose saved
state is not in that affine form (:func:`zoo.record.scaling.is_affine_state`) would need its
plugin's code inside the model: that is a :class:`~zoo.errors.UserError` (``zoo export``
still serves such a run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import keras
import numpy as np

from zoo.errors import Problem, UserError
from zoo.plugin.registry import Registry
from zoo.plugin.scaling import AffineScaling
from zoo.record.scaling import is_affine_state
from zoo.runner.model_file import layer_configs as keras_objects
from zoo.runner.predict import Run
from zoo.serving.exporter import check_finished
from zoo.serving.formats import INPUT_NAME

OUTPUT_NAME = "probabilities"
# What Keras' loader imports by itself, given a class's module (keras.saving): KerasHub
# backbones load in safe mode where keras_hub is installed, without zoo.
KERAS_PACKAGES = frozenset({"keras", "keras_hub", "keras_cv", "keras_nlp"})


def serving_model(
    run: str | Path | Run,
    weights: Literal["best", "last"] | None = None,
    *,
    registry: Registry | None = None,
) -> keras.Model:
    """A finished run as one ``keras.Model``, raw pixels in, probabilities out, made of
    Keras' own layers: it saves as ``.keras`` and loads in safe mode without zoo.

    :param run: a run folder or a :class:`zoo.runner.Run`.
    :param weights: the run's ``best`` or ``last`` epoch weights; default: those in
        ``model.keras``.
    :raises UserError: the run is not finished, its scaling is not affine, or its model has
        layers Keras cannot find by itself (registered by a plugin).
    """
    if weights not in (None, "best", "last"):
        raise UserError(f"weights must be best or last (got {weights!r})")
    run = run if isinstance(run, Run) else Run(run, registry)
    check_finished(run)
    scaling = affine_scaling(run)  # before the model loads: refusing costs nothing
    if weights is not None:
        run.use_weights(weights)
    model = assemble(run.model, scaling, run.image_shape, run.record.name)
    check_keras_only(model, str(run.path))
    return model


def affine_scaling(run: Run) -> AffineScaling:
    """The run's scaling as an :class:`AffineScaling`: the recipe's own object when it is one
    (the plugin stays the authority), else rebuilt from the affine state it saved."""
    record = run.record.scaling
    if not is_affine_state(record):
        raise UserError(
            [
                Problem(
                    f"scaling '{record.recipe}' is not affine: a plain Keras model cannot hold "
                    "it (zoo export can)",
                    str(run.path),
                )
            ]
        )
    scaling = run.scaling
    if isinstance(scaling, AffineScaling):
        return scaling
    assert record.state is not None  # is_affine_state checked it
    return AffineScaling.from_state(record.state)


def rescaling_values(scaling: AffineScaling, channels: int) -> tuple[Any, Any] | None:
    """``(scale, offset)`` for ``keras.layers.Rescaling`` (``x * scale + offset``) equal to
    ``(x / divisor - mean) / std`` per channel; None when the recipe leaves pixels as they are.

    Floats when every channel shares them (a readable config), else one per channel.
    """
    mean, std = scaling.channel_constants(
        channels
    )  # the recipe's per-channel values (gray: averaged)
    divisor = scaling.divisor or 1.0
    mean64, std64 = _per_channel(mean, 0.0, channels), _per_channel(std, 1.0, channels)
    scale, offset = 1.0 / (divisor * std64), -mean64 / std64
    if np.all(scale == 1.0) and np.all(offset == 0.0):
        return None
    if np.all(scale == scale[0]) and np.all(offset == offset[0]):
        return float(scale[0]), float(offset[0])
    return [float(v) for v in scale], [float(v) for v in offset]


def _per_channel(values: np.ndarray | None, default: float, channels: int) -> np.ndarray:
    return np.broadcast_to(
        np.asarray(default if values is None else values, np.float64), (channels,)
    )


def assemble(
    model: keras.Model, scaling: AffineScaling, image_shape: tuple[int, int, int], name: str
) -> keras.Model:
    """The trained ``model`` behind the scaling, taking raw pixels (see the module docstring)."""
    channels = int(image_shape[-1])
    pixels = keras.Input(tuple(image_shape), dtype="float32", name=INPUT_NAME)
    x = pixels
    if scaling.bgr and channels > 1:
        x = keras.ops.flip(x, axis=-1)  # a Keras op: saved by name, loaded in safe mode
    values = rescaling_values(scaling, channels)
    if values is not None:
        # float32 whatever the global policy: mixed-precision runs compute inside ``model`` only
        x = keras.layers.Rescaling(*values, name="scaling", dtype="float32")(x)
    outputs = probabilities(model(x, training=False))
    return keras.Model(pixels, outputs, name=f"{name}_serving")


def probabilities(raw: Any) -> Any:
    """float32 probabilities, one column per class (``[1 - p, p]`` for one sigmoid unit)."""
    if raw.shape[-1] == 1:
        rest = keras.layers.Rescaling(-1.0, offset=1.0, name="one_minus_p", dtype="float32")(raw)
        return keras.layers.Concatenate(name=OUTPUT_NAME, dtype="float32")([rest, raw])
    return keras.layers.Identity(name=OUTPUT_NAME, dtype="float32")(raw)


def check_keras_only(model: keras.Model, where: str) -> None:
    """Every layer, op and function of ``model`` comes from Keras or a package its loader
    imports by itself: other registered objects load only where their module was imported
    first, which a plain ``.keras`` loader never does."""
    foreign = sorted(
        {
            str(obj.get("registered_name") or obj.get("config"))
            for obj in keras_objects(keras.saving.serialize_keras_object(model))
            if not _is_keras_own(obj)
        }
    )
    if foreign:
        raise UserError(
            [
                Problem(
                    f"the model has objects Keras cannot load by itself ({', '.join(foreign)}): "
                    "a plain Keras model cannot hold them (zoo export can)",
                    where,
                )
            ]
        )


def _is_keras_own(obj: dict[str, Any]) -> bool:
    """A serialized object Keras finds by itself: from a package of :data:`KERAS_PACKAGES`, or
    a built-in function named without a ``package>`` prefix."""
    module = str(obj.get("module") or "")
    if module == "builtins":
        return ">" not in str(obj.get("config"))
    return module.split(".", 1)[0] in KERAS_PACKAGES
