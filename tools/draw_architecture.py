"""Draw docs/img/architecture.svg: the data flow from a spec file to a run folder, and the
layers of zoo's packages beside it. Run it after changing either; the picture is committed.

    python tools/draw_architecture.py
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402

OUT = Path(__file__).resolve().parent.parent / "docs" / "img" / "architecture.svg"

# (x, y, label, detail) of each step of the flow, left column, top to bottom
FLOW = [
    (0.25, 0.93, "spec.yaml", "safe YAML, every key's line and column"),
    (0.25, 0.80, "LoadedSpec", "zoo.spec: validated against the registry's plugins"),
    (0.25, 0.67, "PreparedData", "zoo.data: source -> decode -> split"),
    (0.25, 0.54, "Pipelines", "zoo.data: scaling, augmentation, tf.data or PyDataset"),
    (0.25, 0.41, "Workbench", "zoo.runner.setup: model, objective, class weights"),
    (0.25, 0.28, "fit loop", "zoo.runner.fit: phases, backups, checkpoints"),
    (0.25, 0.15, "finish", "zoo.runner.keep + finish: kept weights, evaluation"),
    (0.25, 0.03, "run folder", "run.json, metrics.json (the record), model.keras ..."),
]
# the layers, top to bottom: each imports only the ones below it
LAYERS = [
    ("zoo.cli", "the zoo command"),
    ("zoo.sweep", "Optuna studies of runs"),
    ("zoo.serving", "export, exported models, open a run or an export"),
    ("zoo.runner", "train, evaluate, predict"),
    ("zoo.inference", "Predictor: images in, classes out"),
    ("zoo.data", "prepare, pipelines, recipes"),
    ("zoo.record", "run.json, metrics.json, manifest.json, run folders"),
    ("zoo.spec", "spec models, loading, located errors"),
    ("zoo.plugin", "hooks, contracts, registry, guards, testing kit"),
    ("foundation", "errors, io, images, key paths, backend, downloads"),
]


def box(
    ax: object, x: float, y: float, w: float, h: float, text: str, sub: str, color: str
) -> None:
    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0.008",
            facecolor=color,
            edgecolor="#37474f",
            linewidth=1,
        )
    )
    ax.text(x, y + 0.012, text, ha="center", va="center", fontsize=10, weight="bold")
    ax.text(x, y - 0.018, sub, ha="center", va="center", fontsize=7, color="#37474f")


def main() -> None:
    fig = Figure(figsize=(11, 8))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.02, 1.03)
    ax.axis("off")
    ax.text(0.25, 0.995, "From a spec to a run folder", ha="center", fontsize=12)
    for i, (x, y, name, detail) in enumerate(FLOW):
        box(ax, x, y, 0.42, 0.085, name, detail, "#e3f2fd" if i not in (0, 7) else "#fff3e0")
        if i:
            ax.add_patch(
                FancyArrowPatch(
                    (x, FLOW[i - 1][1] - 0.043),
                    (x, y + 0.043),
                    arrowstyle="-|>",
                    mutation_scale=12,
                    color="#37474f",
                )
            )
    ax.text(0.75, 0.995, "Layers (each imports only those below)", ha="center", fontsize=12)
    top, step = 0.93, 0.098
    for i, (name, detail) in enumerate(LAYERS):
        box(
            ax,
            0.75,
            top - i * step,
            0.42,
            0.075,
            name,
            detail,
            "#e8f5e9" if name != "foundation" else "#eceff1",
        )
    ax.text(
        0.75,
        top - len(LAYERS) * step + 0.03,
        "plugins (zoo_builtins, third parties) use zoo.plugin only",
        ha="center",
        fontsize=8,
        style="italic",
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT, format="svg", metadata={"Date": None})


if __name__ == "__main__":
    main()
