"""The parts of a spec that do not depend on which plugins are installed.

Every field has a description (``zoo schema`` and editors show it) and unknown keys are
errors at every level.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema, model_validator
from pydantic_core import PydanticCustomError

CURRENT_SPEC_VERSION = 1


def _at(key: str, message: str) -> PydanticCustomError:
    """An error from a model validator, located at one of the model's keys."""
    return PydanticCustomError("zoo_check", message, {"zoo_loc": (key,)})


class Section(BaseModel):
    """Base of every spec section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


def _split_size(value: object) -> float | int:
    """A share of the images: a fraction in (0, 1), or a whole count (0 means none)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"expected a fraction between 0 and 1 or a whole count (got {value!r})")
    if isinstance(value, int) and value >= 0:
        return value
    if 0 < value < 1:
        return float(value)
    if float(value).is_integer() and value >= 0:
        return int(value)
    raise ValueError(f"expected a fraction between 0 and 1 or a whole count (got {value!r})")


SplitSize = Annotated[
    float | int,
    PlainValidator(_split_size),
    WithJsonSchema({"anyOf": [{"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
                              {"type": "integer", "minimum": 0}]}),
]


class SplitSpec(Section):
    """How the source's images are split when it does not ship its own split."""

    validation: SplitSize = Field(
        0.2, description="Validation share: a fraction of the training pool (0..1) or a count."
    )
    test: SplitSize = Field(
        0.2, description="Test share: a fraction of all images (0..1) or a count."
    )
    stratify: bool = Field(True, description="Keep class proportions equal across splits.")
    export_to: str | None = Field(
        None,
        description="Copy the split's files into train/ validation/ test/ class folders here.",
    )


class DataSpec(Section):
    """Shared data options; `source` and `params` are added per data-source plugin."""

    image_size: tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]] | None = Field(
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
        "error", description="A corrupt or unreadable image: stop with its name, or skip and count it."
    )
    cache: bool = Field(True, description="Cache decoded, resized images in memory.")


class ModelSpec(Section):
    """Shared model options; `architecture` and `params` are added per architecture plugin."""

    output_activation: Literal["softmax", "sigmoid"] = Field(
        "softmax", description="softmax for one class per image, sigmoid for binary/multi-label."
    )
    name: str | None = Field(None, description="Keras model name; defaults to the spec's name.")
    input_shape: tuple[Annotated[int, Field(ge=1)], ...] | None = Field(
        None, min_length=1, description="Model input shape; null derives it from the data section."
    )
    num_classes: int | None = Field(
        None, ge=1, description="Output units; null derives it from the data's class names."
    )


class RecipeSpec(Section):
    """Shared recipe options; `recipe` and `params` are added per recipe plugin."""


class OptimizerSpec(Section):
    """The optimizer and its learning rate."""

    name: Literal["sgd", "adagrad", "rmsprop", "adam", "adamw"] = Field(
        "adam", description="Optimizer: sgd (with momentum/nesterov), adagrad, rmsprop, adam, adamw."
    )
    learning_rate: float = Field(1e-3, gt=0, description="Initial learning rate.")
    momentum: float = Field(0.0, ge=0, lt=1, description="Momentum (sgd, rmsprop).")
    nesterov: bool = Field(False, description="Nesterov momentum (sgd only).")
    weight_decay: float | None = Field(
        None, ge=0, description="Decoupled weight decay (adamw; others apply it too when set)."
    )
    clipnorm: float | None = Field(None, gt=0, description="Clip each gradient to this norm.")

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
    every_epochs: int = Field(10, ge=1, description="Epochs between drops.")
    factor: float = Field(0.1, gt=0, le=1, description="Multiplier at each drop.")


class CosineSchedule(Section):
    """Cosine decay from the initial rate to `alpha` times it over the run."""

    name: Literal["cosine"] = Field(description="Cosine decay.")
    alpha: float = Field(0.0, ge=0, le=1, description="Final rate as a fraction of the initial one.")
    warmup_epochs: int = Field(0, ge=0, description="Linear warm-up epochs before the decay.")


class ExponentialSchedule(Section):
    """Multiply the learning rate by `decay_rate` every epoch."""

    name: Literal["exponential"] = Field(description="Exponential decay.")
    decay_rate: float = Field(0.96, gt=0, le=1, description="Per-epoch multiplier.")


Schedule = Annotated[StepSchedule | CosineSchedule | ExponentialSchedule, Field(discriminator="name")]


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
    k: int = Field(5, ge=1, description="How many top classes count as a hit.")


MetricName = Literal["accuracy", "precision", "recall", "auc"]
Metric = MetricName | TopKMetric


class PhaseSpec(Section):
    """One fine-tuning phase: unfreeze part of a transfer model, train at its own rate."""

    epochs: int = Field(ge=1, description="Epochs in this phase (added after earlier phases).")
    learning_rate: float = Field(gt=0, description="Learning rate for this phase.")
    unfreeze: int | Literal["all", "none"] = Field(
        "none", description="Base layers to make trainable, counted from the top; or all/none."
    )


