"""The tf.data input pipeline: :class:`PreparedData` in, batched :class:`Pipelines` out
(the default wherever TensorFlow is installed, for every Keras backend; ``runtime.input:
py_dataset`` or a machine without TensorFlow takes :mod:`zoo.data.py_pipeline` instead).

Per split::

    in memory:  range(n) -> [shuffle] -> batch -> gather images and labels (one op a batch)
    files:      (path, label) -> [shuffle] -> decode (parallel, zoo.data.images.read_image)
                -> batch
    then:       [augment, training split only] -> cast float32 -> scale -> prefetch

- Shuffling (training split only) is seeded by the spec's seed and differs every epoch;
  the same seed gives the same order of epochs in every run, and on both pipelines
  (:mod:`zoo.data.order` draws it, and each batch's augmentation seed).
- Augmentation, when the recipe declares the ``graph`` capability (and the spec does not say
  ``augmentation.path: python``), is that function of the whole float32 batch and a per-batch
  seed: TensorFlow ops in a parallel map, no Python per image (:func:`make_graph_augment`).
  Otherwise it runs the recipe's augmenter on whole uint8 batches in a ``tf.numpy_function``
  inside a parallel map (``deterministic=True``), while TensorFlow gathers, scales and trains
  on the other cores. albumentations is mostly Python, so threads of one process share one
  core (the GIL); for runs that augment many images (``WORKER_MIN_IMAGES``) the batches go
  to worker processes (:class:`~zoo.data.workers.WorkerPool`, one per CPU) instead. Each
  batch gets its own seed from a seeded ``Dataset.random`` stream, so a seeded run repeats
  exactly whatever thread or process ran which batch.
- Scaling runs once per batch on the whole tensor, after batching; the scaling recipe is
  fitted on the (unaugmented) training images first, and its ``state()`` is what
  :func:`scale_for_predict` gets back at predict time.
- With ``data.cache: false`` the sets hold file paths: each epoch decodes them again (in
  parallel) instead of keeping every decoded image in memory, which is what that setting
  asks for.

TensorFlow is imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from zoo.backend import input_pipeline
from zoo.contracts import AugmentContext
from zoo.data.order import batch_seeds, training_order
from zoo.data.prepared import Pipelines, PreparedData
from zoo.data.source import ImageSet
from zoo.data.workers import WORKERS_ENV, WorkerPool
from zoo.errors import PluginContractError, Problem, UserError
from zoo.registry import Registry
from zoo.spec.sections import GRAPH_MAX_CPU_SIDE

FIT_BATCH = 256  # images decoded at a time when a scaling recipe is fitted on files
WORKER_MIN_IMAGES = 50_000  # augmented images (per run) from which worker processes pay off


def _spec_model(spec: Any) -> Any:
    inner = getattr(spec, "spec", None)
    return inner if inner is not None and hasattr(inner, "data") else spec


def _registry(registry: Registry | None) -> Registry:
    if registry is not None:
        return registry
    from zoo.plugin_manager import default_registry

    return default_registry()


def _section(section: Any, registry: Registry, recipe_type: str) -> tuple[Any, Any]:
    """(entry, validated params) of a spec section given as a model or as plain data."""
    if isinstance(section, dict):
        entry = registry.get(section["recipe"], "recipe", recipe_type)  # type: ignore[arg-type]
        return entry, entry.params.model_validate(section.get("params") or {})
    entry = registry.get(section.recipe, "recipe", recipe_type)  # type: ignore[arg-type]
    return entry, section.params


def make_scaling(section: Any, registry: Registry | None = None, state: dict | None = None) -> Any:
    """The :class:`zoo.Scaling` of a spec's ``scaling`` section (restored from ``state``)."""
    entry, params = _section(section, _registry(registry), "scaling")
    scaling = entry.factory(params, state)
    missing = [m for m in ("fit", "state") if not callable(getattr(scaling, m, None))]
    if missing or not callable(scaling):
        raise PluginContractError(
            f"scaling recipe '{entry.name}' of {entry.owner} broke the contract: its factory "
            f"must return a zoo.plugin.Scaling (callable, with fit() and state()); "
            f"{type(scaling).__name__} lacks {', '.join(missing) or '__call__'}")
    return scaling


