"""The parts of a spec that do not depend on which plugins are installed.

Every field has a description (``zoo schema`` and editors show it) and unknown keys are
errors at every level.
"""

from __future__ import annotations

import re
import string
from pathlib import PurePosixPath
from typing import Annotated, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from zoo.run_files import (
    BEST_WEIGHTS_FILE,
    DEFAULT_BACKUP_DIR,
    DEFAULT_CHECKPOINT_DIR,
    LAST_WEIGHTS_FILE,
    RESERVED_DIRS,
    RESERVED_FILES,
)
from zoo.suggest import did_you_mean

CURRENT_SPEC_VERSION = 1

# Bounds on numbers: beyond them a spec is a typo, and would fail (or "train" on NaN) late.
MAX_SEED = 2**32 - 1  # what NumPy and TensorFlow seeds accept
MAX_EPOCHS = 100_000
MAX_BATCH_SIZE = 65_536
MAX_IMAGES = 1_000_000_000  # split counts, shuffle buffer
MAX_SIDE = 4096  # pixels of an image side and any input-shape dimension (50 MB an RGB image)
MAX_CLASSES = 100_000
MAX_LEARNING_RATE = 10.0
MAX_PATH = 255  # characters of a path inside the run folder (and of each part)


def _at(key: str, message: str) -> PydanticCustomError:
    """An error from a model validator, located at one of the model's keys."""
    return PydanticCustomError("zoo_check", message, {"zoo_loc": (key,)})


class Section(BaseModel):
    """Base of every spec section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


def _split_size(value: object) -> float | int:
    """A share of the images: a fraction in (0, 1), or a whole count (0 means none)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a fraction between 0 and 1 or a whole count (got {value!r})")
    if isinstance(value, int) and 0 <= value <= MAX_IMAGES:
        return value
    if isinstance(value, float) and 0 < value < 1:
        return value
    if isinstance(value, float) and value.is_integer() and 0 <= value <= MAX_IMAGES:
        return int(value)
    if isinstance(value, (int, float)) and value > MAX_IMAGES and value == value:
        raise ValueError(f"a count of at most {MAX_IMAGES} images (got {value!r})")
    raise ValueError(f"expected a fraction between 0 and 1 or a whole count (got {value!r})")


SplitSize = Annotated[
    float | int,
    PlainValidator(_split_size),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                {"type": "integer", "minimum": 0, "maximum": MAX_IMAGES},
            ]
        }
    ),
]
Side = Annotated[int, Field(strict=True, ge=1, le=MAX_SIDE)]


def _printable(value: str) -> str:
    """No control characters (a NUL in a path or name fails late, in the OS or Keras)."""
    if not value.isprintable():
        raise ValueError("must not contain control characters")
    return value


def _folder_outside(value: str) -> str:
    """A folder zoo writes outside the run (``export_to``): any path, but a real one."""
    _printable(value)
    if not value.strip():
        raise ValueError("must name a folder, not be empty")
    return value


def _model_name(value: str) -> str:
    """Keras refuses '/' in a model name."""
    _printable(value)
    if "/" in value or not value.strip():
        raise ValueError("a Keras model name must be non-empty and must not contain '/'")
    return value


FolderOutside = Annotated[str, Field(max_length=4096), AfterValidator(_folder_outside)]
MetricRef = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=100)]


def _in_run(value: str, may_enter: str | None = None) -> PurePosixPath:
    """A path confined to the run folder and clear of zoo's own files; ValueError otherwise.

    ``may_enter`` is the one folder of zoo's this path may be inside (checkpoints go in
    ``checkpoints/``, the backup may be ``backup/``).
    """
    _printable(value)
    if not value.strip():
        raise ValueError("must name a file or folder inside the run folder, not be empty")
    if "\\" in value:
        raise ValueError("separate folders with '/', not '\\'")
    if value.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", value):
        raise ValueError("must be a relative path inside the run folder, not an absolute one")
    path = PurePosixPath(value)
    if ".." in path.parts:
        raise ValueError("must stay inside the run folder ('..' leaves it)")
    if not path.parts:
        raise ValueError("must name a file or folder inside the run folder, not the folder itself")
    if len(value) > MAX_PATH or any(
        len(p.encode("utf-8", "replace")) > MAX_PATH for p in path.parts
    ):
        raise ValueError(f"path longer than {MAX_PATH} characters")
    top = path.parts[0].casefold()
    if top in _RESERVED_FILES:
        raise ValueError(
            f"'{path.parts[0]}' is a file zoo writes in every run; choose another name"
        )
    if top in _RESERVED_DIRS and top != may_enter:
        raise ValueError(
            f"'{path.parts[0]}/' is a folder zoo keeps for its own files; choose another name"
        )
    return path


