"""Seeds: one spec seed drives Python's, NumPy's and TensorFlow's random sources."""

from __future__ import annotations

import os

DETERMINISM_ENV = "ZOO_DETERMINISTIC"  # "0" turns TensorFlow op determinism off


def seed_everything(seed: int, *, deterministic: bool | None = None) -> bool:
    """Seed Python, NumPy, TensorFlow and Keras, and make TF ops deterministic.

    Op determinism costs little on CPU and some speed on GPU (a few cuDNN kernels have no
    deterministic variant and raise instead), and it runs tf.data maps with stateful ops
    serially; set ``ZOO_DETERMINISTIC=0`` to trade exact repeatability for speed. It is a
    process-wide switch that TensorFlow cannot turn off again publicly, so ``False`` only
    leaves it as it is. Returns whether determinism was asked for.
    """
    import keras
    import tensorflow as tf

    if deterministic is None:
        deterministic = os.environ.get(DETERMINISM_ENV, "1") != "0"
    os.environ["PYTHONHASHSEED"] = str(seed)  # for subprocesses (data workers) only
    keras.utils.set_random_seed(seed)  # python random, numpy, tf, keras SeedGenerator
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    return deterministic
