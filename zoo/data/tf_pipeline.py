"""The tf.data input pipeline: :class:`PreparedData` in, batched :class:`Pipelines` out
(the default wherever TensorFlow is installed, for every Keras backend; ``runtime.input:
py_dataset`` or a machine without TensorFlow takes :mod:`zoo.data.py_pipeline` instead;
:func:`zoo.data.pipeline.build_pipelines` chooses).

Per split::

    indices:    range(n) -> [shuffle] -> batch -> [this host's rows of each batch]
    decoded:    gather images (NumPy, from the array or the disk cache's memory map) and
                labels, one call a batch
    files:      unbatch -> decode (parallel, zoo.images.read_image) -> batch again
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
- In a run over several hosts (a :class:`~zoo.data.hosts.HostShare`), the indices of each
  global batch are cut to this host's rows before anything is gathered or decoded, and a
  third part marks each row real (1.0) or padding (0.0).
- With ``data.cache: false`` the sets hold file paths: each epoch decodes them again (in
  parallel) instead of keeping every decoded image in memory, which is what that setting
  asks for.

TensorFlow is imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from zoo.data.hosts import HostShare
from zoo.data.order import batch_seeds, stream_seed, training_order
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
    share: HostShare | None = None,
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
    shape = prepared.image_shape

    def split(image_set: ImageSet | None, training: bool, mine: HostShare | None) -> Any:
        if image_set is None:
            return None
        epoch = first_epoch if training else None
        ds = _batches(tf, image_set, shape, spec, batch, seed, training, epoch, mine)
        steps = math.ceil(len(image_set) / batch)
        host = mine.index if mine is not None else None
        if training and graph is not None:
            ds = _augment_graph(tf, ds, graph, shape, seed, epoch, steps, host)
        if training and augmenter is not None:
            hosts = mine.hosts if mine is not None else 1
            workers = augment_workers_for(spec, len(image_set) // hosts, augment_workers)
            ds = _augment(tf, ds, augmenter, shape, seed, workers, epoch, steps, host)
        ds = ds.map(
            lambda x, *rest: (scaling(tf.cast(x, tf.float32)), *rest),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        options = tf.data.Options()
        options.deterministic = True
        return ds.with_options(options).prefetch(tf.data.AUTOTUNE)

    return Pipelines(
        train=split(prepared.train, True, share),
        validation=split(prepared.validation, False, None),
        test=split(prepared.test, False, None),
        scaling=scaling,
        steps_per_epoch=max(1, math.ceil(len(prepared.train) / batch)),
        validation_share=split(prepared.validation, False, share) if share else None,
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
    share: HostShare | None = None,
) -> Any:
    """uint8 NHWC batches with int64 labels, shuffled (seeded, every epoch) when asked;
    with ``first_epoch``, epoch after epoch from that one (see :func:`build_pipelines`).
    With ``share``, only this host's rows of each batch are read, and each batch carries a
    third part: 1.0 for a real row, 0.0 for padding (:class:`zoo.data.hosts.HostShare`)."""
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

    def host_rows(idx: Any) -> tuple[Any, ...]:
        if share is None:
            return (idx,)
        positions, real = share.tf_rows(tf, tf.size(idx, out_type=tf.int64))
        return tf.gather(idx, positions), real

    if image_set.images is not None:
        source = image_set.images  # an array, or rows of the disk cache's memory map

        def gather(idx: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(source[idx], dtype=np.uint8)

        def take(idx: Any, *real: Any) -> tuple[Any, ...]:
            # Gathered by NumPy, not from a tf.constant: that would hold a second copy of
            # the pixels (and read a memory-mapped cache whole).
            batch = tf.numpy_function(gather, [idx], tf.uint8, stateful=False)
            batch.set_shape((None, *shape))
            return (batch, tf.gather(labels, idx), *real)

        def read(indices: Any) -> Any:
            rows = indices.batch(batch).map(host_rows)
            return rows.map(take, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)

    else:
        data = spec.data
        size, channels = (int(shape[0]), int(shape[1])), int(shape[2])
        paths = tf.constant([str(p) for p in image_set.paths or []])
        part = share.part(batch) if share is not None else batch

        def decode(path: bytes) -> np.ndarray:
            return read_image(path.decode("utf-8"), size, channels, data.resize)

        def load(i: Any, *real: Any) -> tuple[Any, ...]:
            image = tf.numpy_function(decode, [tf.gather(paths, i)], tf.uint8, stateful=False)
            image.set_shape(shape)
            return (image, tf.gather(labels, i), *real)

        def read(indices: Any) -> Any:
            # Rows are picked a batch at a time (a host's rows of each global batch), then
            # decoded one file per call in parallel and batched again: all but the last
            # batch of a pass have `part` rows.
            rows = indices.batch(batch).map(host_rows).unbatch()
            rows = rows.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            return rows.batch(part)

    if epochs:
        return _per_epoch(tf, first_epoch, lambda e: read(order(e)))
    indices = tf.data.Dataset.range(n)
    if shuffle:
        indices = indices.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    return read(indices)


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
    host: int | None = None,
) -> Any:
    """Augment uint8 batches in parallel; a seed per batch keeps seeded runs repeatable
    (with ``first_epoch``, ``steps`` seeds per epoch drawn from (seed, epoch); ``host``:
    the seeds of that host's rows in a run over several hosts)."""
    augment, parallel = batch_augmenter(augmenter, workers)

    def run(images: np.ndarray, batch_seed: np.int64) -> np.ndarray:
        return augment(images, int(batch_seed))

    def apply(batch: tuple[Any, ...], batch_seed: Any) -> tuple[Any, ...]:
        images, *rest = batch
        out = tf.numpy_function(run, [images, batch_seed], tf.uint8, stateful=True)
        out.set_shape((None, *shape))
        return (out, *rest)

    seeds = _batch_seeds(tf, seed, first_epoch, steps, host)
    return tf.data.Dataset.zip((ds, seeds)).map(
        apply,
        num_parallel_calls=tf.data.AUTOTUNE if parallel is None else parallel,
        deterministic=True,
    )


def _batch_seeds(
    tf: Any, seed: int, first_epoch: int | None, steps: int, host: int | None = None
) -> Any:
    """One int64 seed per batch: a seeded stream, or ``steps`` per epoch from (seed, epoch)
    (zoo.data.order.batch_seeds, the seeds the PyDataset path uses too)."""
    if first_epoch is None:
        return tf.data.Dataset.random(seed=stream_seed(seed, host), rerandomize_each_iteration=True)

    def epoch_seeds(epoch: Any) -> Any:
        def draw(e: np.int64) -> np.ndarray:
            return batch_seeds(seed, int(e), steps, host)

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
    host: int | None = None,
) -> Any:
    """Augment batches with a recipe's ``graph`` function: float32 0..255 in and out, TF ops
    only, seeded per batch like :func:`_augment` (the same seed gives the same batches)."""
    who = getattr(graph, "zoo_owner", "the graph augmentation")

    def apply(batch: tuple[Any, ...], batch_seed: Any) -> tuple[Any, ...]:
        images, *rest = batch
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
        return (out, *rest)

    return tf.data.Dataset.zip((ds, _batch_seeds(tf, seed, first_epoch, steps, host))).map(
        apply, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )
