"""What zoo checks of a plugin's results before it uses them: the contract guards.

Each guard raises :class:`~zoo.errors.PluginContractError` naming the plugin and its
package, so a misbehaving third-party plugin is one clear line, never a traceback deep in
Keras or tf.data. The runner calls them on every build; ``zoo.testing`` calls the same ones.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from zoo.errors import PluginContractError
from zoo.plugin.contracts import ModelContext, Scaling, ShapeHint
from zoo.plugin.registry import PluginEntry
from zoo.plugin.source import ImageSet, SourceData


def _broken(who: str, why: str) -> PluginContractError:
    return PluginContractError(f"{who} broke the contract: {why}")


def check_built_model(model: Any, entry: PluginEntry, ctx: ModelContext) -> None:
    """The factory must return a Keras model taking ``ctx.input_shape`` whose first output
    has one unit per class (one unit for a sigmoid binary model); extra outputs need
    ``loss_weights``."""
    import keras

    who = f"architecture '{entry.name}' of {entry.owner}"
    if not isinstance(model, keras.Model):
        raise _broken(who, f"its factory must return a keras.Model, got {type(model).__name__}")
    if len(model.inputs) != 1:
        raise _broken(who, f"the model must have one input, it has {len(model.inputs)}")
    got_in = tuple(model.inputs[0].shape[1:])
    if got_in != tuple(ctx.input_shape):
        raise _broken(who, f"expected input shape {tuple(ctx.input_shape)}, got {got_in}")
    out = model.outputs[0].shape
    units = out[-1] if len(out) == 2 else None
    binary_ok = ctx.output_activation == "sigmoid" and units == 1
    if units != ctx.num_classes and not binary_ok:
        raise _broken(
            who, f"expected a first output of shape (None, {ctx.num_classes}), got {tuple(out)}"
        )
    if len(model.outputs) > 1 and entry.capabilities.loss_weights is None:
        raise _broken(
            who,
            f"the model has {len(model.outputs)} outputs but the plugin declares "
            "no loss_weights for the auxiliary ones",
        )


def check_source(source: Any, who: str) -> SourceData:
    """A data source's result: SourceData with images, class names and labels in range."""
    if not isinstance(source, SourceData):
        raise _broken(who, f"it must return zoo.plugin.SourceData, got {type(source).__name__}")
    if sum(len(s) for s in source.splits.values() if isinstance(s, ImageSet)) == 0:
        raise _broken(who, "it returned no images")
    if not source.class_names:
        raise _broken(who, "it returned no class names")
    if len(set(source.class_names)) != len(source.class_names):
        raise _broken(who, f"its class names repeat: {source.class_names}")
    allowed = {"all"} if "all" in source.splits else {"train", "validation", "test"}
    if (
        not source.splits
        or not set(source.splits) <= allowed
        or ("all" not in source.splits and "train" not in source.splits)
    ):
        raise _broken(
            who,
            f"splits must be {{'all'}} or 'train' with optional "
            f"'validation'/'test', got {sorted(source.splits)}",
        )
    k = len(source.class_names)
    for split, image_set in source.splits.items():
        if not isinstance(image_set, ImageSet):
            raise _broken(who, f"split '{split}' is not an ImageSet")
        if len(image_set) and (image_set.labels.min() < 0 or image_set.labels.max() >= k):
            raise _broken(who, f"split '{split}' has labels outside 0..{k - 1}")
        if image_set.images is not None and (
            image_set.images.ndim != 4 or image_set.images.shape[3] not in (1, 3)
        ):
            raise _broken(
                who,
                f"split '{split}' images must be NHWC with 1 or 3 channels, "
                f"got shape {image_set.images.shape}",
            )
        if image_set.images is not None and image_set.images.dtype != np.uint8:
            raise _broken(
                who,
                f"split '{split}' images must be uint8 pixels 0..255, got {image_set.images.dtype}",
            )
    return source


def check_shape_hint(found: Any, entry: PluginEntry) -> ShapeHint:
    """A data source's ``shape_hint`` result: a ShapeHint (None counts as "cannot tell")."""
    if found is None:
        return ShapeHint()
    if not isinstance(found, ShapeHint):
        raise _broken(
            f"shape_hint of data source '{entry.name}' of {entry.owner}",
            f"it must return zoo.plugin.ShapeHint or None, got {type(found).__name__}",
        )
    return found


def check_scaling(scaling: Any, entry: PluginEntry) -> Scaling:
    """A scaling factory's result: callable, with ``fit()`` and ``state()``."""
    missing = [m for m in ("fit", "state") if not callable(getattr(scaling, m, None))]
    if missing or not callable(scaling):
        raise _broken(
            f"scaling recipe '{entry.name}' of {entry.owner}",
            "its factory must return a zoo.plugin.Scaling (callable, with fit() and "
            f"state()); {type(scaling).__name__} lacks "
            f"{', '.join(missing) or '__call__'}",
        )
    return scaling


def check_augmented(out: Any, image: np.ndarray, who: str = "the augmenter") -> np.ndarray:
    """The augmenter's result, after checking it is uint8 pixels of the input's shape."""
    got = np.asarray(out)
    if got.dtype != np.uint8 or got.shape != image.shape:
        raise _broken(
            who,
            "an augmenter must return uint8 pixels of the input's shape "
            f"{tuple(image.shape)} uint8, got {tuple(got.shape)} {got.dtype}",
        )
    return got


def check_augmenter(augmenter: Any, entry: PluginEntry, shape: tuple[int, int, int]) -> Any:
    """An augmentation factory's result: callable, and a copy of it called once on a gray
    image keeps shape and dtype, so a bad plugin fails before any run folder exists."""
    who = f"augmentation recipe '{entry.name}' of {entry.owner}"
    if not callable(augmenter):
        raise _broken(
            who, f"its factory must return a callable Augmenter, got {type(augmenter).__name__}"
        )
    try:
        trial = copy.deepcopy(augmenter)
    except Exception:  # noqa: BLE001 - not copyable: the per-batch check still guards
        return augmenter
    image = np.full(shape, 128, dtype=np.uint8)
    check_augmented(trial(image), image, who)
    return augmenter