_RESERVED_FILES = frozenset(f.casefold() for f in RESERVED_FILES)
_RESERVED_DIRS = frozenset(d.casefold() for d in RESERVED_DIRS)
_RUN_CHECKPOINTS = frozenset(f.casefold() for f in (BEST_WEIGHTS_FILE, LAST_WEIGHTS_FILE))
_EPOCH_FORMAT = re.compile(r"0?(\d{1,2})?d?")
_METRIC_FORMAT = re.compile(r"0?(\d{1,2})?(?:\.(\d{1,2}))?[eEfFgG%]?")
MAX_FORMAT_WIDTH, MAX_FORMAT_PRECISION, MAX_PLACEHOLDERS = 20, 10, 8


def _run_file(value: str) -> str:
    _in_run(value)
    return value


def _backup_folder(value: str) -> str:
    _in_run(value, may_enter=DEFAULT_BACKUP_DIR)
    return value


def _checkpoint_template(value: str) -> str:
    """A checkpoint file name template Keras-style fields fill in: ``{epoch:03d}`` and metric
    names such as ``{val_loss:.4f}``, of sane widths, inside the run folder."""
    try:
        parts = list(string.Formatter().parse(value))
    except ValueError as exc:
        raise ValueError(f"bad filename template: {exc}") from None
    fields = [(name, spec or "", conv) for _, name, spec, conv in parts if name is not None]
    if len(fields) > MAX_PLACEHOLDERS:
        raise ValueError(f"more than {MAX_PLACEHOLDERS} placeholders in the filename template")
    for name, spec, conv in fields:
        _check_placeholder(name, spec, conv)
    sample = "".join(text + ("0" if name is not None else "") for text, name, _, _ in parts)
    _in_run(sample, may_enter=DEFAULT_CHECKPOINT_DIR)
    if PurePosixPath(value).as_posix().casefold() in _RUN_CHECKPOINTS:
        raise ValueError(
            f"'{value}' is a file zoo writes in every run (the run's own best or "
            "last weights); choose another name"
        )
    return value


def _check_placeholder(name: str, spec: str, conv: str | None) -> None:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or conv:
        raise ValueError(
            f"placeholder {{{name}{'!' + conv if conv else ''}}} is not allowed: use "
            "{epoch} or a metric name such as {val_loss}"
        )
    match = (_EPOCH_FORMAT if name == "epoch" else _METRIC_FORMAT).fullmatch(spec)
    width, precision = (int(g or 0) for g in ((*match.groups(), None)[:2] if match else (0, 0)))
    if not match or width > MAX_FORMAT_WIDTH or precision > MAX_FORMAT_PRECISION:
        example = "{epoch:03d}" if name == "epoch" else f"{{{name}:.4f}}"
        raise ValueError(
            f"format '{{{name}:{spec}}}' is not allowed; write e.g. {example} (width "
            f"up to {MAX_FORMAT_WIDTH}, precision up to {MAX_FORMAT_PRECISION})"
        )


class SplitSpec(Section):
    """How the source's images are split when it does not ship its own split."""

    validation: SplitSize = Field(
        0.2, description="Validation share: a fraction of the training pool (0..1) or a count."
    )
    test: SplitSize = Field(
        0.2, description="Test share: a fraction of all images (0..1) or a count."
    )
    stratify: bool = Field(True, description="Keep class proportions equal across splits.")
    seed: int | None = Field(
        None,
        strict=True,
        ge=0,
        le=MAX_SEED,
        description="Seeds the split (and the data source's draws); null: the spec's seed. "
        "Fix it to compare seeds of training on one split (zoo train --seeds).",
    )
    export_to: FolderOutside | None = Field(
        None,
        description="Copy the split's files into train/ validation/ test/ class folders here.",
    )


