"""The serving model: raw pixels in, class probabilities out, the run's scaling inside.

``serving_model(run)`` wraps the trained ``keras.Model`` in a functional model::

    pixels (float32 NHWC, 0..255, any batch) -> the run's scaling (fitted state as constants)
        -> the trained model -> float32 probabilities (two columns for one sigmoid unit)

so an exported graph needs nothing of zoo. Keras' own exporters trace this model; it is
never saved as ``.keras``, so its layers need no registration.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from zoo.serving.formats import INPUT_NAME


class RawPixelScaling(keras.layers.Layer):
    """Applies a zoo scaling object (it works on tf tensors) to float32 pixels 0..255."""

    def __init__(self, scaling: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scaling = scaling

    def call(self, pixels: Any) -> Any:
        return tf.cast(self.scaling(tf.cast(pixels, tf.float32)), tf.float32)

    def compute_output_shape(self, input_shape: Any) -> Any:
        return input_shape


class ClassProbabilities(keras.layers.Layer):
    """float32 probabilities, one column per class (``[1 - p, p]`` for one sigmoid unit)."""

    def call(self, outputs: Any) -> Any:
        probs = tf.cast(outputs, tf.float32)
        if probs.shape[-1] == 1:
            probs = tf.concat([1.0 - probs, probs], axis=-1)
        return probs

    def compute_output_shape(self, input_shape: Any) -> Any:
        units = input_shape[-1]
        return (*input_shape[:-1], 2 if units == 1 else units)


def input_signature(image_shape: tuple[int, int, int]) -> list[Any]:
    """One float32 NHWC input of any batch size, named ``pixels``."""
    return [tf.TensorSpec((None, *image_shape), tf.float32, name=INPUT_NAME)]


def serving_model(model: Any, scaling: Any, image_shape: tuple[int, int, int], name: str) -> Any:
    """The trained ``model`` behind the run's ``scaling``, taking raw pixels."""
    pixels = keras.Input(tuple(image_shape), dtype="float32", name=INPUT_NAME)
    # float32 whatever the global policy: mixed-precision runs compute inside ``model`` only
    scaled = RawPixelScaling(scaling, name="scaling", dtype="float32")(pixels)
    raw = model(scaled, training=False)
    outputs = ClassProbabilities(name="probabilities", dtype="float32")(raw)
    return keras.Model(pixels, outputs, name=f"{name}_serving")
