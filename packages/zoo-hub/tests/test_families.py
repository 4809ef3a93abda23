"""Every family builds from its config with random weights at its smallest valid input, and
a size it cannot take is refused before anything is built, naming that smallest input."""

from __future__ import annotations

import numpy as np
import pytest
import zoo
from hub_helpers import DEFAULT_RUN

from zoo_hub import sizes
from zoo_hub.table import VARIANTS

LONG = {"mobilenetv5"}  # 294M parameters: about 5 GB to build and run


def _smallest_per_family() -> dict[str, str]:
    best: dict[str, str] = {}
    for name, variant in VARIANTS.items():
        key = variant.family.key
        if key not in best or variant.params < VARIANTS[best[key]].params:
            best[key] = name
    return dict(sorted(best.items()))


def _builds() -> list[object]:
    """The families test_contract's default run does not build already."""
    return [
        pytest.param(name, id=key, marks=[pytest.mark.long] if key in LONG else [])
        for key, name in _smallest_per_family().items()
        if name not in DEFAULT_RUN
    ]


@pytest.mark.parametrize("name", _builds())
def test_each_family_builds_at_its_smallest_input(name):
    variant = VARIANTS[name]
    entry = zoo.get(name, "architecture")
    side = sizes.smallest(variant)[0]
    model = entry.factory(
        entry.params(weights="none"), zoo.ModelContext((side, side, 3), 4, name="smallest")
    )
    x = np.random.default_rng(0).uniform(0, 1, (2, side, side, 3)).astype("float32")
    out = np.asarray(model(x, training=False))
    assert out.shape == (2, 4) and np.allclose(out.sum(axis=1), 1.0, atol=1e-5)


@pytest.mark.parametrize("name", list(_smallest_per_family().values()))
def test_a_size_the_family_cannot_take_is_refused_before_building(name):
    variant = VARIANTS[name]
    entry = zoo.get(name, "architecture")
    side, step = sizes.smallest(variant)[0], sizes.step(variant)
    for bad in {side - 1, side + step // 2} - {side}:
        with pytest.raises(
            zoo.UserError,
            match=rf"smallest input these params accept is "
            rf"{side}x{side}",
        ):
            entry.factory(
                entry.params(weights="none"), zoo.ModelContext((bad, bad, 3), 4, name="refused")
            )
