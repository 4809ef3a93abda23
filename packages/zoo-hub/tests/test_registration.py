"""What zoo sees of the package without building anything: names, tags, counts, scalings,
the cheap module tops, and zoo without the package."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import zoo
from hub_helpers import hub_entries
from zoo import plugin

from zoo_hub import scaling
from zoo_hub.table import PRESETS, VARIANTS


def test_every_variant_is_an_architecture_with_its_metadata():
    entries = {e.name: e for e in hub_entries("architecture")}
    assert set(entries) == set(VARIANTS)
    for name, entry in entries.items():
        variant = VARIANTS[name]
        assert {"hub", variant.family.key, variant.family.kind} <= entry.tags
        assert entry.family == variant.family.key and entry.input_kind == "image"
        counted = entry.counted_at
        assert isinstance(counted, plugin.ParamCount)
        assert counted.input_shape == (variant.image_size, variant.image_size, 3)
        assert entry.param_count == variant.params + variant.features * 10 + 10
        assert dict(counted.params) == {"weights": "none"}
        caps = entry.capabilities
        assert caps.required_scaling(entry.params()) == PRESETS[variant.default_preset].scaling
        assert caps.smallest_input(entry.params()) is not None


def test_transformer_families_are_tagged():
    tagged = {
        e.family for e in zoo.list_plugins("architectures", tag="transformer") if "hub" in e.tags
    }
    assert {"vit", "deit", "dinov2", "dinov3", "swin", "mit"} <= tagged
    cnn = {e.family for e in zoo.list_plugins("architectures", tag="cnn") if "hub" in e.tags}
    assert cnn == {"cspnet", "hgnetv2", "mobilenetv5"}


def test_weights_pick_the_scaling():
    entry = zoo.get("dinov3_vit_large", "architecture")
    need = entry.capabilities.required_scaling
    assert need(entry.params()) == "torch"
    assert need(entry.params(weights="dinov3_vit_large_sat493m")) == "sat493m"
    assert need(entry.params(weights="none")) is None


@pytest.mark.parametrize(
    ("scale", "offset", "recipe"),
    [
        (1 / 255, 0, "unit"),
        ([1 / 127.5] * 3, [-1.0] * 3, "tf"),
        (1.0, None, "raw"),
        (
            [1 / (255 * s) for s in scaling.IMAGENET_STD],
            [-m / s for m, s in zip(scaling.IMAGENET_MEAN, scaling.IMAGENET_STD, strict=True)],
            "torch",
        ),
        (1 / 255, 0.5, None),
        ("a", 0, None),
    ],
)
def test_an_image_converter_maps_to_the_recipe_computing_the_same(scale, offset, recipe):
    assert scaling.recipe_for(scale, offset) == recipe


def test_listing_imports_neither_tensorflow_nor_keras():
    code = (
        "import sys, zoo; import zoo_hub.plugin; "
        "names = [e.name for e in zoo.list_plugins('architectures', tag='hub')]; "
        "zoo.describe('vit_base_patch16_224'); "
        "assert len(names) > 30, names; "
        "heavy = {'tensorflow', 'keras', 'keras_hub', 'jax', 'torch'} & set(sys.modules); "
        "assert not heavy, heavy"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_zoo_works_as_before_without_the_package():
    env = {**os.environ, "ZOO_DISABLE_PLUGINS": "hub"}
    done = subprocess.run(
        [sys.executable, "-m", "zoo", "list", "architectures", "--tag", "transfer"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "efficientnetv2b0" in done.stdout and "vit_base_patch16_224" not in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "zoo", "list", "--tag", "hub"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "vit_base_patch16_224" in done.stdout
