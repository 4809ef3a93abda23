"""The names of what a run logs (``loss``, ``val_accuracy``...), which way each improves,
and the checkpoint file names made from them. No Keras here: ``zoo validate`` uses it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import Problem, UserError

ALIASES = {"acc": "accuracy", "val_acc": "val_accuracy"}  # Keras 2's names, still accepted
# Metrics where higher is better: mode "auto" of a monitor picks "max" for these.
HIGHER_IS_BETTER = ("accuracy", "acc", "precision", "recall", "auc")
NAME_MAX, PATH_MAX = 255, 4096  # bytes, as on Linux and macOS
FORMAT_ERRORS = (ValueError, KeyError, IndexError, TypeError, AttributeError)


def normalize_monitor(name: str) -> str:
    return ALIASES.get(name, name)


def log_names(metric_names: list[str], has_validation: bool) -> list[str]:
    """Names a monitor may watch: loss and each metric, and their ``val_`` twins."""
    base = ["loss", *metric_names]
    return base + ([f"val_{n}" for n in base] if has_validation else []) + ["learning_rate"]


def monitor_mode(monitor: str, mode: str) -> str:
    """``min`` or ``max`` for a monitor; ``auto`` reads it from the metric's name."""
    if mode != "auto":
        return mode
    base = monitor[4:] if monitor.startswith("val_") else monitor
    higher = any(
        base == h or base.endswith("_" + h) or base.startswith("top_") for h in HIGHER_IS_BETTER
    )
    return "max" if higher else "min"


def aliased(logs: dict[str, Any]) -> dict[str, Any]:
    """Keras logs as floats, with the ``acc``/``val_acc`` aliases filled in."""
    out = {k: float(v) if np.ndim(v) == 0 else v for k, v in logs.items()}
    for alias, name in ALIASES.items():
        if name in out and alias not in out:
            out[alias] = out[name]
    return out


def inside(run_dir: Path, relative: str, key_path: str) -> Path:
    """``run_dir / relative``, refusing paths that leave the run folder."""
    path = Path(relative)
    if path.is_absolute() or ".." in path.parts or not relative.strip():
        raise UserError(
            [Problem(f"must be a path inside the run folder, got {relative!r}", key_path=key_path)]
        )
    return run_dir / path


def name_length_problem(name: str) -> str | None:
    if len(name.encode()) > PATH_MAX or any(
        len(part.encode()) > NAME_MAX for part in Path(name).parts
    ):
        return f"makes a file name too long for the file system ({name[:40]}...)"
    return None


def template_problem(template: str, names: list[str], epoch: int) -> str | None:
    """Why ``template`` cannot name a checkpoint file at run time, or None.

    Formats it with sample values, as the checkpoint will after an epoch, and checks the
    length of the name it makes.
    """
    sample = {n: 0.123456 for n in names}
    sample.update({alias: 0.123456 for alias in ALIASES})
    try:
        name = template.format(epoch=epoch, **sample)
    except FORMAT_ERRORS as exc:
        return f"cannot make a file name from {template!r}: {exc}"
    return name_length_problem(name)