def make_augmenter(
    section: Any, registry: Registry | None, image_shape: tuple[int, int, int], seed: int | None
) -> Any:
    """The augmenter of a spec's ``augmentation`` section, or None when there is none."""
    if section is None:
        return None
    entry, params = _section(section, _registry(registry), "augmentation")
    ctx = AugmentContext(
        image_size=(int(image_shape[0]), int(image_shape[1])),
        channels=int(image_shape[2]),
        seed=seed,
    )
    augmenter = entry.factory(params, ctx)
    if not callable(augmenter):
        raise PluginContractError(
            f"augmentation recipe '{entry.name}' of {entry.owner} broke the contract: its "
            f"factory must return a callable Augmenter, got {type(augmenter).__name__}")
    _probe(augmenter, entry, (int(image_shape[0]), int(image_shape[1]), int(image_shape[2])))
    return augmenter


GRAPH_MAX_CPU_PIXELS = GRAPH_MAX_CPU_SIDE**2  # path: auto on CPU (see zoo.spec.sections)


def augmentation_path(
    section: Any, registry: Registry | None = None, image_size: tuple[int, int] | None = None
) -> str | None:
    """Where a spec's augmentation runs: ``"graph"`` (batched TF ops in tf.data), ``"python"``
    (the per-image augmenter) or None (no augmentation). ``auto`` takes the graph when the
    recipe has one and it is the faster way: on a GPU, or on CPU for images of at most
    :data:`GRAPH_MAX_CPU_PIXELS` pixels (``image_size``, height and width). Raises
    :class:`UserError` when the spec asks for ``path: graph`` and the recipe has no in-graph
    version."""
    if section is None:
        return None
    entry, _ = _section(section, _registry(registry), "augmentation")
    wanted = _wanted_path(section)
    if wanted == "python" or (wanted == "auto" and (entry.capabilities.graph is None
                                                    or not _graph_is_faster(image_size))):
        return "python"
    if entry.capabilities.graph is None:
        raise UserError([Problem(
            f"augmentation recipe '{entry.name}' has no in-graph version (the graph "
            "capability); use path: auto or python", key_path="augmentation.path")])
    return "graph"


def _graph_is_faster(image_size: tuple[int, int] | None) -> bool:
    small = image_size is not None and image_size[0] * image_size[1] <= GRAPH_MAX_CPU_PIXELS
    return small or _has_accelerator()


def _has_accelerator() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))


def make_graph_augment(
    section: Any, registry: Registry | None, image_shape: tuple[int, int, int], seed: int | None
) -> Any:
    """The ``fn(images, seed)`` of the recipe's ``graph`` capability when the spec's
    augmentation runs in the graph (:func:`augmentation_path`), else None."""
    registry = _registry(registry)
    if augmentation_path(section, registry, (int(image_shape[0]), int(image_shape[1]))) != "graph":
        return None
    entry, params = _section(section, registry, "augmentation")
    ctx = AugmentContext(
        image_size=(int(image_shape[0]), int(image_shape[1])),
        channels=int(image_shape[2]),
        seed=seed,
    )
    fn = entry.capabilities.graph(params, ctx)
    if fn is None:
        if _wanted_path(section) == "graph":
            raise UserError([Problem(
                f"augmentation recipe '{entry.name}' has no in-graph version for these params; "
                "use path: auto or python", key_path="augmentation.path")])
        return None
    if not callable(fn):
        raise PluginContractError(
            f"augmentation recipe '{entry.name}' of {entry.owner} broke the contract: its graph "
            f"capability must return fn(images, seed) or None, got {type(fn).__name__}")
    def graph(images: Any, seed: Any) -> Any:
        return fn(images, seed)

    graph.zoo_owner = f"augmentation recipe '{entry.name}' of {entry.owner}"  # type: ignore[attr-defined]
    return graph


