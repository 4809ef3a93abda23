"""manifest.json beside an export: what a server needs to know without zoo.

Class names in output order, the input (shape, dtype, range, layout), the scaling inside the
graph with its fitted state, the run's test metrics, the check against Keras, versions,
and where the model came from.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

from zoo.run_files import METRICS_FILE
from zoo.serving.formats import MANIFEST_KIND, MANIFEST_VERSION, ExportFormat
from zoo.serving.scaling import describe_scaling

EXPORT_LIBRARIES = ("tf2onnx", "onnx", "onnxruntime", "ai-edge-litert")


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def export_versions() -> dict[str, str | None]:
    from zoo.runner import rundir

    out = rundir.versions()
    out.update({lib: v for lib in EXPORT_LIBRARIES if (v := _version(lib))})
    return out


def run_metrics(run_dir: Path) -> dict[str, Any]:
    """The run's test loss and metrics (scalars only) and how many images they came from."""
    try:
        data = json.loads((run_dir / METRICS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict):
        return {}
    split = str(data.get("split") or "test")
    if not isinstance(data.get(split), dict):
        return {}
    scalars = {k: v for k, v in data[split].items() if isinstance(v, (int, float))}
    return {"split": split, "count": data.get("count"), **scalars}


def build_manifest(
    run: Any,
    fmt: ExportFormat,
    quantize: str | None,
    runtime: Any,
    num_classes: int,
    check: dict[str, Any],
    calibration: int | None,
) -> dict[str, Any]:
    from zoo.runner import rundir

    h, w, c = run.image_shape
    info = run.info
    return {
        "kind": MANIFEST_KIND,
        "manifest_version": MANIFEST_VERSION,
        "format": fmt.name,
        "quantization": quantize,
        "artifact": fmt.artifact,
        "runtime": runtime.engine,
        "class_names": list(run.class_names),
        "input": {
            "name": runtime.input_name,
            "shape": [None, h, w, c],
            "dtype": "float32",
            "layout": "NHWC",
            "range": [0, 255],
            "resize": run.resize_mode,
            "note": "raw pixel values (cast uint8 images to float32); the scaling is inside",
        },
        "output": {
            "name": runtime.output_name,
            "shape": [None, num_classes],
            "dtype": "float32",
            "note": "class probabilities in class_names order",
        },
        "scaling": {"inside_graph": True, **describe_scaling(info, run.scaling_section)},
        "calibration": (
            None if calibration is None else {"split": "train", "images": calibration}
        ),
        "metrics": run_metrics(run.path),
        "check": check,
        "source_run": {
            "path": str(run.path.resolve()),
            "name": info.get("name"),
            "created": info.get("created"),
            "seed": info.get("seed"),
            "epochs": info.get("epochs_done"),
            "architecture": ((info.get("plugins") or {}).get("model") or {}).get("name"),
        },
        "versions": export_versions(),
        "created": rundir.now(),
    }
