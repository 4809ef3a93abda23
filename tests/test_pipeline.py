"""The tf.data pipeline: batch shapes and dtypes, augmentation on the training split only,
seeded determinism (threads or worker processes alike), scaling, files decoded lazily."""

from __future__ import annotations

import json
import math
import textwrap

import cv2
import numpy as np
import pytest

from zoo.data.pipeline import build_pipelines
from zoo.data.prepared import PreparedData
from zoo.data.recipes import make_augmenter
from zoo.data.workers import WorkerPool
from zoo.plugin.source import ImageSet
from zoo.record.run import ObjectiveRecord, RunRecord, ScalingRecord
from zoo.record.scaling import run_scaling
from zoo.spec import load_spec_text

N_TRAIN, N_VAL, N_TEST = 70, 12, 9
SHAPE = (12, 10, 3)
FLIP = {"recipe": "albumentations", "params": {"transforms": [{"HorizontalFlip": {"p": 1.0}}]}}


def spec(scaling="unit", augmentation=None, seed=5, batch=16, channels=3):
    text = textwrap.dedent(f"""\
        name: pipe
        seed: {seed}
        data: {{source: digits, image_size: [{SHAPE[0]}, {SHAPE[1]}], channels: {channels}}}
        model: {{architecture: mlp}}
        scaling: {{recipe: {scaling}}}
        training: {{batch_size: {batch}}}
        """)
    if augmentation:
        text += f"augmentation: {json.dumps(augmentation)}\n"
    return load_spec_text(text, "spec.yaml")


def prepared(channels=3) -> PreparedData:
    """Images whose label is their index in the split (so each batch row can be traced)."""
    rng = np.random.default_rng(0)
    shape = (*SHAPE[:2], channels)

    def images(n):
        return rng.integers(0, 256, (n, *shape), dtype=np.uint8)

    return PreparedData(
        class_names=[f"c{i}" for i in range(N_TRAIN)],
        train=ImageSet(np.arange(N_TRAIN), images=images(N_TRAIN)),
        validation=ImageSet(np.arange(N_VAL), images=images(N_VAL)),
        test=ImageSet(np.arange(N_TEST), images=images(N_TEST)),
        image_shape=shape,
    )


def epoch(ds) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds], strict=True)
    return np.concatenate(xs), np.concatenate(ys)


def test_batches_have_the_right_shapes_and_types():
    data = prepared()
    pipes = build_pipelines(data, spec(batch=16), augment_workers=0)
    assert pipes.steps_per_epoch == math.ceil(N_TRAIN / 16)
    import tensorflow as tf

    sizes = []
    for x, y in pipes.train:
        assert x.dtype == tf.float32 and y.dtype == tf.int64
        assert tuple(x.shape[1:]) == SHAPE and x.shape[0] == y.shape[0]
        sizes.append(int(x.shape[0]))
    assert sizes == [16, 16, 16, 16, 6]
    x, y = epoch(pipes.test)
    assert x.shape == (N_TEST, *SHAPE) and list(y) == list(range(N_TEST))
    assert pipes.train.element_spec[0].shape.as_list() == [None, *SHAPE]


def test_scaling_is_applied_and_evaluation_splits_keep_their_order():
    data = prepared()
    pipes = build_pipelines(data, spec(scaling="tf"), augment_workers=0)
    x, y = epoch(pipes.validation)
    np.testing.assert_allclose(x, data.validation.images / 127.5 - 1, atol=1e-6)
    assert list(y) == list(range(N_VAL))
    x, y = epoch(pipes.train)
    assert sorted(y) == list(range(N_TRAIN)) and list(y) != sorted(y)  # shuffled
    np.testing.assert_allclose(x, data.train.images[y] / 127.5 - 1, atol=1e-6)


def test_augmentation_touches_the_training_split_only():
    data = prepared()
    pipes = build_pipelines(data, spec(augmentation=FLIP), augment_workers=0)
    x, y = epoch(pipes.train)
    np.testing.assert_allclose(x, data.train.images[y][:, :, ::-1] / 255, atol=1e-6)
    for split in ("validation", "test"):
        x, y = epoch(getattr(pipes, split))
        np.testing.assert_allclose(x, getattr(data, split).images / 255, atol=1e-6)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_seeded_run_repeats_and_epochs_differ(workers):
    data = prepared()
    heavy = {"recipe": "heavy", "params": {"p": 0.8}}
    first = build_pipelines(data, spec(augmentation=heavy), augment_workers=workers)
    again = build_pipelines(data, spec(augmentation=heavy), augment_workers=workers)
    other = build_pipelines(data, spec(augmentation=heavy, seed=6), augment_workers=workers)
    a1, a2 = epoch(first.train), epoch(first.train)
    b1, b2 = epoch(again.train), epoch(again.train)
    for got, want in ((b1, a1), (b2, a2)):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    assert not np.array_equal(a1[1], a2[1])  # reshuffled every epoch
    assert not np.array_equal(epoch(other.train)[1], a1[1])


