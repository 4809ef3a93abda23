"""Architecture plugins: every registered name builds, runs, saves and loads; parameter counts
match keras.applications and the published reference counts; the reference models
(docs/reference-models.md) are reproduced layer for layer by the specs/reference_*.yaml
files; input checks fail early and clearly.
"""

from __future__ import annotations

import hashlib
import http.server
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import zoo
from zoo import ModelContext, UserError
from zoo.runner.build import build_model

keras = pytest.importorskip("keras")

SPECS = Path(__file__).resolve().parent.parent / "specs"
# The keras.applications backbones are tested in tests/test_backbones.py; vgg16_transfer,
# one of them, stays here as a reference model.
ARCHITECTURES = [
    e.name
    for e in zoo.list_plugins("architectures")
    if "transfer" not in e.tags or e.name == "vgg16_transfer"
]
UNREACHABLE = "http://127.0.0.1:9/"  # the discard port: nothing listens, refused at once

# The smallest square input each built-in default accepts (checked below: one less fails).
SMALLEST = {
    "mlp": (1, 1, 1),
    "simple_cnn": (5, 5, 1),
    "vgg": (17, 17, 3),
    "googlenet": (32, 32, 3),
    "resnet18": (32, 32, 3),
    "resnet34": (32, 32, 3),
    "resnet50": (32, 32, 3),
    "resnet101": (32, 32, 3),
    "resnet152": (32, 32, 3),
    "vgg16_transfer": (32, 32, 3),
}
SMALL_OVERRIDES = {"vgg16_transfer": {"weights": None}}


def default_params(name: str, **overrides: object):
    entry = zoo.get(name, "architecture")
    return entry.params.model_validate({**SMALL_OVERRIDES.get(name, {}), **overrides})


def build(name: str, shape: tuple[int, ...], classes: int = 3, **overrides: object):
    entry = zoo.get(name, "architecture")
    return entry.factory(default_params(name, **overrides), ModelContext(shape, classes, name="m"))


# ---------------------------------------------------------------- every registered name


# The deepest ResNets take 25 s to build and save on 2 cores; ResNet-50 and ResNet-18/34 keep
# the family in the default run, and their parameter counts are checked below either way.
DEEPEST = {"resnet101", "resnet152"}


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.long) if n in DEEPEST else n for n in ARCHITECTURES],
)
def test_builds_runs_saves_and_loads(name: str, tmp_path: Path) -> None:
    shape = SMALLEST.get(name, (32, 32, 3))
    model = build(name, shape, classes=3)
    x = np.random.default_rng(0).uniform(0, 1, (2, *shape)).astype("float32")
    y = np.asarray(model(x, training=False))
    assert y.shape == (2, 3)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-5)

    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(np.asarray(loaded(x, training=False)), y, rtol=1e-5, atol=1e-6)
    assert loaded.count_params() == model.count_params()


@pytest.mark.parametrize("name", [n for n in ARCHITECTURES if n in SMALLEST and n != "mlp"])
def test_one_pixel_below_the_smallest_input_fails_clearly(name: str) -> None:
    h, w, c = SMALLEST[name]
    with pytest.raises(UserError) as err:
        build(name, (h - 1, w - 1, c))
    text = str(err.value)
    assert "too small" in text and f"{h}x{w}" in text and "Received: input_shape" in text
    assert "\n" not in text


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_declared_param_count_is_the_default_models(name: str) -> None:
    entry = zoo.get(name, "architecture")
    counted = entry.counted_at
    assert counted is not None, f"{name}: param_count must say where it holds (ParamCount)"
    params = entry.params(
        **{
            **counted.params,
            **({"weights": None} if "weights" in entry.params.model_fields else {}),
        }
    )
    model = entry.factory(params, ModelContext(counted.input_shape, counted.num_classes))
    assert model.count_params() == entry.param_count == counted.count


def test_every_architecture_has_documented_defaults() -> None:
    for name in ARCHITECTURES:
        entry = zoo.get(name, "architecture")
        entry.params()  # the runner-facing default needs no parameters
        assert entry.param_count and entry.family and entry.input_kind


# ---------------------------------------------------------------- reference counts


def base_of(model, last_layer: str):
    return keras.Model(model.inputs, model.get_layer(last_layer).output)


