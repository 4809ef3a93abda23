"""Writing the serving model in each format with the libraries made for it.

- SavedModel: Keras 3 ``Model.export(format="tf_saved_model")`` (an ``ExportArchive`` with a
  ``serve`` endpoint and the ``serving_default`` signature).
- TFLite: ``Model.export(format="litert")``, the TFLite converter on that SavedModel, with
  the quantization options passed through to the converter. Only builtin TFLite ops are
  allowed, so the file runs on the plain interpreter (no Flex delegate).
- ONNX: tf2onnx on the traced serving function, as ``Model.export(format="onnx")`` does,
  plus two things vision transformers need: a converter for TensorFlow's ``Erfc`` (exact
  GELU), and captured constant tensors folded into the graph (see :func:`write_onnx`).

int8 quantization is calibrated on the run's own training images (raw pixels: the scaling
is inside the graph), read through zoo's data preparation and sampled with the run's seed.
"""

from __future__ import annotations

import contextlib
import functools
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
        "onnx": lambda: write_onnx(serving, target, signature),
    }
    with _quiet_python(), quiet_native_stderr():
        exporters[fmt.name]()


def write_onnx(serving: Any, target: Path, signature: list[Any]) -> None:
    """Convert ``serving`` to ONNX at ``target`` with tf2onnx, as Keras' ONNX export does on
    TensorFlow (tf2onnx's default opset, Keras' numpy 2 fixes for tf2onnx), and:

    - TensorFlow writes exact GELU (``gelu(approximate=False)``, the transformers' default)
      with an ``Erfc`` op that tf2onnx 1.17 cannot convert: it becomes ``1 - Erf(x)``.
    - A tensor the traced function captures that is no variable (KerasHub's position ids,
      attention tables and rotary periods above 128 values) would become a second graph
      input, which no caller could feed: it is written into the graph as an initializer.
    """
    import onnx
    import tensorflow as tf
    import tf2onnx

    _patch_tf2onnx()
    _register_erfc()
    function = tf.function(lambda pixels: serving(pixels, training=False))
    concrete = function.get_concrete_function(*signature)
    proto, _ = tf2onnx.convert.from_function(function, input_signature=signature)
    _fold_captured_inputs(proto, concrete)
    onnx.save(proto, str(target))


def _fold_captured_inputs(proto: Any, concrete: Any) -> None:
    """Graph inputs that are captured constants of ``concrete`` become initializers (or go,
    when tf2onnx folded their value into the graph already and nothing reads them)."""
    import tensorflow as tf
    from onnx import numpy_helper

    own = len(concrete.inputs) - len(concrete.captured_inputs)
    values = {
        placeholder.name: value
        for placeholder, value in zip(concrete.inputs[own:], concrete.captured_inputs, strict=True)
        if value.dtype != tf.resource
    }
    read = {name for node in proto.graph.node for name in node.input}
    for graph_input in list(proto.graph.input):
        value = values.get(graph_input.name)
        if value is None:
            continue
        proto.graph.input.remove(graph_input)
        if graph_input.name in read:
            initializer = numpy_helper.from_array(value.numpy(), graph_input.name)
            proto.graph.initializer.append(initializer)


def _patch_tf2onnx() -> None:
    """Keras' fixes that let tf2onnx 1.17 run with numpy 2 (``Model.export`` applies them
    too; a Keras without them has a tf2onnx that needs none)."""
    try:
        from keras.src.export.tf2onnx_lib import patch_tf2onnx
    except ImportError:
        return
    patch_tf2onnx()


@functools.cache
def _register_erfc() -> None:
    """Teach tf2onnx ``Erfc``, unless it knows it already: ``erfc(x) = 1 - erf(x)``."""
    from tf2onnx import utils
    from tf2onnx.handler import tf_op

    if any("Erfc" in ops for versions in tf_op.get_opsets().values() for ops in versions):
        return

    @tf_op("Erfc")
    class Erfc:
        @classmethod
        def version_9(cls, ctx: Any, node: Any, **kwargs: Any) -> None:  # ONNX Erf: opset 9
            erf = ctx.make_node("Erf", [node.input[0]])
            dtype = utils.map_onnx_to_numpy_type(ctx.get_dtype(node.input[0]))
            one = ctx.make_const(utils.make_name(f"{node.name}_one"), np.array(1, dtype=dtype))
            shapes, dtypes = node.output_shapes, node.output_dtypes
            ctx.remove_node(node.name)
            ctx.make_node(
                "Sub",
                [one.output[0], erf.output[0]],
                outputs=node.output,
                name=node.name,
                shapes=shapes,
                dtypes=dtypes,
            )


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