def _wanted_path(section: Any) -> str:
    if isinstance(section, dict):
        return str(section.get("path") or "auto")
    return str(getattr(section, "path", "auto"))


def _probe(augmenter: Any, entry: Any, shape: tuple[int, int, int]) -> None:
    """Call a copy of the augmenter once before any run folder exists, so a plugin that
    returns the wrong shape or dtype fails now with its name, not mid-training."""
    try:
        trial = copy.deepcopy(augmenter)
    except Exception:  # not copyable: the per-batch check in the pipeline still guards
        return
    image = np.full(shape, 128, dtype=np.uint8)
    check_augmented(trial(image), image, f"augmentation recipe '{entry.name}' of {entry.owner}")


def check_augmented(out: Any, image: np.ndarray, who: str = "the augmenter") -> np.ndarray:
    """The augmenter's result, after checking it is uint8 pixels of the input's shape."""
    got = np.asarray(out)
    if got.dtype != np.uint8 or got.shape != image.shape:
        raise PluginContractError(
            f"{who} broke the contract: an augmenter must return uint8 pixels of the input's "
            f"shape {tuple(image.shape)} uint8, got {tuple(got.shape)} {got.dtype}")
    return got


def scale_for_predict(
    images_uint8: Any, spec_scaling_section: Any, registry: Registry | None, state: dict | None
) -> np.ndarray:
    """Scale images (uint8 HWC or NHWC) exactly like training did: the run's recipe and its
    saved ``state``. ``spec_scaling_section`` is the spec's section or its resolved data."""
    scaling = make_scaling(spec_scaling_section, registry, state)
    return np.asarray(scaling(np.asarray(images_uint8, dtype=np.float32)), dtype=np.float32)


def _decode_batches(
    image_set: ImageSet, shape: tuple[int, int, int], data: Any
) -> Iterator[np.ndarray]:
    """Decoded images of a file-based set, a batch at a time (for fitting a scaling)."""
    from zoo.data.images import load_images

    paths = image_set.paths or []
    for start in range(0, len(paths), FIT_BATCH):
        yield load_images(paths[start : start + FIT_BATCH], shape[:2], shape[2], data.resize).images


def _training_images(prepared: PreparedData, data: Any) -> Any:
    train = prepared.train
    if train.images is not None:
        return train.images
    return _decode_batches(train, prepared.image_shape, data)  # lazy: fixed recipes never read it


def fitted_scaling(
    prepared: PreparedData, spec: Any, registry: Registry, state: dict | None
) -> Any:
    """The spec's scaling recipe, restored from a run's ``state`` or fitted on the
    (unaugmented) training images."""
    scaling = make_scaling(spec.scaling, registry, state)
    if state is None:
        scaling.fit(_training_images(prepared, spec.data))
    return scaling


def augment_workers_for(spec: Any, images: int, asked: int | None) -> int | None:
    """Worker processes for augmenting ``images`` training images a epoch: ``asked`` or
    ``$ZOO_AUGMENT_WORKERS`` when given, else one per CPU (None) when the run augments at
    least ``WORKER_MIN_IMAGES`` images in all, else 0 (threads of this process)."""
    if asked is not None or os.environ.get(WORKERS_ENV, "").strip():
        return asked
    epochs = spec.training.epochs + sum(p.epochs for p in spec.training.phases)
    return None if images * epochs >= WORKER_MIN_IMAGES else 0


def batch_augmenter(
    augmenter: Any, workers: int | None
) -> tuple[Callable[[np.ndarray, int], np.ndarray], int | None]:
    """``(fn(images, seed) -> images, batches that may run at once)`` for an augmenter:
    whole batches in worker processes (every worker and this process), or in threads (any
    number: None); a plain per-image Augmenter draws from its own generator, so its batches
    run one at a time, in order."""
    batch_fn = getattr(augmenter, "augment_batch", None)
    pool = WorkerPool.start(augmenter, workers) if callable(batch_fn) else None
    if pool is not None:
        return pool.augment, pool.size + 1
    if callable(batch_fn):
        return (lambda images, seed: check_augmented(batch_fn(images, seed), images)), None
    return (lambda images, seed: np.stack(
        [check_augmented(augmenter(image), image) for image in images])), 1


