"""What a spec's options need from the backend and input pipeline it will run on.

Run by ``load_spec`` (so by ``zoo validate``) without importing Keras or any backend: a spec
that asks for a tf.distribute strategy on JAX, in-graph augmentation without tf.data, or a
backend that is not installed fails here, located, instead of minutes into a run.
"""

from __future__ import annotations

from zoo.backend import INSTALL_HINT, input_pipeline, installed, requested, tensorflow_installed
from zoo.errors import Problem
from zoo.spec.sections import SpecBase


def runtime_problems(spec: SpecBase) -> list[Problem]:
    """One problem per option the spec's backend or input pipeline cannot honour."""
    runtime = spec.runtime
    backend = requested(runtime.backend)
    key = "runtime.backend"
    problems: list[Problem] = []
    if not installed(backend):
        where = "" if runtime.backend else " ($KERAS_BACKEND or the default)"
        problems.append(
            Problem(
                f"backend '{backend}'{where} is not installed; {INSTALL_HINT[backend]}",
                key_path=key,
            )
        )
    tf = tensorflow_installed()
    if runtime.input == "tf_data" and not tf:
        problems.append(
            Problem(
                "input tf_data needs TensorFlow, which is not installed; use input: py_dataset "
                f"(or auto), or {INSTALL_HINT['tensorflow']}",
                key_path="runtime.input",
            )
        )
    pipeline = input_pipeline(runtime.input)
    augmentation = getattr(spec, "augmentation", None)
    if (
        augmentation is not None
        and getattr(augmentation, "path", "auto") == "graph"
        and pipeline != "tf_data"
    ):
        problems.append(
            Problem(
                "path: graph runs TensorFlow ops inside tf.data, but this spec's input is "
                f"{pipeline}; use path: auto or python, or runtime.input: tf_data",
                key_path="augmentation.path",
            )
        )
    distribute = spec.training.distribute
    if backend != "tensorflow" and distribute.strategy != "default":
        problems.append(
            Problem(
                f"strategy {distribute.strategy} is a tf.distribute strategy: it needs the "
                f"tensorflow backend, not {backend}"
                + ("; use runtime.distribution: data_parallel" if backend == "jax" else ""),
                key_path="training.distribute.strategy",
            )
        )
    if backend != "tensorflow" and distribute.devices:
        problems.append(
            Problem(
                f"devices name TensorFlow devices: they need the tensorflow backend, not {backend}",
                key_path="training.distribute.devices",
            )
        )
    if runtime.distribution == "data_parallel" and backend != "jax":
        hint = (
            "use training.distribute.strategy: mirrored"
            if backend == "tensorflow"
            else "use backend: jax"
        )
        problems.append(
            Problem(
                f"data_parallel is Keras' JAX distribution API; the {backend} backend does not "
                f"support it: {hint}",
                key_path="runtime.distribution",
            )
        )
    for i, callback in enumerate(getattr(spec, "callbacks", [])):
        if getattr(callback, "type", None) == "tensorboard" and not tf:
            problems.append(
                Problem(
                    "the tensorboard callback writes with TensorFlow, which is not installed; "
                    f"remove it or {INSTALL_HINT['tensorflow']}",
                    key_path=f"callbacks[{i}].type",
                )
            )
    return problems
