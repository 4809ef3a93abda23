"""Pictures of a run: training curves and the confusion matrix (matplotlib, no display).

The curves are the note's plot (DIGEST section 2: train vs validation accuracy from
``history``), with the loss beside it and a dashed line where a fine-tuning phase starts.
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


def plot_curves(history: dict[str, list[float]], path: Path, title: str = "") -> None:
    """Train vs validation accuracy (when tracked) and loss per epoch."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = history.get("epoch") or list(range(1, len(history.get("loss", [])) + 1))
    panels = [m for m in ("accuracy", "loss") if m in history and _finite(history[m])]
    fig = Figure(figsize=(6 * max(1, len(panels)), 4.5))
    axes = fig.subplots(1, max(1, len(panels)), squeeze=False)[0]
    phase = history.get("phase", [])
    starts = [epochs[i] - 0.5 for i in range(1, len(phase)) if phase[i] != phase[i - 1]]
    for ax, metric in zip(axes, panels, strict=False):
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