CacheMode = Literal["auto", "disk", "memory", "none"]


def _cache_mode(value: object) -> object:
    """Booleans as they were: true kept images in memory, false decoded every epoch."""
    if value is True:
        return "memory"
    if value is False:
        return "none"
    return value


class DataSpec(Section):
    """Where the images come from: a data source, its params and the shared data options.

    Each registered data source makes a subclass whose ``source`` is its name and whose
    ``params`` is its own model (:mod:`zoo.spec.dynamic`); code reads these typed fields.
    """

    source: str = Field(description="A registered data source (zoo list data).")
    params: BaseModel = Field(description="The data source's own parameters.")

    image_size: tuple[Side, Side] | None = Field(
        None, description="Resize every image to [height, width]; null keeps the source's size."
    )
    channels: Literal[1, 3] | None = Field(
        None, description="1 for gray, 3 for RGB; null keeps the source's channels."
    )
    resize: Literal["stretch", "keep_aspect"] = Field(
        "stretch", description="Stretch to image_size, or keep the aspect ratio and pad."
    )
    split: SplitSpec = Field(default_factory=SplitSpec, description="Train/validation/test split.")
    on_bad_file: Literal["error", "skip"] = Field(
        "error",
        description="A corrupt or unreadable image: stop with its name, or skip and count it.",
    )
    cache: Annotated[CacheMode, BeforeValidator(_cache_mode)] = Field(
        "auto",
        description="Where decoded, resized file images are kept: disk (decoded once into "
        "the cache folder, ZOO_CACHE_DIR, and reused by every run over the same files; read "
        "memory-mapped), memory (decoded by each run), none (decoded again every epoch) or "
        "auto (disk, or memory when the cache folder cannot be written). true means memory, "
        "false none.",
    )


class ModelSpec(Section):
    """The architecture, its params and the shared model options (one subclass per
    registered architecture, as for :class:`DataSpec`)."""

    architecture: str = Field(description="A registered architecture (zoo list architectures).")
    params: BaseModel = Field(description="The architecture's own parameters.")

    output_activation: Literal["softmax", "sigmoid"] = Field(
        "softmax", description="softmax for one class per image, sigmoid for binary/multi-label."
    )
    name: Annotated[str, Field(max_length=200), AfterValidator(_model_name)] | None = Field(
        None, description="Keras model name; defaults to the spec's name."
    )
    input_shape: tuple[Side, ...] | None = Field(
        None,
        min_length=1,
        max_length=4,
        description="Model input shape; null derives it from the data section.",
    )
    num_classes: int | None = Field(
        None,
        strict=True,
        ge=1,
        le=MAX_CLASSES,
        description="Output units; null derives it from the data's class names.",
    )


class RecipeSpec(Section):
    """A recipe and its params (one subclass per registered recipe, as for :class:`DataSpec`)."""

    recipe: str = Field(description="A registered recipe (zoo list recipes).")
    params: BaseModel = Field(description="The recipe's own parameters.")


# path: auto takes the in-graph ops on CPU for images up to this many pixels a side (height
# times width at most its square). Read as training reads it (one endless stream), the graph
# beat the per-image albumentations path at every size up to 256x256 (light 3.2-3.6x at 64 px,
# 1.0-1.2x at 224-256; keras_style 5-6x, 1.9-2.0x); above, OpenCV's warps catch up for light
# (1.0x at 384, 0.8x at 512; benchmarks/bench_augmentation.py, 2 cores).
GRAPH_MAX_CPU_SIDE = 256


