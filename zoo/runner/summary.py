"""What the final numbers mean: the scores that stay honest on imbalanced data, the
majority-class baseline they must beat, and a warning when a model has only learned the
class shares.

All from scikit-learn on the evaluated split's labels and probabilities, so ``zoo train``,
``zoo evaluate`` on a run and on its export say the same. Also the two-class decision
threshold: the probability of the second class from which an image is called that class,
given or chosen on the validation split.
"""

from __future__ import annotations

import numpy as np

from zoo.inference import two_columns
from zoo.record.results import Summary

COLLAPSED_SHARE = 0.98  # predictions this concentrated on one class: the model answers one class
BASELINE_MARGIN = 0.01  # accuracy within a point of always answering the majority class
THRESHOLD_CANDIDATES = 1000  # at most this many thresholds tried (quantiles of the scores)


def predicted_classes(probs: np.ndarray, threshold: float | None = None) -> np.ndarray:
    """Class index per row: the most probable class, or for two classes (two columns or
    one sigmoid unit) class 1 when its probability reaches ``threshold`` (default 0.5)."""
    probs = two_columns(np.asarray(probs))
    if probs.ndim != 2 or probs.shape[0] == 0:
        return np.zeros(0, np.int64)
    if probs.shape[1] == 2 and threshold is not None:
        return (probs[:, 1] >= threshold).astype(np.int64)
    if probs.shape[1] == 2:
        return (probs[:, 1] >= 0.5).astype(np.int64)
    return np.argmax(probs, axis=-1).astype(np.int64)


def score(metric: str, labels: np.ndarray, predicted: np.ndarray) -> float:
    """accuracy, balanced_accuracy or f1 (macro) from predicted classes (scikit-learn)."""
    from sklearn import metrics

    if metric == "balanced_accuracy":
        return float(metrics.balanced_accuracy_score(labels, predicted))
    if metric == "f1":
        return float(metrics.f1_score(labels, predicted, average="macro", zero_division=0))
    return float(metrics.accuracy_score(labels, predicted))


def choose_threshold(probs: np.ndarray, labels: np.ndarray, metric: str) -> tuple[float, float]:
    """The threshold on class 1's probability that maximizes ``metric`` on these labels,
    and the value it reaches (ties: the threshold closest to 0.5)."""
    positive = two_columns(np.asarray(probs))[:, 1]
    labels = np.asarray(labels, np.int64)
    candidates = np.unique(positive)
    if len(candidates) > THRESHOLD_CANDIDATES:
        candidates = np.unique(np.quantile(positive, np.linspace(0, 1, THRESHOLD_CANDIDATES)))
    candidates = candidates[(candidates > 0) & (candidates < 1)]
    if len(candidates) == 0:
        return 0.5, score(metric, labels, (positive >= 0.5).astype(np.int64))
    values = np.array([score(metric, labels, (positive >= t).astype(np.int64)) for t in candidates])
    best = values.max()
    near = candidates[np.isclose(values, best)]
    chosen = float(near[np.argmin(np.abs(near - 0.5))])
    return chosen, float(best)


def summarize(
    labels: np.ndarray,
    probs: np.ndarray,
    class_names: list[str],
    split: str,
    threshold: float | None = None,
) -> Summary | None:
    """The summary of a split (None for an empty one); see the module docstring."""
    from sklearn import metrics

    labels = np.asarray(labels, np.int64)
    probs = two_columns(np.asarray(probs))
    if len(labels) == 0 or probs.ndim != 2:
        return None
    predicted = predicted_classes(probs, threshold)
    index = list(range(len(class_names)))
    recall = metrics.recall_score(labels, predicted, labels=index, average=None, zero_division=0)
    support = np.bincount(labels, minlength=len(class_names))
    present = [i for i in index if support[i] > 0]
    worst = min(present, key=lambda i: recall[i])
    majority = int(np.argmax(support))
    shares = np.bincount(predicted, minlength=len(class_names)) / len(predicted)
    accuracy = float(np.mean(predicted == labels))
    summary = Summary(
        split=split,
        accuracy=accuracy,
        balanced_accuracy=score("balanced_accuracy", labels, predicted),
        macro_f1=score("f1", labels, predicted),
        worst_class=class_names[worst],
        worst_recall=float(recall[worst]),
        majority_class=class_names[majority],
        baseline=float(support[majority] / len(labels)),
        predicted_share={class_names[i]: float(shares[i]) for i in index},
        threshold=threshold if probs.shape[1] == 2 else None,
        **_aucs(labels, probs, len(present)),
    )
    return summary.model_copy(update={"warning": collapse_warning(summary, split)})


def _aucs(labels: np.ndarray, probs: np.ndarray, classes_present: int) -> dict[str, float | None]:
    """ROC and PR AUC: of class 1 for two classes, else one-vs-rest averaged over classes
    (None when a class has no image in the split: its curve is undefined)."""
    from sklearn import metrics

    if classes_present < probs.shape[1]:
        return {"roc_auc": None, "pr_auc": None}
    if probs.shape[1] == 2:
        return {
            "roc_auc": float(metrics.roc_auc_score(labels, probs[:, 1])),
            "pr_auc": float(metrics.average_precision_score(labels, probs[:, 1])),
        }
    rows = probs / np.clip(probs.sum(axis=1, keepdims=True), 1e-12, None)  # sigmoid outputs
    one_hot = np.eye(probs.shape[1])[labels]
    return {
        "roc_auc": float(metrics.roc_auc_score(labels, rows, multi_class="ovr")),
        "pr_auc": float(metrics.average_precision_score(one_hot, probs, average="macro")),
    }


def collapse_warning(summary: Summary, split: str) -> str | None:
    """One line when the model answers one class, or does no better than always answering
    the majority class; None otherwise."""
    top_class, top_share = max(summary.predicted_share.items(), key=lambda kv: kv[1])
    if len(summary.predicted_share) < 2:
        return None
    found = []
    if top_share >= COLLAPSED_SHARE and summary.baseline < COLLAPSED_SHARE:
        found.append(f"the model answers '{top_class}' for {top_share:.0%} of the {split} images")
    if summary.accuracy < summary.baseline + BASELINE_MARGIN:
        found.append(
            f"its accuracy {summary.accuracy:.4f} is no better than always answering "
            f"'{summary.majority_class}' ({summary.baseline:.4f})"
        )
    if not found:
        return None
    return (
        "; ".join(found) + ": it has learned the class shares, not the images. Try "
        "training.class_weight: balanced, training.sampler: balanced, or monitoring "
        "val_balanced_accuracy"
    )
