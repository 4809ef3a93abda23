"""Export formats: their names, file layout and optional dependencies (no TensorFlow here).

An export folder holds the artifact and ``manifest.json`` beside it::

    RUN/exports/savedmodel/        model/ (saved_model.pb, variables/)   manifest.json
    RUN/exports/tflite[-QUANT]/    model.tflite                          manifest.json
    RUN/exports/onnx/              model.onnx                            manifest.json
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from zoo.errors import Problem, UserError
from zoo.run_files import EXPORTS_DIR

INPUT_NAME = "pixels"
QUANTIZATIONS = ("float16", "dynamic", "int8")
DEFAULT_CALIBRATION_IMAGES = 100


@dataclass(frozen=True)
class ExportFormat:
    """One format: the artifact's name in the export folder and what it needs installed."""

    name: str
    artifact: str
    runtime: str
    modules: tuple[tuple[str, str], ...] = ()  # (import name, pip name) for export
    runtime_modules: tuple[tuple[str, str], ...] = ()  # for running it
    extra: str | None = None  # pip install 'zoo[extra]'


FORMATS: dict[str, ExportFormat] = {
    "savedmodel": ExportFormat("savedmodel", "model", "tensorflow"),
    "tflite": ExportFormat("tflite", "model.tflite", "tflite"),
    "onnx": ExportFormat(
        "onnx",
        "model.onnx",
        "onnxruntime",
        modules=(("tf2onnx", "tf2onnx"), ("onnx", "onnx")),
        runtime_modules=(("onnxruntime", "onnxruntime"),),
        extra="onnx",
    ),
}


def get_format(name: str) -> ExportFormat:
    fmt = FORMATS.get(str(name).lower())
    if fmt is None:
        raise UserError(f"unknown export format '{name}' (known: {', '.join(FORMATS)})")
    return fmt


def default_dir(run_dir: Path, fmt: ExportFormat, quantize: str | None) -> Path:
    """``RUN/exports/<format>`` (``tflite-<quantization>`` for a quantized TFLite model)."""
    name = fmt.name if quantize is None else f"{fmt.name}-{quantize}"
    return run_dir / EXPORTS_DIR / name


def require(modules: tuple[tuple[str, str], ...], extra: str | None, what: str) -> None:
    """A UserError naming the pip extra when an optional dependency is not installed."""
    missing = [pip for mod, pip in modules if importlib.util.find_spec(mod) is None]
    if not missing:
        return
    how = f"pip install 'zoo[{extra}]'" if extra else f"pip install {' '.join(missing)}"
    raise UserError([Problem(f"{what} needs {', '.join(missing)}, not installed; {how}")])


def check_export_deps(fmt: ExportFormat) -> None:
    require(fmt.modules + fmt.runtime_modules, fmt.extra, f"exporting to {fmt.name}")


def check_runtime_deps(fmt: ExportFormat) -> None:
    require(fmt.runtime_modules, fmt.extra, f"running a {fmt.name} model")
