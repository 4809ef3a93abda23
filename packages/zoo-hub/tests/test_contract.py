"""``zoo.testing.check_plugin`` on every entry this package registers (a new KerasHub family
is picked up by itself): each architecture built from its config with random weights at its
smallest valid input, a forward pass, a safe-mode ``.keras`` round trip, its declared
``ParamCount`` (built at the preset's size) and capabilities.

The default run checks ViT-B/16 and the smallest DeiT, DINOv2, DINOv3 and HGNetV2 (every
family is built at its smallest input by ``test_families.py``); the others are ``long``,
and those this machine has no memory for are skipped with how much they need."""

from __future__ import annotations

import pytest
from hub_helpers import BYTES_PER_PARAM, DEFAULT_RUN, available_memory, hub_entries
from zoo.testing import check_plugin

from zoo_hub import sizes
from zoo_hub.table import VARIANTS


def _param(entry) -> object:
    default_run = entry.kind != "architecture" or entry.name in DEFAULT_RUN
    return pytest.param(entry.name, id=entry.name, marks=() if default_run else pytest.mark.long)


@pytest.mark.parametrize("name", [_param(e) for e in hub_entries()])
def test_check_plugin(name):
    variant = VARIANTS.get(name)
    if variant is None:  # a scaling recipe
        try:
            check_plugin(name)
        except ImportError as exc:  # zoo.testing itself, for any recipe: not this package
            try:
                check_plugin("unit")
            except ImportError:
                pytest.xfail(f"zoo.testing cannot check any scaling recipe in this zoo: {exc}")
            raise
        return
    need = variant.params * BYTES_PER_PARAM
    if need > available_memory() // 2:
        pytest.skip(f"{name}: checking it needs about {need / 1e9:.0f} GB of memory")
    side = sizes.smallest(variant)[0]
    report = check_plugin(name, params={"weights": "none"}, size=side)
    assert f"built at ({side}, {side}, 3)" in report.checked
    assert any(step.startswith("param_count at") for step in report.checked), report
