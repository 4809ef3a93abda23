"""Bad input, caught by ``zoo validate`` (no TensorFlow) with a located one-line message:
unknown presets, sizes a backbone cannot take, folders that do not fit, missing KerasHub,
the wrong scaling, and ``zoo fetch`` offline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import zoo
from hub_helpers import offline_cache

from zoo_hub import capabilities

SPEC = """\
name: hub-check
data:
  source: digits
  image_size: [{size}, {size}]
scaling: {{recipe: {recipe}}}
model:
  architecture: {arch}
  params:
    weights: {weights}
"""


def write(
    tmp_path: Path,
    arch: str = "vit_base_patch16_224",
    size: int = 32,
    weights: str = "vit_base_patch16_224_imagenet",
    recipe: str = "auto",
) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.format(arch=arch, size=size, weights=weights, recipe=recipe))
    return path


def problems(path: Path, *overrides: str) -> list[str]:
    return [str(p) for p in zoo.validate_spec(path, list(overrides))]


def test_a_valid_spec_picks_the_presets_scaling(tmp_path):
    spec = zoo.load_spec(write(tmp_path))
    assert spec.spec.scaling.recipe == "tf"
    dinov3 = zoo.load_spec(write(tmp_path, "dinov3_vit_large", 32, "dinov3_vit_large_sat493m"))
    assert dinov3.spec.scaling.recipe == "sat493m"


def test_an_unknown_preset_gets_a_did_you_mean(tmp_path):
    [line] = problems(write(tmp_path, weights="vit_base_patch16_224_imagnet"))
    assert ":9:" in line and "model.params.weights" in line
    assert "did you mean 'vit_base_patch16_224_imagenet'" in line


def test_a_preset_of_another_architecture_names_the_right_one(tmp_path):
    [line] = problems(write(tmp_path, weights="dinov2_small"))
    assert "model.params.weights" in line and "model.architecture: dinov2_small" in line


@pytest.mark.parametrize(
    ("arch", "size", "expect"),
    [
        (
            "vit_base_patch16_224",
            40,
            "the patch size 16 must divide the height and the width; "
            "sizes near it that work: 32x32, 32x48, 48x32, 48x48",
        ),
        ("vit_base_patch16_224", 8, "too small: the smallest input these params accept is 16x16"),
        ("swin_tiny_patch4_window7_224", 300, "224 (patch 4 x window 7 x 2^3 merges) must divide"),
        ("mit_b0", 48, "the smallest input these params accept is 64x64"),
    ],
)
def test_an_input_size_the_backbone_cannot_take(tmp_path, arch, size, expect):
    [line] = problems(write(tmp_path, arch, size, "none"))
    assert "data.image_size" in line and ":4:" in line and expect in line, line


def test_dinov2_takes_square_inputs_only(tmp_path):
    path = write(tmp_path, "dinov2_small", 28, "none")
    [line] = problems(path, "data.image_size=[28,42]")
    assert "square inputs only" in line


def test_position_embeddings_at_another_size_are_a_warning(tmp_path):
    spec = zoo.load_spec(write(tmp_path, size=64))
    [note] = [str(w) for w in spec.warnings]
    assert "resampled bicubically to 4x4 for 64x64" in note


def test_the_wrong_scaling_is_located(tmp_path):
    [line] = problems(write(tmp_path, recipe="torch"))
    assert "scaling.recipe" in line and "expects the 'tf' scaling" in line


def _folder(tmp_path: Path, backbone: str = "ViTBackbone", **config) -> Path:
    folder = tmp_path / "preset"
    folder.mkdir(exist_ok=True)
    from zoo_hub.table import VARIANTS

    base = dict(VARIANTS["vit_base_patch16_224"].config, image_shape=[224, 224, 3])
    (folder / "config.json").write_text(
        json.dumps({"class_name": backbone, "config": {**base, **config}})
    )
    (folder / "model.weights.h5").write_bytes(b"")
    return folder


def test_a_missing_preset_folder(tmp_path):
    [line] = problems(write(tmp_path, weights="./no-such-preset"))
    assert "model.params.weights" in line and "preset folder not found" in line


def test_a_preset_folder_of_another_architecture_names_it(tmp_path):
    _folder(tmp_path, hidden_dim=1024, num_layers=24, num_heads=16, mlp_dim=4096)
    [line] = problems(write(tmp_path, weights="./preset"))
    assert "does not fit vit_base_patch16_224: " in line and "hidden_dim=1024 (here 768)" in line
    assert "it is the architecture 'vit_large_patch16_224'" in line
    _folder(tmp_path, backbone="DINOV2Backbone")
    [line] = problems(write(tmp_path, weights="./preset"))
    assert "it holds a DINOV2Backbone, not a ViTBackbone" in line


def test_a_preset_folder_scaling_comes_from_its_image_converter(tmp_path, monkeypatch):
    folder = _folder(tmp_path)
    (folder / "image_converter.json").write_text(
        json.dumps(
            {
                "class_name": "ViTImageConverter",
                "config": {"image_size": [224, 224], "scale": 1 / 255, "offset": None},
            }
        )
    )
    monkeypatch.chdir(tmp_path)  # required_scaling reads relative folders from here
    assert zoo.load_spec(write(tmp_path, weights="./preset")).spec.scaling.recipe == "unit"
    [line] = problems(write(tmp_path, weights="./preset", recipe="tf"))
    assert "expects the 'unit' scaling" in line
    monkeypatch.chdir(Path(__file__).parent)  # from the spec's folder only: check_spec says it
    [line] = problems(write(tmp_path, weights="./preset", recipe="tf"))
    assert "trained with the 'unit' scaling, not 'tf'" in line


def test_keras_hub_missing_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "keras_hub", None)
    assert not capabilities.keras_hub_installed()
    [line] = problems(write(tmp_path))
    assert "needs KerasHub, which is not installed" in line
    assert "pip install ./packages/zoo-hub" in line


def test_fetch_offline_says_what_is_missing_and_where(tmp_path, monkeypatch):
    cache = offline_cache(tmp_path, monkeypatch)
    entry = zoo.get("vit_base_patch16_224", "architecture")
    from zoo import plugin

    with pytest.raises(zoo.OfflineError) as info:
        entry.capabilities.fetch(entry.params(), plugin.FetchContext(tmp_path, offline=True))
    message = str(info.value)
    assert "'vit_base_patch16_224_imagenet'" in message and "ZOO_OFFLINE" in message
    assert str(cache / "models" / "keras" / "vit") in message
    assert "model.params.weights: DIR" in message and "zoo fetch SPEC" in message


def test_zoo_fetch_command_offline(tmp_path, monkeypatch):
    offline_cache(tmp_path, monkeypatch)
    done = subprocess.run(
        [sys.executable, "-m", "zoo", "fetch", str(write(tmp_path))],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    assert "vit_base_patch16_224_imagenet" in done.stderr and "ZOO_OFFLINE" in done.stderr
