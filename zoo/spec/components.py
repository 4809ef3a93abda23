"""The spec's built-in components, to look up like plugins: every callback, optimizer, loss,
metric and learning-rate schedule a spec may name (``zoo list callbacks``, ``zoo info
early_stopping``).

Read from the spec models themselves (each callback's and schedule's model with its
fields, the optimizer and loss names, the metric names), so the pages cannot drift from
what ``zoo validate`` accepts.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from zoo.spec.sections import (
    METRIC_NAMES,
    Callback,
    LossSpec,
    OptimizerSpec,
    Schedule,
    TopKMetric,
)

KINDS = ("callbacks", "optimizers", "losses", "metrics", "schedules")

OPTIMIZERS = {
    "sgd": "Stochastic gradient descent, with momentum and Nesterov momentum if set.",
    "adagrad": "Adagrad: a learning rate per parameter, from its past gradients.",
    "rmsprop": "RMSprop: gradients divided by a moving average of their magnitude.",
    "adam": "Adam: moving averages of the gradients and their squares (the default).",
    "adamw": "AdamW: Adam with decoupled weight decay.",
}
LOSSES = {
    "auto": "The cross-entropy that matches the targets: sparse categorical for integer "
    "labels on a softmax, binary for a sigmoid output (the default).",
    "categorical_crossentropy": "Cross-entropy on one-hot targets (zoo converts the labels); "
    "needed for label smoothing.",
    "sparse_categorical_crossentropy": "Cross-entropy on integer labels.",
    "binary_crossentropy": "Binary cross-entropy: one sigmoid unit, or one per class.",
}
METRICS = {
    "accuracy": "Share of images whose most probable class is right.",
    "balanced_accuracy": "Mean recall over the classes: 1/K for a model answering one class "
    "of K, however imbalanced the data.",
    "precision": "Precision over all outputs (Keras' Precision on one-hot targets).",
    "recall": "Recall over all outputs (Keras' Recall on one-hot targets).",
    "f1": "Macro F1: the mean of each class's F1.",
    "f1_per_class": "Each class's F1, logged as f1_class0, f1_class1, ...",
    "auc": "Keras' ROC AUC over all outputs (one-hot targets flattened).",
    "roc_auc": "ROC AUC: of the second class for two classes, else each class against the "
    "rest, averaged.",
    "pr_auc": "Area under the precision-recall curve, as roc_auc.",
    "top_k_accuracy": "Share of images whose class is among the k most probable "
    "(top_5_accuracy, or {name: top_k_accuracy, k: 5}).",
}


@dataclass(frozen=True)
class Component:
    """One built-in component: its name, kind, what it does, how a spec names it, and its
    parameters' model (None: it has none of its own)."""

    name: str
    kind: str
    description: str
    usage: str
    params: type[BaseModel] | None = None
    skip: tuple[str, ...] = field(default=())  # the model's fields that name it

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "usage": self.usage,
        }


def _union_members(annotation: Any) -> list[type[BaseModel]]:
    """The models of a discriminated union (``Callback``, ``Schedule``)."""
    if typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return [a for a in typing.get_args(annotation) if isinstance(a, type)]


def _tag(model: type[BaseModel], key: str) -> str:
    (value,) = typing.get_args(model.model_fields[key].annotation)
    return str(value)


def _doc(model: type[BaseModel]) -> str:
    return " ".join((model.__doc__ or "").split())


def components() -> list[Component]:
    """Every built-in component, kind by kind."""
    found = []
    for model in _union_members(Callback):
        name = _tag(model, "type")
        found.append(
            Component(
                name, "callbacks", _doc(model), f"callbacks: [{{type: {name}}}]", model, ("type",)
            )
        )
    for name, text in OPTIMIZERS.items():
        found.append(
            Component(
                name,
                "optimizers",
                text,
                f"training.optimizer: {{name: {name}}}",
                OptimizerSpec,
                ("name",),
            )
        )
    for name, text in LOSSES.items():
        found.append(
            Component(name, "losses", text, f"training.loss: {{name: {name}}}", LossSpec, ("name",))
        )
    for name in (*METRIC_NAMES, "top_k_accuracy"):
        usage = f"training.metrics: [{name}]"
        params = TopKMetric if name == "top_k_accuracy" else None
        if name == "top_k_accuracy":
            usage = "training.metrics: [top_5_accuracy]"
        found.append(Component(name, "metrics", METRICS[name], usage, params, ("name",)))
    for model in _union_members(Schedule):
        name = _tag(model, "name")
        found.append(
            Component(
                name,
                "schedules",
                _doc(model),
                f"training.schedule: {{name: {name}}}",
                model,
                ("name",),
            )
        )
    return found


def find(name: str) -> Component | None:
    """A component by name, or by ``kind:name`` (``callback:tensorboard``: a callback that
    shares its name with a plugin)."""
    kind, _, bare = name.rpartition(":")
    return next(
        (c for c in components() if c.name == bare and (not kind or c.kind == f"{kind}s")),
        None,
    )


def of_kind(kind: str) -> list[Component]:
    return [c for c in components() if c.kind == kind]
