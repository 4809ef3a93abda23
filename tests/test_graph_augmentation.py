"""In-graph augmentation: ``keras_style`` and ``light`` as batched, seeded TensorFlow ops.

Same seed, same batches; pixels stay float32 in 0..255 with the batch's shape; the spec's
``augmentation.path`` picks the path; and the graph version draws from the same distributions
as the albumentations version of the same recipe (flip rate, brightness, shift, rotation).
"""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest

import zoo
from zoo.data.pipeline import build_pipelines
from zoo.data.prepared import PreparedData
from zoo.data.recipes import augmentation_path, make_graph_augment
from zoo.errors import UserError
from zoo.plugin.source import ImageSet
from zoo.spec import load_spec_text

SIZE = (24, 20)


def spec(augmentation, seed=5, batch=16, channels=3):
    text = textwrap.dedent(f"""\
        name: graph
        seed: {seed}
        data: {{source: digits, image_size: [{SIZE[0]}, {SIZE[1]}], channels: {channels}}}
        model: {{architecture: mlp}}
        scaling: {{recipe: unit}}
        training: {{batch_size: {batch}}}
        augmentation: {json.dumps(augmentation)}
        """)
    return load_spec_text(text, "spec.yaml")


def prepared(n=40, channels=3) -> PreparedData:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, *SIZE, channels), dtype=np.uint8)
    return PreparedData(
        class_names=[f"c{i}" for i in range(n)],
        train=ImageSet(np.arange(n), images=images),
        validation=ImageSet(np.arange(8), images=images[:8]),
        test=None,
        image_shape=(*SIZE, channels),
    )


def train_epoch(pipes) -> np.ndarray:
    return np.concatenate([x.numpy() for x, _ in pipes.train])


def graph_fn(name, params=None, channels=3, size=SIZE):
    entry = zoo.registry().get(name, "recipe")
    ctx = zoo.AugmentContext(image_size=size, channels=channels, seed=0)
    return entry.capabilities.graph(entry.params.model_validate(params or {}), ctx)


def albu(name, params=None, channels=3, size=SIZE):
    entry = zoo.registry().get(name, "recipe")
    ctx = zoo.AugmentContext(image_size=size, channels=channels, seed=0)
    return entry.factory(entry.params.model_validate(params or {}), ctx)


def run_graph(fn, images, seed=1):
    import tensorflow as tf

    return fn(tf.constant(images, tf.float32), tf.constant([seed, 7], tf.int64)).numpy()


# ---------------------------------------------------------------- the path a spec takes


def test_light_and_keras_style_run_in_the_graph_on_request_and_per_image_on_cpu():
    # auto on CPU: the graph up to 256x256 (measured 1.0-6x faster), per image above (OpenCV's
    # warps catch up for light: 1.0x at 384 px, 0.8x at 512)
    assert augmentation_path(spec({"recipe": "light"}), (64, 64)) == "graph"
    assert augmentation_path(spec({"recipe": "keras_style"}), (224, 224)) == "graph"
    assert augmentation_path(spec({"recipe": "light"}), (256, 256)) == "graph"
    assert augmentation_path(spec({"recipe": "light"}), (257, 256)) == "python"
    assert augmentation_path(spec({"recipe": "keras_style"}), (384, 384)) == "python"
    assert augmentation_path(spec({"recipe": "light"})) == "python"
    assert augmentation_path(spec({"recipe": "light", "path": "graph"})) == "graph"
    assert augmentation_path(spec({"recipe": "keras_style", "path": "graph"})) == "graph"
    assert augmentation_path(spec({"recipe": "light", "path": "python"})) == "python"
    assert augmentation_path(spec({"recipe": "medium"})) == "python"
    with pytest.raises(UserError, match="no in-graph version"):
        augmentation_path(spec({"recipe": "heavy", "path": "graph"}))
    with pytest.raises(UserError, match="path"):
        spec({"recipe": "light", "path": "gpu"})


def test_zoo_info_tells_which_path_a_recipe_takes(capsys):
    from zoo.cli.main import main

    assert main(["info", "keras_style"]) == 0
    assert "runs: in the tf.data graph (batched TF ops)" in capsys.readouterr().out
    assert main(["info", "heavy"]) == 0
    assert "runs: per image in Python" in capsys.readouterr().out


# ---------------------------------------------------------------- the pipeline


@pytest.mark.parametrize("recipe", ["light", "keras_style"])
def test_same_seed_same_batches_other_seed_other_batches(recipe):
    data = prepared()
    aug = {"recipe": recipe, "path": "graph"}
    a = train_epoch(build_pipelines(data, spec(aug, seed=5)))
    b = train_epoch(build_pipelines(data, spec(aug, seed=5)))
    c = train_epoch(build_pipelines(data, spec(aug, seed=6)))
    assert a.shape == (40, *SIZE, 3) and a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert 0.0 <= a.min() and a.max() <= 1.0  # unit scaling of 0..255 pixels


