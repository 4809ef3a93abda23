"""keras.applications backbones (plugins/architectures/applications.py): the table, parameter
counts against Keras, weights files, scaling requirements, gray input and fine-tuning.

No network: weights come from keras.applications models built with ``weights=None`` and
saved to local files. The default run checks one small model per family; every other
backbone is marked ``long`` (``pytest -m long tests/test_backbones.py``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from zoo_builtins.architectures._applications_table import BACKBONES

import zoo
from zoo import ModelContext, UserError

keras = pytest.importorskip("keras")

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
ROWS = {row.name: row for row in BACKBONES}
# One small model per family: the default run.
# inceptionresnetv2 and nasnetmobile (their families' smallest) take ~20 s each: long.
FAST = {
    "vgg16_transfer",
    "resnet50_transfer",
    "resnet50v2",
    "inceptionv3",
    "xception",
    "mobilenet",
    "mobilenetv2",
    "mobilenetv3small",
    "densenet121",
    "efficientnetb0",
    "efficientnetv2b0",
    "convnexttiny",
}
KERAS_FAMILIES = {
    "vgg",
    "resnet",
    "resnetv2",
    "inception",
    "inceptionresnet",
    "xception",
    "mobilenet",
    "mobilenetv2",
    "mobilenetv3",
    "densenet",
    "nasnet",
    "efficientnet",
    "efficientnetv2",
    "convnext",
}


def build(name: str, shape: tuple[int, ...], classes: int = 3, **params: object):
    entry = zoo.get(name, "architecture")
    return entry.factory(
        entry.params.model_validate({"weights": None, **params}),
        ModelContext(shape, classes, name="m"),
    )


def base_of(model):
    from zoo_builtins.architectures.applications import base_layers

    return keras.Model(model.inputs[0], base_layers(model)[-1].output)


def keras_base(row, size: int, channels: int = 3):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(keras.applications, row.constructor)(
            include_top=False, weights=None, input_shape=(size, size, channels)
        )


def cheap_size(row) -> int:
    return max(row.min_size, 32)


# ---------------------------------------------------------------- the table and the registry


def test_every_keras_family_is_registered_from_the_table() -> None:
    names = {e.name for e in zoo.list_plugins("architectures", tag="transfer")}
    assert set(ROWS) <= names and len(ROWS) == 40
    assert {row.family for row in BACKBONES} == KERAS_FAMILIES
    for row in BACKBONES:
        entry = zoo.get(row.name, "architecture")
        assert {"transfer", "pretrained", row.family} <= entry.tags
        assert entry.family == row.family and entry.weights_license
        assert entry.param_count and entry.param_count > row.params
        assert entry.counted_at is not None
        assert entry.counted_at.input_shape == (row.default_size, row.default_size, 3)
        assert entry.counted_at.num_classes == 10 and entry.counted_at.count == entry.param_count
        assert entry.capabilities.smallest_input(entry.params(weights=None)) == (
            row.min_size,
            row.min_size,
        )
        caps = entry.capabilities
        assert caps.set_trainable and caps.fetch and caps.required_scaling and caps.check_spec
        assert caps.required_scaling(entry.params()) == row.scaling
        assert caps.required_scaling(entry.params(weights="none")) is None
    assert [e.name for e in zoo.list_plugins("architectures", family="efficientnetv2")] == [
        "efficientnetv2b0",
        "efficientnetv2b1",
        "efficientnetv2b2",
        "efficientnetv2b3",
        "efficientnetv2l",
        "efficientnetv2m",
        "efficientnetv2s",
    ]


def test_declared_param_count_is_the_default_model() -> None:
    row = ROWS["mobilenetv3small"]
    entry = zoo.get(row.name, "architecture")
    size = row.default_size
    model = entry.factory(entry.params(weights="none"), ModelContext((size, size, 3), 10))
    assert model.count_params() == entry.param_count


@pytest.mark.parametrize(
    "name", [n if n in FAST else pytest.param(n, marks=pytest.mark.long) for n in ROWS]
)
def test_base_has_keras_applications_parameters(name: str) -> None:
    row = ROWS[name]
    size = cheap_size(row)
    model = build(name, (size, size, 3))
    reference = keras_base(row, size)
    assert base_of(model).count_params() == reference.count_params() == row.params
    assert reference.outputs[0].shape[-1] == row.features
    if row.head is None:  # the shared default head: GAP, Dropout, Dense
        assert model.count_params() - row.params == row.features * 3 + 3
    keras.backend.clear_session()


def test_too_small_input_is_one_clear_error() -> None:
    with pytest.raises(UserError) as err:
        build("inceptionv3", (74, 74, 3))
    text = str(err.value)
    assert "too small" in text and "75x75" in text and "\n" not in text


# ---------------------------------------------------------------- weights files


def save_legacy_h5(model, path: Path) -> None:
    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)


@pytest.mark.parametrize(
    "name, suffix",
    [
        ("mobilenetv3small", ".weights.h5"),
        ("efficientnetv2b0", ".h5"),
        ("resnet50v2", ".h5"),
        pytest.param("densenet121", ".weights.h5", marks=pytest.mark.long),
        pytest.param("convnexttiny", ".h5", marks=pytest.mark.long),
    ],
)
def test_local_weights_file_gives_keras_outputs(name: str, suffix: str, tmp_path: Path) -> None:
    row = ROWS[name]
    size = 64
    reference = keras_base(row, size)
    rng = np.random.default_rng(0)
    for layer in reference.layers:  # non-trivial BN statistics, so a skipped layer shows
        if type(layer).__name__ == "BatchNormalization":
            layer.moving_mean.assign(rng.normal(0, 0.1, layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.5, 1.5, layer.moving_variance.shape))
    path = tmp_path / f"base{suffix}"
    if suffix == ".h5":
        save_legacy_h5(reference, path)
    else:
        reference.save_weights(path)
    model = build(name, (size, size, 3), weights=str(path))
    x = rng.uniform(0, 255, (2, size, size, 3)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(base_of(model)(x)), np.asarray(reference(x)), rtol=1e-5, atol=1e-5
    )


def test_gray_images_are_repeated_inside_the_model(tmp_path: Path) -> None:
    row = ROWS["mobilenetv3small"]
    reference = keras_base(row, 32)
    path = tmp_path / "base.weights.h5"
    reference.save_weights(path)
    model = build("mobilenetv3small", (32, 32, 1), weights=str(path))
    assert model.get_layer("gray_to_rgb") and model.inputs[0].shape[-1] == 1
    x = np.random.default_rng(1).uniform(0, 255, (2, 32, 32, 1)).astype("float32")
    np.testing.assert_allclose(
        np.asarray(base_of(model)(x)),
        np.asarray(reference(np.repeat(x, 3, axis=-1))),
        rtol=1e-5,
        atol=1e-5,
    )
    saved = tmp_path / "gray.keras"
    model.save(saved)
    loaded = keras.saving.load_model(saved, safe_mode=True)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(model(x)), rtol=1e-5, atol=1e-6)


def test_mismatched_weights_file_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "other.weights.h5"
    keras_base(ROWS["vgg16_transfer"], 32).save_weights(path)
    with pytest.raises(UserError) as err:
        build("mobilenetv3small", (32, 32, 3), weights=str(path))
    [problem] = err.value.problems
    assert problem.key_path == "model.params.weights" and "\n" not in problem.message
    assert str(path) in problem.message and "MobileNetV3Small" in problem.message
    assert "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5" in problem.message
    legacy = tmp_path / "other.h5"
    save_legacy_h5(keras_base(ROWS["vgg16_transfer"], 32), legacy)
    with pytest.raises(UserError, match="expected .* found|found .* expected|layer"):
        build("mobilenetv3small", (32, 32, 3), weights=str(legacy))


def test_offline_names_the_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    with pytest.raises(zoo.OfflineError) as err:
        build("efficientnetv2b0", (224, 224, 3), weights="imagenet")
    text = str(err.value)
    expected = tmp_path / "models" / ROWS["efficientnetv2b0"].weights_file
    assert f"{expected} is missing" in text and ROWS["efficientnetv2b0"].weights_hash in text
    entry = zoo.get("densenet121", "architecture")
    fetch = entry.capabilities.fetch
    with pytest.raises(zoo.OfflineError, match="densenet121_weights_tf_dim_ordering_tf_kernels"):
        fetch(entry.params(), zoo.plugin.FetchContext(spec_dir=tmp_path, offline=True))


def test_fetch_resolves_a_relative_path_against_the_spec_folder(tmp_path: Path) -> None:
    (tmp_path / "w.weights.h5").write_bytes(b"")
    entry = zoo.get("mobilenetv3small", "architecture")
    ctx = zoo.plugin.FetchContext(spec_dir=tmp_path)
    assert entry.capabilities.fetch(entry.params(weights="w.weights.h5"), ctx) == [
        tmp_path / "w.weights.h5"
    ]


# ---------------------------------------------------------------- scaling


def write_spec(tmp_path: Path, architecture: str, weights: str, scaling: str) -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "name: t\ndata: {source: digits, image_size: [32, 32], channels: 3}\n"
        f"scaling: {{recipe: {scaling}}}\n"
        f"model: {{architecture: {architecture}, params: {{weights: {weights}}}}}\n"
        "training: {epochs: 1}\n"
    )
    return spec


@pytest.mark.parametrize(
    "name, wanted",
    [
        ("efficientnetv2b0", "raw"),
        ("densenet121", "torch"),
        ("resnet50v2", "tf"),
        ("vgg19_transfer", "caffe"),
        ("convnexttiny", "raw"),
        ("mobilenetv3large", "raw"),
    ],
)
def test_pretrained_weights_require_their_scaling(name: str, wanted: str, tmp_path: Path) -> None:
    wrong = "caffe" if wanted == "unit" else "unit"
    with pytest.raises(UserError) as err:
        zoo.load_spec(write_spec(tmp_path, name, "imagenet", wrong))
    [problem] = err.value.problems
    assert problem.key_path == "scaling.recipe" and problem.line == 3
    assert f"{{recipe: {wanted}}}" in problem.message
    auto = zoo.load_spec(write_spec(tmp_path, name, "imagenet", "auto"))
    assert auto.spec.scaling.recipe == wanted
    assert zoo.load_spec(write_spec(tmp_path, name, "none", "unit")).spec.scaling.recipe == "unit"


def test_raw_scaling_passes_pixels_through() -> None:
    import tensorflow as tf

    entry = zoo.registry().get("raw", "recipe")
    scaling = entry.factory(entry.params(), None)
    x = np.random.default_rng(0).uniform(0, 255, (2, 4, 4, 3)).astype("float32")
    np.testing.assert_array_equal(scaling(x), x)
    np.testing.assert_array_equal(scaling(tf.constant(x)).numpy(), x)
    assert scaling.state()["recipe"] == "raw"


# ---------------------------------------------------------------- fine-tuning


def trainable(model) -> list[str]:
    return [layer.name for layer in base_of(model).layers if layer.trainable and layer.weights]


def test_set_trainable_by_count_and_by_layer_name() -> None:
    set_trainable = zoo.get("mobilenetv3small", "architecture").capabilities.set_trainable
    model = build("mobilenetv3small", (32, 32, 3), unfreeze="none")
    assert trainable(model) == []
    head = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert head == ROWS["mobilenetv3small"].features * 3 + 3
    assert set_trainable(model, 2) == 2
    counted = [
        layer.name
        for layer in base_of(model).layers
        if layer.weights and type(layer).__name__ not in ("BatchNormalization", "Normalization")
    ]
    assert trainable(model) == counted[-2:]
    names = [layer.name for layer in base_of(model).layers]
    start = "expanded_conv_10_project"
    n = set_trainable(model, start)
    now = trainable(model)
    assert now and now[0] == start and n == len(now)
    assert all(names.index(name) >= names.index(start) for name in now)
    bns = [layer for layer in base_of(model).layers if type(layer).__name__ == "BatchNormalization"]
    assert bns and not any(layer.trainable for layer in bns)  # BN stays in inference mode
    total = set_trainable(model, "all")
    assert total == len(trainable(model)) and not any(layer.trainable for layer in bns)
    assert set_trainable(model, "none") == 0 and trainable(model) == []
    with pytest.raises(UserError, match="did you mean"):
        set_trainable(model, "expanded_conv_10_projekt")
    with pytest.raises(UserError, match=f"0..{total}"):
        set_trainable(model, total + 1)


def test_frozen_batchnorm_keeps_its_statistics_while_fine_tuning() -> None:
    set_trainable = zoo.get("mobilenetv2", "architecture").capabilities.set_trainable
    model = build("mobilenetv2", (32, 32, 3))
    set_trainable(model, "all")
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    bn = model.get_layer("bn_Conv1")
    before = keras.ops.convert_to_numpy(bn.moving_mean)
    x = np.random.default_rng(0).uniform(-1, 1, (4, 32, 32, 3)).astype("float32")
    kernel = keras.ops.convert_to_numpy(model.get_layer("Conv1").kernel)
    model.fit(x, np.array([0, 1, 2, 0]), epochs=1, verbose=0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(bn.moving_mean), before)
    assert not np.array_equal(keras.ops.convert_to_numpy(model.get_layer("Conv1").kernel), kernel)


# ---------------------------------------------------------------- the shipped spec


def test_folder_spec_validates_and_builds_without_weights() -> None:
    from zoo.runner.build import build_model

    loaded = zoo.load_spec(SPECS / "folder_efficientnetv2b0.yaml")
    assert loaded.spec.model.architecture == "efficientnetv2b0"
    assert loaded.spec.scaling.recipe == "raw" and len(loaded.spec.training.phases) == 1
    random = zoo.load_spec(
        SPECS / "folder_efficientnetv2b0.yaml", ["model.params.weights=none", "model.num_classes=4"]
    )
    model = build_model(random)
    assert model.inputs[0].shape[1:] == (224, 224, 3) and model.outputs[0].shape[-1] == 4


# ---------------------------------------------------------------- the zoo's own resnet50


@pytest.mark.parametrize("suffix", [pytest.param(".weights.h5", marks=pytest.mark.long), ".h5"])
def test_resnet50_loads_keras_applications_weights(suffix: str, tmp_path: Path) -> None:
    reference = keras_base(ROWS["resnet50_transfer"], 32)
    path = tmp_path / f"resnet50{suffix}"
    save_legacy_h5(reference, path) if suffix == ".h5" else reference.save_weights(path)
    entry = zoo.get("resnet50", "architecture")
    params = entry.params(weights=str(path))
    assert params.bn_epsilon == 1.001e-5  # Keras' epsilon comes with pretrained weights
    assert entry.capabilities.required_scaling(params) == "caffe"
    model = entry.factory(params, ModelContext((32, 32, 3), 3))
    base = keras.Model(model.inputs[0], model.get_layer("conv5_block3_out").output)
    x = np.random.default_rng(0).uniform(-120, 150, (2, 32, 32, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(base(x)), np.asarray(reference(x)), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="stem: imagenet"):
        entry.params(weights="imagenet", stem="cifar")
