"""Optimizer, learning-rate schedule, loss and metrics from a spec's ``training`` section.

The data pipeline yields integer labels. Which form the model trains on follows from the
loss, the output activation and the metrics (sparse categorical
cross-entropy takes integer targets, categorical cross-entropy one-hot ones):

* ``sparse``: integer labels as they come (softmax, no label smoothing, only accuracy and
  top-k accuracy as metrics);
* ``one_hot``: label smoothing, the other metrics (precision, recall, F1, balanced
  accuracy, the AUCs) and sigmoid outputs over several classes need one-hot targets, so
  the labels are converted in the dataset;
* ``binary``: one sigmoid unit, labels 0/1 as a float column.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from zoo.errors import Problem, UserError
from zoo.spec.metrics import PER_CLASS, metric_name
from zoo.spec.sections import (
    CosineSchedule,
    ExponentialSchedule,
    Metric,
    OptimizerSpec,
    StepSchedule,
    TopKMetric,
    TrainingSpec,
)

TargetForm = Literal["sparse", "one_hot", "binary"]
LOSS_NAMES = {
    "sparse": "sparse_categorical_crossentropy",
    "one_hot": "categorical_crossentropy",
}
ONE_HOT_METRICS = frozenset(
    {"precision", "recall", "auc", "balanced_accuracy", "f1", "f1_per_class", "roc_auc", "pr_auc"}
)
IMBALANCE_METRICS = ("balanced_accuracy", "f1", "f1_per_class", "roc_auc", "pr_auc")
MAX_PER_CLASS = 100  # f1_per_class logs one value per class: beyond this, a wall of numbers


@dataclass(frozen=True)
class Objective:
    """The loss the model trains with and the form its targets take."""

    loss_name: str
    targets: TargetForm
    label_smoothing: float
    num_classes: int

    def describe(self) -> dict[str, Any]:
        return {
            "loss": self.loss_name,
            "targets": self.targets,
            "label_smoothing": self.label_smoothing,
        }


def choose_objective(training: TrainingSpec, output_activation: str, num_classes: int) -> Objective:
    """Pick the loss and target form; a combination that cannot train is a UserError."""
    loss = training.loss
    wanted = loss.name
    problems = []
    names = {metric_name(m) for m in training.metrics}
    if output_activation == "sigmoid":
        if wanted not in ("auto", "binary_crossentropy"):
            problems.append(
                Problem(
                    f"{wanted} needs a softmax output; a sigmoid output trains "
                    "with binary_crossentropy (or auto)",
                    key_path="training.loss.name",
                )
            )
        targets: TargetForm = "binary" if num_classes == 1 else "one_hot"
        loss_name = "binary_crossentropy"
    else:
        if num_classes < 2:
            problems.append(
                Problem(
                    "a softmax output needs at least 2 classes; use "
                    "model.output_activation: sigmoid for one unit",
                    key_path="model.output_activation",
                )
            )
        needs_one_hot = loss.label_smoothing > 0 or bool(names & ONE_HOT_METRICS)
        if wanted == "binary_crossentropy":
            targets, loss_name = "one_hot", "binary_crossentropy"
        elif wanted == "categorical_crossentropy" or needs_one_hot:
            # Sparse CE with smoothing (or one-hot metrics) is categorical CE on one-hot targets.
            targets, loss_name = "one_hot", "categorical_crossentropy"
        else:
            targets, loss_name = "sparse", "sparse_categorical_crossentropy"
    if PER_CLASS in names and num_classes > MAX_PER_CLASS:
        problems.append(
            Problem(
                f"f1_per_class logs one value per class, too many for {num_classes} classes "
                f"(at most {MAX_PER_CLASS}); use f1 (their mean)",
                key_path="training.metrics",
            )
        )
    for m in training.metrics:
        if not isinstance(m, str) and m.k > num_classes:
            problems.append(
                Problem(
                    f"top-{m.k} accuracy needs more than {num_classes} classes",
                    key_path="training.metrics",
                )
            )
    if problems:
        raise UserError(problems)
    return Objective(loss_name, targets, float(loss.label_smoothing), num_classes)


def make_optimizer(optimizer: OptimizerSpec, learning_rate: float | None = None) -> Any:
    """A fresh Keras optimizer (a new phase gets a new one: each phase recompiles)."""
    import keras

    lr = float(learning_rate if learning_rate is not None else optimizer.learning_rate)
    common: dict[str, Any] = {"learning_rate": lr}
    if optimizer.clipnorm is not None:
        common["clipnorm"] = optimizer.clipnorm
    if optimizer.weight_decay is not None:
        common["weight_decay"] = optimizer.weight_decay
    name = optimizer.name
    if name == "sgd":
        return keras.optimizers.SGD(
            momentum=optimizer.momentum, nesterov=optimizer.nesterov, **common
        )
    if name == "adagrad":
        return keras.optimizers.Adagrad(**common)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(momentum=optimizer.momentum, **common)
    if name == "adamw":
        return keras.optimizers.AdamW(**common)  # Keras' default weight decay when unset
    return keras.optimizers.Adam(**common)


def make_loss(objective: Objective) -> Any:
    import keras

    if objective.loss_name == "sparse_categorical_crossentropy":
        return keras.losses.SparseCategoricalCrossentropy()
    if objective.loss_name == "categorical_crossentropy":
        return keras.losses.CategoricalCrossentropy(label_smoothing=objective.label_smoothing)
    return keras.losses.BinaryCrossentropy(label_smoothing=objective.label_smoothing)


def make_metrics(metrics: list[Metric], objective: Objective) -> list[Any]:
    import keras

    out = []
    for m in metrics:
        name = metric_name(m)
        if name == "accuracy":
            if objective.targets == "binary":
                out.append(keras.metrics.BinaryAccuracy(name="accuracy"))
            elif objective.targets == "sparse":
                out.append(keras.metrics.SparseCategoricalAccuracy(name="accuracy"))
            else:
                out.append(keras.metrics.CategoricalAccuracy(name="accuracy"))
        elif name == "precision":
            out.append(keras.metrics.Precision(name="precision"))
        elif name == "recall":
            out.append(keras.metrics.Recall(name="recall"))
        elif name == "auc":
            out.append(keras.metrics.AUC(name="auc"))
        elif name in IMBALANCE_METRICS:
            from zoo.runner.metrics import imbalance_metric

            binary = objective.targets == "binary"
            out += imbalance_metric(name, objective.num_classes, binary)
        elif isinstance(m, TopKMetric) and objective.targets == "sparse":
            out.append(keras.metrics.SparseTopKCategoricalAccuracy(k=m.k, name=name))
        elif isinstance(m, TopKMetric):
            out.append(keras.metrics.TopKCategoricalAccuracy(k=m.k, name=name))
    return out


def compile_model(
    model: Any,
    training: TrainingSpec,
    objective: Objective,
    learning_rate: float | None = None,
    *,
    weighted: bool = False,
) -> None:
    """``model.compile`` with a fresh optimizer, the objective's loss and the spec's metrics
    (``weighted``: as weighted metrics, for batches padded with rows of weight 0)."""
    metrics = make_metrics(training.metrics, objective)
    model.compile(
        optimizer=make_optimizer(training.optimizer, learning_rate),
        loss=make_loss(objective),
        metrics=None if weighted else metrics,
        weighted_metrics=metrics if weighted else None,
    )


def targets_fn(objective: Objective) -> Callable[[Any, Any], tuple[Any, Any]] | None:
    """A ``tf.data`` map function turning integer labels into the objective's targets."""
    import tensorflow as tf

    n = objective.num_classes
    if objective.targets == "sparse":
        return None
    if objective.targets == "binary":
        return lambda x, y, *w: (x, tf.cast(tf.reshape(y, (-1, 1)), tf.float32), *w)
    return lambda x, y, *w: (x, tf.one_hot(tf.cast(y, tf.int32), n), *w)