def build_pipelines(
    prepared: PreparedData,
    spec: Any,
    registry: Registry | None = None,
    *,
    batch_size: int | None = None,
    scaling_state: dict | None = None,
    augment_workers: int | None = None,
    first_epoch: int | None = None,
) -> Pipelines:
    """Batched datasets of ``(float32 scaled images, int64 labels)`` for each split.

    :param batch_size: defaults to ``spec.training.batch_size`` (the global batch size).
    :param scaling_state: a saved ``Scaling.state()`` (resuming a run): used instead of
        fitting the scaling recipe on the training images again.
    :param augment_workers: processes that augment training batches; 0 augments in
        threads of this process. Default: ``$ZOO_AUGMENT_WORKERS``, else one per usable CPU
        when the run augments at least ``WORKER_MIN_IMAGES`` images (training images times
        epochs), since starting a worker costs about as much CPU as augmenting a few thousand
        small images.
    :param first_epoch: the runner's training split: epochs ``first_epoch``,
        ``first_epoch + 1``... one after another in one endless stream (fit it with
        ``steps_per_epoch``), each epoch's order and augmentation seeds drawn from
        (seed, epoch) alone, so a run resumed at epoch k gets the batches an uninterrupted
        run got. None: one epoch per iteration, reshuffled each time.
    """
    spec = _spec_model(spec)
    runtime = getattr(spec, "runtime", None)
    if input_pipeline(getattr(runtime, "input", "auto")) == "py_dataset":
        from zoo.data.py_pipeline import build_py_pipelines

        return build_py_pipelines(
            prepared, spec, registry, batch_size=batch_size, scaling_state=scaling_state,
            augment_workers=augment_workers, first_epoch=first_epoch)
    import tensorflow as tf

    registry = _registry(registry)
    batch = int(batch_size or spec.training.batch_size)
    seed = int(spec.seed)
    scaling = fitted_scaling(prepared, spec, registry, scaling_state)
    graph = make_graph_augment(spec.augmentation, registry, prepared.image_shape, seed)
    augmenter = None
    if graph is None:
        augmenter = make_augmenter(spec.augmentation, registry, prepared.image_shape, seed)

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
    spec: Any,
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

    sampler = str(getattr(spec.training, "sampler", "none"))
    train_labels = np.asarray(image_set.labels, dtype=np.int64)

    def order(epoch: Any) -> Any:
        """This epoch's indices, drawn by zoo.data.order (the PyDataset path draws the same)."""

        def draw(e: np.int64) -> np.ndarray:
            return training_order(train_labels, buffer, seed, int(e), sampler)

        indices = tf.numpy_function(draw, [epoch], tf.int64, stateful=False)
        indices.set_shape((n,))
        return tf.data.Dataset.from_tensor_slices(indices)

    if image_set.images is not None:
        images = tf.constant(np.ascontiguousarray(image_set.images, dtype=np.uint8))
        if epochs:
            ds = _per_epoch(tf, first_epoch, lambda e: order(e).batch(batch))
        else:
            ds = tf.data.Dataset.range(n)
            if shuffle:
                ds = ds.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
            ds = ds.batch(batch)
        return ds.map(
            lambda idx: (tf.gather(images, idx), tf.gather(labels, idx)),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )

    from zoo.data.images import read_image

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
            lambda e: order(e)
            .map(lambda i: (tf.gather(paths, i), tf.gather(labels, i)))
            .map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .batch(batch),
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
    augmenter: Any,
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
        apply, num_parallel_calls=tf.data.AUTOTUNE if parallel is None else parallel,
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
    graph: Any,
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
                f"{getattr(out, 'dtype', type(out).__name__)}")
        out.set_shape((None, *shape))
        return out, labels

    return tf.data.Dataset.zip((ds, _batch_seeds(tf, seed, first_epoch, steps))).map(
        apply, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )

