"""Transfer learning on keras.applications.VGG16's convolutional base (DIGEST section 6).

The note's model: ``VGG16(include_top=False, weights='imagenet')`` as the base, then
GlobalAveragePooling, Dense 50 ReLU, output. The base's layers sit directly in the model
(``block1_conv1`` ... ``block5_pool``), as in the note, so a summary lists them one by one.

Weights: ``imagenet`` fetches Keras' published no-top file once (checked against its md5;
offline the error names the file and where to put it; ``zoo fetch SPEC`` does it ahead of
time), a path loads a local ``.h5`` file with the same layout (relative to the working
directory), ``none`` starts from random weights. Pretrained weights need 3-channel input.

Freezing: ``unfreeze`` counts the base's layers that have weights (VGG16: 13 convs) from the
top: ``none`` freezes the base (feature extraction), ``3`` makes block5's three convs
trainable, ``all`` fine-tunes everything. The head always trains.

Capabilities declared with the registration (see ``zoo.contracts``):

- ``set_trainable(model, unfreeze)``: apply a ``training.phases[i].unfreeze`` value to a
  built (or loaded) model; returns how many base layers are now trainable. Compile the model
  again afterwards, as Keras requires after changing ``trainable``.
- ``check_spec(params, spec)``: warnings, e.g. a frozen base with random weights.
- ``required_scaling(params)``: ``caffe`` with pretrained weights, what Keras' VGG16 expects.
- ``fetch(params, ctx)``: download the weights now; returns the local file paths.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator
from zoo_builtins.architectures._checks import SpatialTrace, check_channels, check_input_size
from zoo_builtins.architectures._layers import Head, build_head

import zoo
import zoo.plugin

if TYPE_CHECKING:
    import keras

KERAS_APPLICATIONS = "https://storage.googleapis.com/tensorflow/keras-applications/"
NOTOP_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
NOTOP_MD5 = "6d6bbae143d832006294945121d1f1fc"  # keras.applications.vgg16's published hash
BASE_URL_ENV = "ZOO_WEIGHTS_BASE_URL"
BASE_PREFIX = "block"  # every VGG16 base layer is named block<n>_...
BASE_WEIGHTED_LAYERS = 13
WEIGHT_SUFFIXES = (".h5", ".hdf5")


class VGG16TransferParams(zoo.PluginParams):
    weights: str | None = Field(
        "imagenet", description="imagenet (Keras' published file, downloaded once), a path to a "
        "local .h5 file of VGG16 no-top weights, or none (random).",
    )
    unfreeze: int | Literal["all", "none"] = Field(
        "none", description="Base layers with weights trainable from the top (VGG16 has 13); "
        "none: frozen base, all: fine-tune everything.",
    )
    head: Head = Field(
        default_factory=lambda: Head(pooling="gap", dense_units=[50], dropout=0.0),
        description="The note's head: GAP, Dense 50 ReLU.",
    )

    @field_validator("weights", mode="before")
    @classmethod
    def _none_word(cls, value: Any) -> Any:
        return None if isinstance(value, str) and value.strip().lower() in ("none", "") else value

    @field_validator("weights")
    @classmethod
    def _weights_kind(cls, value: str | None) -> str | None:
        if value not in (None, "imagenet") and not str(value).lower().endswith(WEIGHT_SUFFIXES):
            raise ValueError("weights must be imagenet, none, or a path to a .h5 file. "
                             f"Received: weights={value!r}")
        return value

    @field_validator("unfreeze")
    @classmethod
    def _unfreeze_range(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 0 <= value <= BASE_WEIGHTED_LAYERS:
            raise ValueError(f"unfreeze counts VGG16's {BASE_WEIGHTED_LAYERS} layers with weights: "
                             f"0..{BASE_WEIGHTED_LAYERS}, all or none. Received: unfreeze={value}")
        return value


def _trace(height: int, width: int) -> SpatialTrace:
    t = SpatialTrace(height, width)
    for b in range(1, 6):
        t.pool(f"block{b}_pool", 2, 2)
    return t


def _weights_path(params: VGG16TransferParams) -> str | None:
    """The local file to load (fetching ImageNet's when needed), or None."""
    if params.weights is None:
        return None
    if params.weights == "imagenet":
        return str(zoo.plugin.ensure_files([imagenet_file()], what="VGG16 ImageNet weights")[0])
    path = Path(params.weights).expanduser()
    if not path.is_file():
        raise zoo.UserError([zoo.Problem(
            f"vgg16_transfer: weights file not found: {path.resolve()}. "
            f"Received: weights={params.weights!r}", key_path="model.params.weights")])
    return str(path)


def imagenet_file() -> zoo.plugin.RemoteFile:
    """Keras' published VGG16 no-top file and its md5 (``ZOO_WEIGHTS_BASE_URL``: a mirror)."""
    base = os.environ.get(BASE_URL_ENV) or KERAS_APPLICATIONS
    return zoo.plugin.RemoteFile(
        fname=NOTOP_FILE, origin=base.rstrip("/") + "/vgg16/" + NOTOP_FILE, file_hash=NOTOP_MD5,
        description="VGG16 convolutional base trained on ImageNet (Keras Applications), 58.9 MB")


def fetch(params: VGG16TransferParams, ctx: zoo.plugin.FetchContext) -> list[Path]:
    """Make the weights file local now; the paths of the files it needs."""
    path = _weights_path(params)
    return [Path(path)] if path else []


def required_scaling(params: VGG16TransferParams) -> str | None:
    """Keras' VGG16 weights were trained on 'caffe' inputs (BGR, ImageNet mean subtracted)."""
    return "caffe" if params.weights is not None else None


def set_trainable(model: keras.Model, unfreeze: int | str) -> int:
    """Freeze the VGG16 base except its top ``unfreeze`` weighted layers; the head trains.

    ``unfreeze``: a count (0..13), ``"all"`` or ``"none"``. Returns the number of trainable
    base layers. Compile the model again afterwards.
    """
    base = [layer for layer in model.layers if layer.name.startswith(BASE_PREFIX)]
    weighted = [layer for layer in base if layer.weights]
    if unfreeze == "all":
        n = len(weighted)
    elif unfreeze == "none":
        n = 0
    elif (isinstance(unfreeze, int) and not isinstance(unfreeze, bool)
          and 0 <= unfreeze <= len(weighted)):
        n = unfreeze
    else:
        raise zoo.UserError([zoo.Problem(
            f"unfreeze must be 0..{len(weighted)}, all or none (the base has {len(weighted)} "
            f"layers with weights). Received: unfreeze={unfreeze!r}")])
    for layer in base:
        layer.trainable = False
    for layer in weighted[len(weighted) - n:] if n else []:
        layer.trainable = True
    return n


def check_spec(params: VGG16TransferParams, spec: Any) -> list[str]:
    """Warnings about the whole spec (zoo validate and load_spec show them)."""
    warnings = []
    channels = getattr(getattr(spec, "data", None), "channels", None)
    if params.weights is not None and channels not in (None, 3):
        warnings.append(f"pretrained VGG16 weights need data.channels: 3 (it is {channels})")
    if params.weights is None and params.unfreeze != "all":
        warnings.append("weights: none with a frozen base: the base keeps its random weights; "
                        "set unfreeze: all to train it")
    training = getattr(spec, "training", None)
    for i, phase in enumerate(getattr(training, "phases", None) or []):
        if isinstance(phase.unfreeze, int) and phase.unfreeze > BASE_WEIGHTED_LAYERS:
            warnings.append(f"training.phases[{i}].unfreeze={phase.unfreeze} is more than the "
                            f"{BASE_WEIGHTED_LAYERS} VGG16 layers with weights")
    return warnings


def build_vgg16_transfer(params: VGG16TransferParams, ctx: zoo.ModelContext) -> keras.Model:
    check_input_size("vgg16_transfer", ctx, _trace)
    if params.weights is not None:
        check_channels("vgg16_transfer", ctx, 3, f"pretrained weights ({params.weights})")
    weights = _weights_path(params)
    import keras

    inputs = keras.Input(shape=ctx.input_shape, name="input")
    try:
        base = keras.applications.VGG16(include_top=False, weights=weights, input_tensor=inputs)
    except ValueError as exc:  # a local file whose layout is not VGG16's
        raise zoo.UserError([zoo.Problem(
            f"vgg16_transfer: cannot load weights from {weights}: {exc}",
            key_path="model.params.weights")]) from None
    outputs = build_head(base.output, params.head, ctx)
    model = keras.Model(inputs, outputs, name=ctx.name)
    set_trainable(model, params.unfreeze)
    return model


@zoo.hookimpl
def zoo_register_architectures(registry) -> None:
    registry.add_architecture(
        "vgg16_transfer", params=VGG16TransferParams, factory=build_vgg16_transfer,
        description="keras.applications.VGG16 convolutional base (ImageNet, local file or random "
        "weights), frozen or partly unfrozen, with the note's head (GAP, Dense 50). "
        "param_count: the default at 224x224x3, 10 classes.",
        tags={"cnn", "transfer", "pretrained", "note"}, family="vgg", input_kind="image",
        param_count=14_740_848,
        weights_license="imagenet (Keras Applications)",
        set_trainable=set_trainable, check_spec=check_spec, fetch=fetch,
        required_scaling=required_scaling,
    )
