"""Each export format run by its own runtime, behind one call: float32 pixels -> outputs.

- SavedModel: ``tf.saved_model.load`` and its ``serving_default`` signature.
- TFLite: ``ai_edge_litert``'s interpreter when installed, else ``tf.lite.Interpreter``
  (its deprecation warning silenced); the batch dimension is resized per call, and
  quantized inputs/outputs are (de)quantized with the tensor's own parameters.
- ONNX: an ``onnxruntime.InferenceSession`` on the CPU.

This is what ``zoo predict`` uses on an export, so a user checks an export with the runtime
that will serve it, not with Keras.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import Problem, UserError
from zoo.serving.formats import ExportFormat, check_runtime_deps


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Hide what TF/TFLite's C++ code writes to stderr (absl logs, delegate notices);
    replay it if the block fails, so a real error is not lost. ``ZOO_DEBUG=1`` shows it."""
    if os.environ.get("ZOO_DEBUG"):
        yield
        return
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), fd)
        failed = True
        try:
            yield
            failed = False
        finally:
            sys.stderr.flush()
            os.dup2(saved, fd)
            os.close(saved)
            if failed:
                sink.seek(0)
                sys.stderr.write(sink.read().decode("utf-8", "replace"))


class Runtime:
    """One loaded artifact: ``runtime(x)`` maps a float32 NHWC batch to its first output."""

    format: str
    engine: str
    input_name: str
    output_name: str
    input_shape: tuple[int | None, ...]

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class SavedModelRuntime(Runtime):
    format, engine = "savedmodel", "tensorflow"

    def __init__(self, path: Path) -> None:
        import tensorflow as tf

        self._tf = tf
        with quiet_native_stderr():
            self._loaded = tf.saved_model.load(str(path))
        signatures = dict(self._loaded.signatures)
        if "serving_default" not in signatures:
            raise UserError([Problem("the SavedModel has no serving_default signature", str(path))])
        self._fn = signatures["serving_default"]
        _, inputs = self._fn.structured_input_signature
        if len(inputs) != 1:
            raise UserError(
                [Problem(f"expected one image input; the model has {len(inputs)}", str(path))]
            )
        [(self.input_name, spec)] = inputs.items()
        self.input_shape = tuple(spec.shape.as_list())
        self.output_name = sorted(self._fn.structured_outputs)[0]

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        out = self._fn(**{self.input_name: self._tf.constant(pixels, self._tf.float32)})
        return np.asarray(out[self.output_name])


def tflite_interpreter(path: Path) -> tuple[Any, str]:
    """An interpreter for ``path`` and the package it came from."""
    try:
        from ai_edge_litert.interpreter import Interpreter

        engine = "ai_edge_litert"
    except ImportError:
        import tensorflow as tf

        Interpreter, engine = tf.lite.Interpreter, "tf.lite"
    with warnings.catch_warnings(), quiet_native_stderr():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter: deprecated for ai_edge_litert
        return Interpreter(model_path=str(path), num_threads=usable_cpus()), engine


def usable_cpus() -> int:
    """CPUs this process may run on (the interpreter's default is one thread)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class TFLiteRuntime(Runtime):
    format = "tflite"

    def __init__(self, path: Path) -> None:
        self._interpreter, self.engine = tflite_interpreter(path)
        inputs = self._interpreter.get_input_details()
        outputs = self._interpreter.get_output_details()
        if len(inputs) != 1:
            raise UserError(
                [Problem(f"expected one image input; the model has {len(inputs)}", str(path))]
            )
        self._input, self._output = inputs[0], outputs[0]
        self.input_name, self.output_name = self._input["name"], self._output["name"]
        signature = self._input.get("shape_signature", self._input["shape"])
        self.input_shape = tuple(None if d < 0 else int(d) for d in signature)
        self._batch = -1

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        it = self._interpreter
        if len(pixels) != self._batch:
            it.resize_tensor_input(self._input["index"], [len(pixels), *pixels.shape[1:]])
            with quiet_native_stderr():
                it.allocate_tensors()
            self._batch = len(pixels)
        it.set_tensor(self._input["index"], _quantize(pixels, self._input))
        it.invoke()
        return _dequantize(it.get_tensor(self._output["index"]), self._output)


def _quantize(x: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    dtype = detail["dtype"]
    scale, zero = detail.get("quantization", (0.0, 0))
    if np.issubdtype(dtype, np.integer) and scale:
        info = np.iinfo(dtype)
        return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)
    return np.asarray(x, dtype=dtype)


def _dequantize(y: np.ndarray, detail: dict[str, Any]) -> np.ndarray:
    scale, zero = detail.get("quantization", (0.0, 0))
    if np.issubdtype(y.dtype, np.integer) and scale:
        return (y.astype(np.float32) - zero) * scale
    return np.asarray(y, dtype=np.float32)


class OnnxRuntime(Runtime):
    format, engine = "onnx", "onnxruntime"

    def __init__(self, path: Path) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        self._session = ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        inputs = self._session.get_inputs()
        if len(inputs) != 1:
            raise UserError(
                [Problem(f"expected one image input; the model has {len(inputs)}", str(path))]
            )
        self.input_name = inputs[0].name
        self.output_name = self._session.get_outputs()[0].name
        self.input_shape = tuple(d if isinstance(d, int) else None for d in inputs[0].shape)

    def __call__(self, pixels: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(pixels, dtype=np.float32)
        return np.asarray(self._session.run([self.output_name], {self.input_name: x})[0])


RUNTIMES: dict[str, Callable[[Path], Runtime]] = {
    "savedmodel": SavedModelRuntime,
    "tflite": TFLiteRuntime,
    "onnx": OnnxRuntime,
}


def open_runtime(fmt: ExportFormat, artifact: Path) -> Runtime:
    """Load ``artifact`` with its format's runtime; a missing runtime names the pip extra."""
    check_runtime_deps(fmt)
    if not artifact.exists():
        raise UserError([Problem("the exported model is missing", str(artifact))])
    try:
        return RUNTIMES[fmt.name](artifact)
    except UserError:
        raise
    except Exception as exc:  # a damaged or foreign file: say so in one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            [Problem(f"cannot load the {fmt.name} model: {first}", str(artifact))]
        ) from None