class AugmentationSpec(RecipeSpec):
    """The augmentation section: the recipe, its params and where it runs."""

    path: Literal["auto", "graph", "python"] = Field(
        "auto",
        description="Where the recipe runs: graph (batched TensorFlow ops inside tf.data), "
        "python (the albumentations augmenter, per image) or auto (graph where the recipe "
        f"has one and it is faster: on a GPU, and on CPU for images up to {GRAPH_MAX_CPU_SIDE}x"
        f"{GRAPH_MAX_CPU_SIDE}; python on the py_dataset input).",
    )


class OptimizerSpec(Section):
    """The optimizer and its learning rate."""

    name: Literal["sgd", "adagrad", "rmsprop", "adam", "adamw"] = Field(
        "adam",
        description="Optimizer: sgd (with momentum/nesterov), adagrad, rmsprop, adam, adamw.",
    )
    learning_rate: float = Field(
        1e-3, gt=0, le=MAX_LEARNING_RATE, description="Initial learning rate."
    )
    momentum: float = Field(0.0, ge=0, lt=1, description="Momentum (sgd, rmsprop).")
    nesterov: bool = Field(False, description="Nesterov momentum (sgd only).")
    weight_decay: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Decoupled weight decay (adamw; others apply it too when set).",
    )
    clipnorm: float | None = Field(
        None, gt=0, le=1e6, description="Clip each gradient to this norm."
    )

    @model_validator(mode="after")
    def _options_apply(self) -> OptimizerSpec:
        """Options the chosen optimizer would silently ignore are mistakes, not no-ops."""
        if self.momentum and self.name not in ("sgd", "rmsprop"):
            raise _at("momentum", f"momentum applies to sgd and rmsprop, not {self.name}")
        if self.nesterov and self.name != "sgd":
            raise _at("nesterov", f"nesterov applies to sgd only, not {self.name}")
        if self.nesterov and not self.momentum:
            raise _at("nesterov", "nesterov needs momentum > 0")
        return self


class StepSchedule(Section):
    """Multiply the learning rate by `factor` every `every_epochs` epochs."""

    name: Literal["step"] = Field(description="Step decay.")
    every_epochs: int = Field(
        10, strict=True, ge=1, le=MAX_EPOCHS, description="Epochs between drops."
    )
    factor: float = Field(0.1, gt=0, le=1, description="Multiplier at each drop.")


class CosineSchedule(Section):
    """Cosine decay from the initial rate to `alpha` times it over the run."""

    name: Literal["cosine"] = Field(description="Cosine decay.")
    alpha: float = Field(
        0.0, ge=0, le=1, description="Final rate as a fraction of the initial one."
    )
    warmup_epochs: int = Field(
        0, strict=True, ge=0, le=MAX_EPOCHS, description="Linear warm-up epochs before the decay."
    )


class ExponentialSchedule(Section):
    """Multiply the learning rate by `decay_rate` every epoch."""

    name: Literal["exponential"] = Field(description="Exponential decay.")
    decay_rate: float = Field(0.96, gt=0, le=1, description="Per-epoch multiplier.")


Schedule = Annotated[
    StepSchedule | CosineSchedule | ExponentialSchedule, Field(discriminator="name")
]


class LossSpec(Section):
    """The loss; `auto` picks the cross-entropy that matches the targets and activation."""

    name: Literal[
        "auto", "categorical_crossentropy", "sparse_categorical_crossentropy", "binary_crossentropy"
    ] = Field("auto", description="auto: sparse CE for integer labels, binary CE for sigmoid.")
    label_smoothing: float = Field(
        0.0, ge=0, lt=1, description="Label smoothing (needs one-hot targets; zoo converts)."
    )


class TopKMetric(Section):
    """Top-k accuracy."""

    name: Literal["top_k_accuracy"] = Field(description="Top-k categorical accuracy.")
    k: int = Field(
        5, strict=True, ge=1, le=MAX_CLASSES, description="How many top classes count as a hit."
    )


MetricName = Literal[
    "accuracy",
    "balanced_accuracy",
    "precision",
    "recall",
    "f1",
    "f1_per_class",
    "auc",
    "roc_auc",
    "pr_auc",
]
METRIC_NAMES: tuple[str, ...] = get_args(MetricName)
_TOP_K = re.compile(r"top_(\d{1,6})_accuracy")