def test_worker_processes_and_threads_give_the_same_batches():
    data = prepared()
    medium = {"recipe": "medium", "params": {"p": 0.9}}
    in_process = epoch(build_pipelines(data, spec(augmentation=medium), augment_workers=0).train)
    pool = WorkerPool.start(_augmenter(medium), 2)
    assert pool is not None and pool.size == 2
    batch = data.train.images[:8]
    np.testing.assert_array_equal(
        pool.augment(batch, 3), _augmenter(medium).augment_batch(batch, 3)
    )
    assert not pool.failures
    workers = epoch(build_pipelines(data, spec(augmentation=medium), augment_workers=2).train)
    np.testing.assert_array_equal(in_process[0], workers[0])


def _augmenter(section):
    return make_augmenter(spec(augmentation=section), SHAPE)


def test_gray_images_go_through_augmentation_and_scaling():
    data = prepared(channels=1)
    pipes = build_pipelines(
        data, spec(scaling="torch", augmentation={"recipe": "light"}, channels=1), augment_workers=0
    )
    x, _ = epoch(pipes.train)
    assert x.shape == (N_TRAIN, *SHAPE[:2], 1) and np.isfinite(x).all()


def test_dataset_scaling_is_fitted_on_the_training_split_and_restored_from_state():
    data = prepared()
    pipes = build_pipelines(data, spec(scaling="dataset"), augment_workers=0)
    state = pipes.scaling.state()
    np.testing.assert_allclose(state["mean"], data.train.images.mean(axis=(0, 1, 2)), rtol=1e-9)
    x, _ = epoch(pipes.validation)
    expected = (data.validation.images - np.array(state["mean"])) / np.array(state["std"])
    np.testing.assert_allclose(x, expected, atol=1e-5)
    fixed = {"recipe": "dataset", "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]}
    restored = build_pipelines(
        data, spec(scaling="dataset"), scaling_state=fixed, augment_workers=0
    )
    np.testing.assert_allclose(epoch(restored.validation)[0], data.validation.images, atol=1e-6)


def test_predict_time_scaling_from_the_record_matches_training_scaling():
    data = prepared()
    loaded = spec(scaling="dataset")
    pipes = build_pipelines(data, loaded, augment_workers=0)
    state = json.loads(json.dumps(pipes.scaling.state()))  # as run.json keeps it
    x, _ = epoch(pipes.validation)
    record = RunRecord(
        name="pipe",
        status="finished",
        created="2026-01-01",
        class_names=data.class_names,
        image_shape=SHAPE,
        scaling=ScalingRecord(recipe="dataset", state=state),
        objective=ObjectiveRecord(
            loss="sparse_categorical_crossentropy", targets="sparse", label_smoothing=0.0
        ),
    )
    scaling = run_scaling(record, loaded.resolved()["scaling"], loaded.registry, "run")
    images = data.validation.images.astype(np.float32)
    np.testing.assert_allclose(scaling(images), x, atol=1e-6)
    one = np.asarray(scaling(images[0]))
    assert one.shape == SHAPE and one.dtype == np.float32


def test_files_are_decoded_lazily_like_in_memory_images(tmp_path):
    data = prepared()
    paths = []
    for i, image in enumerate(data.train.images):
        path = tmp_path / f"img{i}.png"
        cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        paths.append(path)
    on_disk = PreparedData(
        class_names=data.class_names,
        train=ImageSet(data.train.labels, paths=paths),
        validation=None,
        test=None,
        image_shape=data.image_shape,
    )
    loaded = spec(scaling="dataset", augmentation=FLIP)
    memory = build_pipelines(data, loaded, augment_workers=0)
    files = build_pipelines(on_disk, loaded, augment_workers=0)
    assert files.validation is None and files.test is None
    assert files.scaling.state() == memory.scaling.state()
    for _ in range(2):
        got, want = epoch(files.train), epoch(memory.train)
        np.testing.assert_array_equal(got[1], want[1])
        np.testing.assert_allclose(got[0], want[0], atol=1e-6)