def weight_shapes(model) -> dict[str, list[tuple[int, ...]]]:
    return {
        layer.name: [tuple(w.shape) for w in layer.weights]
        for layer in model.layers
        if layer.weights
    }


def test_resnet50_base_is_keras_applications_resnet50() -> None:
    ours = base_of(build("resnet50", (64, 64, 3)), "conv5_block3_out")
    ref = keras.applications.ResNet50(include_top=False, weights=None, input_shape=(64, 64, 3))
    assert ours.count_params() == ref.count_params() == 23_587_712
    assert weight_shapes(ours) == weight_shapes(ref)  # same names, same shapes, layer by layer
    assert ours.output.shape == ref.output.shape


@pytest.mark.slow
@pytest.mark.parametrize(
    "name, reference, count",
    [
        ("resnet101", "ResNet101", 42_658_176),
        ("resnet152", "ResNet152", 58_370_944),
    ],
)
def test_deeper_resnet_bases_are_keras_applications(name: str, reference: str, count: int) -> None:
    ours = base_of(build(name, (32, 32, 3)), "conv5_block3_out")
    ref = getattr(keras.applications, reference)(
        include_top=False, weights=None, input_shape=(32, 32, 3)
    )
    assert ours.count_params() == ref.count_params() == count
    assert weight_shapes(ours) == weight_shapes(ref)


@pytest.mark.parametrize(
    "name, published",
    [
        # torchvision's published num_params (ImageNet heads, convs without bias; BatchNorm's
        # running statistics are buffers there, non-trainable weights in Keras).
        ("resnet18", 11_689_512),
        ("resnet34", 21_797_672),
        ("resnet50", 25_557_032),
        pytest.param("resnet101", 44_549_160, marks=pytest.mark.slow),
        pytest.param("resnet152", 60_192_808, marks=pytest.mark.slow),
    ],
)
def test_resnet_paper_configuration_matches_torchvision(name: str, published: int) -> None:
    model = build(
        name,
        (32, 32, 3),
        classes=1000,
        conv_bias=False,
        head={"pooling": "gap", "dense_units": [], "dropout": 0.0},
    )
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert trainable == published


@pytest.mark.parametrize(
    "depth, reference, count",
    [
        (16, "VGG16", 14_714_688),
        (19, "VGG19", 20_024_384),
    ],
)
def test_vgg_base_is_keras_applications(depth: int, reference: str, count: int) -> None:
    ours = base_of(build("vgg", (32, 32, 3), depth=depth, first_pool_strides=2), "block5_pool")
    ref = getattr(keras.applications, reference)(
        include_top=False, weights=None, input_shape=(32, 32, 3)
    )
    assert ours.count_params() == ref.count_params() == count
    assert weight_shapes(ours) == weight_shapes(ref)


@pytest.mark.slow
@pytest.mark.parametrize(
    "depth, published",
    [
        # torchvision's vgg11/13/16/19 (the paper's A/B/D/E with the 4096-4096 classifier).
        (11, 132_863_336),
        (13, 133_047_848),
        (16, 138_357_544),
        (19, 143_667_240),
    ],
)
def test_vgg_paper_configuration_matches_published_counts(depth: int, published: int) -> None:
    model = build(
        "vgg",
        (224, 224, 3),
        classes=1000,
        depth=depth,
        first_pool_strides=2,
        head={"pooling": "flatten", "dense_units": [4096, 4096], "dropout": [0, 0.5, 0.5]},
    )
    assert model.count_params() == published


def test_vgg16_transfer_base_is_keras_vgg16() -> None:
    model = build("vgg16_transfer", (32, 32, 3))
    assert base_of(model, "block5_pool").count_params() == 14_714_688


# ---------------------------------------------------------------- the reference models


def describe(layer) -> str:
    """A layer as Keras code would read: type, settings, output shape."""
    cls = type(layer).__name__
    shape = "x".join(str(d) for d in layer.output.shape[1:])
    cfg = layer.get_config()
    act = cfg.get("activation")
    if cls == "Conv2D":
        k, s = cfg["kernel_size"], cfg["strides"]
        text = f"Conv2D {cfg['filters']} {k[0]}x{k[1]}/{s[0]} {cfg['padding']} {act}"
    elif cls == "Dense":
        text = f"Dense {cfg['units']} {act}"
    elif cls in ("MaxPooling2D", "AveragePooling2D"):
        p, s = cfg["pool_size"], cfg["strides"]
        text = f"{cls[:3]}Pool {p[0]}x{p[1]}/{s[0]} {cfg['padding']}"
    elif cls == "Dropout":
        text = f"Dropout {cfg['rate']}"
    elif cls == "Activation":
        text = f"Activation {act}"
    elif cls == "ZeroPadding2D":
        text = f"ZeroPad {cfg['padding'][0][0]}"
    else:
        text = {
            "BatchNormalization": "BN",
            "GlobalAveragePooling2D": "GAP",
            "Concatenate": "Concat",
        }.get(cls, cls)
    return f"{text} -> {shape}"


