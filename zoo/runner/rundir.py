"""Run folders: one per run, never reused, with the resolved spec and what produced it.

A run folder holds::

    spec.yaml             the spec with every default filled in (loadable with zoo.load_spec)
    run.json              status, seed, versions of zoo/TF/Keras/NumPy/albumentations and
                          of every plugin used, class names, image shape, scaling state
    history.csv           one row per epoch (epoch, phase, loss, metrics, learning_rate)
    checkpoints/          ModelCheckpoint files; run.json names the best one
    backup/state.npz      the training state while a run is unfinished (for --resume)
    model.keras           the final model
    metrics.json          test loss and metrics, per-class precision/recall, confusion matrix
    curves.png            train vs validation accuracy and loss
    confusion_matrix.png
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from zoo.errors import Problem, UserError
from zoo.io import atomic_write_json, atomic_write_text
from zoo.run_files import (  # noqa: F401  (re-exported: the runner's names for them)
    CONFUSION_FILE,
    CURVES_FILE,
    DEFAULT_BACKUP_DIR,
    HISTORY_FILE,
    INFO_FILE,
    METRICS_FILE,
    MODEL_FILE,
    SPEC_FILE,
)

DEFAULT_RUNS_DIR = "runs"
RUN_FORMAT = 1

LIBRARIES = (
    "tensorflow",
    "keras",
    "numpy",
    "albumentations",
    "scikit-learn",
    "pydantic",
    "opencv-python-headless",
    "matplotlib",
)


def create_run_dir(root: str | Path, name: str) -> Path:
    """A new, empty ``root/<name>-<YYYYmmdd-HHMMSS>`` (``-2``, ``-3``... on a clash)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = f"{name}-{stamp}"
    for n in range(1, 10_000):
        candidate = root / (base if n == 1 else f"{base}-{n}")
        try:
            candidate.mkdir()  # atomic: fails if another run took the name
        except FileExistsError:
            continue
        return candidate
    raise RuntimeError(f"cannot find a free run folder name under {root}")


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def versions() -> dict[str, str | None]:
    from zoo import __version__

    out: dict[str, str | None] = {"zoo": __version__, "python": platform.python_version()}
    out.update({lib: _version(lib) for lib in LIBRARIES})
    return out


def plugins_used(spec: Any, registry: Any) -> dict[str, dict[str, Any]]:
    """Each plugin the spec names, with the distribution and version that provided it."""
    from zoo.spec.dynamic import PLUGIN_SECTIONS

    out = {}
    for section, (key, _, _) in PLUGIN_SECTIONS.items():
        part = getattr(spec, section, None)
        if part is None:
            continue
        entry = registry.get(getattr(part, key))
        prov = entry.provenance
        out[section] = {
            "name": entry.name,
            "plugin": prov.plugin,
            "distribution": prov.distribution,
            "version": prov.version,
            "module": prov.module,
        }
    return out


def write_spec(run_dir: Path, resolved: dict[str, Any]) -> None:
    text = "# The spec this run used, every default filled in.\n"
    text += yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True)
    atomic_write_text(run_dir / SPEC_FILE, text)


def read_info(run_dir: str | Path) -> dict[str, Any]:
    """run.json of a run folder; a missing or unreadable one is a UserError."""
    run_dir = Path(run_dir)
    path = run_dir / INFO_FILE
    if not run_dir.is_dir():
        raise UserError([Problem("no such run folder", str(run_dir))])
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError([Problem(f"not a zoo run folder (no {INFO_FILE})", str(run_dir))]) from None
    except (OSError, ValueError) as exc:
        raise UserError([Problem(f"cannot read {INFO_FILE}: {exc}", str(run_dir))]) from None


def write_info(run_dir: Path, info: dict[str, Any]) -> None:
    atomic_write_json(run_dir / INFO_FILE, info)


def now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def list_runs(root: str | Path) -> list[dict[str, Any]]:
    """A summary per run folder under ``root`` (newest first): name, status, key metrics."""
    root = Path(root)
    if not root.is_dir():
        raise UserError([Problem("no such folder", str(root))])
    rows = []
    for info_path in sorted(root.glob(f"*/{INFO_FILE}")):
        run_dir = info_path.parent
        try:
            info = json.loads(info_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        metrics: dict[str, Any] = {}
        if (run_dir / METRICS_FILE).exists():
            try:
                metrics = json.loads((run_dir / METRICS_FILE).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                metrics = {}
        test = metrics.get("test", {}) if isinstance(metrics, dict) else {}
        rows.append(
            {
                "run": str(run_dir),
                "name": info.get("name"),
                "status": info.get("status"),
                "architecture": info.get("plugins", {}).get("model", {}).get("name"),
                "epochs": info.get("epochs_done"),
                "accuracy": test.get("accuracy"),
                "loss": test.get("loss"),
                "created": info.get("created"),
            }
        )
    rows.sort(key=lambda r: r.get("created") or "", reverse=True)
    return rows
