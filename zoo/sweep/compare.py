"""``zoo runs --compare RUN...``: the spec keys where runs differ, their key metrics, and an
overlay plot of their training curves. A sweep folder stands for all its trials' runs.

Reads run folders only (spec.yaml, metrics.json, history.csv): no TensorFlow.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import yaml

from zoo.errors import Problem, UserError
from zoo.keypath import format_path
from zoo.record.files import RecordError, read_text
from zoo.record.folder import run_state, try_results
from zoo.record.history import read_history
from zoo.run_files import HISTORY_FILE, INFO_FILE, SPEC_FILE

METRIC_COLUMNS = ("accuracy", "loss")
IGNORED_KEYS = ("name", "description")


def expand(paths: list[str | Path]) -> list[Path]:
    """Run folders: each path itself, or every run under a sweep folder's ``trials``."""
    runs: list[Path] = []
    problems = []
    for p in map(Path, paths):
        if (p / SPEC_FILE).exists() or (p / INFO_FILE).exists():
            runs.append(p)
        elif (p / "trials").is_dir():
            runs += sorted(r for r in (p / "trials").iterdir() if (r / SPEC_FILE).exists())
        else:
            problems.append(Problem("not a run folder (no spec.yaml) nor a sweep folder", str(p)))
    if problems:
        raise UserError(problems)
    if not runs:
        raise UserError([Problem("no runs to compare", " ".join(map(str, paths)))])
    return runs


def flatten(data: Any, prefix: tuple = ()) -> dict[str, Any]:
    """``{'training.optimizer.learning_rate': 0.001, 'callbacks[0].patience': 5, ...}``"""
    if isinstance(data, dict) and data:
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(flatten(v, (*prefix, k)))
        return out
    if isinstance(data, list) and data and any(isinstance(v, (dict, list)) for v in data):
        out = {}
        for i, v in enumerate(data):
            out.update(flatten(v, (*prefix, i)))
        return out
    return {format_path(prefix): data}


def _read(run: Path) -> dict[str, Any]:
    """What --compare shows of one run, from its record (a damaged file counts as absent)."""
    try:
        spec = yaml.safe_load(read_text(run / SPEC_FILE))
    except (RecordError, yaml.YAMLError):
        spec = {}
    results = try_results(run)
    try:
        history = read_history(run / HISTORY_FILE)
    except RecordError:
        history = {}
    state = run_state(run)
    return {
        "run": run,
        "spec": flatten(spec if isinstance(spec, dict) else {}),
        "results": results,
        "history": history,
        "status": state.status,
        "epochs": state.epochs,
    }


def compare(paths: list[str | Path]) -> dict[str, Any]:
    """Per run: its values of the differing spec keys and its key metrics."""
    runs = [_read(r) for r in expand(paths)]
    keys: list[str] = []
    for r in runs:
        keys += [k for k in r["spec"] if k not in keys]
    differing = [
        k
        for k in keys
        if k not in IGNORED_KEYS
        and len({json.dumps(r["spec"].get(k), sort_keys=True, default=str) for r in runs}) > 1
    ]
    rows = []
    for r in runs:
        results = r["results"]
        split = (results.split if results is not None else None) or "test"
        final = results.scores if results is not None else {}
        h = r["history"]
        row = {
            "run": str(r["run"]),
            "status": r["status"],
            "spec": {k: r["spec"].get(k) for k in differing},
            "epochs": r["epochs"],
            "split": split if final else None,
        }
        for name in METRIC_COLUMNS:
            row[f"{split}_{name}" if final else name] = final.get(name)
            series = [v for v in h.get(f"val_{name}", []) if not math.isnan(v)]
            row[f"best_val_{name}"] = (
                (max(series) if "acc" in name else min(series)) if series else None
            )
        rows.append(row)
    return {
        "differing_keys": differing,
        "runs": rows,
        "histories": {str(r["run"]): r["history"] for r in runs},
    }


def plot_overlay(result: dict[str, Any], path: str | Path) -> None:
    """Loss and accuracy per epoch of every run in one figure (train solid, validation dashed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    histories = result["histories"]
    metrics = [m for m in ("loss", "accuracy") if any(m in h for h in histories.values())]
    if not metrics:
        raise UserError(
            [Problem("no run has a history.csv with loss or accuracy to plot", str(path))]
        )
    fig, axes = plt.subplots(1, len(metrics), figsize=(6 * len(metrics), 4.5), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, (run, h) in enumerate(histories.items()):
        label = Path(run).name
        for ax, m in zip(axes[0], metrics, strict=True):
            color = colors[i % len(colors)]
            epochs = h.get("epoch") or list(range(1, len(h.get(m, [])) + 1))
            if m in h:
                ax.plot(epochs[: len(h[m])], h[m], color=color, label=f"{label}")
            if f"val_{m}" in h:
                ax.plot(
                    epochs[: len(h[f"val_{m}"])],
                    h[f"val_{m}"],
                    color=color,
                    linestyle="--",
                    label=f"{label} (val)",
                )
    for ax, m in zip(axes[0], metrics, strict=True):
        ax.set_xlabel("epoch")
        ax.set_title(m)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize="small", loc="best")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
