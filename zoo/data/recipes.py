"""A spec's recipes as working objects: the scaling and the augmentation that both input
pipelines (tf.data and PyDataset) apply, built once from the resolved spec.

- :func:`make_scaling` / :func:`fitted_scaling`: the scaling recipe, restored from a run's
  saved state or fitted on the (unaugmented) training images.
- :func:`augmentation_path`: where the augmentation runs, ``graph`` (the recipe's batched
  TensorFlow ops inside tf.data) or ``python`` (its per-image augmenter);
  :func:`make_graph_augment` and :func:`make_augmenter` build each.
- :func:`batch_augmenter`: a per-image augmenter as a function of whole batches and a seed,
  in threads or worker processes (:mod:`zoo.data.workers`).

No TensorFlow at import; the plugin factories import what they need.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from zoo.data.prepared import PreparedData
from zoo.data.workers import WORKERS_ENV, WorkerPool
from zoo.errors import PluginContractError, Problem, UserError
from zoo.images import load_images
from zoo.plugin.contracts import AugmentContext, Augmenter, Scaling
from zoo.plugin.guards import check_augmented, check_augmenter, check_scaling
from zoo.plugin.source import ImageSet
from zoo.spec.loader import LoadedSpec
from zoo.spec.sections import GRAPH_MAX_CPU_SIDE, SpecBase

FIT_BATCH = 256  # images decoded at a time when a scaling recipe is fitted on files
# Augmented images (per run) from which worker processes pay off: a worker starts in under
# a second (benchmarks/bench_pipeline.py), while threads leave all but one core idle.
WORKER_MIN_IMAGES = 10_000
GRAPH_MAX_CPU_PIXELS = GRAPH_MAX_CPU_SIDE**2  # path: auto on CPU (see zoo.spec.sections)

BatchAugment = Callable[[np.ndarray, int], np.ndarray]
GraphAugmentFn = Callable[[Any, Any], Any]


def make_scaling(loaded: LoadedSpec, state: dict[str, Any] | None = None) -> Scaling:
    """The spec's scaling recipe (restored from ``state`` when given)."""
    entry = loaded.entry("scaling")
    return check_scaling(entry.factory(loaded.spec.scaling.params, state), entry)


def fitted_scaling(
    prepared: PreparedData, loaded: LoadedSpec, state: dict[str, Any] | None
) -> Scaling:
    """The spec's scaling, restored from a run's ``state`` or fitted on the (unaugmented)
    training images."""
    scaling = make_scaling(loaded, state)
    if state is None:
        scaling.fit(_training_images(prepared, loaded.spec))
    return scaling


def _training_images(prepared: PreparedData, spec: SpecBase) -> np.ndarray | Iterable[np.ndarray]:
    train = prepared.train
    if isinstance(train.images, np.ndarray) and not isinstance(train.images, np.memmap):
        return train.images
    if train.images is not None:  # the disk cache: a batch at a time, never all in memory
        rows = train.images
        return (rows[start : start + FIT_BATCH] for start in range(0, len(rows), FIT_BATCH))
    return _decode_batches(train, prepared.image_shape, spec)  # lazy: fixed recipes never read it


def _decode_batches(
    image_set: ImageSet, shape: tuple[int, int, int], spec: SpecBase
) -> Iterator[np.ndarray]:
    """Decoded images of a file-based set, a batch at a time (for fitting a scaling)."""
    paths = image_set.paths or []
    for start in range(0, len(paths), FIT_BATCH):
        yield load_images(
            paths[start : start + FIT_BATCH], shape[:2], shape[2], spec.data.resize
        ).images


def _augment_context(loaded: LoadedSpec, image_shape: tuple[int, int, int]) -> AugmentContext:
    return AugmentContext(
        image_size=(int(image_shape[0]), int(image_shape[1])),
        channels=int(image_shape[2]),
        seed=int(loaded.spec.seed),
    )


