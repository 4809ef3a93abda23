"""The model factory: a KerasHub backbone (preset, folder or random weights), then zoo's head.

The model takes zoo's scaled pixels, repeats a gray channel to three (a ``gray_to_rgb``
Concatenate, as zoo's keras.applications backbones do), runs the KerasHub backbone (one
nested layer, so a saved run loads wherever keras-hub is installed: Keras imports KerasHub's
classes by their module), pools its tokens or feature map and ends in the head. Only
standard Keras layers are added (Cropping1D, pooling, Dropout, Dense): the ``.keras`` file
loads in safe mode without this package.

Pretrained weights are loaded into a backbone built at the run's input size. Where a
variable's shape depends on that size (ViT and DeiT's learned position embeddings), the
preset's grid is resampled bicubically to the new one, as timm does.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import zoo

from zoo_hub import sizes, weights
from zoo_hub.params import HubParams
from zoo_hub.table import Variant
from zoo_hub.trainable import set_trainable

if TYPE_CHECKING:
    import keras

GRAY_LAYER = "gray_to_rgb"
KEY = "model"


def check_input(variant: Variant, ctx: zoo.ModelContext) -> tuple[int, int, int]:
    """(height, width, channels), or a UserError naming the sizes that work."""
    shape = tuple(int(s) for s in ctx.input_shape)
    if len(shape) != 3:
        raise zoo.UserError(
            [
                zoo.Problem(
                    f"{variant.name} takes images shaped (height, width, channels); set "
                    f"data.image_size and data.channels. Received: input_shape={shape}",
                    key_path=KEY,
                )
            ]
        )
    h, w, c = shape
    why = sizes.problem(variant, h, w)
    if why:
        raise zoo.UserError(
            [zoo.Problem(f"{variant.name}: {why}. Received: input_shape={shape}", key_path=KEY)]
        )
    return h, w, c


def weights_folder(params: HubParams, variant: Variant, spec_dir: Path | None) -> Path | None:
    """The local preset folder to load (downloading a named preset when needed), or None."""
    if params.weights is None:
        return None
    if weights.is_path(params.weights):
        folder = weights.read_folder(weights.resolve(params.weights, spec_dir))
        weights.check_folder(folder, variant)
        return folder.path
    return weights.download(weights.preset_of(params.weights, variant))


def _import_keras_hub() -> Any:
    try:
        import keras_hub
    except ImportError as exc:
        raise zoo.UserError(
            [zoo.Problem(f"KerasHub is not installed ({exc}); {weights.INSTALL}", key_path=KEY)]
        ) from None
    return keras_hub


def resample_grid(
    value: np.ndarray, prefix: int, source: tuple[int, int], target: tuple[int, int]
) -> np.ndarray:
    """Position embeddings ``(..., prefix + gh * gw, dim)`` for another patch grid: the
    prefix tokens kept, the grid resized bicubically (antialiased when shrinking)."""
    import keras

    lead, dim = value.shape[:-2], value.shape[-1]
    grid = value[..., prefix:, :].reshape(-1, *source, dim)
    resized = keras.ops.image.resize(
        grid.astype("float32"),
        target,
        interpolation="bicubic",
        antialias=target[0] * target[1] < source[0] * source[1],
    )
    resized = np.asarray(keras.ops.convert_to_numpy(resized)).reshape(*lead, -1, dim)
    return np.concatenate([value[..., :prefix, :], resized], axis=-2)


def _copy_weights(
    source: Any,
    target: Any,
    variant: Variant,
    source_size: tuple[int, int],
    target_size: tuple[int, int],
    folder: Path,
) -> None:
    patch = variant.patch_size or 1
    grids = (
        (source_size[0] // patch, source_size[1] // patch),
        (target_size[0] // patch, target_size[1] // patch),
    )
    if len(source.weights) != len(target.weights):
        raise zoo.UserError(
            [
                zoo.Problem(
                    f"{folder}: its backbone has {len(source.weights)} weights, {variant.name} at "
                    f"{target_size[0]}x{target_size[1]} has {len(target.weights)}",
                    key_path=KEY,
                )
            ]
        )
    for src, dst in zip(source.weights, target.weights, strict=True):
        value = np.asarray(src.numpy())
        if tuple(value.shape) != tuple(dst.shape):
            if not (variant.family.fixed_positions and "position" in dst.path):
                raise zoo.UserError(
                    [
                        zoo.Problem(
                            f"{folder}: weight {src.path} is {tuple(value.shape)}, "
                            f"{variant.name} at {target_size[0]}x{target_size[1]} needs "
                            f"{tuple(dst.shape)}",
                            key_path=KEY,
                        )
                    ]
                )
            value = resample_grid(value, variant.prefix_tokens, *grids)
        dst.assign(value)


def build_backbone(
    variant: Variant, size: tuple[int, int], channels: int, folder: Path | None
) -> Any:
    """The KerasHub backbone at ``size``: random, or with the folder's weights."""
    keras_hub = _import_keras_hub()
    cls = getattr(keras_hub.models, variant.family.backbone)
    if folder is None:
        return cls(**variant.config, image_shape=(*size, channels))
    config = {k: v for k, v in weights.read_folder(folder).config.items() if k != "dtype"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        source = keras_hub.models.Backbone.from_preset(str(folder), dtype="float32")
    shape = tuple(config.get("image_shape") or ())
    source_size = (int(shape[0]), int(shape[1])) if len(shape) == 3 and shape[0] else size
    if source_size == size and channels == 3:
        return source
    target = cls.from_config({**config, "image_shape": (*size, channels)})
    _copy_weights(source, target, variant, source_size, size, folder)
    del source
    return target


def _features(backbone: Any, x: Any, variant: Variant) -> Any:
    inputs = backbone.input
    out = backbone({next(iter(inputs)): x} if isinstance(inputs, dict) else x)
    if isinstance(out, dict):
        out = out[variant.family.feature_key]
    return out


def _pool(x: Any, variant: Variant, pooling: str) -> Any:
    from keras import layers

    if pooling == "gap":
        return layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if pooling == "gmp":
        return layers.GlobalMaxPooling2D(name="max_pool")(x)
    tokens = int(x.shape[1])
    if pooling == "class_token":
        x = layers.Cropping1D((0, tokens - 1), name="class_token")(x)
        return layers.Flatten(name="class_token_features")(x)
    if variant.prefix_tokens:
        x = layers.Cropping1D((variant.prefix_tokens, 0), name="patch_tokens")(x)
    return layers.GlobalAveragePooling1D(name="patch_mean")(x)


def _head(x: Any, head: Any, ctx: zoo.ModelContext) -> Any:
    from keras import layers

    for i, units in enumerate(head.dense_units, start=1):
        if head.dropout:
            x = layers.Dropout(head.dropout, name=f"head_dropout{i}")(x)
        x = layers.Dense(units, activation=head.activation, name=f"head_fc{i}")(x)
    if head.dropout:
        x = layers.Dropout(head.dropout, name=f"head_dropout{len(head.dense_units) + 1}")(x)
    return layers.Dense(ctx.num_classes, activation=ctx.output_activation, name="predictions")(x)


def build_model(params: HubParams, ctx: zoo.ModelContext, *, variant: Variant) -> keras.Model:
    """The whole classifier (see the module docstring); frozen as ``params.unfreeze`` says."""
    h, w, c = check_input(variant, ctx)
    if params.weights is not None and c not in (1, 3):
        raise zoo.UserError(
            [
                zoo.Problem(
                    f"{variant.name}: pretrained weights need 3-channel input (1-channel images "
                    f"are repeated), but the input has {c}; set data.channels: 3 or weights: "
                    "none",
                    key_path=KEY,
                )
            ]
        )
    folder = weights_folder(params, variant, ctx.spec_dir)
    import keras

    inputs = keras.Input(shape=(h, w, c), name="input")
    x = keras.layers.Concatenate(axis=-1, name=GRAY_LAYER)([inputs] * 3) if c == 1 else inputs
    with contextlib.ExitStack() as stack:
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore")  # KerasHub's input-structure notes on dict inputs
        backbone = build_backbone(variant, (h, w), 3 if c == 1 else c, folder)
        features = _features(backbone, x, variant)
    outputs = _head(_pool(features, variant, params.head.pooling), params.head, ctx)
    model = keras.Model(inputs, outputs, name=ctx.name)
    set_trainable(model, params.unfreeze)
    return model
