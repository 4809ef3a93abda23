"""Pictures of a run: training curves, the confusion matrix, the worst errors and, for two
classes, the ROC and precision-recall curves (matplotlib, no display).

The curves plot train vs validation accuracy from Keras' ``history``, with one panel per
compiled metric and the loss (the classes' F1 share one panel), and a dashed line where a
fine-tuning phase starts.
Figures are drawn on matplotlib's Agg canvas without pyplot, so no GUI backend is touched.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zoo.io import atomic_save


def _save(fig: Any, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    atomic_save(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight"))


def _finite(values: Sequence[float]) -> bool:
    return any(not math.isnan(v) for v in values)


NOT_METRICS = frozenset({"epoch", "phase", "learning_rate", "lr"})
PER_CLASS_PANEL = "f1 per class"


def _per_class(name: str) -> bool:
    return name.removeprefix("val_").startswith("f1_class")


def curve_panels(history: dict[str, list[float]]) -> list[str]:
    """Every metric history.csv tracks (accuracy first, the loss last), one panel each; the
    classes' F1 (``f1_class<i>``) in one panel."""
    per_class = [PER_CLASS_PANEL] if any(_per_class(k) for k in history) else []
    history = {k: v for k, v in history.items() if not _per_class(k)}
    names = [k for k in history if k not in NOT_METRICS and not k.startswith("val_")]
    names += [k[4:] for k in history if k.startswith("val_") and k[4:] not in history]
    names = [
        n
        for n in dict.fromkeys(names)
        if _finite(history.get(n, [])) or _finite(history.get(f"val_{n}", []))
    ]
    return sorted(names, key=lambda n: (n != "accuracy", n == "loss", n)) + per_class


def plot_curves(history: dict[str, list[float]], path: Path, title: str = "") -> None:
    """Train vs validation curves per epoch for every compiled metric and the loss."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = history.get("epoch") or list(range(1, len(history.get("loss", [])) + 1))
    panels = curve_panels(history)
    cols = min(3, max(1, len(panels)))
    rows = max(1, math.ceil(len(panels) / cols))
    fig = Figure(figsize=(6 * cols, 4.5 * rows))
    grid = fig.subplots(rows, cols, squeeze=False)
    axes = [ax for row in grid for ax in row]
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    phase = history.get("phase", [])
    starts = [epochs[i] - 0.5 for i in range(1, len(phase)) if phase[i] != phase[i - 1]]
    for ax, metric in zip(axes, panels, strict=False):
        if metric == PER_CLASS_PANEL:
            _per_class_panel(ax, history, epochs)
            continue
        if metric in history and _finite(history[metric]):
            ax.plot(epochs, history[metric], marker="o", markersize=3, label="train")
        val = history.get(f"val_{metric}")
        if val is not None and _finite(val):
            ax.plot(epochs, val, marker="o", markersize=3, label="validation")
        for x in starts:
            ax.axvline(x, color="gray", linestyle="--", linewidth=1)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.set_title(metric)
        ax.grid(True, alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    _save(fig, path)


def _per_class_panel(ax: Any, history: dict[str, list[float]], epochs: list[Any]) -> None:
    """Each class's F1 per epoch: on the validation split when there is one."""
    from matplotlib.ticker import MaxNLocator

    val = any(k.startswith("val_f1_class") for k in history)
    prefix = "val_f1_class" if val else "f1_class"
    for key in sorted(
        (k for k in history if k.startswith(prefix)), key=lambda k: int(k[len(prefix) :])
    ):
        ax.plot(epochs, history[key], marker="o", markersize=2, label=f"class {key[len(prefix) :]}")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("F1")
    ax.set_title(f"F1 per class ({'validation' if val else 'train'})")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, ncol=2)


def plot_two_class_curve(
    kind: str,
    labels: Any,
    probs: Any,
    class_names: Sequence[str],
    path: Path,
    title: str = "",
) -> None:
    """The ROC (``kind`` roc) or precision-recall (pr) curve of class 1 against class 0,
    with its area, from scikit-learn."""
    import numpy as np
    from matplotlib.figure import Figure
    from sklearn import metrics

    from zoo.inference import two_columns

    positive = two_columns(np.asarray(probs))[:, 1]
    fig = Figure(figsize=(5.5, 5))
    ax = fig.subplots()
    if kind == "roc":
        fpr, tpr, _ = metrics.roc_curve(labels, positive)
        area = metrics.roc_auc_score(labels, positive)
        ax.plot(fpr, tpr, label=f"ROC AUC {area:.4f}")
        ax.plot([0, 1], [0, 1], color="gray", linestyle="--", linewidth=1, label="chance")
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate (recall)")
    else:
        precision, recall, _ = metrics.precision_recall_curve(labels, positive)
        area = metrics.average_precision_score(labels, positive)
        share = float(np.mean(np.asarray(labels) == 1))
        ax.step(recall, precision, where="post", label=f"average precision {area:.4f}")
        ax.axhline(share, color="gray", linestyle="--", linewidth=1, label=f"chance ({share:.2f})")
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right" if kind == "roc" else "lower left")
    ax.set_title(f"{title}\n'{class_names[1]}' against '{class_names[0]}'" if title else kind)
    _save(fig, path)


