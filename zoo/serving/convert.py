"""Writing the serving model in each format with the libraries made for it.

- SavedModel: Keras 3 ``Model.export(format="tf_saved_model")`` (an ``ExportArchive`` with a
  ``serve`` endpoint and the ``serving_default`` signature).
- TFLite: ``Model.export(format="litert")``, the TFLite converter on that SavedModel, with
  the quantization options passed through to the converter. Only builtin TFLite ops are
  allowed, so the file runs on the plain interpreter (no Flex delegate).
- ONNX: ``Model.export(format="onnx")``, which converts the traced function with tf2onnx.

int8 quantization is calibrated on the run's own training images (raw pixels: the scaling
is inside the graph), read through zoo's data preparation and sampled with the run's seed.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import Problem, UserError
from zoo.images import convert_images, load_images
from zoo.runner.predict import Run
from zoo.serving.formats import ExportFormat
from zoo.serving.runtimes import quiet_native_stderr


@contextlib.contextmanager
def _quiet_python() -> Iterator[None]:
    """Keras and tf2onnx warn about things a user exporting a model cannot change."""
    loggers = [logging.getLogger(n) for n in ("tf2onnx", "tensorflow", "absl")]
    levels = [lg.level for lg in loggers]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        try:
            yield
        finally:
            for lg, level in zip(loggers, levels, strict=True):
                lg.setLevel(level)


def tflite_options(quantize: str | None, calibration: np.ndarray | None) -> dict[str, Any]:
    """TFLiteConverter attributes for a quantization mode (passed on by Keras' exporter)."""
    import tensorflow as tf

    options: dict[str, Any] = {"target_spec": {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}}
    if quantize is None:
        return options
    options["optimizations"] = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        options["target_spec"]["supported_types"] = [tf.float16]
    elif quantize == "int8":
        if calibration is None or not len(calibration):
            raise ValueError("int8 quantization needs calibration images")
        images = calibration.astype(np.float32)

        def representative() -> Iterator[list[np.ndarray]]:
            for i in range(len(images)):
                yield [images[i : i + 1]]

        options["representative_dataset"] = representative
    return options


def write_artifact(
    serving: Any,
    fmt: ExportFormat,
    target: Path,
    signature: list[Any],
    quantize: str | None = None,
    calibration: np.ndarray | None = None,
) -> None:
    """Write ``serving`` (a keras.Model taking raw pixels) to ``target`` in ``fmt``."""
    exporters: dict[str, Callable[[], None]] = {
        "savedmodel": lambda: serving.export(
            str(target), format="tf_saved_model", verbose=False, input_signature=signature
        ),
        "tflite": lambda: serving.export(
            str(target),
            format="litert",
            verbose=False,
            input_signature=signature,
            **tflite_options(quantize, calibration),
        ),
        "onnx": lambda: serving.export(
            str(target), format="onnx", verbose=False, input_signature=signature
        ),
    }
    with _quiet_python(), quiet_native_stderr():
        exporters[fmt.name]()


def calibration_images(run: Run, count: int) -> np.ndarray:
    """Up to ``count`` training images of the run's own data (uint8 NHWC at its size)."""
    prepared, _ = run.prepared()
    train = prepared.train
    if not len(train):
        raise UserError(
            [Problem("the run's data has no training images to calibrate on", str(run.path))]
        )
    rng = np.random.default_rng(run.record.seed)
    index = np.sort(rng.choice(len(train), size=min(count, len(train)), replace=False))
    h, w, c = run.image_shape
    if train.images is not None:
        return convert_images(train.images[index], (h, w), c, run.resize_mode)
    paths = [(train.paths or [])[i] for i in index]
    return load_images(paths, (h, w), c, run.resize_mode).images
