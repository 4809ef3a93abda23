"""Open an exported model for prediction: the export folder, or the bare artifact in it.

``zoo predict`` takes any of::

    RUN/exports/tflite                 the export folder (manifest.json names the artifact)
    RUN/exports/tflite/model.tflite    a .tflite or .onnx file (a manifest beside it is used)
    RUN/exports/savedmodel/model       a SavedModel folder (saved_model.pb inside)

With a manifest, class names, image size and resize mode come from it; without one, the
classes are numbered and the size is read from the model's input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zoo.errors import Problem, UserError
from zoo.inference import DEFAULT_BATCH, Predictor, two_columns
from zoo.record.files import RecordError
from zoo.record.manifest import MANIFEST_FILE, ExportManifest, read_manifest
from zoo.serving.formats import FORMATS, ExportFormat, get_format
from zoo.serving.runtimes import Runtime, open_runtime

SUFFIX_FORMATS = {".tflite": "tflite", ".onnx": "onnx"}
SAVED_MODEL_FILE = "saved_model.pb"


def looks_exported(path: Path) -> bool:
    """An export folder, a SavedModel folder, or a .tflite/.onnx file."""
    if path.is_dir():
        return (path / MANIFEST_FILE).exists() or (path / SAVED_MODEL_FILE).is_file()
    return path.is_file() and path.suffix.lower() in SUFFIX_FORMATS


def locate(path: Path) -> tuple[ExportFormat, Path, ExportManifest | None]:
    """(format, artifact path, manifest or None) of an export given by any of its paths."""
    if path.is_dir() and (path / MANIFEST_FILE).exists():
        manifest = read_manifest(path / MANIFEST_FILE)  # damaged: one located error
        fmt = get_format(manifest.format)
        return fmt, manifest.artifact_path(path, path / MANIFEST_FILE), manifest
    if path.is_dir() and (path / SAVED_MODEL_FILE).is_file():
        fmt = FORMATS["savedmodel"]
    elif path.is_file() and path.suffix.lower() in SUFFIX_FORMATS:
        fmt = FORMATS[SUFFIX_FORMATS[path.suffix.lower()]]
    else:
        raise UserError([Problem("not an exported model", str(path))])
    beside = None
    try:
        beside = read_manifest(path.parent / MANIFEST_FILE)
    except RecordError:
        pass
    if beside is not None and beside.artifact != path.name:
        beside = None
    return fmt, path, beside


class ExportedModel(Predictor):
    """An exported model run by its own runtime, predicting like the run it came from."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.format, self.artifact, self.manifest = locate(self.path)
        self.runtime: Runtime = open_runtime(self.format, self.artifact)
        manifest = self.manifest
        if manifest is not None:
            self.class_names = list(manifest.class_names)
            self.resize_mode = manifest.input.resize
            self.image_shape = manifest.input.image_shape
            self.threshold = manifest.threshold
            return
        self.class_names = []
        shape = list(self.runtime.input_shape)
        dims = tuple(shape[1:]) if len(shape) == 4 else ()
        sides = [d for d in dims if isinstance(d, int) and 0 < d <= 4096]
        if len(dims) != 3 or len(sides) != 3:
            raise UserError(
                [Problem(f"cannot tell the model's image size from its input {shape}", str(path))]
            )
        self.image_shape = (sides[0], sides[1], sides[2])

    def __repr__(self) -> str:
        return f"ExportedModel({str(self.path)!r}, format={self.format.name!r})"

    def _probs(self, batch: np.ndarray, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
        out = [
            self.runtime(batch[start : start + batch_size].astype(np.float32))
            for start in range(0, len(batch), batch_size)
        ]
        probs = two_columns(np.concatenate(out))
        if self.class_names and probs.shape[1] != len(self.class_names):
            raise UserError(
                [
                    Problem(
                        f"the model gives {probs.shape[1]} outputs but its manifest lists "
                        f"{len(self.class_names)} classes",
                        str(self.path),
                    )
                ]
            )
        return probs


def load_export(path: str | Path) -> ExportedModel:
    """Open an export (folder, SavedModel folder, .tflite or .onnx file) for prediction."""
    path = Path(path)
    if not path.exists():
        raise UserError([Problem("no such exported model", str(path))])
    return ExportedModel(path)