def layer_list(model) -> list[str]:
    return [describe(layer) for layer in model.layers if type(layer).__name__ != "InputLayer"]


def spec_model(name: str):
    return build_model(SPECS / f"{name}.yaml")


GRAY = [
    "Conv2D 16 3x3/1 same relu -> 28x28x16",
    "Conv2D 32 4x4/1 same relu -> 28x28x32",
    "Conv2D 64 4x4/1 valid relu -> 25x25x64",
    "MaxPool 2x2/2 valid -> 12x12x64",
    "Flatten -> 9216",
]
GRAY_HEAD = ["Dense 50 relu -> 50", "Dense 20 relu -> 20", "Dense 10 softmax -> 10"]
REFERENCE_LINEAR = {
    "reference_mlp": [
        "Flatten -> 784",
        "Dense 64 relu -> 64",
        "Dense 128 relu -> 128",
        "Dense 10 softmax -> 10",
    ],
    "reference_cnn_gray": GRAY + GRAY_HEAD,
    "reference_cnn_gray_dropout": GRAY + ["Dropout 0.5 -> 9216"] + GRAY_HEAD,
    "reference_cnn_rgb": [
        "Conv2D 32 5x5/1 valid relu -> 28x28x32",
        "Conv2D 32 3x3/1 same relu -> 28x28x32",
        "MaxPool 2x2/2 valid -> 14x14x32",
        "Conv2D 64 3x3/1 same relu -> 14x14x64",
        "Conv2D 64 3x3/1 same linear -> 14x14x64",
        "Activation relu -> 14x14x64",
        "MaxPool 2x2/2 valid -> 7x7x64",
        "Conv2D 128 3x3/1 same relu -> 7x7x128",
        "Conv2D 128 3x3/1 same linear -> 7x7x128",
        "Activation relu -> 7x7x128",
        "MaxPool 2x2/2 valid -> 3x3x128",
        "Flatten -> 1152",
        "Dropout 0.5 -> 1152",
        "Dense 300 relu -> 300",
        "Dropout 0.5 -> 300",
        "Dense 10 softmax -> 10",
    ],
    "reference_cnn_performance": [
        line
        for filters, size in ((64, 32), (128, 16), (256, 8))
        for line in [
            f"Conv2D {filters} 3x3/1 same linear -> {size}x{size}x{filters}",
            f"BN -> {size}x{size}x{filters}",
            f"Activation relu -> {size}x{size}x{filters}",
        ]
        * 2
        + [f"MaxPool 2x2/2 valid -> {size // 2}x{size // 2}x{filters}"]
    ]
    + [
        "GAP -> 256",
        "Dropout 0.5 -> 256",
        "Dense 300 relu -> 300",
        "Dropout 0.5 -> 300",
        "Dense 10 softmax -> 10",
    ],
    "reference_vgg": [
        "Conv2D 64 3x3/1 same relu -> 224x224x64",
        "Conv2D 64 3x3/1 same relu -> 224x224x64",
        "MaxPool 2x2/1 valid -> 223x223x64",
        "Conv2D 128 3x3/1 same relu -> 223x223x128",
        "Conv2D 128 3x3/1 same relu -> 223x223x128",
        "MaxPool 2x2/2 valid -> 111x111x128",
        *["Conv2D 256 3x3/1 same relu -> 111x111x256"] * 3,
        "MaxPool 2x2/2 valid -> 55x55x256",
        *["Conv2D 512 3x3/1 same relu -> 55x55x512"] * 3,
        "MaxPool 2x2/2 valid -> 27x27x512",
        *["Conv2D 512 3x3/1 same relu -> 27x27x512"] * 3,
        "MaxPool 2x2/2 valid -> 13x13x512",
        "GAP -> 512",
        "Dropout 0.5 -> 512",
        "Dense 120 relu -> 120",
        "Dropout 0.5 -> 120",
        "Dense 10 softmax -> 10",
    ],
    "reference_vgg16_transfer": [
        "Conv2D 64 3x3/1 same relu -> 224x224x64",
        "Conv2D 64 3x3/1 same relu -> 224x224x64",
        "MaxPool 2x2/2 valid -> 112x112x64",
        "Conv2D 128 3x3/1 same relu -> 112x112x128",
        "Conv2D 128 3x3/1 same relu -> 112x112x128",
        "MaxPool 2x2/2 valid -> 56x56x128",
        *["Conv2D 256 3x3/1 same relu -> 56x56x256"] * 3,
        "MaxPool 2x2/2 valid -> 28x28x256",
        *["Conv2D 512 3x3/1 same relu -> 28x28x512"] * 3,
        "MaxPool 2x2/2 valid -> 14x14x512",
        *["Conv2D 512 3x3/1 same relu -> 14x14x512"] * 3,
        "MaxPool 2x2/2 valid -> 7x7x512",
        "GAP -> 512",
        "Dense 50 relu -> 50",
        "Dense 10 softmax -> 10",
    ],
}


@pytest.mark.parametrize("spec", sorted(REFERENCE_LINEAR))
def test_reference_spec_reproduces_the_model_layer_for_layer(spec: str) -> None:
    overrides = ["model.params.weights=none"] if spec == "reference_vgg16_transfer" else []
    model = build_model(zoo.load_spec(SPECS / f"{spec}.yaml", overrides))
    assert layer_list(model) == REFERENCE_LINEAR[spec]


def test_reference_performance_cnn_initializers_and_penalties() -> None:
    model = spec_model("reference_cnn_performance")
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    inits = [type(c.kernel_initializer).__name__ for c in convs]
    # The very first conv keeps Keras' default initializer.
    assert inits == ["GlorotUniform"] + ["HeNormal"] * 5
    penalties = [c.kernel_regularizer for c in convs]
    assert penalties[0] is None and all(p is None for p in penalties[2:])
    assert isinstance(penalties[1], keras.regularizers.L2)
    assert penalties[1].l2 == pytest.approx(1e-5)
    assert all(c.use_bias for c in convs)  # the convs keep their bias before BatchNorm
    hidden, output = model.get_layer("head_fc1"), model.get_layer("predictions")
    assert type(hidden.kernel_initializer).__name__ == "HeNormal"
    assert hidden.kernel_regularizer.l2 == pytest.approx(1e-5)
    assert type(output.kernel_initializer).__name__ == "GlorotNormal"


@pytest.mark.parametrize(
    "preset, spec",
    [
        ("gray", "reference_cnn_gray"),
        ("gray_dropout", "reference_cnn_gray_dropout"),
        ("rgb", "reference_cnn_rgb"),
        ("performance", "reference_cnn_performance"),
    ],
)
def test_simple_cnn_presets_equal_the_spelled_out_specs(preset: str, spec: str) -> None:
    loaded = zoo.load_spec(SPECS / f"{spec}.yaml")
    shape = (28, 28, 1) if "gray" in preset else (32, 32, 3)
    from_preset = build("simple_cnn", shape, classes=10, preset=preset)
    assert loaded.spec.model.params == default_params("simple_cnn", preset=preset).model_copy(
        update={"preset": None}
    )
    assert layer_list(from_preset) == layer_list(spec_model(spec))


@pytest.mark.parametrize("preset", ["gray", "gray_dropout", "rgb", "performance"])
def test_simple_cnn_old_preset_names_still_mean_the_same(preset: str) -> None:
    """The presets were first named note_gray, note_gray_dropout, note_rgb, note_performance."""
    old = default_params("simple_cnn", preset=f"note_{preset}")
    assert old == default_params("simple_cnn", preset=preset) and old.preset == preset
    overrides = [f"model.params.preset=note_{preset}"]  # in a spec too, keys beside it win
    loaded = zoo.load_spec(SPECS / "digits_cnn.yaml", [*overrides, "model.params.activation=tanh"])
    assert loaded.spec.model.params == default_params(
        "simple_cnn", preset=preset, activation="tanh"
    )
    with pytest.raises(ValueError, match="'gray', 'gray_dropout', 'rgb' or 'performance'"):
        default_params("simple_cnn", preset="note_grey")