def _metric_name(value: object) -> object:
    """A known name, ``top_<k>_accuracy`` (read as ``{name: top_k_accuracy, k: <k>}``), or a
    located error with a did-you-mean for anything else."""
    if not isinstance(value, str):
        return value
    top_k = _TOP_K.fullmatch(value)
    if top_k:
        return {"name": "top_k_accuracy", "k": int(top_k.group(1))}
    if value not in METRIC_NAMES:
        hint = did_you_mean(value, [*METRIC_NAMES, "top_5_accuracy"])
        raise PydanticCustomError(
            "zoo_check",
            "unknown metric '{name}'" + (f"; {hint}" if hint else "") + " (known: {known})",
            {"name": value, "known": ", ".join([*METRIC_NAMES, "top_<k>_accuracy"])},
        )
    return value


Metric = Annotated[MetricName | TopKMetric, BeforeValidator(_metric_name)]


class PhaseSpec(Section):
    """One fine-tuning phase: unfreeze part of a transfer model, train at its own rate."""

    epochs: int = Field(
        strict=True,
        ge=1,
        le=MAX_EPOCHS,
        description="Epochs in this phase (added after earlier phases).",
    )
    learning_rate: float = Field(
        gt=0, le=MAX_LEARNING_RATE, description="Learning rate for this phase."
    )
    unfreeze: (
        Annotated[int, Field(strict=True, ge=0, le=100_000)]
        | Literal["all", "none"]
        | Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_./-]{0,199}$")]
    ) = Field(
        "none",
        description="Base layers to make trainable: a count from the top, all, none, "
        "or the name of the layer to unfreeze from (that layer and every one above it).",
    )


class DistributeSpec(Section):
    """Where to train; the batch size is global across replicas."""

    strategy: Literal["default", "mirrored", "multi_worker"] = Field(
        "default",
        description="default (one device), mirrored (local GPUs), multi_worker (TF_CONFIG).",
    )
    devices: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        None,
        max_length=1024,
        description="Devices for the mirrored strategy, e.g. ['/cpu:0', '/cpu:1'].",
    )
    mixed_precision: bool = Field(False, description="Train in mixed_float16.")


def _class_weight_keys(value: object) -> object:
    """YAML reads a class named 3 as the number 3: class names are strings."""
    if isinstance(value, dict):
        return {
            str(k) if isinstance(k, (int, float)) and not isinstance(k, bool) else k: v
            for k, v in value.items()
        }
    return value


ClassWeight = Annotated[
    Literal["balanced"]
    | dict[
        Annotated[str, Field(min_length=1, max_length=200)], Annotated[float, Field(ge=0, le=1e6)]
    ],
    BeforeValidator(_class_weight_keys),
]


class BackupSpec(Section):
    """How often the resumable backup is written during training.

    It is always written at the end of each phase, and when training stops (Ctrl-C,
    SIGTERM, an error between epochs); a kill loses at most the epochs since the last one.
    """

    every_seconds: float = Field(
        60.0,
        ge=0,
        le=86_400,
        description="Back up after an epoch once this many seconds passed since the last "
        "backup (0: after every epoch).",
    )
    every_epochs: int | None = Field(
        None,
        strict=True,
        ge=1,
        le=MAX_EPOCHS,
        description="Back up every N epochs instead (1: after every epoch); overrides "
        "every_seconds.",
    )


class TrainingSpec(Section):
    """How to train."""

    epochs: int = Field(
        10,
        strict=True,
        ge=1,
        le=MAX_EPOCHS,
        description="Epochs of the first phase (training.phases add their own after it).",
    )
    batch_size: int = Field(
        32,
        strict=True,
        ge=1,
        le=MAX_BATCH_SIZE,
        description="Global batch size (8 to 32 suits small data sets).",
    )
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec, description="The optimizer.")
    schedule: Schedule | None = Field(None, description="A learning-rate schedule, or none.")
    loss: LossSpec = Field(default_factory=LossSpec, description="The loss.")
    metrics: list[Metric] = Field(
        default_factory=lambda: list[Metric](["accuracy"]),
        max_length=20,
        description="Metrics reported every epoch.",
    )
    phases: list[PhaseSpec] = Field(
        default_factory=list,
        max_length=100,
        description="Fine-tuning phases run after the first one.",
    )
    distribute: DistributeSpec = Field(
        default_factory=DistributeSpec, description="Distribution strategy and precision."
    )
    shuffle_buffer: int = Field(
        10_000, strict=True, ge=1, le=MAX_IMAGES, description="Shuffle buffer size in images."
    )
    verbose: Literal["auto", 0, 1, 2] = Field(
        "auto", description="Keras progress: auto (bar on a terminal, a line per epoch otherwise)."
    )
    backup: BackupSpec = Field(
        default_factory=BackupSpec, description="How often the resumable backup is written."
    )
    class_weight: ClassWeight | None = Field(
        None,
        description="Weigh the loss per class against imbalance: 'balanced' (total / (classes "
        "x class count), from the training split) or {class name: weight} (unlisted classes "
        "weigh 1).",
    )
    sampler: Literal["none", "balanced"] = Field(
        "none",
        description="balanced: draw training images so every class is equally likely "
        "(seeded; an epoch keeps the training split's size).",
    )


class RuntimeSpec(Section):
    """Where the spec runs: the Keras backend, the input pipeline, the distribution."""

    backend: Literal["tensorflow", "jax", "torch"] | None = Field(
        None,
        description="Keras backend: tensorflow, jax or torch; null: $KERAS_BACKEND, else "
        "tensorflow. A run made on one backend predicts on any.",
    )
    input: Literal["auto", "tf_data", "py_dataset"] = Field(
        "auto",
        description="Input pipeline: tf_data (TensorFlow's, the default when TensorFlow is "
        "installed, for every backend) or py_dataset (a keras.utils.PyDataset: NumPy and "
        "threads, no TensorFlow needed); auto picks tf_data when TensorFlow is installed.",
    )
    distribution: Literal["none", "data_parallel"] = Field(
        "none",
        description="data_parallel (jax backend): keras.distribution.DataParallel over every "
        "local device, and across hosts set up by KERAS_DISTRIBUTION_JOB_ADDRESSES, "
        "KERAS_DISTRIBUTION_NUM_PROCESSES and KERAS_DISTRIBUTION_PROCESS_ID. On tensorflow, "
        "use training.distribute.",
    )


def _threshold(value: object) -> object:
    """One clear line for a threshold outside (0, 1) rather than a union's two errors."""
    if value is None:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float, dict, ChosenThreshold)):
        raise PydanticCustomError(
            "zoo_check",
            "expected a number between 0 and 1, or {maximize: balanced_accuracy | f1 | "
            "accuracy} (got {value})",
            {"value": repr(value)},
        )
    if isinstance(value, (int, float)) and not 0 < value < 1:
        raise PydanticCustomError(
            "zoo_check",
            "a threshold is a probability strictly between 0 and 1 (got {value})",
            {"value": value},
        )
    return value


class ChosenThreshold(Section):
    """A two-class decision threshold chosen on the validation split."""

    maximize: Literal["balanced_accuracy", "f1", "accuracy"] = Field(
        description="The metric the threshold maximizes on the validation split (f1: macro "
        "F1 of the two classes)."
    )


class EvaluationSpec(Section):
    """How the finished run is evaluated on its test split."""

    threshold: Annotated[float | ChosenThreshold | None, BeforeValidator(_threshold)] = Field(
        None,
        description="Two classes only: the probability of the second class (in class order) "
        "from which an image is called that class; a number in (0, 1), or {maximize: "
        "balanced_accuracy | f1 | accuracy} to choose it on the validation split. Used by "
        "evaluate, predict and export; null: the most probable class (0.5).",
    )

    weights: Literal["auto", "best", "last"] = Field(
        "auto",
        description="Weights to evaluate and save as model.keras: best (the best checkpoint's "
        "epoch), last (the last epoch's) or auto (best when a validation metric is monitored, "
        "else last).",
    )


