"""Seeds: one spec seed drives Python's, NumPy's, Keras' and the backend's random sources."""

from __future__ import annotations

import os
import sys
from typing import Any

from zoo.backend import tensorflow_installed
from zoo.errors import Problem, UserError

DETERMINISM_ENV = "ZOO_DETERMINISTIC"  # "0" turns TensorFlow op determinism off


def seed_everything(seed: int, *, deterministic: bool | None = None) -> bool:
    """Seed Python, NumPy, TensorFlow and Keras, and make TF ops deterministic.

    The seed alone gives the same split, data order, augmentation and initial weights; op
    determinism adds bit-identical results, also across a resume. It is on by default: on
    CPU it cost 0-5% per epoch in benchmarks/bench_runner_overhead.py (MLP, the reference
    CNN, ResNet-18 at 32x32; within the noise but for ResNet-18's +2-5%); on GPU it costs
    more (a few cuDNN kernels have no deterministic variant and raise instead), and it runs
    tf.data maps with stateful ops serially; set ``ZOO_DETERMINISTIC=0`` to trade exact
    repeatability for speed. It is a
    process-wide switch that TensorFlow cannot turn off again publicly, so ``False`` only
    leaves it as it is. Returns whether determinism was asked for.
    """
    import keras

    if deterministic is None:
        deterministic = determinism_asked()
    os.environ["PYTHONHASHSEED"] = str(seed)  # for subprocesses (data workers) only
    # python random, numpy, keras' SeedGenerator, tf (when installed) and torch
    keras.utils.set_random_seed(seed)
    if deterministic:
        _deterministic_ops(keras.backend.backend())
    return deterministic


def determinism_asked() -> bool:
    """``$ZOO_DETERMINISTIC``: 1/true/yes/on (the default) or 0/false/no/off; anything else is
    a mistake, never silently "on"."""
    raw = os.environ.get(DETERMINISM_ENV, "1").strip().lower()
    if raw in ("1", "true", "yes", "on", ""):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise UserError(
        [Problem(f"must be 1 or 0 (true/false, yes/no, on/off); got {raw!r}", DETERMINISM_ENV)]
    )


def _deterministic_ops(backend: str) -> None:
    """Each framework's own switch: TensorFlow's (its ops, and tf.data's, on any backend),
    PyTorch's; JAX is deterministic on CPU already (XLA_FLAGS can ask for it on GPU)."""

    if backend == "tensorflow" or ("tensorflow" in sys.modules and tensorflow_installed()):
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    if backend == "torch":
        import torch

        torch.use_deterministic_algorithms(True, warn_only=True)


def random_state() -> dict[str, Any]:
    """Python's, NumPy's and Keras' global random states, JSON-able (for the run's backup).

    With them (and the model's own SeedGenerator states, which the backup keeps with the
    weights) a resumed run draws the same numbers an uninterrupted one would. TensorFlow's
    global ``Generator`` is not among them: op determinism forbids using it unseeded, and
    zoo never seeds it.
    """
    import random

    import numpy as np

    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": [kind, [int(k) for k in keys], int(pos), int(has_gauss), float(cached)],
    }
    generator = _keras_global_seed_generator()
    if generator is not None:
        state["keras"] = np.asarray(generator.state.value).tolist()
    return state


def restore_random_state(state: dict[str, Any]) -> None:
    """Put back what :func:`random_state` saved (keys it lacks are left as they are)."""
    import random

    import numpy as np

    if "python" in state:
        version, internal, gauss = state["python"]
        random.setstate((version, tuple(internal), gauss))
    if "numpy" in state:
        kind, keys, pos, has_gauss, cached = state["numpy"]
        np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    if "keras" in state:
        import keras

        generator = _keras_global_seed_generator(create=True)
        if generator is not None:
            generator.state.assign(keras.ops.convert_to_tensor(state["keras"], dtype="uint32"))


def _keras_global_seed_generator(create: bool = False) -> Any:
    """Keras' global SeedGenerator (unseeded ``keras.random`` calls draw from it), if any.

    Keras keeps it in private global state; a Keras without it simply has nothing to save.
    """
    try:
        from keras.src.backend.common import global_state
        from keras.src.random import seed_generator
    except ImportError:
        return None
    if create:
        return seed_generator.global_seed_generator()
    return global_state.get_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR)
