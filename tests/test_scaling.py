"""Scaling recipes: each checked against keras' preprocess_input, or against NumPy."""

from __future__ import annotations

import json

import numpy as np
import pytest

import zoo
from zoo.spec import load_spec_text

RECIPES = ("unit", "tf", "torch", "caffe", "dataset")


def make(name, params=None, state=None):
    entry = zoo.registry().get(name, "recipe")
    return entry.factory(entry.params.model_validate(params or {}), state)


@pytest.fixture
def images():
    return np.random.default_rng(0).integers(0, 256, (6, 9, 7, 3)).astype(np.float32)


def test_every_recipe_is_registered():
    assert set(zoo.registry().names("recipe", "scaling")) >= set(RECIPES)
    for name in RECIPES:
        assert isinstance(make(name), zoo.Scaling)


@pytest.mark.parametrize("mode", ["tf", "torch", "caffe"])
@pytest.mark.parametrize("batched", [True, False])
def test_matches_keras_preprocess_input(mode, batched, images):
    from keras.applications import imagenet_utils

    x = images if batched else images[0]
    expected = imagenet_utils.preprocess_input(x.copy(), mode=mode)
    got = make(mode)(x)
    assert got.dtype == np.float32 and got.shape == x.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", RECIPES)
def test_tensor_and_array_give_the_same_result(name, images):
    import tensorflow as tf

    scaling = make(name)
    scaling.fit(images.astype(np.uint8))
    from_tensor = scaling(tf.constant(images))
    assert isinstance(from_tensor, tf.Tensor) and from_tensor.dtype == tf.float32
    np.testing.assert_allclose(from_tensor.numpy(), scaling(images), rtol=0, atol=1e-5)


def test_unit_divides_by_255(images):
    np.testing.assert_allclose(make("unit")(images), images / 255.0, rtol=1e-6)
    assert make("unit")(np.full((2, 2, 3), 255, np.uint8)).max() == pytest.approx(1.0)


def test_input_array_is_not_changed(images):
    before = images.copy()
    for name in ("tf", "torch", "caffe", "unit"):
        make(name)(images)
    np.testing.assert_array_equal(images, before)


def test_dataset_statistics_match_numpy(images):
    pixels = images.astype(np.uint8)
    scaling = make("dataset")
    scaling.fit(pixels)
    mean, std = pixels.mean(axis=(0, 1, 2)), pixels.std(axis=(0, 1, 2))
    np.testing.assert_allclose(scaling.state()["mean"], mean, rtol=1e-10)
    np.testing.assert_allclose(scaling.state()["std"], std, rtol=1e-10)
    np.testing.assert_allclose(scaling(images), (images - mean) / std, rtol=1e-5, atol=1e-5)


def test_dataset_fit_streams_batches_like_one_array():
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (1100, 5, 5, 3), dtype=np.uint8)
    whole, streamed = make("dataset"), make("dataset")
    whole.fit(pixels)
    streamed.fit(iter([pixels[:300], pixels[300:301], pixels[301:]]))
    np.testing.assert_allclose(whole.state()["mean"], streamed.state()["mean"], rtol=1e-12)
    np.testing.assert_allclose(whole.state()["std"], streamed.state()["std"], rtol=1e-12)


def test_dataset_one_value_for_all_channels_and_flat_channels(images):
    pixels = images.astype(np.uint8)
    scaling = make("dataset", {"per_channel": False})
    scaling.fit(pixels)
    assert scaling.state()["mean"] == [pytest.approx(pixels.mean())]
    flat = make("dataset", {"min_std": 0.5})
    flat.fit(np.full((3, 4, 4, 3), 7, np.uint8))
    assert flat.state()["std"] == [0.5, 0.5, 0.5]
    assert np.isfinite(flat(np.full((1, 4, 4, 3), 9, np.float32))).all()


def test_dataset_must_be_fitted_and_needs_images():
    with pytest.raises(RuntimeError, match="fitted"):
        make("dataset")(np.zeros((1, 2, 2, 3), np.float32))
    with pytest.raises(ValueError, match="needs training images"):
        make("dataset").fit(np.zeros((0, 2, 2, 3), np.uint8))


@pytest.mark.parametrize("name", RECIPES)
def test_state_round_trips_through_json(name, images):
    scaling = make(name)
    scaling.fit(images.astype(np.uint8))
    state = json.loads(json.dumps(scaling.state()))
    restored = make(name, state=state)  # no fit: the state is all predict time has
    np.testing.assert_array_equal(restored(images), scaling(images))


def test_gray_images_use_the_average_imagenet_statistics():
    gray = np.random.default_rng(2).integers(0, 256, (2, 4, 4, 1)).astype(np.float32)
    torch = make("torch")(gray)
    expected = (gray / 255 - np.mean([0.485, 0.456, 0.406])) / np.mean([0.229, 0.224, 0.225])
    np.testing.assert_allclose(torch, expected, rtol=1e-5)
    caffe = make("caffe")(gray)
    np.testing.assert_allclose(caffe, gray - np.mean([103.939, 116.779, 123.68]), atol=1e-4)
    np.testing.assert_allclose(make("tf")(gray), gray / 127.5 - 1, rtol=1e-6)
    fitted = make("dataset")
    fitted.fit(gray.astype(np.uint8))
    assert len(fitted.state()["mean"]) == 1


def test_other_channel_counts_are_a_clear_error():
    with pytest.raises(ValueError, match="needs 1 or 3 channels.*Received: images with 4"):
        make("torch")(np.zeros((1, 2, 2, 4), np.float32))
    fitted = make("dataset")
    fitted.fit(np.zeros((1, 2, 2, 3), np.uint8))
    with pytest.raises(ValueError, match="fitted on 3-channel images"):
        fitted(np.zeros((1, 2, 2, 4), np.float32))


def test_gray_spec_with_imagenet_scaling_warns():
    text = """\
name: gray
data: {source: digits, channels: 1}
model: {architecture: mlp}
scaling: {recipe: torch}
"""
    loaded = load_spec_text(text, "spec.yaml")
    assert any("gray images" in w.message for w in loaded.warnings)
    assert not load_spec_text(text.replace("torch", "unit"), "spec.yaml").warnings


def test_scaling_params_are_validated():
    from zoo.errors import UserError

    with pytest.raises(UserError, match="min_std"):
        load_spec_text(
            """\
name: bad
data: {source: digits}
model: {architecture: mlp}
scaling: {recipe: dataset, params: {min_std: -1}}
""",
            "spec.yaml",
        )