Mode = Literal["auto", "min", "max"]


class ModelCheckpointCallback(Section):
    """Save the model (or weights) as training goes."""

    type: Literal["model_checkpoint"] = Field(description="ModelCheckpoint.")
    filepath: Annotated[str, AfterValidator(_checkpoint_template)] = Field(
        "checkpoints/weights.{epoch:03d}-{val_loss:.4f}.weights.h5",
        description="Template relative to the run folder; {epoch} and metric names are filled in.",
    )
    monitor: MetricRef = Field("val_loss", description="Metric to watch.")
    save_best_only: bool = Field(True, description="Only keep a file when the metric improves.")
    save_weights_only: bool = Field(
        True, description="Weights (.weights.h5) or whole model (.keras)."
    )
    mode: Mode = Field("auto", description="Whether lower (min) or higher (max) is better.")

    @model_validator(mode="after")
    def _suffix_matches(self) -> ModelCheckpointCallback:
        want = ".weights.h5" if self.save_weights_only else ".keras"
        if not self.filepath.endswith(want):
            raise PydanticCustomError(
                "checkpoint_suffix",
                "filepath must end in '{want}' when save_weights_only is {flag} (Keras 3 rule)",
                {
                    "want": want,
                    "flag": str(self.save_weights_only).lower(),
                    "zoo_loc": ("filepath",),
                },
            )
        return self


class ReduceLROnPlateauCallback(Section):
    """Lower the learning rate when a metric stops improving."""

    type: Literal["reduce_lr_on_plateau"] = Field(description="ReduceLROnPlateau.")
    monitor: MetricRef = Field("val_loss", description="Metric to watch.")
    factor: float = Field(0.1, gt=0, lt=1, description="Multiplier applied to the learning rate.")
    patience: int = Field(
        10,
        strict=True,
        ge=0,
        le=MAX_EPOCHS,
        description="Epochs without improvement before lowering.",
    )
    mode: Mode = Field("auto", description="min, max or auto.")
    min_lr: float = Field(
        0.0, ge=0, le=MAX_LEARNING_RATE, description="Lower bound of the learning rate."
    )


class EarlyStoppingCallback(Section):
    """Stop when a metric stops improving."""

    type: Literal["early_stopping"] = Field(description="EarlyStopping.")
    monitor: MetricRef = Field("val_loss", description="Metric to watch.")
    patience: int = Field(
        5,
        strict=True,
        ge=0,
        le=MAX_EPOCHS,
        description="Epochs without improvement before stopping.",
    )
    mode: Mode = Field("auto", description="min, max or auto.")
    min_delta: float = Field(
        0.0, ge=0, le=1e6, description="Smallest change that counts as improvement."
    )
    restore_best_weights: bool = Field(True, description="Go back to the best epoch's weights.")


class LearningRateSchedulerCallback(Section):
    """Set the learning rate each epoch from a schedule."""

    type: Literal["learning_rate_scheduler"] = Field(description="LearningRateScheduler.")
    schedule: Schedule = Field(description="The schedule (step, cosine or exponential).")


class CSVLoggerCallback(Section):
    """Write each epoch's metrics to a CSV file (history.csv is always written too)."""

    type: Literal["csv_logger"] = Field(description="CSVLogger.")
    filename: Annotated[str, AfterValidator(_run_file)] = Field(
        "training_log.csv", description="File name inside the run folder."
    )


class TensorBoardCallback(Section):
    """Write TensorBoard logs."""

    type: Literal["tensorboard"] = Field(description="TensorBoard.")
    log_dir: Annotated[str, AfterValidator(_run_file)] = Field(
        "tensorboard", description="Folder inside the run folder."
    )
    histogram_freq: int = Field(
        0,
        strict=True,
        ge=0,
        le=MAX_EPOCHS,
        description="Epochs between weight histograms (0: none).",
    )


