"""Every keras.applications backbone as a registered architecture, from one table.

Each row of :data:`zoo_builtins.architectures._applications_table.BACKBONES` (name, Keras
constructor, family, default and minimum input size, the published no-top parameter count,
the scaling its ImageNet weights expect, the weights file and its hash) becomes one
architecture: the Keras base (``include_top=False``) with its layers directly in the model
(so summaries list them and ``unfreeze`` can name one), then the shared head
(:class:`~zoo_builtins.architectures._layers.Head`: pooling, optional Dense layers,
Dropout, output). ``vgg16_transfer`` is the VGG16 row with the reference transfer head
(GAP, Dense 50 ReLU; docs/reference-models.md).

Params (the same for every backbone):

- ``weights``: ``imagenet`` (Keras' published no-top file, downloaded once into the Keras
  cache and checked against its hash; ``zoo fetch SPEC`` does it ahead of time;
  ``ZOO_WEIGHTS_BASE_URL`` points at a mirror with Keras' folder layout), a path to a local
  ``.weights.h5`` (Keras 3) or legacy ``.h5`` file with the base's layout, or ``none``
  (random). A relative path: ``zoo fetch`` resolves it against the spec file's folder; the
  model factory gets no spec folder (``ModelContext`` has none), so it tries the working
  directory: use absolute paths, or run zoo from the spec's folder. A wrong file is one
  error naming the file and what was expected vs found.
- ``unfreeze``: base layers that train, counted from the top over layers with weights other
  than BatchNormalization (an int), ``all``, ``none`` (feature extraction), or the name of a
  base layer from which on everything trains. ``training.phases[i].unfreeze`` changes it per
  phase (through :func:`set_trainable`; phases take a count, ``all`` or ``none``).
- ``head``: the shared head; default GAP, Dropout 0.2, output (the Keras transfer guide's).

BatchNormalization layers of the base never train: a frozen Keras 3 BN layer runs in
inference mode (its moving statistics), which is what the Keras transfer-learning guide asks
for while fine-tuning (``base(x, training=False)``); unfreezing leaves them frozen.

Scaling: pretrained weights declare the recipe they were trained with through
``required_scaling`` (``caffe``: VGG, ResNet v1; ``tf``: ResNetV2, Inception, Xception,
MobileNet v1/v2, NASNet; ``torch``: DenseNet; ``raw``, pixels 0..255 unchanged: EfficientNet,
EfficientNetV2, ConvNeXt and MobileNetV3, whose preprocessing is inside the model).
``scaling: {recipe: auto}`` picks it; another recipe is a located validation error. With
``weights: none`` nothing is required.

Gray input: a 1-channel image is repeated to 3 channels inside the model by one
``Concatenate`` layer named ``gray_to_rgb`` (saves and loads in Keras safe mode), so RGB
weights apply; never a shape error. Other channel counts than 1 and 3 need ``weights: none``.

EfficientNet (v1) with pretrained weights (imagenet or a file) is built as Keras builds it
for ImageNet weights: with the extra Rescaling after its Normalization layer that those
weights need (keras-team/keras issue 49930); with ``weights: none`` as Keras builds it then.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator
from zoo_builtins.architectures._applications_table import BACKBONES, Backbone
from zoo_builtins.architectures._layers import Head, build_head

import zoo
from zoo import plugin

if TYPE_CHECKING:
    import keras

BASE_URL_ENV = "ZOO_WEIGHTS_BASE_URL"
KERAS_URLS = (
    "https://storage.googleapis.com/tensorflow/keras-applications/",
    "https://storage.googleapis.com/keras-applications/",
)
WEIGHT_SUFFIXES = (".h5", ".hdf5")
GRAY_LAYER = "gray_to_rgb"
HEAD_LAYERS = frozenset({"input", GRAY_LAYER, "avg_pool", "max_pool", "flatten", "predictions"})
WEIGHTS_LICENSE = "Keras Applications ImageNet weights (see keras.io/api/applications)"
DEFAULT_CLASSES = 10  # the declared ParamCount: the default head at the default size
_BUILD_LOCK = threading.Lock()


# ---------------------------------------------------------------- params


class BackboneParams(zoo.PluginParams):
    weights: str | None = Field(
        "imagenet",
        description="imagenet (Keras' published no-top file, downloaded once), a path "
        "to a local .weights.h5 or .h5 file with the base's layout, or none (random).",
    )
    unfreeze: int | str = Field(
        "none",
        description="Base layers that train: a count from the top (layers with weights, "
        "BatchNormalization excepted), all, none (frozen base), or a base layer's name to "
        "unfreeze from. BatchNormalization always stays frozen (inference mode).",
    )
    head: Head = Field(
        default_factory=lambda: Head(pooling="gap", dense_units=[], dropout=0.2),
        description="Pooling, Dense layers and Dropout after the base (default: GAP, Dropout "
        "0.2, output).",
    )

    @field_validator("weights", mode="before")
    @classmethod
    def _none_word(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip().lower() in ("none", "") else value

    @field_validator("weights")
    @classmethod
    def _weights_kind(cls, value: str | None) -> str | None:
        if value not in (None, "imagenet") and not str(value).lower().endswith(WEIGHT_SUFFIXES):
            raise ValueError(
                "weights must be imagenet, none, or a path to a .weights.h5 or .h5 "
                f"file. Received: weights={value!r}"
            )
        return value

    @field_validator("unfreeze", mode="before")
    @classmethod
    def _unfreeze_kind(cls, value: Any) -> Any:
        if isinstance(value, bool) or (isinstance(value, int) and value < 0):
            raise ValueError(
                "unfreeze must be a count >= 0, all, none or a layer name. "
                f"Received: unfreeze={value!r}"
            )
        if isinstance(value, str) and not value.strip():
            raise ValueError("unfreeze must not be empty")
        return value


def _params_class(row: Backbone) -> type[BackboneParams]:
    """The row's params model (its own head default when it has one, e.g. vgg16_transfer)."""
    if row.head is None:
        return BackboneParams
    head = dict(row.head)
    return type(
        f"{row.constructor}Params",
        (BackboneParams,),
        {
            "__annotations__": {"head": Head},
            "head": Field(
                default_factory=lambda: Head(**head),
                description=f"Pooling, Dense layers and Dropout after the base "
                f"(default: {row.head_note}).",
            ),
            "__module__": __name__,
        },
    )