def test_reference_resnet50_layers() -> None:
    """ZeroPadding 3, Conv 64 k7 s2, BN, ReLU, ZeroPadding 1, MaxPool 3 s2, bottleneck
    stages x3/x4/x6/x3 (conv block: 1x1 conv + BN shortcut), GAP, Dropout, Dense 200, Dropout."""
    model = spec_model("reference_resnet50")
    expected = [
        "ZeroPad 3 -> 230x230x3",
        "Conv2D 64 7x7/2 valid linear -> 112x112x64",
        "BN -> 112x112x64",
        "Activation relu -> 112x112x64",
        "ZeroPad 1 -> 114x114x64",
        "MaxPool 3x3/2 valid -> 56x56x64",
    ]
    size = 56
    stages = [(64, 64, 256), (128, 128, 512), (256, 256, 1024), (512, 512, 2048)]
    for stage, ((f1, f2, f3), blocks) in enumerate(zip(stages, [3, 4, 6, 3], strict=True)):
        for block in range(blocks):
            stride = 2 if block == 0 and stage > 0 else 1
            size = size // stride
            expected += [
                f"Conv2D {f1} 1x1/{stride} same linear -> {size}x{size}x{f1}",
                f"BN -> {size}x{size}x{f1}",
                f"Activation relu -> {size}x{size}x{f1}",
                f"Conv2D {f2} 3x3/1 same linear -> {size}x{size}x{f2}",
                f"BN -> {size}x{size}x{f2}",
                f"Activation relu -> {size}x{size}x{f2}",
                f"Conv2D {f3} 1x1/1 same linear -> {size}x{size}x{f3}",
                f"BN -> {size}x{size}x{f3}",
                f"Add -> {size}x{size}x{f3}",
                f"Activation relu -> {size}x{size}x{f3}",
            ]
            if block == 0:  # conv block: 1x1 conv + BN shortcut
                expected += [
                    f"Conv2D {f3} 1x1/{stride} same linear -> {size}x{size}x{f3}",
                    f"BN -> {size}x{size}x{f3}",
                ]
    expected += [
        "GAP -> 2048",
        "Dropout 0.5 -> 2048",
        "Dense 200 relu -> 200",
        "Dropout 0.5 -> 200",
        "Dense 10 softmax -> 10",
    ]
    got = layer_list(model)
    assert Counter(got) == Counter(expected)
    assert got[:6] == expected[:6] and got[-5:] == expected[-5:]
    he = {
        type(layer.kernel_initializer).__name__
        for layer in model.layers
        if isinstance(layer, keras.layers.Conv2D)
    }
    assert he == {"HeNormal"}
    assert model.get_layer("conv5_block3_out").output.shape[1:] == (7, 7, 2048)


