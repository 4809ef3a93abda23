"""The names of what a run logs (``loss``, ``accuracy``, ``val_balanced_accuracy``...), which
way each improves, and which a callback or a sweep may watch.

One place for these names, below the runner: ``zoo validate`` checks a callback's monitor
and a sweep's objective against them, the runner compiles the metrics they name, and
``zoo runs --compare`` shows them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from zoo.spec.sections import Metric, TopKMetric

ALIASES = {"acc": "accuracy", "val_acc": "val_accuracy"}  # Keras 2's names, still accepted
# Metrics where higher is better: mode "auto" of a monitor picks "max" for these.
HIGHER_IS_BETTER = ("accuracy", "acc", "precision", "recall", "auc", "f1")
PER_CLASS = "f1_per_class"  # logs f1_class0, f1_class1, ... one per class
PER_CLASS_LOG = re.compile(r"^f1_class(\d+)$")


def normalize_monitor(name: str) -> str:
    return ALIASES.get(name, name)


def metric_name(metric: Metric) -> str:
    """The name a metric has in the spec's ``training.metrics`` and in ``zoo runs``."""
    if isinstance(metric, TopKMetric):
        return f"top_{metric.k}_accuracy"
    return metric


def logged_names(metrics: Iterable[Metric], num_classes: int | None = None) -> list[str]:
    """What a run logs per epoch for these metrics (besides ``learning_rate``): loss and
    each metric; ``f1_per_class`` logs one ``f1_class<i>`` per class (``num_classes`` of
    them; unknown before the data is loaded)."""
    names = ["loss"]
    for metric in metrics:
        name = metric_name(metric)
        if name == PER_CLASS:
            names += [f"f1_class{i}" for i in range(num_classes or 0)]
        else:
            names.append(name)
    return names


def log_names(metric_names: list[str], has_validation: bool) -> list[str]:
    """Names a monitor may watch: loss and each metric, and their ``val_`` twins."""
    base = ["loss", *[n for n in metric_names if n != "loss"]]
    return base + ([f"val_{n}" for n in base] if has_validation else []) + ["learning_rate"]


def watchable(name: str, known: list[str], per_class: bool, num_classes: int | None) -> bool:
    """Whether a monitor ``name`` is logged: one of ``known``, or a class's F1 when the spec
    asks for ``f1_per_class`` (any class index while the classes are not known yet)."""
    if name in known:
        return True
    match = PER_CLASS_LOG.match(name.removeprefix("val_"))
    if not (per_class and match):
        return False
    return num_classes is None or int(match.group(1)) < num_classes


def monitor_mode(monitor: str, mode: str) -> str:
    """``min`` or ``max`` for a monitor; ``auto`` reads it from the metric's name."""
    if mode != "auto":
        return mode
    base = monitor[4:] if monitor.startswith("val_") else monitor
    higher = any(
        base == h or base.endswith("_" + h) or base.startswith(("top_", "f1"))
        for h in HIGHER_IS_BETTER
    )
    return "max" if higher else "min"
