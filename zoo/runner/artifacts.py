"""Pictures of a run: training curves, the confusion matrix and the worst errors
(matplotlib, no display).

The curves are the reference notes' plot (train vs validation accuracy from ``history``),
with one panel per compiled metric and the loss, and a dashed line where a fine-tuning
phase starts.
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


def curve_panels(history: dict[str, list[float]]) -> list[str]:
    """Every metric history.csv tracks (accuracy first, the loss last), one panel each."""
    names = [k for k in history if k not in NOT_METRICS and not k.startswith("val_")]
    names += [k[4:] for k in history if k.startswith("val_") and k[4:] not in history]
    names = [
        n
        for n in dict.fromkeys(names)
        if _finite(history.get(n, [])) or _finite(history.get(f"val_{n}", []))
    ]
    return sorted(names, key=lambda n: (n != "accuracy", n == "loss", n))


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