# ---------------------------------------------------------------- weights files


def imagenet_file(row: Backbone, size: int | None = None) -> plugin.RemoteFile:
    """Keras' published no-top file of ``row`` (``ZOO_WEIGHTS_BASE_URL``: a mirror)."""
    fname, origin = row.weights_file, row.weights_origin
    if row.sized_weights:  # MobileNet v1/v2: one file per trained resolution
        trained = size if size in (128, 160, 192, 224) else 224
        fname = fname.replace("_224_", f"_{trained}_")
        origin = origin.replace("_224_", f"_{trained}_")
    mirror = os.environ.get(BASE_URL_ENV)
    if mirror:
        relative = next(
            (origin[len(u) :] for u in KERAS_URLS if origin.startswith(u)),
            origin.rsplit("/", 1)[-1],
        )
        origin = mirror.rstrip("/") + "/" + relative
    return plugin.RemoteFile(
        fname=fname,
        origin=origin,
        file_hash=row.weights_hash if fname == row.weights_file else None,
        cache_subdir="models",
        description=f"{row.constructor} base trained on ImageNet (Keras Applications)",
    )


def _local_path(row: Backbone, weights: str, spec_dir: Path | None) -> Path:
    path = Path(weights).expanduser()
    if not path.is_absolute() and spec_dir is not None:
        path = Path(spec_dir) / path
    if not path.is_file():
        raise zoo.UserError(
            [
                zoo.Problem(
                    f"{row.name}: weights file not found: {path.resolve()}. Received: "
                    f"weights={weights!r}",
                    key_path="model.params.weights",
                )
            ]
        )
    return path


def weights_path(
    row: Backbone, params: BackboneParams, size: int | None = None, spec_dir: Path | None = None
) -> Path | None:
    """The local file to load (fetching ImageNet's when needed), or None."""
    if params.weights is None:
        return None
    if params.weights == "imagenet":
        what = f"{row.constructor} ImageNet weights"
        return plugin.ensure_files([imagenet_file(row, size)], what=what)[0]
    return _local_path(row, params.weights, spec_dir)


def _spec_size(spec: Any) -> int | None:
    size = getattr(getattr(spec, "data", None), "image_size", None)
    return int(size[0]) if size and size[0] == size[1] else None


# ---------------------------------------------------------------- capabilities