def plot_confusion(
    matrix: Sequence[Sequence[int]],
    class_names: Sequence[str],
    path: Path,
    title: str = "confusion matrix",
) -> None:
    """Counts per (true, predicted) class; numbers written in the cells for up to 30 classes."""
    import numpy as np
    from matplotlib.figure import Figure

    m = np.asarray(matrix)
    n = len(class_names)
    size = max(4.0, min(20.0, 0.45 * n + 3))
    fig = Figure(figsize=(size + 1, size))
    ax = fig.subplots()
    im = ax.imshow(m, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ax.set_xticks(range(n), labels=list(class_names), rotation=90 if n > 6 else 0)
    ax.set_yticks(range(n), labels=list(class_names))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if n <= 30:
        limit = m.max() / 2 if m.size else 0
        for i in range(n):
            for j in range(n):
                ax.text(
                    j,
                    i,
                    str(m[i, j]),
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if m[i, j] > limit else "black",
                )
    _save(fig, path)


def worst_errors(probs: Any, labels: Any, limit: int = 16) -> list[tuple[int, int, float]]:
    """(index, predicted class, its probability) of misclassified images, most confident
    first: the model's worst mistakes."""
    import numpy as np

    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim == 2 and probs.shape[1] == 1:  # one sigmoid unit
        probs = np.concatenate([1 - probs, probs], axis=1)
    labels = np.asarray(labels, dtype=np.int64)
    if not len(labels):
        return []
    predicted = np.argmax(probs, axis=1)
    confidence = probs[np.arange(len(labels)), predicted]
    wrong = np.flatnonzero(predicted != labels)
    order = wrong[np.argsort(-confidence[wrong], kind="stable")][:limit]
    return [(int(i), int(predicted[i]), float(confidence[i])) for i in order]


def plot_errors(
    images: Any,
    labels: Sequence[int],
    errors: Sequence[tuple[int, int, float]],
    class_names: Sequence[str],
    path: Path,
    title: str = "worst errors",
) -> None:
    """A grid of misclassified images, each titled true -> predicted (probability).

    ``images`` holds the uint8 images of ``errors`` in order (one per error)."""
    import numpy as np
    from matplotlib.figure import Figure

    n = max(1, len(errors))
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(2.6 * cols, 2.9 * rows))
    axes = [ax for row in fig.subplots(rows, cols, squeeze=False) for ax in row]
    for ax in axes:
        ax.axis("off")
    if not errors:
        axes[0].text(0.5, 0.5, "no misclassified images", ha="center", va="center")
    for ax, image, (index, predicted, probability) in zip(axes, images, errors, strict=False):
        picture = np.asarray(image)
        gray = picture.ndim == 3 and picture.shape[-1] == 1
        ax.imshow(
            picture[..., 0] if gray else picture,
            cmap="gray" if gray else None,
            vmin=0,
            vmax=255,
            interpolation="nearest",
        )
        true = class_names[int(labels[index])]
        ax.set_title(
            f"true: {true}\npred: {class_names[predicted]} ({probability:.0%})", fontsize=9
        )
    fig.suptitle(title)
    _save(fig, path)


def plot_overlay(
    histories: dict[str, dict[str, list[float]]],
    path: Path,
    metrics: Sequence[str] = ("loss", "accuracy"),
    title: str = "",
) -> None:
    """Several runs' curves on shared axes, one panel per metric (train solid, validation
    dashed, one color per run), whole-number epoch ticks."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    shown = [m for m in metrics if any(m in h or f"val_{m}" in h for h in histories.values())]
    fig = Figure(figsize=(6 * max(1, len(shown)), 4.5))
    axes = fig.subplots(1, max(1, len(shown)), squeeze=False)[0]
    colors = [f"C{i}" for i in range(10)]
    for i, (label, h) in enumerate(histories.items()):
        color = colors[i % len(colors)]
        for ax, m in zip(axes, shown, strict=False):
            for key, style, suffix in ((m, "-", ""), (f"val_{m}", "--", " (val)")):
                values = h.get(key)
                if not values or not _finite(values):
                    continue
                epochs = (h.get("epoch") or list(range(1, len(values) + 1)))[: len(values)]
                ax.plot(epochs, values, color=color, linestyle=style, label=label + suffix)
    for ax, m in zip(axes, shown, strict=False):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_title(m)
        ax.grid(alpha=0.3)
    if shown:
        axes[-1].legend(fontsize="small", loc="best")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    _save(fig, Path(path))