def numpy_targets_fn(objective: Objective) -> Callable[[Any, Any], tuple[Any, Any]] | None:
    """:func:`targets_fn` for NumPy batches (the PyDataset input pipeline)."""
    n = objective.num_classes
    if objective.targets == "sparse":
        return None
    if objective.targets == "binary":
        return lambda x, y: (x, np.asarray(y, np.float32).reshape(-1, 1))
    return lambda x, y: (x, np.eye(n, dtype=np.float32)[np.asarray(y, np.int64)])


def with_targets(dataset: Any, objective: Objective) -> Any:
    """``dataset`` (tf.data or a zoo PyDataset) with labels turned into the objective's targets."""
    if dataset is None:
        return None
    if type(dataset).__module__.startswith("tensorflow"):
        fn = targets_fn(objective)
    else:
        fn = numpy_targets_fn(objective)
    return dataset.map(fn) if fn is not None else dataset


def schedule_fn(
    schedule: StepSchedule | CosineSchedule | ExponentialSchedule, learning_rate: float, epochs: int
) -> Callable[[int], float]:
    """Learning rate of each (0-based) epoch: step, cosine (with warm-up) or exponential."""
    lr0 = float(learning_rate)
    if schedule.name == "step":
        return lambda epoch: lr0 * schedule.factor ** (epoch // schedule.every_epochs)
    if schedule.name == "exponential":
        return lambda epoch: lr0 * schedule.decay_rate**epoch
    warmup, alpha = schedule.warmup_epochs, schedule.alpha

    def cosine(epoch: int) -> float:
        if epoch < warmup:
            return lr0 * (epoch + 1) / warmup
        span = max(1, epochs - warmup)
        progress = min(1.0, (epoch - warmup) / span)
        return lr0 * (alpha + (1 - alpha) * 0.5 * (1 + math.cos(math.pi * progress)))

    return cosine
