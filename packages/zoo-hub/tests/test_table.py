"""The generated preset table against the installed KerasHub's own table, and the parameter
counts against KerasHub's published ones (imports KerasHub, so TensorFlow: a few seconds)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from zoo_hub import families
from zoo_hub.table import EXCLUDED, KERAS_HUB_VERSION, PRESETS, VARIANTS

TOOLS = Path(__file__).resolve().parents[1] / "tools"
REGENERATE = "regenerate it: python packages/zoo-hub/tools/generate_table.py"


@pytest.fixture(scope="module")
def keras_hub():
    return pytest.importorskip("keras_hub")


@pytest.fixture(scope="module")
def generator():
    sys.path.insert(0, str(TOOLS))
    import generate_table

    return generate_table


def test_table_was_generated_from_the_installed_keras_hub(keras_hub):
    assert KERAS_HUB_VERSION == keras_hub.__version__, (
        f"the table is from {KERAS_HUB_VERSION}; " + REGENERATE
    )


def test_every_image_classification_family_is_registered_or_excluded(keras_hub, generator):
    found = set(generator.classification_backbones(keras_hub))
    registered = {v.family.backbone for v in VARIANTS.values()}
    assert found == registered | set(EXCLUDED), REGENERATE
    assert not registered & set(EXCLUDED)


def test_every_preset_matches_keras_hub(keras_hub):
    for backbone in {v.family.backbone for v in VARIANTS.values()}:
        theirs = getattr(keras_hub.models, backbone).presets
        ours = {n for n, p in PRESETS.items() if VARIANTS[p.variant].family.backbone == backbone}
        assert ours == set(theirs), f"{backbone}: {REGENERATE}"
        for name, entry in theirs.items():
            preset = PRESETS[name]
            assert preset.handle == entry["kaggle_handle"], name
            assert preset.kerashub_params == entry["metadata"]["params"], name
            assert preset.description == " ".join(entry["metadata"]["description"].split())


def test_variants_group_presets_and_name_their_default():
    for name, variant in VARIANTS.items():
        assert variant.presets and all(PRESETS[p].variant == name for p in variant.presets)
        assert variant.image_size == PRESETS[variant.default_preset].image_size
    assert set(PRESETS) == {p for v in VARIANTS.values() for p in v.presets}


def _significant(value: int) -> int:
    return len(str(value).rstrip("0"))


def test_parameter_counts_equal_keras_hubs_published_ones():
    """Exact everywhere KerasHub publishes the backbone's count; the three families where it
    publishes something else differ by exactly that."""
    for variant in VARIANTS.values():
        for name in variant.presets:
            published = PRESETS[name].kerashub_params
            key = variant.family.key
            if key == "dinov3":  # published rounded to 2-3 significant digits
                assert float(f"{variant.params:.{_significant(published)}g}") == published, name
            elif key == "mit":  # published with a 10-class Dense on the features
                assert published == variant.params + variant.features * 10 + 10, name
            elif key == "cspnet":  # timm's count: trainable only, with its 1000-class head
                assert published > variant.params, name
            else:
                assert published == variant.params, name


def test_cspnet_publishes_timms_trainable_count_with_the_imagenet_head(keras_hub):
    variant = VARIANTS["csp_resnet_50"]
    backbone = keras_hub.models.CSPNetBackbone(**variant.config, image_shape=(32, 32, 3))
    trainable = sum(int(np.prod(w.shape)) for w in backbone.trainable_weights)
    assert backbone.count_params() == variant.params
    head = variant.features * 1000 + 1000
    assert PRESETS[variant.default_preset].kerashub_params == trainable + head


def test_every_preset_maps_to_a_registered_scaling():
    import zoo

    scalings = set(zoo.registry().names("recipe", "scaling"))
    assert {p.scaling for p in PRESETS.values()} <= scalings
    assert PRESETS["vit_base_patch16_224_imagenet"].scaling == "tf"
    assert PRESETS["dinov2_small"].scaling == "torch"
    assert PRESETS["dinov3_vit_large_sat493m"].scaling == "sat493m"
    assert PRESETS["mobilenetv5_300m_enc_gemma3n"].scaling == "unit"


def test_family_rules_cover_every_variant():
    assert {v.family.backbone for v in VARIANTS.values()} <= set(families.FAMILIES)
