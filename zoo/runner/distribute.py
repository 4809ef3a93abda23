"""Where a model trains: a tf.distribute strategy from ``training.distribute`` (tensorflow),
``keras.distribution`` from ``runtime.distribution`` (jax), and precision.

The batch size in a spec is global: with a mirrored strategy over N devices each replica
sees ``batch_size / N`` images a step, and Keras splits each batch of the tf.data pipeline.
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from zoo.errors import Problem, UserError
from zoo.spec.sections import DistributeSpec, RuntimeSpec


def clear_keras_session() -> None:
    """Free the previous model's graph and memory before building the next one."""
    import keras

    keras.backend.clear_session()
    gc.collect()


def _device_key(name: str) -> tuple[str, int]:
    import tensorflow as tf

    spec = tf.DeviceSpec.from_string(name if name.startswith("/") else "/" + name)
    return (spec.device_type or "").upper(), int(spec.device_index or 0)


def _check_devices(devices: list[str]) -> list[str]:
    """The devices as given, after checking each exists on this machine."""
    import tensorflow as tf

    available = tf.config.list_logical_devices()
    known = {_device_key(d.name): d.name for d in available}
    problems = []
    for i, name in enumerate(devices):
        try:
            key = _device_key(name)
        except ValueError:
            problems.append(
                Problem(
                    f"not a device name: {name!r} (e.g. '/gpu:0', '/cpu:0')",
                    key_path=f"training.distribute.devices.{i}",
                )
            )
            continue
        if key not in known:
            problems.append(
                Problem(
                    f"no device {name!r} on this machine; available: "
                    + ", ".join(sorted(known.values())),
                    key_path=f"training.distribute.devices.{i}",
                )
            )
    if problems:
        raise UserError(problems)
    return list(devices)


def _check_tf_config() -> None:
    """TF_CONFIG must be JSON, and name one worker: Keras 3's ``fit`` cannot span several.

    With two or more workers ``model.fit`` fails inside Keras (it reduces a data batch
    across workers to build the model, then sums scalar metrics along axis 0): see
    keras-team/keras#20585 and tensorflow/tensorflow#72388, open for Keras 3.0 to 3.15.
    """
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return
    key = "training.distribute.strategy"
    try:
        config = json.loads(raw)
        cluster = config.get("cluster", {})
        tasks = sum(len(cluster.get(role, [])) for role in ("chief", "worker"))
    except (ValueError, AttributeError, TypeError) as exc:
        raise UserError(
            [Problem(f"TF_CONFIG is not a valid cluster description: {exc}", key_path=key)]
        ) from None
    if tasks > 1:
        raise UserError(
            [
                Problem(
                    f"TF_CONFIG names {tasks} workers, but Keras 3's model.fit cannot train across "
                    "workers (keras-team/keras#20585); use strategy: mirrored on one machine's "
                    "GPUs",
                    key_path=key,
                )
            ]
        )


class KerasDistribution:
    """What the runner needs of a strategy on the jax and torch backends: a scope (nothing
    to enter: ``keras.distribution`` is global) and the number of replicas."""

    def __init__(
        self, replicas: int = 1, distribution: Any = None, processes: int = 1, process_id: int = 0
    ) -> None:
        self.num_replicas_in_sync = replicas
        self.distribution = distribution
        self.processes, self.process_id = processes, process_id  # hosts of a multi-host run

    def scope(self) -> Any:
        return nullcontext()

    def close(self) -> None:
        """Forget the global distribution, so a later run in this process starts clean."""
        if self.distribution is not None:
            import keras

            keras.distribution.set_distribution(None)


def initialize_hosts(runtime: RuntimeSpec) -> int:
    """Join a multi-host JAX run when the KERAS_DISTRIBUTION_* variables describe one
    (``keras.distribution.initialize`` -> ``jax.distributed.initialize``; it must run before
    JAX computes anything). Returns this process's index (0 on one host)."""
    if getattr(runtime, "distribution", "none") != "data_parallel":
        return 0
    processes = os.environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES", "").strip()
    if not processes or processes == "1":
        return 0
    import jax
    import keras

    # CPU devices of several hosts talk gloo (the setting leaves GPU/TPU collectives alone);
    # nothing may ask JAX for its devices before initialize.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        with _stdout_to_stderr():  # gloo greets its peers on stdout; stdout is for results
            keras.distribution.initialize()
            jax.devices()  # connect now, inside the redirect
    except (RuntimeError, ValueError) as exc:
        raise UserError(
            [
                Problem(
                    f"could not join the multi-host run ({exc}); check "
                    "KERAS_DISTRIBUTION_JOB_ADDRESSES "
                    "(the coordinator's host:port), KERAS_DISTRIBUTION_NUM_PROCESSES and "
                    "KERAS_DISTRIBUTION_PROCESS_ID",
                    key_path="runtime.distribution",
                )
            ]
        ) from None
    return int(jax.process_index())


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """File descriptor 1 points at 2 inside (C++ libraries write to the descriptor)."""
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def make_strategy(distribute: DistributeSpec, runtime: RuntimeSpec | None = None) -> Any:
    """The ``tf.distribute.Strategy`` a spec's ``training.distribute`` section asks for on
    the tensorflow backend; on jax and torch a :class:`KerasDistribution` (``runtime.
    distribution: data_parallel``: ``keras.distribution.DataParallel`` over every device of
    every host).

    ``multi_worker`` reads TF_CONFIG; without it, it runs as a single worker.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        if getattr(runtime, "distribution", "none") != "data_parallel":
            return KerasDistribution()
        import jax

        devices = keras.distribution.list_devices()
        processes = int(jax.process_count())
        # On several hosts each process reads and feeds only its rows of every batch
        # (zoo.data.hosts), so Keras need not re-shard a tf.data stream it cannot size.
        parallel = keras.distribution.DataParallel(
            devices=devices, auto_shard_dataset=processes == 1
        )
        keras.distribution.set_distribution(parallel)
        return KerasDistribution(len(devices), parallel, processes, int(jax.process_index()))
    import tensorflow as tf

    devices = _check_devices(distribute.devices) if distribute.devices else None
    if distribute.strategy == "mirrored":
        return tf.distribute.MirroredStrategy(devices=devices)
    if distribute.strategy == "multi_worker":
        _check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    if devices:
        if len(devices) > 1:
            raise UserError(
                [
                    Problem(
                        "the default strategy runs on one device; use strategy: "
                        "mirrored for several",
                        key_path="training.distribute.devices",
                    )
                ]
            )
        return tf.distribute.OneDeviceStrategy(devices[0])
    return tf.distribute.get_strategy()


@contextmanager
def precision(mixed: bool) -> Iterator[None]:
    """Build (and train) under ``mixed_float16`` when asked; the old policy comes back after."""
    if not mixed:
        yield
        return
    import keras

    old = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(old)


def float32_outputs(model: Any) -> Any:
    """A functional model whose outputs are float32 (softmax in float16 loses precision)."""
    import keras

    outputs = model.outputs if isinstance(model.outputs, list) else [model.outputs]
    if all(o.dtype == "float32" for o in outputs):
        return model
    cast = [
        keras.layers.Activation("linear", dtype="float32", name=f"float32_output_{i}")(o)
        for i, o in enumerate(outputs)
    ]
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    return keras.Model(inputs, cast[0] if len(cast) == 1 else cast, name=model.name)
