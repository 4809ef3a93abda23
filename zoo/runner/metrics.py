"""Keras metrics for imbalanced data, built on Keras' own: balanced accuracy (mean recall,
from :class:`keras.metrics.MeanIoU`'s confusion matrix), macro and per-class F1
(:class:`keras.metrics.F1Score`), ROC and PR AUC (:class:`keras.metrics.AUC`).

Each takes the targets the run trains on: one-hot rows, or one probability column for a
single sigmoid unit, which is read as the two columns ``[1 - p, p]`` so that a two-class
run has the same balanced accuracy and F1 whichever output it has. For two classes, ROC
and PR AUC are those of class 1 (scikit-learn's binary convention); for more, each class
against the rest, averaged without weights (scikit-learn's ``average="macro"``).

Imports Keras: imported only when a model is compiled.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

# ROC/PR AUC from a histogram of this many thresholds (Keras' default 200 is coarse).
AUC_THRESHOLDS = 1000


def two_columns(y_true: Any, y_pred: Any, binary: bool) -> tuple[Any, Any]:
    """One-hot targets and one column per class, from either form of target."""
    if not binary:
        return y_true, y_pred
    p = ops.reshape(ops.cast(y_pred, "float32"), (-1, 1))
    t = ops.reshape(ops.cast(y_true, "float32"), (-1, 1))
    return ops.concatenate([1 - t, t], axis=-1), ops.concatenate([1 - p, p], axis=-1)


@keras.saving.register_keras_serializable(package="zoo")
class BalancedAccuracy(keras.metrics.MeanIoU):
    """Mean recall over the classes present in the targets (scikit-learn's
    ``balanced_accuracy_score``): 0.5 for a two-class model that always answers one class,
    however imbalanced the data."""

    def __init__(
        self, num_classes: int, binary: bool = False, name: str = "balanced_accuracy", **kw: Any
    ) -> None:
        kw.pop("sparse_y_true", None), kw.pop("sparse_y_pred", None)
        super().__init__(
            num_classes=2 if binary else num_classes,
            name=name,
            sparse_y_true=False,
            sparse_y_pred=False,
            **{"dtype": "float32", **kw},
        )
        self.binary = binary

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        y_true, y_pred = two_columns(y_true, y_pred, self.binary)
        return super().update_state(y_true, y_pred, sample_weight)

    def result(self) -> Any:
        cm = ops.cast(self.total_cm, "float32")  # rows: true class, columns: predicted
        support = ops.sum(cm, axis=1)
        present = ops.cast(support > 0, "float32")
        recall = ops.divide_no_nan(ops.diagonal(cm), support)
        return ops.divide_no_nan(ops.sum(recall * present), ops.sum(present))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "binary": self.binary}


@keras.saving.register_keras_serializable(package="zoo")
class ClassF1(keras.metrics.F1Score):
    """F1 from the arg-max class: averaged over classes (``class_id`` None, scikit-learn's
    ``f1_score(average="macro")``) or of one class (``class_id``)."""

    def __init__(
        self,
        binary: bool = False,
        class_id: int | None = None,
        name: str = "f1",
        **kw: Any,
    ) -> None:
        kw.pop("average", None), kw.pop("threshold", None)
        super().__init__(average=None, threshold=None, name=name, **kw)
        self.binary = binary
        self.class_id = class_id

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        y_true, y_pred = two_columns(y_true, y_pred, self.binary)
        if sample_weight is not None:
            sample_weight = ops.reshape(ops.cast(sample_weight, "float32"), (-1,))
        return super().update_state(y_true, y_pred, sample_weight)

    def result(self) -> Any:
        per_class = super().result()
        if self.class_id is not None:
            return per_class[self.class_id]
        return ops.mean(per_class)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "binary": self.binary, "class_id": self.class_id}


@keras.saving.register_keras_serializable(package="zoo")
class ClassAUC(keras.metrics.AUC):
    """ROC or PR AUC: of class 1 for two classes, else one-vs-rest averaged over classes."""

    def __init__(
        self,
        curve: str = "ROC",
        num_classes: int = 2,
        binary: bool = False,
        name: str = "roc_auc",
        **kw: Any,
    ) -> None:
        for key in ("multi_label", "num_labels", "num_thresholds"):
            kw.pop(key, None)
        self.positive_only = binary or num_classes == 2
        super().__init__(
            num_thresholds=AUC_THRESHOLDS,
            curve=curve,
            multi_label=not self.positive_only,
            num_labels=None if self.positive_only else num_classes,
            name=name,
            **kw,
        )
        self.num_classes = num_classes
        self.binary = binary

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        if self.positive_only and not self.binary:
            y_true, y_pred = y_true[:, 1:], y_pred[:, 1:]
        return super().update_state(y_true, y_pred, sample_weight)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        return {
            "name": config["name"],
            "dtype": config.get("dtype"),
            "curve": config["curve"],
            "num_classes": self.num_classes,
            "binary": self.binary,
        }


def imbalance_metric(name: str, num_classes: int, binary: bool) -> list[Any]:
    """The Keras metrics for one of the names above (``f1_per_class``: one per class)."""
    if name == "balanced_accuracy":
        return [BalancedAccuracy(num_classes, binary)]
    if name == "f1":
        return [ClassF1(binary)]
    if name == "f1_per_class":
        classes = 2 if binary else num_classes
        return [ClassF1(binary, class_id=i, name=f"f1_class{i}") for i in range(classes)]
    if name in ("roc_auc", "pr_auc"):
        curve = "ROC" if name == "roc_auc" else "PR"
        return [ClassAUC(curve, 2 if binary else num_classes, binary, name=name)]
    raise ValueError(f"not an imbalance metric: {name}")
