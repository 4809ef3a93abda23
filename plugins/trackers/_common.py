"""What both built-in trackers share: the spec flattened to ``a.b[0].c`` keys."""

from __future__ import annotations

from typing import Any


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """``{'training.optimizer.learning_rate': 0.001, 'callbacks.0.patience': 5, ...}``
    (list indexes as ``.0``, the ``--set`` spelling MLflow accepts in a param name)."""
    if isinstance(data, dict) and data:
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(data, list) and any(isinstance(v, (dict, list)) for v in data):
        out = {}
        for i, v in enumerate(data):
            out.update(flatten(v, f"{prefix}.{i}"))
        return out
    return {prefix: data}


def final_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """metrics.json's numbers of the evaluated split: ``{'test_accuracy': 0.97, ...}``."""
    split = str(metrics.get("split"))
    found = metrics.get(split)
    values: dict[str, Any] = found if isinstance(found, dict) else {}
    return {
        f"{split}_{k}": float(v)
        for k, v in values.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool)
    }
