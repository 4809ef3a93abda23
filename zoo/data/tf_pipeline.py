"""The tf.data input pipeline: :class:`PreparedData` in, batched :class:`Pipelines` out
(the default wherever TensorFlow is installed, for every Keras backend; ``runtime.input:
py_dataset`` or a machine without TensorFlow takes :mod:`zoo.data.py_pipeline` instead;
:func:`zoo.data.pipeline.build_pipelines` chooses).

Per split::

    decoded:    range(n) -> [shuffle] -> batch -> gather images (NumPy, from the array or
                the disk cache's memory map) and labels, one call a batch
    files:      (path, label) -> [shuffle] -> decode (parallel, zoo.images.read_image)
                -> batch
    then:       [augment, training split only] -> cast float32 -> scale -> prefetch

- Shuffling (training split only) is seeded by the spec's seed and differs every epoch;
  the same seed gives the same order of epochs in every run, and on both pipelines
  (:mod:`zoo.data.order` draws it, and each batch's augmentation seed).
- Augmentation, when the recipe declares the ``graph`` capability (and the spec does not say
  ``augmentation.path: python``), is that function of the whole float32 batch and a per-batch
  seed: TensorFlow ops in a parallel map, no Python per image
  (:func:`zoo.data.recipes.make_graph_augment`).
  Otherwise it runs the recipe's augmenter on whole uint8 batches in a ``tf.numpy_function``
  inside a parallel map (``deterministic=True``), while TensorFlow gathers, scales and trains
  on the other cores. albumentations is mostly Python, so threads of one process share one
  core (the GIL); for runs that augment many images (``WORKER_MIN_IMAGES``) the batches go
  to worker processes (:class:`~zoo.data.workers.WorkerPool`, one per CPU) instead. Each
  batch gets its own seed from a seeded ``Dataset.random`` stream, so a seeded run repeats
  exactly whatever thread or process ran which batch.
- Scaling runs once per batch on the whole tensor, after batching; the scaling recipe is
  fitted on the (unaugmented) training images first, and its ``state()`` goes into the run
  record, so prediction scales exactly like training.
- With ``data.cache: false`` the sets hold file paths: each epoch decodes them again (in
  parallel) instead of keeping every decoded image in memory, which is what that setting
  asks for.

TensorFlow is imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from zoo.data.order import batch_seeds, training_order
from zoo.data.prepared import Pipelines, PreparedData
from zoo.data.recipes import (
    GraphAugmentFn,
    augment_workers_for,
    batch_augmenter,
    fitted_scaling,
    make_augmenter,
    make_graph_augment,
)
from zoo.errors import PluginContractError
from zoo.images import read_image
from zoo.plugin.contracts import Augmenter
from zoo.plugin.source import ImageSet
from zoo.spec.loader import LoadedSpec
from zoo.spec.sections import SpecBase


def build_tf_pipelines(
    prepared: PreparedData,
    loaded: LoadedSpec,
    *,
    batch_size: int | None = None,
    scaling_state: dict[str, Any] | None = None,
    augment_workers: int | None = None,
    first_epoch: int | None = None,
) -> Pipelines:
    """tf.data :class:`Pipelines`; the arguments are those of
    :func:`zoo.data.pipeline.build_pipelines`."""
    import tensorflow as tf

    spec = loaded.spec
    batch = int(batch_size or spec.training.batch_size)
    seed = int(spec.seed)
    scaling = fitted_scaling(prepared, loaded, scaling_state)
    graph = make_graph_augment(loaded, prepared.image_shape)
    augmenter = make_augmenter(loaded, prepared.image_shape) if graph is None else None

    def split(image_set: ImageSet | None, training: bool) -> Any:
        if image_set is None:
            return None
        epoch = first_epoch if training else None
        ds = _batches(tf, image_set, prepared.image_shape, spec, batch, seed, training, epoch)
        if training and graph is not None:
            steps = math.ceil(len(image_set) / batch)
            ds = _augment_graph(tf, ds, graph, prepared.image_shape, seed, epoch, steps)
        if training and augmenter is not None:
            workers = augment_workers_for(spec, len(image_set), augment_workers)
            steps = math.ceil(len(image_set) / batch)
            ds = _augment(tf, ds, augmenter, prepared.image_shape, seed, workers, epoch, steps)
        ds = ds.map(
            lambda x, y: (scaling(tf.cast(x, tf.float32)), y),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        options = tf.data.Options()
        options.deterministic = True
        return ds.with_options(options).prefetch(tf.data.AUTOTUNE)

    return Pipelines(
        train=split(prepared.train, True),
        validation=split(prepared.validation, False),
        test=split(prepared.test, False),
        scaling=scaling,
        steps_per_epoch=max(1, math.ceil(len(prepared.train) / batch)),
    )


def _batches(
    tf: Any,
    image_set: ImageSet,
    shape: tuple[int, int, int],
    spec: SpecBase,
    batch: int,
    seed: int,
    shuffle: bool,
    first_epoch: int | None = None,
) -> Any:
    """uint8 NHWC batches with int64 labels, shuffled (seeded, every epoch) when asked;
    with ``first_epoch``, epoch after epoch from that one (see :func:`build_pipelines`)."""
    n = len(image_set)
    buffer = max(1, min(int(spec.training.shuffle_buffer), n))
    labels = tf.constant(np.asarray(image_set.labels, dtype=np.int64))
    epochs = shuffle and first_epoch is not None

    sampler = spec.training.sampler
    train_labels = np.asarray(image_set.labels, dtype=np.int64)

    def order(epoch: Any) -> Any:
        """This epoch's indices, drawn by zoo.data.order (the PyDataset path draws the same)."""

        def draw(e: np.int64) -> np.ndarray:
            return training_order(train_labels, buffer, seed, int(e), sampler)

        indices = tf.numpy_function(draw, [epoch], tf.int64, stateful=False)
        indices.set_shape((n,))
        return tf.data.Dataset.from_tensor_slices(indices)

    if image_set.images is not None:
        source = image_set.images  # an array, or rows of the disk cache's memory map

        def gather(idx: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(source[idx], dtype=np.uint8)

        def take(idx: Any) -> tuple[Any, Any]:
            # Gathered by NumPy, not from a tf.constant: that would hold a second copy of
            # the pixels (and read a memory-mapped cache whole).
            batch = tf.numpy_function(gather, [idx], tf.uint8, stateful=False)
            batch.set_shape((None, *shape))
            return batch, tf.gather(labels, idx)

        if epochs:
            ds = _per_epoch(tf, first_epoch, lambda e: order(e).batch(batch))
        else:
            ds = tf.data.Dataset.range(n)
            if shuffle:
                ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
            ds = ds.batch(batch)
        return ds.map(take, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    data = spec.data
    size, channels = (int(shape[0]), int(shape[1])), int(shape[2])

    def decode(path: bytes) -> np.ndarray:
        return read_image(path.decode("utf-8"), size, channels, data.resize)

    def load(path: Any, label: Any) -> tuple[Any, Any]:
        image = tf.numpy_function(decode, [path], tf.uint8, stateful=False)
        image.set_shape(shape)
        return image, label

    paths = tf.constant([str(p) for p in image_set.paths or []])
    if epochs:
        return _per_epoch(
            tf,
            first_epoch,
            lambda e: (
                order(e)
                .map(lambda i: (tf.gather(paths, i), tf.gather(labels, i)))
                .map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
                .batch(batch)
            ),
        )
    ds = tf.data.Dataset.from_tensor_slices((paths, labels))
    if shuffle:
        ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return ds.batch(batch)


def _per_epoch(tf: Any, first_epoch: int | None, make: Any) -> Any:
    """``make(epoch)`` for epochs ``first_epoch``, ``first_epoch + 1``... one after another."""

    def one(epoch: Any) -> Any:
        # Seeds from (seed, epoch) alone, not from TensorFlow's global seed, which would also
        # make a seed of 0 fail (tf.random's get_seed compares a tensor with 0).
        tf.compat.v1.get_default_graph().seed = None
        return make(epoch)

    return tf.data.Dataset.counter(int(first_epoch or 0)).flat_map(one)


def _augment(
    tf: Any,
    ds: Any,
    augmenter: Augmenter,
    shape: tuple[int, int, int],
    seed: int,
    workers: int | None,
    first_epoch: int | None = None,
    steps: int = 1,
) -> Any:
    """Augment uint8 batches in parallel; a seed per batch keeps seeded runs repeatable
    (with ``first_epoch``, ``steps`` seeds per epoch drawn from (seed, epoch))."""
    augment, parallel = batch_augmenter(augmenter, workers)

    def run(images: np.ndarray, batch_seed: np.int64) -> np.ndarray:
        return augment(images, int(batch_seed))

    def apply(batch: tuple[Any, Any], batch_seed: Any) -> tuple[Any, Any]:
        images, labels = batch
        out = tf.numpy_function(run, [images, batch_seed], tf.uint8, stateful=True)
        out.set_shape((None, *shape))
        return out, labels

    seeds = _batch_seeds(tf, seed, first_epoch, steps)
    return tf.data.Dataset.zip((ds, seeds)).map(
        apply,
        num_parallel_calls=tf.data.AUTOTUNE if parallel is None else parallel,
        deterministic=True,
    )


def _batch_seeds(tf: Any, seed: int, first_epoch: int | None, steps: int) -> Any:
    """One int64 seed per batch: a seeded stream, or ``steps`` per epoch from (seed, epoch)
    (zoo.data.order.batch_seeds, the seeds the PyDataset path uses too)."""
    if first_epoch is None:
        return tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)

    def epoch_seeds(epoch: Any) -> Any:
        def draw(e: np.int64) -> np.ndarray:
            return batch_seeds(seed, int(e), steps)

        seeds = tf.numpy_function(draw, [epoch], tf.int64, stateful=False)
        seeds.set_shape((steps,))
        return tf.data.Dataset.from_tensor_slices(seeds)

    return _per_epoch(tf, first_epoch, epoch_seeds)


def _augment_graph(
    tf: Any,
    ds: Any,
    graph: GraphAugmentFn,
    shape: tuple[int, int, int],
    seed: int,
    first_epoch: int | None = None,
    steps: int = 1,
) -> Any:
    """Augment batches with a recipe's ``graph`` function: float32 0..255 in and out, TF ops
    only, seeded per batch like :func:`_augment` (the same seed gives the same batches)."""
    who = getattr(graph, "zoo_owner", "the graph augmentation")

    def apply(batch: tuple[Any, Any], batch_seed: Any) -> tuple[Any, Any]:
        images, labels = batch
        pixels = tf.cast(images, tf.float32)
        out = graph(pixels, tf.stack([batch_seed, tf.constant(seed, tf.int64)]))
        if getattr(out, "dtype", None) != tf.float32 or not out.shape.is_compatible_with(
            pixels.shape
        ):
            raise PluginContractError(
                f"{who} broke the contract: its graph function must return float32 pixels of "
                f"the batch's shape {pixels.shape}, got {getattr(out, 'shape', None)} "
                f"{getattr(out, 'dtype', type(out).__name__)}"
            )
        out.set_shape((None, *shape))
        return out, labels

    return tf.data.Dataset.zip((ds, _batch_seeds(tf, seed, first_epoch, steps))).map(
        apply, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