def _capabilities(row: Backbone) -> dict[str, Any]:
    def required_scaling(params: BackboneParams) -> str | None:
        """The recipe the weights were trained with; none for random weights."""
        return row.scaling if params.weights is not None else None

    def fetch(params: BackboneParams, ctx: plugin.FetchContext) -> list[Path]:
        """Make the weights file local now (a relative path starts at the spec's folder)."""
        path = weights_path(row, params, None, ctx.spec_dir)
        return [path] if path else []

    def check_spec(params: BackboneParams, spec: Any, *, spec_dir: Path) -> list[str]:
        warnings_ = []
        if params.weights not in (None, "imagenet"):
            _local_path(row, params.weights, spec_dir)  # a missing file: found by validate
        if params.weights is None and params.unfreeze != "all":
            warnings_.append(
                f"weights: none with a frozen base: {row.name}'s base keeps its "
                "random weights; set unfreeze: all to train it"
            )
        size = getattr(getattr(spec, "data", None), "image_size", None)
        if size and min(size) < row.min_size:
            raise zoo.UserError(
                [
                    zoo.Problem(
                        f"{row.name} needs images of at least {row.min_size}x{row.min_size}. "
                        f"Received: image_size={list(size)}",
                        key_path="data.image_size",
                    )
                ]
            )
        channels = getattr(getattr(spec, "data", None), "channels", None)
        if params.weights is not None and channels not in (None, 1, 3):
            raise zoo.UserError(
                [
                    zoo.Problem(
                        f"{row.name}: pretrained weights need 1 (repeated) or 3 channels. "
                        f"Received: channels={channels}",
                        key_path="data.channels",
                    )
                ]
            )
        return warnings_

    return {
        "required_scaling": required_scaling,
        "fetch": fetch,
        "check_spec": check_spec,
        "set_trainable": set_trainable,
    }


def _is_bn(layer: Any) -> bool:
    return type(layer).__name__ in ("BatchNormalization", "SyncBatchNormalization")


def _counted(layer: Any) -> bool:
    """A layer ``unfreeze`` counts: it has weights, and some can train (not BN, not the
    Normalization preprocessing layer)."""
    return bool(layer.weights) and not _is_bn(layer) and type(layer).__name__ != "Normalization"


def base_layers(model: keras.Model) -> list[Any]:
    """The backbone's layers in a built or loaded model (everything but input and head)."""
    return [
        layer
        for layer in model.layers
        if layer.name not in HEAD_LAYERS
        and not layer.name.startswith("head_")
        and type(layer).__name__ != "InputLayer"
    ]


def set_trainable(model: keras.Model, unfreeze: int | str) -> int:
    """Freeze the base except its top ``unfreeze`` counted layers, or from a named layer on.

    ``unfreeze``: a count, ``"all"``, ``"none"`` or a base layer's name. BatchNormalization
    layers stay frozen (inference mode). Returns how many counted base layers now train.
    Compile the model again afterwards.
    """
    base = base_layers(model)
    counted = [layer for layer in base if _counted(layer)]
    names = [layer.name for layer in base]
    if unfreeze == "all":
        start = 0
    elif unfreeze == "none":
        start = len(base)
    elif (
        isinstance(unfreeze, int)
        and not isinstance(unfreeze, bool)
        and 0 <= unfreeze <= len(counted)
    ):
        start = names.index(counted[len(counted) - unfreeze].name) if unfreeze else len(base)
    elif isinstance(unfreeze, str) and unfreeze in names:
        start = names.index(unfreeze)
    else:
        hint = plugin.did_you_mean(str(unfreeze), names) if isinstance(unfreeze, str) else None
        raise zoo.UserError(
            [
                zoo.Problem(
                    f"unfreeze must be 0..{len(counted)}, all, none or one of the base's layer "
                    "names "
                    f"(the base has {len(counted)} layers with weights)"
                    + (f"; {hint}" if hint else "")
                    + f". Received: unfreeze={unfreeze!r}",
                    key_path="model.params.unfreeze",
                )
            ]
        )
    for i, layer in enumerate(base):
        layer.trainable = i >= start and not _is_bn(layer)
    return sum(1 for layer in counted if layer.trainable)


# ---------------------------------------------------------------- building


@contextlib.contextmanager
def _keras_loads(path: Path) -> Iterator[None]:
    """Keras' applications asked for ``weights="imagenet"`` load ``path`` instead.

    Building with ``weights="imagenet"`` gives exactly the graph Keras builds for pretrained
    weights (EfficientNet adds a layer then); each applications module's ``file_utils`` is
    swapped for one whose ``get_file`` answers with the local file, for this build only.
    """
    real = importlib.import_module("keras.src.utils.file_utils")

    class _Local:
        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

        @staticmethod
        def get_file(*args: Any, **kwargs: Any) -> str:
            return str(path)

    modules = [
        m
        for n, m in list(sys.modules.items())
        if n.startswith("keras.src.applications.") and getattr(m, "file_utils", None) is real
    ]
    with _BUILD_LOCK:
        for m in modules:
            m.file_utils = _Local()  # type: ignore[attr-defined]  # keras' module attribute
        try:
            yield
        finally:
            for m in modules:
                m.file_utils = real  # type: ignore[attr-defined]


def _summarise_load_error(row: Backbone, path: Path, exc: Exception) -> str:
    text = " ".join(str(exc).split()).split(" List of objects")[0]
    return (
        f"{row.name}: cannot load weights from {path}: the file does not match "
        f"{row.constructor}'s no-top base ({row.params:,} parameters; expected Keras' "
        f"{row.weights_file} or a file saved from this base): {text[:400]}"
    )