class BackupAndRestoreCallback(Section):
    """Back up training state every epoch so an interrupted run resumes (`zoo train --resume`)."""

    type: Literal["backup_and_restore"] = Field(description="BackupAndRestore.")
    backup_dir: Annotated[str, AfterValidator(_backup_folder)] = Field(
        DEFAULT_BACKUP_DIR, description="Folder inside the run folder (deleted when the run ends)."
    )


Callback = Annotated[
    ModelCheckpointCallback
    | ReduceLROnPlateauCallback
    | EarlyStoppingCallback
    | LearningRateSchedulerCallback
    | CSVLoggerCallback
    | TensorBoardCallback
    | BackupAndRestoreCallback,
    Field(discriminator="type"),
]

# The spec key naming where each kind of callback writes.
OUTPUT_KEYS = {
    "model_checkpoint": "filepath",
    "csv_logger": "filename",
    "tensorboard": "log_dir",
    "backup_and_restore": "backup_dir",
}


def _separate_outputs(callbacks: list[BaseModel]) -> list[BaseModel]:
    """Each callback writes to a file or folder of its own: no file written twice, nothing
    inside another's folder (the backup folder is deleted when the run ends)."""
    kinds = [str(getattr(cb, "type", "")) for cb in callbacks]
    backups = [i for i, kind in enumerate(kinds) if kind == "backup_and_restore"]
    if len(backups) > 1:
        raise PydanticCustomError(
            "zoo_check",
            "only one backup_and_restore entry is allowed (callbacks[{first}] is one)",
            {"first": backups[0], "zoo_loc": (backups[1],)},
        )
    seen: list[tuple[int, str, tuple[str, ...]]] = []
    for i, cb in enumerate(callbacks):
        key = OUTPUT_KEYS.get(kinds[i])
        if key is None:
            continue
        parts = tuple(p.casefold() for p in PurePosixPath(getattr(cb, key)).parts)
        for j, other_key, other in seen:
            if parts[: len(other)] == other or other[: len(parts)] == parts:
                raise PydanticCustomError(
                    "zoo_check",
                    "'{path}' overlaps callbacks[{j}].{other_key} '{other}': each "
                    "callback needs a file or folder of its own",
                    {
                        "path": getattr(cb, key),
                        "j": j,
                        "other_key": other_key,
                        "other": getattr(callbacks[j], other_key),
                        "zoo_loc": (i, key),
                    },
                )
        seen.append((i, key, parts))
    return callbacks


Callbacks = Annotated[list[Callback], AfterValidator(_separate_outputs)]


class SpecBase(Section):
    """A zoo experiment: data, model, recipes, training and callbacks.

    The static shape of every spec. :func:`zoo.spec.dynamic.build_spec_model` subclasses it
    with the plugin sections narrowed to the registered plugins; code is typed against this.
    """

    spec_version: int = Field(CURRENT_SPEC_VERSION, description="Spec format version.")
    name: str = Field(
        "experiment",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$",
        description="Run name; run folders are named after it.",
    )
    description: str | None = Field(None, description="Free text about the experiment.")
    seed: int = Field(
        42,
        strict=True,
        ge=0,
        le=MAX_SEED,
        description="Seeds every random source (Python, NumPy, TF) and, unless "
        "data.split.seed is set, the split.",
    )
    data: DataSpec = Field(description="Where the images come from.")
    model: ModelSpec = Field(description="The architecture.")
    scaling: RecipeSpec = Field(description="Pixel scaling.")
    augmentation: AugmentationSpec | None = Field(
        None, description="Training-time augmentation, or none."
    )
    training: TrainingSpec = Field(default_factory=TrainingSpec, description="How to train.")
    callbacks: Callbacks = Field(default_factory=list, description="Keras callbacks.")
    evaluation: EvaluationSpec = Field(
        default_factory=EvaluationSpec, description="How the finished run is evaluated."
    )
    runtime: RuntimeSpec = Field(
        default_factory=RuntimeSpec, description="Keras backend, input pipeline, distribution."
    )

    @property
    def split_seed(self) -> int:
        """What seeds the split and the data source: ``data.split.seed``, else ``seed``."""
        split_seed = self.data.split.seed
        return int(self.seed if split_seed is None else split_seed)
