"""The input pipeline of a run: :class:`PreparedData` in, batched :class:`Pipelines` out.

Two implementations give the same batches (each epoch's order and each batch's
augmentation seed come from :mod:`zoo.data.order`): tf.data (:mod:`zoo.data.tf_pipeline`,
wherever TensorFlow is installed, for every Keras backend) and a ``keras.utils.PyDataset``
(:mod:`zoo.data.py_pipeline`: ``runtime.input: py_dataset``, or no TensorFlow). This module
chooses; both import their framework only when called.
"""

from __future__ import annotations

from typing import Any

from zoo.backend import input_pipeline
from zoo.data.hosts import HostShare
from zoo.data.prepared import Pipelines, PreparedData
from zoo.spec.loader import LoadedSpec


def build_pipelines(
    prepared: PreparedData,
    loaded: LoadedSpec,
    *,
    batch_size: int | None = None,
    scaling_state: dict[str, Any] | None = None,
    augment_workers: int | None = None,
    first_epoch: int | None = None,
    share: HostShare | None = None,
) -> Pipelines:
    """Batched datasets of ``(float32 scaled images, int64 labels)`` for each split.

    :param batch_size: defaults to ``training.batch_size`` (the global batch size).
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
    :param share: this host's share of a run over several hosts: the training split and
        ``validation_share`` read only its rows of every global batch (the same global
        batches on every host) and augment them with seeds of its own; see
        :class:`~zoo.data.prepared.Pipelines`.
    """
    options: dict[str, Any] = {
        "batch_size": batch_size,
        "scaling_state": scaling_state,
        "augment_workers": augment_workers,
        "first_epoch": first_epoch,
        "share": share,
    }
    if input_pipeline(loaded.spec.runtime.input) == "py_dataset":
        from zoo.data.py_pipeline import build_py_pipelines  # imports Keras

        return build_py_pipelines(prepared, loaded, **options)
    from zoo.data.tf_pipeline import build_tf_pipelines  # imports TensorFlow when called

    return build_tf_pipelines(prepared, loaded, **options)
