"""Weights through KerasHub's own preset format: folders written by ``save_to_preset`` load
back with the same outputs, at the preset's size and (resampling position embeddings) at
another; a preset name resolves from KerasHub's download cache without the network; and the
unfreeze units."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import zoo
from hub_helpers import offline_cache

from zoo_hub import trainable
from zoo_hub.table import PRESETS, VARIANTS

keras_hub = pytest.importorskip("keras_hub")
DEIT = "deit_tiny_distilled_patch16_224"


def build(arch: str, size: int, channels: int = 3, **params) -> object:
    entry = zoo.get(arch, "architecture")
    ctx = zoo.ModelContext((size, size, channels), 5, name="hub_test")
    return entry.factory(entry.params(**params), ctx)


def features(model, x: np.ndarray) -> np.ndarray:
    backbone, _ = trainable.backbone_of(model)
    return np.asarray(backbone(x))


def save_preset(model, folder: Path, scale=1 / 255, offset=None) -> Path:
    """The model's backbone and an image converter, as KerasHub writes presets."""
    backbone, _ = trainable.backbone_of(model)
    backbone.save_to_preset(str(folder))
    size = backbone.image_shape[:2] if hasattr(backbone, "image_shape") else (32, 32)
    keras_hub.layers.DeiTImageConverter(
        image_size=tuple(size), scale=scale, offset=offset
    ).save_to_preset(str(folder))
    return folder


@pytest.fixture(scope="module")
def deit_32(tmp_path_factory) -> tuple[object, Path]:
    model = build(DEIT, 32, weights="none")
    return model, save_preset(model, tmp_path_factory.mktemp("presets") / "deit32")


def test_a_saved_preset_folder_loads_back_with_the_same_outputs(deit_32):
    model, folder = deit_32
    x = np.random.default_rng(0).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    again = build(DEIT, 32, weights=str(folder))
    np.testing.assert_allclose(features(again, x), features(model, x), atol=1e-6)
    gray = build(DEIT, 32, channels=1, weights=str(folder))  # a gray input, repeated
    gray.get_layer("predictions").set_weights(again.get_layer("predictions").get_weights())
    np.testing.assert_allclose(
        gray(x[..., :1]), again(np.repeat(x[..., :1], 3, axis=-1)), atol=1e-6
    )


def test_at_another_size_position_embeddings_are_resampled(deit_32):
    _, folder = deit_32
    source = keras_hub.models.Backbone.from_preset(str(folder))
    model = build(DEIT, 48, weights=str(folder))  # grid 2x2 -> 3x3
    target, _ = trainable.backbone_of(model)
    for src, dst in zip(source.weights, target.weights, strict=True):
        if "position" in dst.path:
            before, after = np.asarray(src.numpy()), np.asarray(dst.numpy())
            assert before.shape[-2] == 2 + 4 and after.shape[-2] == 2 + 9
            np.testing.assert_array_equal(after[..., :2, :], before[..., :2, :])  # cls, dist
            corner = after[..., 2, :]  # bicubic keeps a grid's range, corners move least
            assert np.all(np.abs(corner) <= np.abs(before[..., 2:, :]).max(axis=-2) * 1.5)
        else:
            np.testing.assert_array_equal(np.asarray(dst.numpy()), np.asarray(src.numpy()))


def test_a_constant_position_grid_stays_constant():
    from zoo_hub.build import resample_grid

    grid = np.concatenate([np.full((1, 1, 4), 7.0), np.full((1, 16, 4), 2.5)], axis=1)
    out = resample_grid(grid, 1, (4, 4), (2, 2))
    assert out.shape == (1, 5, 4)
    np.testing.assert_allclose(out[:, 1:], 2.5, atol=1e-5)
    assert np.all(out[:, 0] == 7.0)


def _cache_folder(cache: Path, preset: str) -> Path:
    return cache.joinpath("models", *PRESETS[preset].handle.removeprefix("kaggle://").split("/"))


def test_a_preset_name_resolves_from_keras_hubs_cache_offline(deit_32, tmp_path, monkeypatch):
    model, folder = deit_32
    preset = f"{DEIT}_imagenet"
    cached = save_preset(model, _cache_folder(offline_cache(tmp_path, monkeypatch), preset))
    assert (cached / "config.json").is_file()
    x = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 3)).astype("float32")
    again = build(DEIT, 32, weights=preset)
    np.testing.assert_allclose(features(again, x), features(model, x), atol=1e-6)
    entry = zoo.get(DEIT, "architecture")
    from zoo import plugin

    assert entry.capabilities.fetch(entry.params(), plugin.FetchContext(offline=True)) == [cached]


def test_a_preset_not_cached_offline_is_one_clear_error(tmp_path, monkeypatch):
    offline_cache(tmp_path, monkeypatch)
    with pytest.raises(zoo.OfflineError) as info:
        build(DEIT, 32)
    assert f"{DEIT}_imagenet" in str(info.value) and "ZOO_OFFLINE is set" in str(info.value)


def test_keras_hub_missing_at_build_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras_hub", None)
    with pytest.raises(zoo.UserError, match=r"pip install \./packages/zoo-hub"):
        build(DEIT, 32, weights="none")


def test_unfreeze_counts_transformer_blocks_from_the_top():
    model = build(DEIT, 32, weights="none", unfreeze=3)
    assert trainable.trainable_units(model) == [
        "deit_encoder/transformer_block_11",
        "deit_encoder/transformer_block_12",
        "deit_encoder/ln",
    ]
    trainable.set_trainable(model, "deit_encoder/transformer_block_12")
    assert trainable.trainable_units(model)[0] == "deit_encoder/transformer_block_12"
    trainable.set_trainable(model, "transformer_block_1")  # a unique leaf name is enough
    assert len(trainable.trainable_units(model)) == 13
    assert trainable.set_trainable(model, "none") == 0 and trainable.trainable_units(model) == []
    with pytest.raises(zoo.UserError, match="did you mean 'deit_encoder/transformer_block_1"):
        trainable.set_trainable(model, "deit_encoder/transformer_blok_1")
    with pytest.raises(zoo.UserError, match="unfreeze must be 0..14"):
        trainable.set_trainable(model, 15)


def test_batch_normalization_never_trains():
    model = build("csp_resnet_50", 32, weights="none", unfreeze="all")
    backbone, _ = trainable.backbone_of(model)
    norms = [layer for layer in backbone._flatten_layers() if "BatchNorm" in type(layer).__name__]
    assert norms and not any(layer.trainable for layer in norms)
    assert len(trainable.trainable_units(model)) == len(
        trainable.units(backbone, VARIANTS["csp_resnet_50"].family)
    )