class DistributeSpec(Section):
    """Where to train; the batch size is global across replicas."""

    strategy: Literal["default", "mirrored", "multi_worker"] = Field(
        "default", description="default (one device), mirrored (local GPUs), multi_worker (TF_CONFIG)."
    )
    devices: list[str] | None = Field(
        None, description="Devices for the mirrored strategy, e.g. ['/cpu:0', '/cpu:1']."
    )
    mixed_precision: bool = Field(False, description="Train in mixed_float16.")


class TrainingSpec(Section):
    """How to train."""

    epochs: int = Field(10, ge=1, description="Epochs (of the first phase).")
    batch_size: int = Field(32, ge=1, description="Global batch size (the note advises 8 to 32).")
    optimizer: OptimizerSpec = Field(default_factory=OptimizerSpec, description="The optimizer.")
    schedule: Schedule | None = Field(None, description="A learning-rate schedule, or none.")
    loss: LossSpec = Field(default_factory=LossSpec, description="The loss.")
    metrics: list[Metric] = Field(
        default_factory=lambda: ["accuracy"], description="Metrics reported every epoch."
    )
    phases: list[PhaseSpec] = Field(
        default_factory=list, description="Fine-tuning phases run after the first one."
    )
    distribute: DistributeSpec = Field(
        default_factory=DistributeSpec, description="Distribution strategy and precision."
    )
    shuffle_buffer: int = Field(10_000, ge=1, description="Shuffle buffer size in images.")
    verbose: Literal["auto", 0, 1, 2] = Field(
        "auto", description="Keras progress: auto (bar on a terminal, a line per epoch otherwise)."
    )


Mode = Literal["auto", "min", "max"]


class ModelCheckpointCallback(Section):
    """Save the model (or weights) as training goes."""

    type: Literal["model_checkpoint"] = Field(description="ModelCheckpoint.")
    filepath: str = Field(
        "checkpoints/weights.{epoch:03d}-{val_loss:.4f}.weights.h5",
        description="Template relative to the run folder; {epoch} and metric names are filled in.",
    )
    monitor: str = Field("val_loss", description="Metric to watch.")
    save_best_only: bool = Field(True, description="Only keep a file when the metric improves.")
    save_weights_only: bool = Field(True, description="Weights (.weights.h5) or whole model (.keras).")
    mode: Mode = Field("auto", description="Whether lower (min) or higher (max) is better.")

    @model_validator(mode="after")
    def _suffix_matches(self) -> ModelCheckpointCallback:
        want = ".weights.h5" if self.save_weights_only else ".keras"
        if not self.filepath.endswith(want):
            raise PydanticCustomError(
                "checkpoint_suffix",
                "filepath must end in '{want}' when save_weights_only is {flag} (Keras 3 rule)",
                {"want": want, "flag": str(self.save_weights_only).lower(), "zoo_loc": ("filepath",)},
            )
        return self


class ReduceLROnPlateauCallback(Section):
    """Lower the learning rate when a metric stops improving."""

    type: Literal["reduce_lr_on_plateau"] = Field(description="ReduceLROnPlateau.")
    monitor: str = Field("val_loss", description="Metric to watch.")
    factor: float = Field(0.1, gt=0, lt=1, description="Multiplier applied to the learning rate.")
    patience: int = Field(10, ge=0, description="Epochs without improvement before lowering.")
    mode: Mode = Field("auto", description="min, max or auto.")
    min_lr: float = Field(0.0, ge=0, description="Lower bound of the learning rate.")


class EarlyStoppingCallback(Section):
    """Stop when a metric stops improving."""

    type: Literal["early_stopping"] = Field(description="EarlyStopping.")
    monitor: str = Field("val_loss", description="Metric to watch.")
    patience: int = Field(5, ge=0, description="Epochs without improvement before stopping.")
    mode: Mode = Field("auto", description="min, max or auto.")
    min_delta: float = Field(0.0, ge=0, description="Smallest change that counts as improvement.")
    restore_best_weights: bool = Field(True, description="Go back to the best epoch's weights.")


class LearningRateSchedulerCallback(Section):
    """Set the learning rate each epoch from a schedule."""

    type: Literal["learning_rate_scheduler"] = Field(description="LearningRateScheduler.")
    schedule: Schedule = Field(description="The schedule (step, cosine or exponential).")


class CSVLoggerCallback(Section):
    """Write each epoch's metrics to a CSV file (history.csv is always written too)."""

    type: Literal["csv_logger"] = Field(description="CSVLogger.")
    filename: str = Field("training_log.csv", description="File name inside the run folder.")


class TensorBoardCallback(Section):
    """Write TensorBoard logs."""

    type: Literal["tensorboard"] = Field(description="TensorBoard.")
    log_dir: str = Field("tensorboard", description="Folder inside the run folder.")
    histogram_freq: int = Field(0, ge=0, description="Epochs between weight histograms (0: none).")


class BackupAndRestoreCallback(Section):
    """Back up training state every epoch so an interrupted run resumes (`zoo train --resume`)."""

    type: Literal["backup_and_restore"] = Field(description="BackupAndRestore.")
    backup_dir: str = Field("backup", description="Folder inside the run folder.")


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
