"""zoo.testing on the LIVE registry: every registered plugin passes its contract checks, so a
new built-in (or an installed third-party plugin) is tested by these tests as it is added;
and the checks catch plugins that break the contract."""

from __future__ import annotations

import numpy as np
import pytest

import zoo
import zoo.plugin
from zoo.plugin.manager import build_registry
from zoo.testing import check_architecture, check_data_source, check_plugin, check_recipe

REGISTRY = build_registry()
# Every architecture is checked, but building dozens of networks on 2 shared CPU cores takes
# minutes: the default run checks the small ones (every new small plugin included); the rest,
# pretrained backbones (tag transfer/pretrained) and anything above SMALL_PARAMS, run with
# `pytest -m long tests/test_testing_kit.py`.
SMALL_PARAMS = 1_000_000
BIG_TAGS = {"transfer", "pretrained"}

# Entries whose defaults cannot be built offline or need values: what the live checks pass.
# Pretrained weights would be downloaded: every architecture with a `weights` param gets none.
ARCH_PARAMS = {
    e.name: {"weights": None}
    for e in REGISTRY.list("architectures")
    if "weights" in e.params.model_fields
}
RECIPE_PARAMS = {"albumentations": {"transforms": [{"HorizontalFlip": {"p": 0.5}}]}}


# An installed plugin package's architectures are checked one per family, its smallest
# variant: the package's own tests check the rest (zoo-hub registers 47 KerasHub backbones,
# up to 7 billion parameters). zoo's own are all checked.
BUILTIN_DISTRIBUTION = "zoo"
BYTES_PER_PARAM = 16  # a check builds a model twice and saves and loads it


def _is_long(entry):
    return (entry.param_count or 0) > SMALL_PARAMS or bool(entry.tags & BIG_TAGS)


def _checked_architectures():
    """zoo's architectures, and each other package's smallest variant of each family."""
    chosen, smallest = [], {}
    for e in REGISTRY.list("architectures"):
        if e.provenance.distribution == BUILTIN_DISTRIBUTION or e.family is None:
            chosen.append(e)
            continue
        key = (e.provenance.distribution, e.family)
        size = e.param_count or float("inf")
        if key not in smallest or size < (smallest[key].param_count or float("inf")):
            smallest[key] = e
    return sorted([*chosen, *smallest.values()], key=lambda e: e.name)


def _arch_cases():
    for e in _checked_architectures():
        yield pytest.param(e.name, marks=[pytest.mark.long] if _is_long(e) else [], id=e.name)


def _count_cases():
    for e in _checked_architectures():
        if e.param_count:
            yield pytest.param(e.name, marks=[pytest.mark.long] if _is_long(e) else [], id=e.name)


def _skip_without_memory(name):
    """A variant this machine cannot hold is skipped with how much it needs."""
    from pathlib import Path

    need = (REGISTRY.get(name).param_count or 0) * BYTES_PER_PARAM
    meminfo = Path("/proc/meminfo")
    if not need or not meminfo.is_file():
        return
    fields = dict(line.split(":", 1) for line in meminfo.read_text().splitlines() if ":" in line)
    available = int(fields.get("MemAvailable", "0 kB").split()[0]) * 1024
    if available and need > available // 2:
        pytest.skip(f"{name}: checking it needs about {need / 1e9:.1f} GB of memory")


@pytest.mark.parametrize("name", list(_arch_cases()))
def test_every_architecture_keeps_the_contract(name):
    _skip_without_memory(name)
    report = check_architecture(name, REGISTRY, params=ARCH_PARAMS.get(name), param_count=False)
    assert "forward pass" in report.checked


@pytest.mark.parametrize("name", list(_count_cases()))
def test_declared_param_counts_match_the_built_models(name):
    _skip_without_memory(name)
    report = check_architecture(
        name, REGISTRY, params=ARCH_PARAMS.get(name), count_params=ARCH_PARAMS.get(name)
    )
    assert any(c.startswith("param_count") for c in report.checked), str(report)


@pytest.mark.parametrize("name", REGISTRY.names("recipe"))
def test_every_recipe_keeps_the_contract(name):
    report = check_recipe(name, REGISTRY, params=RECIPE_PARAMS.get(name))
    entry = REGISTRY.get(name)
    if entry.recipe_type == "scaling":
        wanted = {
            "fit",
            "NumPy and tf.Tensor agree",
            "one HWC image",
            "state() is JSON-able",
            "rebuilt from state",
        }
    else:
        wanted = {
            "uint8 images of the same shape",
            "same seed, same images",
            "pickles (worker processes)",
        }
    assert wanted <= set(report.checked), str(report)


@pytest.mark.parametrize("channels", [1, 3])
def test_scaling_recipes_on_gray_and_rgb(channels):
    for name in REGISTRY.names("recipe", "scaling"):
        check_recipe(name, REGISTRY, channels=channels)


# ---------------------------------------------------------------- data sources with files


def _png_folder(root, classes=("cat", "dog"), per_class=3, size=(6, 5)):
    from zoo.images import write_png

    rng = np.random.default_rng(0)
    files = []
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            path = root / c / f"{i}.png"
            write_png(path, rng.integers(0, 255, size=(*size, 3), dtype=np.uint8))
            files.append((path, c))
    return files