REFERENCE_INCEPTION = {  # 1x1, 3x3 reduce, 3x3, 5x5 reduce, 5x5, pool proj
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


def test_reference_googlenet_layers() -> None:
    model = spec_model("reference_googlenet")
    expected = [
        "Conv2D 64 7x7/2 same relu -> 112x112x64",
        "MaxPool 3x3/2 same -> 56x56x64",
        "Conv2D 64 1x1/1 same relu -> 56x56x64",
        "Conv2D 192 3x3/1 same relu -> 56x56x192",
        "MaxPool 3x3/2 same -> 28x28x192",
    ]
    channels = 192
    for module, (f1, f3r, f3, f5r, f5, fp) in REFERENCE_INCEPTION.items():
        if module in ("4a", "5a"):
            size = 14 if module == "4a" else 7
            expected.append(f"MaxPool 3x3/2 same -> {size}x{size}x{channels}")
        size = {"3": 28, "4": 14, "5": 7}[module[0]]
        s = f"{size}x{size}"
        expected += [
            f"Conv2D {f1} 1x1/1 same relu -> {s}x{f1}",
            f"Conv2D {f3r} 1x1/1 same relu -> {s}x{f3r}",
            f"Conv2D {f3} 3x3/1 same relu -> {s}x{f3}",
            f"Conv2D {f5r} 1x1/1 same relu -> {s}x{f5r}",
            f"Conv2D {f5} 5x5/1 same relu -> {s}x{f5}",
            f"MaxPool 3x3/1 same -> {s}x{channels}",
            f"Conv2D {fp} 1x1/1 same relu -> {s}x{fp}",
        ]
        channels = f1 + f3 + f5 + fp
        expected.append(f"Concat -> {s}x{channels}")
    expected += ["GAP -> 1024", "Dropout 0.5 -> 1024", "Dense 10 softmax -> 10"]
    got = layer_list(model)
    assert Counter(got) == Counter(expected)
    assert got[:5] == expected[:5] and got[-3:] == expected[-3:]
    assert len(model.outputs) == 1


def test_googlenet_auxiliary_classifiers() -> None:
    entry = zoo.get("googlenet")
    params = entry.params(aux_classifiers=True)
    model = entry.factory(params, ModelContext((224, 224, 3), 10))
    assert [o.shape[1:] for o in model.outputs] == [(10,)] * 3
    assert model.output_names == ["predictions", "aux1_predictions", "aux2_predictions"]
    assert model.get_layer("aux1_avg_pool").output.shape[1:] == (4, 4, 512)
    assert model.get_layer("aux2_avg_pool").output.shape[1:] == (4, 4, 528)
    assert entry.capabilities.loss_weights(params) == {
        "predictions": 1.0,
        "aux1_predictions": 0.3,
        "aux2_predictions": 0.3,
    }
    assert entry.capabilities.loss_weights(entry.params()) is None
    with pytest.raises(UserError, match="aux1_avg_pool.*65x65"):
        entry.factory(params, ModelContext((64, 64, 3), 10))


# ---------------------------------------------------------------- transfer learning


def trainable_base(model) -> list[str]:
    return [
        layer.name
        for layer in model.layers
        if layer.name.startswith("block") and layer.weights and layer.trainable
    ]


def test_vgg16_transfer_freezing() -> None:
    entry = zoo.get("vgg16_transfer")
    set_trainable = entry.capabilities.set_trainable
    model = build("vgg16_transfer", (32, 32, 3))
    assert trainable_base(model) == []  # the default: feature extraction
    head_only = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert head_only == 512 * 50 + 50 + 50 * 3 + 3
    assert set_trainable(model, 3) == 3
    assert trainable_base(model) == ["block5_conv1", "block5_conv2", "block5_conv3"]
    assert set_trainable(model, "all") == 13 and len(trainable_base(model)) == 13
    assert set_trainable(model, "none") == 0 and trainable_base(model) == []
    with pytest.raises(UserError, match="0..13"):
        set_trainable(model, 14)
    partly = build("vgg16_transfer", (32, 32, 3), unfreeze=2)
    assert trainable_base(partly) == ["block5_conv2", "block5_conv3"]


def test_pretrained_weights_require_their_scaling_and_auto_picks_it() -> None:
    assert zoo.load_spec(SPECS / "reference_vgg16_transfer.yaml").warnings == []
    with pytest.raises(UserError) as err:  # a --set that makes the mistake is blamed for it
        zoo.load_spec(SPECS / "reference_vgg16_transfer.yaml", ["scaling.recipe=unit"])
    [problem] = err.value.problems
    assert problem.key_path == "scaling.recipe" and problem.file == "--set scaling.recipe=unit"
    assert "{recipe: caffe}" in problem.message
    lines = (SPECS / "reference_vgg16_transfer.yaml").read_text().splitlines()
    line = next(i for i, text in enumerate(lines, 1) if text.startswith("scaling:"))
    lines[line - 1] = "scaling: {recipe: unit}"
    from zoo.spec import load_spec_text

    with pytest.raises(UserError) as err:  # in the file: its line
        load_spec_text("\n".join(lines) + "\n", "wrong.yaml", base_dir=SPECS)
    [problem] = err.value.problems
    assert problem.key_path == "scaling.recipe" and problem.line == line
    assert problem.file == "wrong.yaml" and "{recipe: caffe}" in problem.message
    auto = zoo.load_spec(SPECS / "reference_vgg16_transfer.yaml", ["scaling.recipe=auto"])
    assert auto.spec.scaling.recipe == "caffe"
    random = zoo.load_spec(
        SPECS / "reference_vgg16_transfer.yaml",
        ["model.params.weights=none", "scaling.recipe=auto"],
    )
    assert random.spec.scaling.recipe == "unit"  # nothing required: the default recipe
    loaded = zoo.load_spec(SPECS / "reference_vgg16_transfer.yaml", ["model.params.weights=none"])
    assert any("random weights" in w.message for w in loaded.warnings)


def test_imagenet_weights_need_three_channels() -> None:
    with pytest.raises(UserError) as err:  # gray is repeated to 3 channels (test_backbones.py)
        build("vgg16_transfer", (32, 32, 2), weights="imagenet")
    assert "3-channel" in str(err.value) and "2 channel" in str(err.value)


def test_local_weights_file_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nope.weights.h5"
    with pytest.raises(UserError, match="weights file not found"):
        build("vgg16_transfer", (32, 32, 3), weights=str(missing))


def test_local_weights_file_is_loaded(tmp_path: Path) -> None:
    ref = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = tmp_path / "base.weights.h5"
    ref.save_weights(path)
    model = build("vgg16_transfer", (32, 32, 3), weights=str(path))
    np.testing.assert_array_equal(
        model.get_layer("block3_conv2").get_weights()[0],
        ref.get_layer("block3_conv2").get_weights()[0],
    )


def test_offline_imagenet_download_names_the_missing_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv("ZOO_WEIGHTS_BASE_URL", UNREACHABLE)
    start = time.monotonic()
    with pytest.raises(zoo.OfflineError) as err:
        build("vgg16_transfer", (32, 32, 3), weights="imagenet")
    assert time.monotonic() - start < 10
    text = str(err.value)
    expected = tmp_path / "models" / "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
    assert f"{expected} is missing" in text
    assert "http://127.0.0.1:9/vgg16/vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5" in text
    assert "6d6bbae143d832006294945121d1f1fc" in text and "\n" not in text
    assert not any((tmp_path / "models").iterdir())  # no partial file left behind


def test_zoo_offline_never_tries_to_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    with pytest.raises(zoo.OfflineError, match=r"\(ZOO_OFFLINE is set\): .* is missing"):
        build("vgg16_transfer", (32, 32, 3), weights="imagenet")
    assert not (tmp_path / "models").exists()


# ---------------------------------------------------------------- the download helper, real server


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server over a folder: (base URL, folder)."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **k):
            super().__init__(*a, directory=str(root), **k)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root
    finally:
        server.shutdown()
        server.server_close()


def test_download_checks_the_hash_and_reports_every_missing_file(
    served: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zoo.plugin import RemoteFile, ensure_files

    url, root = served
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("ZOO_OFFLINE", raising=False)
    payload = b"weights" * 1000
    (root / "good.h5").write_bytes(payload)
    good = RemoteFile("good.h5", url + "good.h5", hashlib.md5(payload).hexdigest())
    [path] = ensure_files([good], what="test weights")
    assert path == tmp_path / "keras" / "models" / "good.h5" and path.read_bytes() == payload
    (root / "good.h5").unlink()  # present now: no second download
    assert ensure_files([good], what="test weights") == [path]

    (root / "bad.h5").write_bytes(b"not the published file")
    bad = RemoteFile("bad.h5", url + "bad.h5", "0" * 32)
    gone = RemoteFile("gone.h5", url + "gone.h5", "0" * 32)
    with pytest.raises(zoo.OfflineError) as err:
        ensure_files([bad, gone], what="test weights")
    assert len(err.value.problems) == 2  # every missing file, not only the first
    assert "bad.h5" in str(err.value.problems[0]) and "404" in str(err.value.problems[1])
    assert not (tmp_path / "keras" / "models" / "bad.h5").exists()


@pytest.mark.parametrize(
    "spec, architecture",
    [
        ("digits_mlp", "mlp"),
        ("simple_cnn_cifar10", "simple_cnn"),
        ("vgg11_cifar10", "vgg"),
        ("googlenet_cifar10", "googlenet"),
        ("resnet18_cifar10", "resnet18"),
        ("vgg16_transfer_cifar10", "vgg16_transfer"),
    ],
)
def test_family_specs_build(spec: str, architecture: str) -> None:
    overrides = ["model.params.weights=none"] if architecture == "vgg16_transfer" else []
    loaded = zoo.load_spec(SPECS / f"{spec}.yaml", overrides)
    assert loaded.spec.model.architecture == architecture
    model = build_model(loaded)
    assert model.outputs[0].shape[-1] == 10
    np.testing.assert_allclose(
        np.asarray(model(np.zeros((1, *model.inputs[0].shape[1:]), "float32"))).sum(),
        1.0,
        rtol=1e-5,
    )