def test_epochs_resumed_at_k_repeat_the_uninterrupted_run():
    data = prepared()
    s = spec({"recipe": "light", "path": "graph"}, batch=20)
    whole = build_pipelines(data, s, first_epoch=0).train
    resumed = build_pipelines(data, s, first_epoch=1).train
    batches = [x.numpy() for x, _ in whole.take(4)]
    np.testing.assert_array_equal(batches[2], next(iter(resumed))[0].numpy())


def test_only_the_training_split_is_augmented():
    data = prepared()
    pipes = build_pipelines(data, spec({"recipe": "keras_style", "path": "graph"}))
    x = np.concatenate([x.numpy() for x, _ in pipes.validation])
    np.testing.assert_allclose(x, data.validation.images / 255.0, atol=1e-6)


def test_a_graph_function_that_breaks_the_contract_is_named(monkeypatch):
    import dataclasses

    from zoo.errors import PluginContractError

    registry = zoo.registry()
    entry, get = registry.get("light", "recipe"), registry.get

    def swap(graph):
        new = dataclasses.replace(
            entry, capabilities=dataclasses.replace(entry.capabilities, graph=graph)
        )
        monkeypatch.setattr(
            registry, "get", lambda name, *a, **k: new if name == "light" else get(name, *a, **k)
        )

    swap(lambda params, ctx: lambda images, seed: images[:, :4])  # specs resolved from now on
    with pytest.raises(PluginContractError, match="augmentation recipe 'light'.*float32 pixels"):
        build_pipelines(prepared(), spec({"recipe": "light", "path": "graph"}))
    swap(lambda params, ctx: None)
    assert make_graph_augment(spec({"recipe": "light"}), (*SIZE, 3)) is None
    with pytest.raises(UserError, match="for these params"):
        make_graph_augment(spec({"recipe": "light", "path": "graph"}), (*SIZE, 3))


# ---------------------------------------------------------------- the graph functions


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("light", {}),
        ("light", {"p": 1.0, "strength": 2.0}),
        ("keras_style", {}),
        ("keras_style", {"zoom_range": 0.3, "fill_mode": "constant", "cval": 255}),
        ("keras_style", {"fill_mode": "wrap", "brightness_range": [0.1, 3.0]}),
        (
            "keras_style",
            {
                "rotation_range": 0,
                "width_shift_range": 0,
                "height_shift_range": 0,
                "horizontal_flip": False,
                "vertical_flip": False,
                "brightness_range": None,
            },
        ),
    ],
)
def test_graph_output_is_float_pixels_of_the_same_shape(name, params, channels):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (9, 17, 13, channels)).astype(np.float32)
    out = run_graph(graph_fn(name, params, channels, (17, 13)), images)
    assert out.shape == images.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 255.0
    again = run_graph(graph_fn(name, params, channels, (17, 13)), images)
    np.testing.assert_array_equal(out, again)
    if params.get("horizontal_flip") is False:  # nothing left to do: the identity
        np.testing.assert_array_equal(out, images)


# ------------------------------------------------------- same distributions as albumentations

N = 400  # images per statistic; proportions within ~0.08 at 3 sigma


def both(name, params, images):
    """(graph output, albumentations output) of the same recipe on the same images."""
    graph = np.concatenate(
        [
            run_graph(graph_fn(name, params), images[i : i + 100], seed=i)
            for i in range(0, len(images), 100)
        ]
    )
    aug = albu(name, params)
    python = aug.augment_batch(images.astype(np.uint8), 3).astype(np.float32)
    return graph, python


def marker(n=N, channels=3):
    """A bright 3x3 square right of the centre on black: where it goes shows the warp."""
    images = np.zeros((n, *SIZE, channels), np.float32)
    images[:, 10:13, 14:17] = 255
    return images


def centroids(images):
    w = images.mean(axis=-1)
    total = w.sum(axis=(1, 2))
    ys, xs = np.mgrid[0 : SIZE[0], 0 : SIZE[1]]
    return (w * ys).sum(axis=(1, 2)) / total, (w * xs).sum(axis=(1, 2)) / total


def test_flip_rate_matches_albumentations():
    params = {
        "rotation_range": 0,
        "width_shift_range": 0,
        "height_shift_range": 0,
        "vertical_flip": False,
        "brightness_range": None,
    }
    graph, python = both("keras_style", params, marker())
    for out in (graph, python):
        _, cx = centroids(out)
        flipped = np.mean(cx < SIZE[1] / 2)
        assert abs(flipped - 0.5) < 0.1
        assert np.all(np.isin(out, [0, 255]))  # a flip moves pixels, changes none


