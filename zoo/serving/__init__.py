"""Serving: export a finished run as a self-contained model, and run exports again.

``zoo.export(run, format="tflite")`` writes ``RUN/exports/tflite/model.tflite`` and its
``manifest.json``; the exported graph takes raw pixels (float32 0..255, NHWC, any batch
size) and returns class probabilities, with the run's scaling and its fitted state inside,
so serving it needs nothing of zoo. ``zoo.load_export(path)`` opens an export with its
format's own runtime (TensorFlow, the TFLite interpreter, ONNX Runtime) and predicts like
the run did. ``zoo.serving_model(run)`` is the run as one plain Keras model (raw pixels in,
probabilities out, Keras' own layers only) that saves as ``.keras``: what the MLflow tracker
logs.

The package is not called ``zoo.export``: that name is the function. Importing it does not
import TensorFlow.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zoo.serving.artifact import ExportedModel, load_export
from zoo.serving.exporter import ExportResult, export
from zoo.serving.formats import FORMATS, QUANTIZATIONS
from zoo.serving.open import evaluate_run, open_predictor, predict

if TYPE_CHECKING:
    from zoo.serving.keras_model import serving_model


def __getattr__(name: str) -> Any:
    """``serving_model`` imports Keras: loaded on first use, once the backend is chosen."""
    if name == "serving_model":
        from zoo.serving import keras_model

        return keras_model.serving_model
    raise AttributeError(f"module 'zoo.serving' has no attribute {name!r}")


__all__ = [
    "FORMATS",
    "QUANTIZATIONS",
    "ExportResult",
    "ExportedModel",
    "evaluate_run",
    "export",
    "load_export",
    "open_predictor",
    "predict",
    "serving_model",
]