def make_augmenter(loaded: LoadedSpec, image_shape: tuple[int, int, int]) -> Augmenter | None:
    """The augmenter of the spec's ``augmentation`` section, or None when there is none;
    probed once on a copy so a plugin that breaks the contract fails before any run folder
    exists."""
    entry, section = loaded.augmentation_entry, loaded.spec.augmentation
    if entry is None or section is None:
        return None
    augmenter = entry.factory(section.params, _augment_context(loaded, image_shape))
    shape = (int(image_shape[0]), int(image_shape[1]), int(image_shape[2]))
    return check_augmenter(augmenter, entry, shape)


def augmentation_path(loaded: LoadedSpec, image_size: tuple[int, int] | None = None) -> str | None:
    """Where the spec's augmentation runs: ``"graph"`` (batched TF ops in tf.data),
    ``"python"`` (the per-image augmenter) or None (no augmentation). ``auto`` takes the
    graph when the recipe has one and it is the faster way: on a GPU, or on CPU for images
    of at most :data:`GRAPH_MAX_CPU_PIXELS` pixels (``image_size``: height, width). A spec
    asking for ``path: graph`` of a recipe without one is a :class:`UserError`."""
    entry, section = loaded.augmentation_entry, loaded.spec.augmentation
    if entry is None or section is None:
        return None
    wanted = section.path
    has_graph = entry.capabilities.graph is not None
    if wanted == "python" or (
        wanted == "auto" and (not has_graph or not _graph_is_faster(image_size))
    ):
        return "python"
    if not has_graph:
        raise UserError(
            [
                Problem(
                    f"augmentation recipe '{entry.name}' has no in-graph version (the graph "
                    "capability); use path: auto or python",
                    key_path="augmentation.path",
                )
            ]
        )
    return "graph"


def _graph_is_faster(image_size: tuple[int, int] | None) -> bool:
    small = image_size is not None and image_size[0] * image_size[1] <= GRAPH_MAX_CPU_PIXELS
    return small or _has_accelerator()


def _has_accelerator() -> bool:
    import tensorflow as tf

    return bool(tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("TPU"))


def make_graph_augment(
    loaded: LoadedSpec, image_shape: tuple[int, int, int]
) -> GraphAugmentFn | None:
    """The ``fn(images, seed)`` of the recipe's ``graph`` capability when the spec's
    augmentation runs in the graph (:func:`augmentation_path`), else None."""
    entry, section = loaded.augmentation_entry, loaded.spec.augmentation
    if augmentation_path(loaded, (int(image_shape[0]), int(image_shape[1]))) != "graph":
        return None
    assert entry is not None and section is not None and entry.capabilities.graph is not None
    fn = entry.capabilities.graph(section.params, _augment_context(loaded, image_shape))
    if fn is None:
        if section.path == "graph":
            raise UserError(
                [
                    Problem(
                        f"augmentation recipe '{entry.name}' has no in-graph version for these "
                        "params; "
                        "use path: auto or python",
                        key_path="augmentation.path",
                    )
                ]
            )
        return None
    if not callable(fn):
        raise PluginContractError(
            f"augmentation recipe '{entry.name}' of {entry.owner} broke the contract: its graph "
            f"capability must return fn(images, seed) or None, got {type(fn).__name__}"
        )

    def graph(images: Any, seed: Any) -> Any:
        return fn(images, seed)

    graph.zoo_owner = f"augmentation recipe '{entry.name}' of {entry.owner}"  # type: ignore[attr-defined]
    return graph


def augment_workers_for(spec: SpecBase, images: int, asked: int | None) -> int | None:
    """Worker processes for augmenting ``images`` training images a epoch: ``asked`` or
    ``$ZOO_AUGMENT_WORKERS`` when given, else one per CPU (None) when the run augments at
    least ``WORKER_MIN_IMAGES`` images in all, else 0 (threads of this process)."""
    if asked is not None or os.environ.get(WORKERS_ENV, "").strip():
        return asked
    epochs = spec.training.epochs + sum(p.epochs for p in spec.training.phases)
    return None if images * epochs >= WORKER_MIN_IMAGES else 0


def batch_augmenter(augmenter: Augmenter, workers: int | None) -> tuple[BatchAugment, int | None]:
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
    return (
        lambda images, seed: np.stack(
            [check_augmented(augmenter(image), image) for image in images]
        )
    ), 1