def test_light_probability_and_brightness_range_match_albumentations():
    flat = np.full((N, *SIZE, 3), 128, np.float32)
    graph, python = both("light", {"p": 0.5}, flat)
    g, p = graph[:, 12, 10, 0], python[:, 12, 10, 0]  # the centre: no border effects
    # half the images keep their pixels (128 * 1 + 0), the others spread over
    # 128 * [0.8, 1.2] + 255 * [-0.2, 0.2] = [51, 205]
    assert abs(np.mean(np.abs(g - 128) < 1) - np.mean(np.abs(p - 128) < 1)) < 0.12
    for q in (5, 25, 75, 95):
        assert abs(np.percentile(g, q) - np.percentile(p, q)) < 12, q
    assert 45 <= g.min() and g.max() <= 211


def test_keras_brightness_factor_matches_albumentations():
    params = {
        "rotation_range": 0,
        "width_shift_range": 0,
        "height_shift_range": 0,
        "horizontal_flip": False,
        "vertical_flip": False,
        "brightness_range": [0.5, 1.5],
    }
    graph, python = both("keras_style", params, np.full((N, *SIZE, 3), 100, np.float32))
    g, p = graph[:, 0, 0, 0] / 100, python[:, 0, 0, 0] / 100
    assert 0.5 - 0.01 <= g.min() and g.max() <= 1.5 + 0.01
    for q in (10, 50, 90):
        assert abs(np.percentile(g, q) - np.percentile(p, q)) < 0.11, q  # 3 sigma at N


def test_shift_and_rotation_match_albumentations():
    shift = {
        "rotation_range": 0,
        "width_shift_range": 0.2,
        "height_shift_range": 0.1,
        "horizontal_flip": False,
        "vertical_flip": False,
        "brightness_range": None,
        "fill_mode": "constant",
    }
    graph, python = both("keras_style", shift, marker())
    (gy, gx), (py, px) = centroids(graph), centroids(python)
    x0, y0 = 15, 11
    # albumentations truncates the shift to whole pixels (int(fraction * width)), which
    # narrows it a little; the graph shifts by the drawn fraction, as Keras does.
    for g, p, limit in ((gx - x0, px - x0, 0.2 * SIZE[1]), (gy - y0, py - y0, 0.1 * SIZE[0])):
        assert np.abs(g).max() <= limit + 0.5
        assert abs(np.std(g) - limit / np.sqrt(3)) < 0.1 * limit / np.sqrt(3)  # uniform
        assert np.std(p) - 0.1 < np.std(g) < np.std(p) + 0.3 * limit
        assert abs(np.mean(g)) < 0.3 and abs(np.mean(p)) < 0.3

    rotate = {**shift, "width_shift_range": 0, "height_shift_range": 0, "rotation_range": 30}
    graph, python = both("keras_style", rotate, marker())
    cy, cx = (SIZE[0] - 1) / 2, (SIZE[1] - 1) / 2
    angles = [
        np.degrees(np.arctan2(y - cy, x - cx)) - np.degrees(np.arctan2(y0 - cy, x0 - cx))
        for y, x in (centroids(graph), centroids(python))
    ]
    assert np.abs(angles[0]).max() <= 31
    assert abs(np.std(angles[0]) - np.std(angles[1])) < 0.15 * np.std(angles[1])


def test_light_changes_images_about_as_much_as_albumentations():
    rng = np.random.default_rng(2)
    smooth = np.cumsum(rng.normal(0, 12, (N, *SIZE, 3)), axis=2)
    images = np.clip(smooth - smooth.min(axis=(1, 2, 3), keepdims=True) + 30, 0, 255)
    images = np.round(images).astype(np.float32)
    graph, python = both("light", {}, images)
    g, p = np.abs(graph - images).mean(), np.abs(python - images).mean()
    assert abs(g - p) < 0.2 * p
    assert abs(graph.mean() - python.mean()) < 0.05 * python.mean()


# ---------------------------------------------------------------- one image at a time


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("light", {}),
        ("light", {"p": 1.0, "strength": 2.0}),
        ("keras_style", {}),
        ("keras_style", {"zoom_range": 0.3, "fill_mode": "constant", "cval": 255}),
        ("keras_style", {"fill_mode": "wrap"}),
        ("keras_style", {"fill_mode": "reflect", "horizontal_flip": False}),
    ],
)
def test_large_images_warped_one_at_a_time_match_the_whole_batch(monkeypatch, name, params):
    # Large images go through a per-image loop that skips the warp where the affine is off;
    # it is the same transform as warping the whole batch at once.
    from zoo_builtins.recipes import _graph_ops

    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (12, *SIZE, 3)).astype(np.float32)
    monkeypatch.setattr(_graph_ops, "LOOP_MIN_PIXELS", 10**9)
    batched = run_graph(graph_fn(name, params), images)
    monkeypatch.setattr(_graph_ops, "LOOP_MIN_PIXELS", 0)
    looped = run_graph(graph_fn(name, params), images)
    np.testing.assert_allclose(looped, batched, atol=0.01)
    np.testing.assert_array_equal(looped, run_graph(graph_fn(name, params), images))