def _data_params(name, tmp_path):
    """Params (and files in tmp_path) each built-in data source needs."""
    if name == "directory":
        _png_folder(tmp_path / "images")
        return {"path": "images"}
    if name == "csv":
        files = _png_folder(tmp_path / "images")
        rows = ["file_paths,target_names"] + [f"{p.relative_to(tmp_path)},{c}" for p, c in files]
        (tmp_path / "table.csv").write_text("\n".join(rows) + "\n")
        return {"path": "table.csv"}
    if name == "numpy":
        rng = np.random.default_rng(0)
        np.savez(
            tmp_path / "set.npz",
            x=rng.integers(0, 255, (12, 7, 7, 1), dtype=np.uint8),
            y=np.arange(12) % 3,
        )
        return {"path": "set.npz"}
    if name == "keras":
        return {"dataset": "mnist"}
    if name == "digits":
        return {"limit": 50}
    return None  # a plugin added later: its defaults


@pytest.mark.parametrize("name", REGISTRY.names("data"))
def test_every_data_source_keeps_the_contract(name, tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_OFFLINE", "1")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    params = _data_params(name, tmp_path)
    try:
        report = check_data_source(name, params, spec_dir=tmp_path, registry=REGISTRY)
    except zoo.OfflineError as exc:
        pytest.skip(f"{name} needs a download: {exc}")
    assert report.checked


def test_check_plugin_dispatches_by_kind():
    assert check_plugin("unit", REGISTRY).kind == "scaling recipe"
    assert check_plugin("digits", REGISTRY, params={"limit": 20}).kind == "data source"


# ---------------------------------------------------------------- the checks catch breakage


class P(zoo.PluginParams):
    pass


def _wrong_output(params, ctx):
    import keras

    inputs = keras.Input(ctx.input_shape)
    x = keras.layers.Flatten()(inputs)
    return keras.Model(inputs, keras.layers.Dense(ctx.num_classes + 1, activation="softmax")(x))


def _no_softmax(params, ctx):
    import keras

    inputs = keras.Input(ctx.input_shape)
    x = keras.layers.Flatten()(inputs)
    return keras.Model(inputs, keras.layers.Dense(ctx.num_classes)(x))


class _GlobalRandom:
    def __call__(self, image):
        return np.random.randint(0, 255, image.shape).astype(np.uint8)  # not seeded


class _Float:
    def __call__(self, image):
        return image.astype(np.float32)


class _Unstated:
    def fit(self, images):
        self.mean = float(np.asarray(images).mean())

    def __call__(self, images):
        return images - getattr(self, "mean", 0.0)

    def state(self):
        return {}  # forgets the mean: a rebuilt scaling differs


def _no_images(params, ctx):
    return zoo.plugin.SourceData(
        ["a"], {"all": zoo.plugin.ImageSet(np.zeros(0), images=np.zeros((0, 4, 4, 1), np.uint8))}
    )


def _bad_labels(params, ctx):
    return zoo.plugin.SourceData(
        ["a", "b"],
        {"all": zoo.plugin.ImageSet(np.array([0, 5]), images=np.zeros((2, 4, 4, 1), np.uint8))},
    )


def _lying_hint(params, ctx):
    return zoo.plugin.SourceData(
        ["a", "b"],
        {"all": zoo.plugin.ImageSet(np.array([0, 1]), images=np.zeros((2, 4, 4, 1), np.uint8))},
    )


class Bad:
    @zoo.hookimpl
    def zoo_register_architectures(self, registry):
        registry.add_architecture("bad_out", params=P, factory=_wrong_output, description="d")
        registry.add_architecture("bad_act", params=P, factory=_no_softmax, description="d")

    @zoo.hookimpl
    def zoo_register_recipes(self, registry):
        registry.add_augmentation(
            "bad_seed", params=P, factory=lambda p, c: _GlobalRandom(), description="d"
        )
        registry.add_augmentation(
            "bad_dtype", params=P, factory=lambda p, c: _Float(), description="d"
        )
        registry.add_scaling(
            "bad_state", params=P, factory=lambda p, s: _Unstated(), description="d"
        )

    @zoo.hookimpl
    def zoo_register_data_sources(self, registry):
        registry.add_data_source("bad_empty", params=P, factory=_no_images, description="d")
        registry.add_data_source("bad_labels", params=P, factory=_bad_labels, description="d")
        registry.add_data_source(
            "bad_hint",
            params=P,
            factory=_lying_hint,
            description="d",
            shape_hint=lambda p, c: zoo.plugin.ShapeHint(image_size=(8, 8), num_classes=2),
        )


@pytest.fixture(scope="module")
def bad_registry():
    registry = build_registry(extra_plugins=[("badpkg", Bad())])
    assert not [b for b in registry.broken if b.plugin == "badpkg"]
    return registry


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("bad_out", "expected a first output of shape (None, 3)"),
        ("bad_act", "softmax rows must sum to 1"),
        ("bad_seed", "same seed give different images"),
        ("bad_dtype", "must return uint8"),
        ("bad_state", "rebuilt from its state() gives other values"),
        ("bad_empty", "it returned no images"),
        ("bad_labels", "labels outside 0..1"),
        ("bad_hint", "shape_hint says image_size (8, 8), the data has [(4, 4)]"),
    ],
)
def test_checks_fail_with_a_message_naming_the_plugin(bad_registry, name, message):
    with pytest.raises(AssertionError) as err:
        check_plugin(name, bad_registry)
    assert message in str(err.value)
    assert f"'{name}' of plugin 'badpkg'" in str(err.value)