def check_input(row: Backbone, ctx: zoo.ModelContext) -> tuple[int, int, int]:
    shape = tuple(int(s) for s in ctx.input_shape)
    if len(shape) != 3:
        raise zoo.UserError(
            [
                zoo.Problem(
                    f"{row.name} takes images shaped (height, width, channels); set "
                    "data.image_size and "
                    f"data.channels. Received: input_shape={shape}",
                    key_path="model",
                )
            ]
        )
    h, w, c = shape
    if h < row.min_size or w < row.min_size:
        raise zoo.UserError(
            [
                zoo.Problem(
                    f"{row.name}: input {h}x{w} is too small: {row.constructor} needs at least "
                    f"{row.min_size}x{row.min_size}; the smallest input this configuration accepts "
                    "is "
                    f"{row.min_size}x{row.min_size} (set data.image_size larger; its native size "
                    "is "
                    f"{row.default_size}). Received: input_shape={shape}",
                    key_path="model",
                )
            ]
        )
    return h, w, c


def build_backbone(params: BackboneParams, ctx: zoo.ModelContext, *, row: Backbone) -> keras.Model:
    """The Keras base (weights loaded), then the shared head; frozen per ``unfreeze``."""
    h, w, c = check_input(row, ctx)
    if params.weights is not None and c not in (1, 3):
        raise zoo.UserError(
            [
                zoo.Problem(
                    f"{row.name}: pretrained weights ({params.weights}) need 3-channel input "
                    "(1-channel "
                    f"images are repeated), but the input has {c} channel(s); set data.channels: 3 "
                    "(or "
                    f"use weights: none). Received: input_shape={tuple(ctx.input_shape)}",
                    key_path="model",
                )
            ]
        )
    path = weights_path(row, params, h if h == w else None, ctx.spec_dir)
    import keras

    inputs = keras.Input(shape=(h, w, c), name="input")
    x = (
        keras.layers.Concatenate(axis=-1, name=GRAY_LAYER)([inputs, inputs, inputs])
        if c == 1
        else inputs
    )
    constructor = getattr(keras.applications, row.constructor)
    kwargs: dict[str, Any] = {
        "include_top": False,
        "input_tensor": x,
        "input_shape": (h, w, 3 if c == 1 else c),
    }
    with warnings.catch_warnings(), contextlib.ExitStack() as stack:
        warnings.simplefilter("ignore")
        if path is not None:
            stack.enter_context(_keras_loads(path))
        try:
            base = constructor(weights="imagenet" if path is not None else None, **kwargs)
        except (ValueError, OSError, KeyError) as exc:
            if path is None:
                raise
            raise zoo.UserError(
                [
                    zoo.Problem(
                        _summarise_load_error(row, path, exc), key_path="model.params.weights"
                    )
                ]
            ) from None
    outputs = build_head(base.output, params.head, ctx)
    model = keras.Model(inputs, outputs, name=ctx.name)
    set_trainable(model, params.unfreeze)
    return model


def _factory(row: Backbone) -> Callable[[BackboneParams, zoo.ModelContext], keras.Model]:
    def factory(params: BackboneParams, ctx: zoo.ModelContext) -> keras.Model:
        return build_backbone(params, ctx, row=row)

    factory.__name__ = f"build_{row.name}"
    return factory


def default_param_count(row: Backbone) -> int:
    """The default model's parameters at the row's default size, 10 classes."""
    head = row.head or {"dense_units": []}
    features, total = row.features, row.params
    for units in head.get("dense_units", []):
        total += features * units + units
        features = units
    return total + features * DEFAULT_CLASSES + DEFAULT_CLASSES


@zoo.hookimpl
def zoo_register_architectures(registry: plugin.PluginRegistrar) -> None:
    for row in BACKBONES:
        size = row.default_size
        registry.add_architecture(
            row.name,
            params=_params_class(row),
            factory=_factory(row),
            description=f"keras.applications.{row.constructor} base (ImageNet, local file or "
            f"random weights; {row.params:,} parameters without top), frozen or partly "
            f"unfrozen, with the shared transfer head ({row.head_note}). Native input "
            f"{size}x{size}, at least {row.min_size}x{row.min_size}; ImageNet weights expect "
            f"the '{row.scaling}' scaling.",
            tags={"cnn", "transfer", "pretrained", row.family, *row.extra_tags},
            family=row.family,
            input_kind="image",
            param_count=plugin.ParamCount(
                default_param_count(row),
                input_shape=(size, size, 3),
                num_classes=DEFAULT_CLASSES,
                params={"weights": None},
            ),
            smallest_input=lambda params, side=row.min_size: (side, side),
            weights_license=WEIGHTS_LICENSE,
            **_capabilities(row),
        )
